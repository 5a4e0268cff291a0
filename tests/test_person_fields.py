"""Names and organisations: no control, bidi or separator characters at any entry; the
terminal shows stored text escaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from newsletter.cli import app
from newsletter.cli.base import console, run_cli
from newsletter.context import Context
from newsletter.errors import InvalidInputError
from newsletter.store.db import transaction, utcnow
from newsletter.store.schema import subscribers
from newsletter.subscriptions import roster, rules
from tests.test_cli_feeds import write_config
from tests.test_web_subscribe import csrf

HOSTILE = ["\x1b[2J", "A\u2028B", "\u202eevil", "a\x0bb", "a\tb", "x\x85y", "\u2066x\u2069", "\x7f"]
MESSAGE = "darf keine Steuerzeichen enthalten"


@pytest.mark.parametrize("value", HOSTILE)
def test_the_one_validator_refuses_and_names_the_field(value: str) -> None:
    with pytest.raises(InvalidInputError, match=f"»Organisation« {MESSAGE}"):
        rules.clean_field(f"Stadt {value} Pirna", "Organisation")


def test_plain_names_with_umlauts_and_marks_pass() -> None:
    assert rules.clean_field("  Jörg Müller-Łukasz (ÖA) ", "Name") == ("Jörg Müller-Łukasz (ÖA)")


@pytest.mark.parametrize("value", ["\x1b[2J", "\u202eevil", "A\u2028B"])
def test_web_form_refuses(client: TestClient, value: str) -> None:
    response = client.post(
        "/abonnieren",
        data={
            "csrf_token": csrf(client, "/abonnieren"),
            "email": "a@example.org",
            "name": f"Eve {value}",
            "regions": ["dresden"],
            "consent": "ja",
        },
    )
    assert response.status_code == 400 and f"»Name« {MESSAGE}" in response.text


def test_api_refuses(api: TestClient) -> None:
    response = api.post(
        "/api/v1/subscribers",
        json={"email": "a@example.org", "regions": ["dresden"], "organisation": "\u202eamt"},
    )
    assert response.status_code == 400 and MESSAGE in response.text


def test_cli_add_refuses(ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(ctx, tmp_path))
    args = ["--config", config, "subscribers", "add", "a@example.org", "-r", "zwickau"]
    assert run_cli(app, [*args, "--name", "Eve\x1b[2J"]) == 65
    assert f"»Name« {MESSAGE}" in capsys.readouterr().err


def test_csv_import_refuses_with_the_line_number(ctx: Context) -> None:
    data = (
        "email,name,organisation,ags,regions\n"
        "gut@example.org,Gut,Amt,,dresden\n"
        "boese@example.org,Eve\u202e,Amt,,dresden\n"
        'auch@example.org,Ok,"A\x0bmt",,dresden\n'
    ).encode()
    reports = roster.import_roster(ctx, data, filename="r.csv", actor="t", confirmed_reason="x")
    assert [(r.line, r.outcome) for r in reports] == [
        (2, "added"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    assert MESSAGE in reports[1].reason and "»name«" in reports[1].reason
    assert "»organisation«" in reports[2].reason


def test_list_prints_stored_text_escaped(
    ctx: Context,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows stored before the validator existed: shown with visible escapes, no markup."""
    with transaction(ctx.engine) as conn:
        conn.execute(
            insert(subscribers).values(
                email="alt@example.org",
                name="A\x1b[2JB\u202eC",
                organisation="[bold]Amt[/bold]",
                created_at=utcnow(),
            )
        )
    monkeypatch.setattr(console, "width", 200)  # no wrapping in the table
    assert run_cli(app, ["--config", str(write_config(ctx, tmp_path)), "subscribers", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "\u202e" not in out
    assert "A\\x1b[2JB\\u202eC" in out and "[bold]Amt[/bold]" in out
