"""``newsletter bounces process|list|show`` as an operator runs them."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from tests.bounce_samples import sample
from tests.livesrv import run_cli, write_config

PARTNER = "ordnungsamt@gemeinde.example"


def _sent_message_id(mail_dir: Path) -> str:
    (path,) = (mail_dir / "new").iterdir()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return str(message["Message-ID"])


def test_process_list_and_show_a_bounce(tmp_path: Path) -> None:
    bounce_dir = tmp_path / "bounces"
    config = write_config(tmp_path, bounces={"mailbox": "maildir", "maildir": str(bounce_dir)})
    for args in (
        ("init-db",),
        ("subscribers", "add", PARTNER, "--region", "zwickau", "--confirmed", "--reason", "Brief"),
        ("items", "add", "--title", "Präventionstag in Plauen", "--region", "zwickau"),
        ("send", "--region", "zwickau"),
    ):
        done = run_cli(config, *args)
        assert done.returncode == 0, done.stderr
    message_id = _sent_message_id(tmp_path / "mail")
    data = sample("qmail-no-mailbox.eml", verp="newsletter@example.org", recipient=PARTNER,
                  message_id=message_id)  # fmt: skip
    data = data.replace(b"Sorry, no mailbox", b"\x1b[31mSorry\x1b[0m, no mailbox")
    (bounce_dir / "new").mkdir(parents=True)
    (bounce_dir / "new" / "1.bounce").write_bytes(data)

    processed = run_cli(config, "bounces", "process")
    assert processed.returncode == 0, processed.stderr
    assert "1 Nachrichten gelesen: 1 dauerhafte" in processed.stdout
    assert "1 Adressen gesperrt" in processed.stdout

    listed = run_cli(config, "bounces", "list", "--address", PARTNER)
    assert listed.returncode == 0 and "dauerhaft" in listed.stdout and "5.1.1" in listed.stdout
    shown = run_cli(config, "bounces", "show", "1")
    assert shown.returncode == 0 and "qmail-send program" in shown.stdout
    assert "\x1b" not in shown.stdout and "\\x1b[31mSorry" in shown.stdout
    personal = run_cli(config, "subscribers", "export-personal-data", PARTNER).stdout
    assert '"suspended": true' in personal
    missing = run_cli(config, "bounces", "show", "99")
    assert missing.returncode == 66 and "Nr. 99" in missing.stderr


def test_process_without_a_mailbox_says_which_key(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    assert run_cli(config, "init-db").returncode == 0
    done = run_cli(config, "bounces", "process")
    assert done.returncode == 78 and "bounces.mailbox" in done.stderr
