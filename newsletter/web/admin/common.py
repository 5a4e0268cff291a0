"""Shared helpers of the admin pages: the page frame, flash notices, form values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData

from newsletter.errors import InvalidInputError
from newsletter.history import age_text, trigger_label
from newsletter.localtime import german_long, german_medium, german_short
from newsletter.mail.approval import slots
from newsletter.models import DeliveryStatus, Draft, DraftSlot
from newsletter.store import drafts as draft_store
from newsletter.store.db import transaction, utcnow
from newsletter.web.auth import current_admin
from newsletter.web.rendering import context_of, render

FLASH_COOKIE = "nl_flash"
NAV = (
    ("/admin", "Übersicht"),
    ("/admin/meldungen", "Meldungen"),
    ("/admin/newsletter", "Newsletter"),
    ("/admin/abonnenten", "Abonnenten"),
    ("/admin/ruecklaeufer", "Rückläufer"),
    ("/admin/protokoll", "Protokoll"),
)

# Every value a page shows that is a key in the code, in German (see :func:`say`).
WORDS: dict[str, dict[str, str]] = {
    "source_kind": {"feed": "Feed", "page": "Webseite", "folder": "Ordner mit Meldungen"},
    "source_status": {
        "ok": "in Ordnung",
        "not_modified": "unverändert",
        "error": "Fehler",
        "disabled": "abgeschaltet",
        "never": "noch nie abgerufen",
    },
    "match_kind": {
        "municipality": "Gemeinde",
        "adjective": "Adjektiv einer Gemeinde",
        "locality": "Ortsteil",
        "verband": "Verwaltungsverband",
        "district": "Landkreis",
        "landscape": "Landschaft",
        "region": "Regionsname",
        "directorate": "Polizeidirektion",
        "foreign": "außerhalb Sachsens",
        "marker": "Hinweiswort",
        "stop": "kein Ort",
    },
    "consent_event": {
        "subscribe_request": "Anmeldung angefordert",
        "confirm": "bestätigt (Klick auf den Link)",
        "admin_confirm": "von der Verwaltung eingetragen, Einwilligung liegt vor",
        "import": "importiert",
        "change": "Regionen geändert",
        "unsubscribe": "abgemeldet",
        "forget": "Daten gelöscht",
    },
    "subscriber_source": {
        "form": "das Anmeldeformular",
        "admin": "die Verwaltung",
        "import": "einen CSV-Import",
        "api": "die API",
    },
    "delivery_status": {
        DeliveryStatus.QUEUED: "wartet",
        DeliveryStatus.SENDING: "wird gesendet",
        DeliveryStatus.SENT: "gesendet",
        DeliveryStatus.RETRY: "neuer Versuch geplant",
        DeliveryStatus.FAILED: "fehlgeschlagen",
        DeliveryStatus.CANCELLED: "entfällt (abgemeldet)",
    },
}
_MAILDIR_REPLY = "250 stored in Maildir as "


def say(kind: str, value: object) -> str:
    """A key in German (``say("source_kind", "folder")`` -> »Ordner mit Meldungen«)."""
    text = "" if value is None else str(value)
    return WORDS[kind].get(text, text)


def reply_words(reply: str | None) -> str:
    """The mail server's reply; our own Maildir's English line in German."""
    if not reply:
        return "–"
    if reply.startswith(_MAILDIR_REPLY):
        return f"250 im Maildir-Ordner abgelegt ({reply.removeprefix(_MAILDIR_REPLY)})"
    return reply


def _flash_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(context_of(request).secret_key, salt="newsletter-flash")


def admin_page(
    request: Request, template: str, values: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render an admin page with the nav, the admin, dates helpers and a pending notice."""
    ctx = context_of(request)
    tz = ZoneInfo(ctx.config.site.timezone)
    notice = _read_flash(request)
    page_values: dict[str, Any] = {
        "admin": current_admin(request),
        "nav": NAV,
        "notice": notice,
        "when": lambda v: german_short(v, tz),
        "when_long": lambda v: german_long(v, tz),
        "when_medium": lambda v: german_medium(v, tz),
        "region_names": {r.key: r.name for r in ctx.config.region_list()},
        "say": say,
        "reply_words": reply_words,
        "trigger_label": trigger_label,
        "draft_age": lambda draft: age_text(draft.created_at, utcnow()),
    }
    response = render(request, template, page_values | (values or {}), status=status)
    if notice is not None:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    return response


def _read_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        return str(_flash_signer(request).loads(raw, max_age=300))
    except BadSignature:
        return None


def redirect(request: Request, url: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``url`` (Post/Redirect/Get), with a German notice shown on the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        value = str(_flash_signer(request).dumps(notice))
        response.set_cookie(
            FLASH_COOKIE,
            value,
            max_age=300,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/admin",
        )
    return response


def field(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def region_keys(request: Request, form: FormData, name: str = "region") -> list[str]:
    """The checked regions, each a configured key (else a German input error)."""
    known = {r.key for r in context_of(request).config.region_list()}
    chosen = [str(v) for v in form.getlist(name)]
    for key in chosen:
        if key not in known:
            raise InvalidInputError(f"Unbekannte Region »{key}«", field=name)
    return sorted(set(chosen))


def waiting_drafts(request: Request, region: str | None = None) -> list[Draft]:
    """Drafted digests waiting for »Freigeben und senden« (``schedule.approval = manual``)."""
    with transaction(context_of(request).engine) as conn:
        return draft_store.waiting(conn, region)


def waiting_slots(request: Request, region: str | None = None) -> list[DraftSlot]:
    """The waiting drafts by slot (approved together); ``region``: the slots holding it."""
    ctx = context_of(request)
    found = slots(ctx.config, waiting_drafts(request))
    return [s for s in found if region is None or region in s.regions]


def draft_cutoff(request: Request, region: str) -> datetime | None:
    """The cut-off of the region's newest waiting draft: what »Freigeben und senden« sends,
    so previews show that period (None: no draft waits, preview up to now)."""
    waiting = waiting_drafts(request, region)
    return waiting[-1].period_end if waiting else None


@dataclass(frozen=True)
class Pager:
    """Where a page of ``size`` rows sits in ``total`` rows (pure; for the list pages)."""

    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    def link(self, filters: dict[str, str], page: int) -> str:
        """The query string of ``page`` with the filters that are set."""
        kept = {k: v for k, v in filters.items() if v}
        return "?" + urlencode(kept | {"seite": str(page)})


@dataclass(frozen=True)
class SendProgress:
    """How far a digest's sending is, and how long the rest will take (pure)."""

    total: int
    sent: int
    failed: int
    open: int
    rate: float | None  # mails per second so far (None: too early to say)

    @property
    def done(self) -> int:
        return self.sent + self.failed

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    @property
    def seconds_left(self) -> int | None:
        if not self.open or not self.rate:
            return None
        return max(1, round(self.open / self.rate))


def send_progress(
    counts: dict[str, int], first: datetime | None, last: datetime | None, open_statuses: set[str]
) -> SendProgress:
    """Counts per status and the first/last send time -> progress with a rate."""
    sent, failed = counts.get(DeliveryStatus.SENT, 0), counts.get(DeliveryStatus.FAILED, 0)
    pending = sum(n for status, n in counts.items() if status in open_statuses)
    span = (last - first).total_seconds() if first and last else 0.0
    rate = sent / span if span > 0 and sent > 1 else None
    return SendProgress(sum(counts.values()), sent, failed, pending, rate)


def german_duration(seconds: int | None) -> str:
    """»noch ca. 9 s«, »noch ca. 3 min«, or »« when unknown."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"noch ca. {seconds} s"
    if seconds < 5400:
        return f"noch ca. {round(seconds / 60)} min"
    return f"noch ca. {seconds / 3600:.1f} h".replace(".", ",")
