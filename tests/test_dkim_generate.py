"""``newsletter dkim generate``: a private key only its owner reads, and a DNS record with
which a mail signed by that key verifies."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import dkim

from newsletter.mail.messages import DkimKey, dkim_sign
from tests.livesrv import run_cli, write_config

MESSAGE = (
    b"From: ASSKomm Nachrichten <newsletter@example.org>\r\n"
    b"To: partner@example.net\r\n"
    b"Subject: Neue Meldungen\r\n"
    b"Date: Thu, 26 Nov 2026 09:00:00 +0100\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"\r\n"
    b"Hallo.\r\n"
)


def _zone_value(output: str) -> str:
    """The TXT value of the printed zone-file line (its quoted strings joined)."""
    line = next(x for x in output.splitlines() if " IN TXT " in x)
    return "".join(re.findall(r'"([^"]*)"', line))


def test_generate_writes_a_private_key_and_prints_a_record_that_verifies(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    key_file = tmp_path / "keys" / "news2026.pem"
    done = run_cli(
        config, "dkim", "generate", "--domain", "example.org", "--selector", "news2026",
        "--out", str(key_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert "news2026._domainkey.example.org. IN TXT" in done.stdout
    value = _zone_value(done.stdout)
    assert value.startswith("v=DKIM1; k=rsa; p=")
    assert all(len(part) <= 255 for part in re.findall(r'"([^"]*)"', done.stdout))

    signed = dkim_sign(MESSAGE, DkimKey("news2026", "example.org", key_file.read_bytes()))
    records = {b"news2026._domainkey.example.org.": value.encode()}
    assert dkim.verify(signed, dnsfunc=lambda name, timeout=5: records.get(name))
    other = {b"news2026._domainkey.example.org.": b"v=DKIM1; k=rsa; p=" + b"A" * 40}
    assert not dkim.verify(signed, dnsfunc=lambda name, timeout=5: other.get(name))


def test_generate_keeps_an_existing_key_without_force_and_checks_names(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    key_file = tmp_path / "var" / "dkim-s1.pem"  # the default: <data_dir>/dkim-<selector>.pem
    assert (
        run_cli(
            config, "dkim", "generate", "--domain", "example.org", "--selector", "s1"
        ).returncode
        == 0
    )
    first = key_file.read_bytes()
    again = run_cli(config, "dkim", "generate", "--domain", "example.org", "--selector", "s1")
    assert again.returncode == 73 and "--force" in again.stderr
    assert key_file.read_bytes() == first
    forced = run_cli(
        config, "dkim", "generate", "--domain", "example.org", "--selector", "s1", "--force"
    )
    assert forced.returncode == 0 and key_file.read_bytes() != first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    bad = run_cli(config, "dkim", "generate", "--domain", "example", "--selector", "s 1")
    assert bad.returncode == 64 and "Selektor" in bad.stderr
    assert not list(key_file.parent.glob(".*.tmp"))
