"""Reading bounce messages (DSN, ARF, non-standard, auto-replies) and the VERP address."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.mail import dsn
from newsletter.mail.bounce_rules import bounce_kind, consequence, soft_streak
from newsletter.mail.verp import read_verp, verp_address
from newsletter.models import BounceKind
from tests.bounce_samples import NAMES, sample

SECRET = "test-secret-key-not-for-production"
VERP = verp_address(SECRET, 4711, "bounces", "example.org")
RCPT = "k.beispiel@gemeinde.example"
MSGID = "<nl.4711.20261126081404123456@example.org>"
CAP = 2_000_000

# file -> (report kind, bounce kind of the one entry or None, status)
EXPECTED: dict[str, tuple[dsn.ReportKind, BounceKind | None, str]] = {
    "postfix-user-unknown.eml": (dsn.ReportKind.DSN, BounceKind.HARD, "5.1.1"),
    "postfix-mailbox-full.eml": (dsn.ReportKind.DSN, BounceKind.SOFT, "4.2.2"),
    "postfix-delayed.eml": (dsn.ReportKind.DSN, None, "4.4.1"),
    "exim-user-unknown.eml": (dsn.ReportKind.NONSTANDARD, BounceKind.HARD, "5.1.1"),
    "exim-retry-timeout.eml": (dsn.ReportKind.NONSTANDARD, BounceKind.SOFT, "4.2.2"),
    "m365-recipient-not-found.eml": (dsn.ReportKind.DSN, BounceKind.HARD, "5.1.10"),
    "m365-policy.eml": (dsn.ReportKind.DSN, BounceKind.POLICY, "5.7.708"),
    "gmail-user-unknown.eml": (dsn.ReportKind.DSN, BounceKind.HARD, "5.1.1"),
    "gmail-over-quota.eml": (dsn.ReportKind.DSN, BounceKind.SOFT, "4.2.2"),
    "qmail-no-mailbox.eml": (dsn.ReportKind.NONSTANDARD, BounceKind.HARD, "5.1.1"),
    "arf-abuse.eml": (dsn.ReportKind.COMPLAINT, BounceKind.COMPLAINT, ""),
    "arf-redacted.eml": (dsn.ReportKind.COMPLAINT, BounceKind.COMPLAINT, ""),
}
NOT_BOUNCES = {
    "autoreply-outlook.eml": dsn.ReportKind.AUTOREPLY,
    "autoreply-sieve.eml": dsn.ReportKind.AUTOREPLY,
    "human-reply.eml": dsn.ReportKind.UNKNOWN,
}


def _parsed(name: str, verp: str = VERP) -> dsn.Report:
    return dsn.parse(sample(name, verp=verp, recipient=RCPT, message_id=MSGID), CAP)


def test_every_sample_has_an_expectation() -> None:
    assert sorted(EXPECTED.keys() | NOT_BOUNCES.keys()) == NAMES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bounce_names_its_recipient_status_and_original(name: str) -> None:
    kind, bounce, status = EXPECTED[name]
    report = _parsed(name)
    assert report.kind is kind
    assert len(report.recipients) == 1
    entry = report.recipients[0]
    if kind is not dsn.ReportKind.COMPLAINT or "redacted" not in name:
        assert entry.address == RCPT
    assert entry.status == status
    assert bounce_kind(report.kind, entry) is bounce
    assert MSGID in report.message_ids
    assert read_verp(SECRET, list(report.return_paths), "bounces") == 4711


@pytest.mark.parametrize("name", sorted(NOT_BOUNCES))
def test_auto_replies_and_human_mail_are_no_bounces(name: str) -> None:
    report = _parsed(name)
    assert report.kind is NOT_BOUNCES[name]
    assert report.recipients == ()


def test_a_dsn_keeps_the_remote_reply_as_diagnostic() -> None:
    entry = _parsed("m365-recipient-not-found.eml").recipients[0]
    assert entry.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert "lookup" in entry.diagnostic  # the folded line is read whole
    assert _parsed("postfix-user-unknown.eml").reporter == "relay.example.org"


def test_a_complaint_names_its_feedback_type_and_reporter() -> None:
    report = _parsed("arf-abuse.eml")
    assert (report.feedback_type, report.reporter) == ("abuse", "mail.provider.example")


def test_without_verp_the_message_id_is_still_found() -> None:
    report = _parsed("gmail-over-quota.eml", verp="newsletter@example.org")
    assert read_verp(SECRET, list(report.return_paths), "bounces") is None
    assert report.message_ids[0] == MSGID  # X-Original-Message-ID of the DSN


# --- VERP -------------------------------------------------------------------------------


def test_a_verp_address_is_lower_case_and_short() -> None:
    assert VERP.startswith("bounces+4711-") and VERP.endswith("@example.org")
    assert VERP.islower()
    assert len(VERP.partition("@")[0]) <= 64


def test_a_forged_or_foreign_verp_address_is_refused() -> None:
    forged = VERP.replace("4711-", "4712-")
    assert read_verp(SECRET, [forged], "bounces") is None
    assert read_verp("another-secret-of-some-length", [VERP], "bounces") is None
    assert read_verp(SECRET, [VERP.upper()], "bounces") == 4711  # case changed by a relay
    assert read_verp(SECRET, [f"xbounces+{VERP[8:]}"], "bounces") is None


# --- safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe" * 1000,
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n",
        b"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; \x00@\n",
        b"From: MAILER-DAEMON@x.example\nSubject: =?utf-8?b?!!!?=\n\n" + b"a@b.example " * 10_000,
    ],
)
def test_garbage_is_never_an_exception(data: bytes) -> None:
    report = dsn.parse(data, CAP)
    assert len(report.recipients) <= dsn.MAX_RECIPIENTS


def test_a_huge_message_is_read_only_up_to_the_cap() -> None:
    data = sample("postfix-user-unknown.eml", verp=VERP, recipient=RCPT, message_id=MSGID)
    padded = data.replace(b"This is the mail system", b"x" * 5_000_000 + b" mail system", 1)
    report = dsn.parse(padded, 100_000)  # the report parts lie beyond the cap
    assert report.recipients == ()
    assert dsn.parse(data + b"y" * 5_000_000, len(data) + 10).recipients[0].status == "5.1.1"


def test_many_recipients_and_parts_are_capped() -> None:
    blocks = "".join(
        f"\nFinal-Recipient: rfc822; u{i}@x.example\nAction: failed\nStatus: 5.1.1\n"
        for i in range(500)
    )
    data = (
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        f"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n{blocks}\n--b--\n"
    ).encode()
    assert len(dsn.parse(data, CAP).recipients) == dsn.MAX_RECIPIENTS


# --- what a bounce does ---------------------------------------------------------------


def test_a_hard_bounce_suspends_at_once() -> None:
    decided = consequence(BounceKind.HARD, "5.1.1 user unknown", [True], 3)
    assert decided.suspend is not None and "5.1.1 user unknown" in decided.suspend
    assert decided.fail_delivery and not decided.unsubscribe


def test_soft_bounces_suspend_after_n_in_a_row() -> None:
    assert consequence(BounceKind.SOFT, "4.2.2", [True, True], 3).suspend is None
    assert consequence(BounceKind.SOFT, "4.2.2", [True, True, False, True], 3).suspend is None
    assert consequence(BounceKind.SOFT, "4.2.2", [True, True, True], 3).suspend is not None
    assert soft_streak([True, False, True]) == 1


def test_a_complaint_unsubscribes_and_a_policy_refusal_keeps_the_address() -> None:
    assert consequence(BounceKind.COMPLAINT, "abuse", [], 3).unsubscribe
    policy = consequence(BounceKind.POLICY, "5.7.1", [True, True, True], 3)
    assert not policy.changes_address and not policy.fail_delivery


def test_a_not_spam_report_and_a_delay_are_no_bounces() -> None:
    not_spam = dsn.Recipient("a@b.example", "complaint", "", "not-spam")
    assert bounce_kind(dsn.ReportKind.COMPLAINT, not_spam) is None
    delayed = dsn.Recipient("a@b.example", "delayed", "4.4.1", "")
    assert bounce_kind(dsn.ReportKind.DSN, delayed) is None
    silent = dsn.Recipient("a@b.example", "failed", "", "")
    assert bounce_kind(dsn.ReportKind.NONSTANDARD, silent) is BounceKind.SOFT


# --- fuzzing: nothing a mailbox holds makes the parser fail ------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    cut=st.integers(min_value=0, max_value=6000),
    junk=st.binary(max_size=200),
    at=st.integers(min_value=0, max_value=6000),
)
def test_cut_and_spliced_samples_never_raise(name: str, cut: int, junk: bytes, at: int) -> None:
    data = sample(name, verp=VERP, recipient=RCPT, message_id=MSGID)
    mangled = data[:at] + junk + data[at:]
    report = dsn.parse(mangled, max(cut, 1))
    assert len(report.recipients) <= dsn.MAX_RECIPIENTS
    for entry in report.recipients:
        assert len(entry.diagnostic) <= dsn.MAX_TEXT
