"""The merged bytes are the library's bytes: same headers, same quoted-printable bodies."""

from __future__ import annotations

import email
import email.policy
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from newsletter.config import Config
from newsletter.digests import MANAGE_URL, RECIPIENT, REGIONS, UNSUBSCRIBE_URL
from newsletter.errors import InvalidAddressError
from newsletter.mailmerge import list_unsubscribe, prepare
from newsletter.messages import Content, ListInfo, build_message, to_bytes
from newsletter.personalise import Personal, personalise

WHEN = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
MESSAGE_ID = "<nl.17.20261125073000000000@example.org>"
SUBJECT = "ASSKomm-Nachrichten Zwickau – 3 neue Meldungen (KW 48/2026)"
INFO = ListInfo("zwickau", "Zwickau", "")
TEXT = (
    "Grüße aus Zwickau 🔒\n"
    + "x" * 70
    + UNSUBSCRIBE_URL
    + " Ende\n\n"
    + f"Empfänger: {RECIPIENT}\r\nIhre Regionen: {REGIONS}\n"
    + "Leerzeichen am Ende \n= Gleichheitszeichen =\n"
)
HTML = (
    "<p>"
    + "ä" * 30
    + f'<a href="{MANAGE_URL}">Einstellungen</a> {REGIONS}</p>\n'
    + "z" * 200
    + f'\n<a href="{UNSUBSCRIBE_URL}">Abmelden</a> für {RECIPIENT}\n'
)
_BOUNDARY = re.compile(rb"===============\d+==")


def personal(address: str = "anna.o'neil@pirna.de", token: str = "T" * 20) -> Personal:
    return Personal(
        unsubscribe_url=f"http://127.0.0.1:8000/abmelden/{token}",
        manage_url="http://127.0.0.1:8000/einstellungen/" + "M" * 60,
        recipient=address,
        regions="Dresden, Zwickau",
    )


def library_bytes(config: Config, values: Personal, text: str = TEXT, html: str = HTML) -> bytes:
    content = Content(
        SUBJECT, personalise(text, values, is_html=False), personalise(html, values, is_html=True)
    )
    info = ListInfo("zwickau", "Zwickau", values.unsubscribe_url)
    return to_bytes(build_message(config, content, values.recipient, WHEN, info, MESSAGE_ID))


def same_boundary(data: bytes) -> bytes:
    return _BOUNDARY.sub(b"BOUNDARY", data)


@pytest.mark.parametrize("mailto", ["", "abmelden@example.org"])
@pytest.mark.parametrize(
    "address", ["anna.o'neil@pirna.de", '"anna beispiel"@pirna.de', "a+b@xn--mller-kva.de"]
)
def test_merged_bytes_equal_the_library_bytes(
    make_config: Callable[..., Config], mailto: str, address: str
) -> None:
    config = make_config(mail={"list_unsubscribe_mailto": mailto})
    template = prepare(config, SUBJECT, TEXT, HTML, INFO)
    values = personal(address)
    merged = template.render(values, MESSAGE_ID, WHEN)
    assert same_boundary(merged) == same_boundary(library_bytes(config, values))


def test_placeholders_anywhere_on_a_line_survive_quoted_printable(
    make_config: Callable[..., Config],
) -> None:
    """Random lines with placeholders at every column: decoded bodies are the filled text."""
    config = make_config()
    rng = random.Random(7)
    alphabet = "abcäöüß =€🔒<>&\"'\t"
    placeholders = [UNSUBSCRIBE_URL, MANAGE_URL, RECIPIENT, REGIONS]
    lines = []
    for _ in range(150):
        chars = [rng.choice(alphabet) for _ in range(rng.randrange(0, 160))]
        position = rng.randrange(0, len(chars) + 1)
        lines.append(
            "".join(chars[:position]) + rng.choice(placeholders) + "".join(chars[position:])
        )
    text = html = "\n".join(lines) + "\n"
    template = prepare(config, SUBJECT, text, html, INFO)
    values = personal()
    merged = template.render(values, MESSAGE_ID, WHEN)
    assert same_boundary(merged) == same_boundary(library_bytes(config, values, text, html))
    parsed = email.message_from_bytes(merged, policy=email.policy.default)
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    decoded = (plain.get_content(), rich.get_content())
    assert decoded[0].replace("\r\n", "\n") == personalise(text, values, is_html=False)
    assert decoded[1].replace("\r\n", "\n") == personalise(html, values, is_html=True)
    assert max(len(line) for line in merged.split(b"\r\n")) <= 78
    body = merged.partition(b"\r\n\r\n")[2]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # RFC 2045 §6.7


def test_a_long_unsubscribe_url_is_folded_not_encoded(make_config: Callable[..., Config]) -> None:
    """The library would turn a URL longer than a line into encoded-words."""
    config = make_config(mail={"list_unsubscribe_mailto": "abmelden@example.org"})
    template = prepare(config, SUBJECT, TEXT, HTML, INFO)
    values = personal(token="T" * 120)
    merged = template.render(values, MESSAGE_ID, WHEN)
    head = merged.partition(b"\r\n\r\n")[0].decode("ascii")
    assert "=?utf-8?" not in head.split("List-Unsubscribe:")[1].split("List-Unsubscribe-Post")[0]
    parsed = email.message_from_bytes(merged, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == (
        f"<{values.unsubscribe_url}>, <mailto:abmelden@example.org?subject=unsubscribe>"
    )


def test_list_unsubscribe_folding() -> None:
    assert list_unsubscribe("https://x.de/a", None) == b"List-Unsubscribe: <https://x.de/a>\r\n"
    folded = list_unsubscribe("https://x.de/" + "a" * 60, "mailto:ab@x.de?subject=unsubscribe")
    first, second = folded.removesuffix(b"\r\n").split(b"\r\n")
    assert first == b"List-Unsubscribe: <https://x.de/" + b"a" * 60 + b">,"
    assert second == b" <mailto:ab@x.de?subject=unsubscribe>"


def test_every_recipient_gets_own_values_and_the_template_is_not_changed(
    make_config: Callable[..., Config],
) -> None:
    config = make_config()
    template = prepare(config, SUBJECT, TEXT, HTML, INFO)
    first = template.render(personal("a@example.org", "A" * 30), MESSAGE_ID, WHEN)
    second = template.render(personal("b@example.org", "B" * 30), MESSAGE_ID, WHEN)
    again = template.render(personal("a@example.org", "A" * 30), MESSAGE_ID, WHEN)
    assert first == again and first != second
    assert b"B" * 30 not in first and b"b@example.org" not in first


def test_an_address_that_needs_smtputf8_is_refused(make_config: Callable[..., Config]) -> None:
    template = prepare(make_config(), SUBJECT, TEXT, HTML, INFO)
    with pytest.raises(InvalidAddressError, match="SMTPUTF8"):
        template.render(personal("jörg@example.org"), MESSAGE_ID, WHEN)
