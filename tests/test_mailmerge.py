"""The merged bytes are the library's bytes: same headers, same quoted-printable bodies."""

from __future__ import annotations

import email
import email.policy
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsletter.config import Config
from newsletter.errors import InvalidAddressError
from newsletter.mail.mailmerge import _encode_line, list_unsubscribe, prepare
from newsletter.mail.messages import BODY_POLICY, Content, ListInfo, build_message, to_bytes
from newsletter.mail.personalise import Personal, Placeholders, personalise

WHEN = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
MESSAGE_ID = "<nl.17.20261125073000000000@example.org>"
SUBJECT = "ASSKomm-Nachrichten Zwickau – 3 neue Meldungen (KW 48/2026)"
INFO = ListInfo("zwickau", "Zwickau", "")
SLOTS = Placeholders("0123456789abcdef" + "f" * 24)
UNSUBSCRIBE_URL, MANAGE_URL, RECIPIENT, REGIONS = (
    SLOTS.of(kind) for kind in ("UNSUBSCRIBE_URL", "MANAGE_URL", "RECIPIENT", "REGIONS")
)
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
        SUBJECT,
        personalise(text, SLOTS, values, is_html=False),
        personalise(html, SLOTS, values, is_html=True),
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
    template = prepare(config, SUBJECT, TEXT, HTML, INFO, SLOTS)
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
    template = prepare(config, SUBJECT, text, html, INFO, SLOTS)
    values = personal()
    merged = template.render(values, MESSAGE_ID, WHEN)
    assert same_boundary(merged) == same_boundary(library_bytes(config, values, text, html))
    parsed = email.message_from_bytes(merged, policy=email.policy.default)
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    decoded = (plain.get_content(), rich.get_content())
    assert decoded[0].replace("\r\n", "\n") == personalise(text, SLOTS, values, is_html=False)
    assert decoded[1].replace("\r\n", "\n") == personalise(html, SLOTS, values, is_html=True)
    assert max(len(line) for line in merged.split(b"\r\n")) <= 78
    body = merged.partition(b"\r\n\r\n")[2]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # RFC 2045 §6.7


def test_a_long_unsubscribe_url_is_folded_not_encoded(make_config: Callable[..., Config]) -> None:
    """The library would turn a URL longer than a line into encoded-words."""
    config = make_config(mail={"list_unsubscribe_mailto": "abmelden@example.org"})
    template = prepare(config, SUBJECT, TEXT, HTML, INFO, SLOTS)
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
    template = prepare(config, SUBJECT, TEXT, HTML, INFO, SLOTS)
    first = template.render(personal("a@example.org", "A" * 30), MESSAGE_ID, WHEN)
    second = template.render(personal("b@example.org", "B" * 30), MESSAGE_ID, WHEN)
    again = template.render(personal("a@example.org", "A" * 30), MESSAGE_ID, WHEN)
    assert first == again and first != second
    assert b"B" * 30 not in first and b"b@example.org" not in first


def test_an_address_that_needs_smtputf8_is_refused(make_config: Callable[..., Config]) -> None:
    template = prepare(make_config(), SUBJECT, TEXT, HTML, INFO, SLOTS)
    with pytest.raises(InvalidAddressError, match="SMTPUTF8"):
        template.render(personal("jörg@example.org"), MESSAGE_ID, WHEN)


def test_look_alike_placeholders_in_item_text_are_never_filled(
    make_config: Callable[..., Config],
) -> None:
    """Only this digest's placeholders are slots: the old fixed ones and another nonce's
    stay as they are, in the line of a genuine slot too."""
    other = Placeholders("fedcba9876543210" + "0" * 24)
    fakes = ["%%NL_MANAGE_URL%%", "%%NL_RECIPIENT%%", other.of("MANAGE_URL")]
    text = f"Link {fakes[0]} {RECIPIENT} {fakes[1]}\n{fakes[2]}\n"
    html = f'<a href="https://evil.example/?next={fakes[0]}">x</a> {MANAGE_URL} {fakes[2]}\n'
    template = prepare(make_config(), SUBJECT, text, html, INFO, SLOTS)
    merged = template.render(personal("a@example.org"), MESSAGE_ID, WHEN)
    parsed = email.message_from_bytes(merged, policy=email.policy.default)
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().splitlines() == [
        f"Link {fakes[0]} a@example.org {fakes[1]}",
        fakes[2],
    ]
    assert rich.get_content().strip() == (
        f'<a href="https://evil.example/?next={fakes[0]}">x</a> {personal().manage_url} {fakes[2]}'
    )


def test_placeholders_are_new_per_render_and_bound_to_the_digest() -> None:
    from newsletter.errors import InvalidInputError
    from newsletter.mail.personalise import find_placeholders, new_placeholders

    key = "k" * 32
    first = new_placeholders(key, "zwickau", ["a", "b"])
    assert first != new_placeholders(key, "zwickau", ["a", "b"])
    body = first.of("RECIPIENT")
    assert find_placeholders(key, "zwickau", ["b", "a"], body) == first
    for wrong in (("k" * 31 + "x", "zwickau", ["a", "b"]), (key, "dresden", ["a", "b"]),
                  (key, "zwickau", ["a", "b", "c"])):  # fmt: skip
        with pytest.raises(InvalidInputError):
            find_placeholders(wrong[0], wrong[1], wrong[2], body)
    replayed = new_placeholders(key, "zwickau", ["a", "b"]).of("MANAGE_URL")
    with pytest.raises(InvalidInputError, match="eindeutig"):  # two genuine nonces: refuse
        find_placeholders(key, "zwickau", ["a", "b"], body + replayed)


def _library_line(line: str) -> bytes:
    """One line as the email library encodes a text part (quoted-printable, CRLF)."""
    message = EmailMessage(policy=BODY_POLICY)
    message.set_content(line + "\n", charset="utf-8", cte="quoted-printable")
    return message.as_bytes().partition(b"\r\n\r\n")[2]


def _awkward_lines() -> list[str]:
    """Lines around the 76-octet limit with escapes, multi-byte characters, spaces and
    tabs at the break, and random lines of such characters."""
    tails = ["=", "ä", " ", "\t", "🔒", "x", ". ", "= "]
    lines = ["x" * n + tail for n in range(70, 80) for tail in tails]
    rng = random.Random(48)
    alphabet = "ab =\tä€🔒.<>\"'&"
    lines += [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 200))) for _ in range(200)
    ]
    return lines


@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=127), max_size=90))
def test_a_line_left_as_it_is_is_what_the_library_writes(line: str) -> None:
    """The shortcut for lines quoted-printable leaves alone (short, printable, no »=«, no
    trailing blank) gives the library's bytes, around the 76-octet limit too."""
    line = line.replace("\r", "").replace("\n", "")
    assert _encode_line(line.encode("ascii")) == _library_line(line), line


def test_quoprimime_still_encodes_a_line_as_the_email_library_does() -> None:
    """The merge encodes lines with the undocumented ``email.quoprimime``; this is the
    invariant it relies on: the library's own body encoding gives the same bytes."""
    for line in _awkward_lines():
        assert _encode_line(line.encode("utf-8")) == _library_line(line), line
