"""Subscribe, confirm, preferences and unsubscribe pages (German, no JavaScript needed).

GET never changes state (mail scanners follow links). ``POST /abmelden/<token>``
unsubscribes at once with 200 and needs no CSRF token or cookie: the signed link token
is the authority (RFC 8058 one-click, body ``List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.context import Context
from newsletter.errors import InvalidInputError, TokenError
from newsletter.gazetteer import lookup
from newsletter.gazetteer.lookup import Place
from newsletter.models import Subscriber, joined_names
from newsletter.regionmap import region_map
from newsletter.subscriptions import rules
from newsletter.subscriptions import service as subscriptions
from newsletter.subscriptions.rules import CONSENT_TEXT, MAX_FIELD
from newsletter.subscriptions.tokens import Purpose, TokenData
from newsletter.web.rendering import context_of, render
from newsletter.web.security import checked_form, client_ip, rate_verdict

router = APIRouter(include_in_schema=False)
HONEYPOT = "website"


def _who(request: Request) -> rules.Request:
    return rules.Request(client_ip(request), request.headers.get("user-agent"))


def _form_values(ctx: Context, **values: object) -> dict[str, object]:
    return {
        "consent_text": CONSENT_TEXT,
        "max_field": MAX_FIELD,
        "errors": {},
        "form": {},
        "chosen": [],
        "consent": False,
        "place": "",
        "places": None,
        "place_names": lookup.names(),
        "region_map": region_map(ctx.config.region_list()),
        "consent_version": ctx.config.subscriptions.consent_text_version,
        **values,
    }


def _done(request: Request, **values: object) -> HTMLResponse:
    """The thank-you page: says how long the link in the mail is valid."""
    days = context_of(request).config.subscriptions.confirm_days
    return render(request, "subscribe_done.html", {"confirm_days": days, **values})


def _places(ctx: Context, query: str) -> list[tuple[Place, str]]:
    """»Welche Region ist meine?«: the places called ``query`` with their region's key."""
    by_district = {d: r.key for r in ctx.config.region_list() for d in r.districts}
    return [(p, by_district[p.district]) for p in lookup.find(query) if p.district in by_district]


def _known_regions(ctx: Context, keys: list[str]) -> list[str]:
    known = {r.key for r in ctx.config.region_list()}
    return [k for k in keys if k in known]


@router.get("/abonnieren", response_class=HTMLResponse)
def subscribe_form(request: Request) -> HTMLResponse:
    """The form; ``?region=KEY`` arrives with that region ticked, ``?ort=NAME`` looks it up."""
    ctx = context_of(request)
    chosen = _known_regions(ctx, request.query_params.getlist("region"))
    place = request.query_params.get("ort", "")[:MAX_FIELD].strip()
    values: dict[str, object] = {"chosen": chosen}
    if place:
        found = _places(ctx, place)
        values |= {"place": place, "places": found, "chosen": _with_found(chosen, found)}
    return render(request, "subscribe.html", _form_values(ctx, **values))


def _with_found(chosen: list[str], found: list[tuple[Place, str]]) -> list[str]:
    """A place that lies in one region ticks it; an ambiguous name ticks nothing."""
    regions = {region for _, region in found}
    return sorted({*chosen, *regions}) if len(regions) == 1 else chosen


@router.post("/abonnieren", response_class=HTMLResponse)
async def subscribe(request: Request) -> HTMLResponse:
    """Same answer whether or not the address is known: no enumeration.

    Every field is checked at once; the form comes back with all errors and every value
    (the consent tick too). The »Region suchen« button only looks a place up.
    """
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    fields = {k: str(form.get(k, ""))[: MAX_FIELD * 2] for k in ("email", "name", "organisation")}
    regions = [str(r) for r in form.getlist("regions")][:64]
    consent = bool(form.get("consent"))
    place = str(form.get("ort", ""))[:MAX_FIELD].strip()
    if form.get(HONEYPOT):
        return _done(request)
    kept = {"form": fields, "chosen": _known_regions(ctx, regions), "consent": consent}
    if form.get("action") == "ort_suchen" and place:
        found = _places(ctx, place)
        chosen = _with_found(kept["chosen"], found)  # type: ignore[arg-type]
        values = {**kept, "chosen": chosen, "place": place, "places": found}
        return render(request, "subscribe.html", _form_values(ctx, **values))
    signup, errors = subscriptions.validate_signup(ctx, regions=regions, consent=consent, **fields)
    if signup is None:
        values = {**kept, "errors": errors, "place": place}
        return render(request, "subscribe.html", _form_values(ctx, **values), status=400)
    verdict = rate_verdict(request, "mail", signup.email)
    if not verdict.requester_ok:
        return render(
            request,
            "error.html",
            {
                "status": 429,
                "message": (
                    "Zu viele Anmeldeversuche. Bitte versuchen Sie es in einer Stunde erneut."
                ),
            },
            status=429,
        )
    if not verdict.target_ok:  # the same page, but no further mail to that address
        return _done(request)
    try:
        await asyncio.to_thread(  # may wait for a busy database: not on the event loop
            subscriptions.request_subscription, ctx, regions=regions, request=_who(request),
            **fields,
        )  # fmt: skip
    except InvalidInputError as exc:
        values = {**kept, "errors": {exc.field or "email": exc.message}, "place": place}
        return render(request, "subscribe.html", _form_values(ctx, **values), status=400)
    return _done(request)


def _read(request: Request, token: str, purpose: Purpose) -> TokenData:
    ctx = context_of(request)
    days = ctx.config.subscriptions.confirm_days
    data = ctx.tokens.read(token, purpose, days * 86400 if purpose is Purpose.CONFIRM else None)
    subscriptions.check_link(ctx, data)
    return data


def _token_error(request: Request, exc: TokenError) -> HTMLResponse:
    return render(
        request, "token_error.html", {"message": exc.message, "expired": exc.expired}, status=400
    )


@router.get("/bestaetigen/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    try:
        _read(request, token, Purpose.CONFIRM)
    except TokenError as exc:
        return _token_error(request, exc)
    return render(request, "confirm.html", {"token": token})


@router.post("/bestaetigen/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> HTMLResponse:
    ctx = context_of(request)
    await checked_form(request, ctx.secret_key)
    try:
        data = _read(request, token, Purpose.CONFIRM)
    except TokenError as exc:
        return _token_error(request, exc)
    # a late joiner's combined welcome mail may be rendered here: not on the event loop
    subscriber = await asyncio.to_thread(
        subscriptions.confirm, ctx, data.subscriber_id, _who(request)
    )
    manage = subscriptions.link_token(ctx, subscriber, Purpose.MANAGE)
    values = {
        "subscriber": subscriber,
        "manage_token": manage,
        "next_digests": _next_digests(ctx, subscriber.confirmed_regions()),
        "welcome_digest": ctx.config.subscriptions.welcome_digest,
    }
    return render(request, "confirmed.html", values)


def _next_digests(ctx: Context, regions: Sequence[str]) -> list[tuple[str, str]]:
    """(region name, »Donnerstag, 10. Dezember 2026, 09:00 Uhr«) of each region's next digest."""
    from zoneinfo import ZoneInfo

    from newsletter.crontab import cron_trigger, next_slot
    from newsletter.localtime import german_long
    from newsletter.scheduler import region_cron
    from newsletter.store.db import utcnow

    if not ctx.config.schedule.enabled:
        return []  # no scheduler: the editors send by hand
    tz, now = ZoneInfo(ctx.config.site.timezone), utcnow()
    found = (ctx.config.region(key) for key in regions)
    return [
        (r.name, german_long(next_slot(cron_trigger(region_cron(ctx.config, r.key), tz), now), tz))
        for r in found
        if r is not None
    ]


@router.get("/einstellungen/{token}", response_class=HTMLResponse)
def manage_page(request: Request, token: str) -> HTMLResponse:
    from newsletter.store import subscribers as store
    from newsletter.store.db import transaction

    ctx = context_of(request)
    try:
        data = _read(request, token, Purpose.MANAGE)
    except TokenError as exc:
        return _token_error(request, exc)
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, data.subscriber_id)
    return _manage_page(request, subscriber, token, saved=False)


@router.post("/einstellungen/{token}", response_class=HTMLResponse)
async def manage(request: Request, token: str) -> HTMLResponse:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    try:
        data = _read(request, token, Purpose.MANAGE)
    except TokenError as exc:
        return _token_error(request, exc)
    if form.get("action") == "alle_abbestellen":
        subscriptions.unsubscribe(ctx, data.subscriber_id, None, _who(request), "preferences")
        return render(request, "unsubscribed.html", {"region_name": None})
    regions = [str(r) for r in form.getlist("regions")]
    subscriber = subscriptions.change(
        ctx,
        data.subscriber_id,
        regions=regions,
        name=str(form.get("name", ""))[:MAX_FIELD],
        organisation=str(form.get("organisation", ""))[:MAX_FIELD],
        request=_who(request),
        per_region=form.get("per_region") == "ja",
    )
    return _manage_page(request, subscriber, token, saved=True)


def _manage_page(
    request: Request, subscriber: Subscriber, token: str, *, saved: bool
) -> HTMLResponse:
    """The preferences form, with the map that ticks regions like the subscribe form's."""
    values = {
        "subscriber": subscriber,
        "token": token,
        "saved": saved,
        "errors": {},
        "region_map": region_map(context_of(request).config.region_list()),
    }
    return render(request, "manage.html", values)


@router.get("/abmelden/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """Shows a button; never unsubscribes on GET (link scanners prefetch)."""
    try:
        data = _read(request, token, Purpose.UNSUBSCRIBE)
    except TokenError as exc:
        return _token_error(request, exc)
    from newsletter.errors import NotFoundError
    from newsletter.store import subscribers as store
    from newsletter.store.db import transaction

    subscriber = None  # erased meanwhile: the button still answers 200 (RFC 8058)
    with transaction(context_of(request).engine) as conn, contextlib.suppress(NotFoundError):
        subscriber = store.get(conn, data.subscriber_id)
    values = {"token": token, "region_name": _region_name(request, data), "subscriber": subscriber}
    return render(request, "unsubscribe.html", values)


@router.post("/abmelden/{token}", response_class=HTMLResponse)
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """One-click (RFC 8058) and the button: unsubscribe now; 200, idempotent, no redirect."""
    try:
        data = _read(request, token, Purpose.UNSUBSCRIBE)
    except TokenError as exc:
        return _token_error(request, exc)
    form = await request.form()
    via = "one-click" if form.get("List-Unsubscribe") == "One-Click" else "button"
    subscriptions.unsubscribe(
        context_of(request), data.subscriber_id, data.region, _who(request), via
    )
    return render(request, "unsubscribed.html", {"region_name": _region_name(request, data)})


def _region_name(request: Request, data: TokenData) -> str | None:
    """The region of the link (»A und B« for a combined mail's link), None for all."""
    if not data.region:
        return None
    config = context_of(request).config
    regions = [config.region(key) for key in data.region.split("+")]
    names = [r.name for r in regions if r is not None]
    return joined_names(names) if names else None


@router.post("/link-anfordern", response_class=HTMLResponse)
async def request_link(request: Request) -> HTMLResponse:
    """After an expired or broken link: mail a fresh manage link (same answer for anyone)."""
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    address = str(form.get("email", ""))[:320]
    if rate_verdict(request, "mail", address).ok:
        with contextlib.suppress(InvalidInputError):  # same page for a malformed address
            subscriptions.send_fresh_link(ctx, address)
    return _done(request, link_request=True)
