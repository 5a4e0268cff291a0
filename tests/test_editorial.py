"""The editor's word: Markdown introduction (sanitised, at most 1,500 characters), items
pinned to the top or left out, for one region or all, used up by the next digest; the dark
preview; the German names of a send's trigger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from newsletter import editor
from newsletter.context import Context
from newsletter.editorial import MAX_INTRO_CHARS, intro_html, view_for
from newsletter.errors import InvalidInputError
from newsletter.history import age_text, trigger_label
from newsletter.mail import sending
from newsletter.models import ALL_REGIONS, Editorial
from newsletter.web.admin.editorial import dark_variant
from tests._admin import csrf
from tests.feedfixtures import sample_items, store_items

HOSTILE = (
    "**Adventszeit** ist Einbruchszeit.\n\n"
    "<script>alert('x')</script>\n\n"
    "[Gefährlich](javascript:alert(1)) und [Sicher](https://example.org/rat)\n\n"
    '<img src="x" onerror="alert(2)"> <a href="javascript:alert(3)">roh</a>'
)


def _no_active_content(html: str) -> None:
    """No script or image element, no event handler, no link but http(s)/mailto (text that
    merely shows the hostile input, escaped, is harmless)."""
    tree = HTMLParser(html)
    assert tree.css("script, img, iframe, object, embed") == []
    for node in tree.css("*"):
        attributes = node.attributes
        assert not [a for a in attributes if a.lower().startswith("on")], node.html
        href = (attributes.get("href") or "").strip().lower()
        assert not href or href.startswith(("http://", "https://", "mailto:")), node.html


def test_markdown_intro_is_rendered_and_sanitised() -> None:
    html = intro_html(HOSTILE)
    _no_active_content(html)
    assert "<strong>Adventszeit</strong>" in html
    assert 'href="https://example.org/rat"' in html


def test_a_hostile_intro_never_reaches_the_mail_or_the_preview(
    ctx: Context, admin_client: TestClient
) -> None:
    store_items(ctx, sample_items())
    token = csrf(admin_client, "/admin/redaktion/zwickau")
    answer = admin_client.post(
        "/admin/redaktion/zwickau", data={"csrf_token": token, "einleitung": HOSTILE}
    )
    assert answer.status_code == 303
    digest = sending.preview(ctx, "zwickau")  # as a partner gets it (example personal links)
    assert digest is not None
    assert "Adventszeit" in digest.html and "Adventszeit" in digest.text
    _no_active_content(digest.html)
    assert "Adventszeit ist Einbruchszeit." in digest.text  # text/plain: markup removed
    frame = admin_client.get("/admin/redaktion/vorschau/zwickau.html")
    assert "Adventszeit" in frame.text
    _no_active_content(frame.text)


def test_an_intro_over_the_limit_is_refused_in_german(
    ctx: Context, admin_client: TestClient
) -> None:
    token = csrf(admin_client, "/admin/redaktion/zwickau")
    answer = admin_client.post(
        "/admin/redaktion/zwickau",
        data={"csrf_token": token, "einleitung": "x" * (MAX_INTRO_CHARS + 1)},
    )
    assert answer.status_code == 400
    assert "erlaubt sind 1500" in answer.text
    assert editor.current(ctx, "zwickau").updated_at is None
    with pytest.raises(InvalidInputError):
        editor.save(ctx, "zwickau", "x" * 1501, actor="test")
    editor.save(ctx, "zwickau", "x" * 1500, actor="test")  # the limit itself is allowed


def test_saving_without_the_csrf_token_is_refused(ctx: Context, admin_client: TestClient) -> None:
    answer = admin_client.post("/admin/redaktion/zwickau", data={"einleitung": "Hallo"})
    assert answer.status_code == 403
    assert editor.current(ctx, "zwickau").updated_at is None


def test_pins_come_first_and_left_out_items_are_gone(ctx: Context) -> None:
    store_items(ctx, sample_items())
    editor.save(ctx, "dresden", "", pinned=["item03"], excluded=["item05"], actor="anna")
    digest = sending.plan(ctx, "dresden", datetime.now(UTC))
    assert digest is not None
    assert digest.item_ids == ("item03",)  # item05 (Pirna) left out, item03 statewide pinned
    assert digest.pinned == ("item03",)
    assert digest.html.index("Im Blickpunkt") < digest.html.index("Sicher im Netz")


def test_the_word_for_all_regions_reaches_every_region(ctx: Context) -> None:
    store_items(ctx, sample_items())
    editor.save(ctx, ALL_REGIONS, "Frohe Feiertage wünscht das LPR.", actor="anna")
    editor.save(ctx, "zwickau", "Neu: Beratung in Plauen.", actor="anna")
    now = datetime.now(UTC)
    for region in ("zwickau", "dresden", "ostsachsen"):
        digest = sending.plan(ctx, region, now)
        assert digest is not None and "Frohe Feiertage" in digest.html
    zwickau = sending.plan(ctx, "zwickau", now)
    assert zwickau is not None
    assert zwickau.html.index("Frohe Feiertage") < zwickau.html.index("Beratung in Plauen")
    dresden = sending.plan(ctx, "dresden", now)
    assert dresden is not None and "Beratung in Plauen" not in dresden.html


def test_the_word_is_used_up_by_the_digest_that_went_out_with_it(ctx: Context) -> None:
    store_items(ctx, sample_items())
    editor.save(ctx, "zwickau", "Nur diese Woche.", actor="anna")
    result = sending.enqueue_region(ctx, "zwickau", triggered_by="cli")
    assert result.status == "queued"
    later = sample_items()[1]
    moment = datetime.now(UTC) + timedelta(seconds=1)
    store_items(ctx, [replace(later, id="later", collected_at=moment)])
    digest = sending.plan(ctx, "zwickau", moment + timedelta(seconds=1))
    assert digest is not None and digest.item_ids == ("later",)
    assert "Nur diese Woche" not in digest.html


def test_view_merges_scopes_and_skips_used_words() -> None:
    t = datetime(2026, 12, 1, tzinfo=UTC)
    words = [
        Editorial(ALL_REGIONS, "Alle", pinned=("a",), excluded=("x",), updated_at=t),
        Editorial("zwickau", "Zwickau", pinned=("b", "a"), updated_at=t),
        Editorial("dresden", "Dresden", updated_at=t),
    ]
    view = view_for("zwickau", words, last_built=t - timedelta(days=1))
    assert view.pinned == ("b", "a") and view.excluded == frozenset({"x"})
    assert view.intro_html.index("Alle") < view.intro_html.index("Zwickau")
    assert "Dresden" not in view.intro_html
    assert view_for("zwickau", words, last_built=t + timedelta(seconds=1)).intro_html == ""


def test_dark_variant_applies_the_dark_rules() -> None:
    html = "<style>@media (prefers-color-scheme: dark) { .card { background: #1e1e1e } }</style>"
    assert dark_variant(html) == "<style>@media all { .card { background: #1e1e1e } }</style>"


def test_editorial_page_lists_the_next_items_and_three_previews(
    ctx: Context, admin_client: TestClient
) -> None:
    store_items(ctx, sample_items())
    page = admin_client.get("/admin/redaktion/alle?vorschau=dresden")
    assert page.status_code == 200
    assert "Schulwege in Pirna sicherer" in page.text
    assert page.text.count("<iframe") == 3
    assert "/admin/redaktion/vorschau/dresden.html?modus=dunkel" in page.text
    assert admin_client.get("/admin/redaktion/nirgendwo").status_code == 404


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("schedule", "Zeitplan"),
        ("admin:anna", "Verwaltung (anna)"),
        ("cli", "Kommandozeile"),
        ("api:robot", "Schnittstelle (robot)"),
        (None, "–"),
    ],
)
def test_trigger_names_are_german(stored: str | None, shown: str) -> None:
    assert trigger_label(stored) == shown


def test_draft_age_reads_german() -> None:
    t = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert age_text(t, t) == "seit 1 Minute"
    assert age_text(t, t + timedelta(hours=3, minutes=5)) == "seit 3 Stunden"
    assert age_text(t, t + timedelta(days=2)) == "seit 2 Tagen"
