"""Subscribe, confirm, preferences and unsubscribe pages (German, no JavaScript needed).

GET never changes state (mail scanners follow links). ``POST /abmelden/<token>``
unsubscribes at once with 200 and needs no CSRF token or cookie: the signed link token
is the authority (RFC 8058 one-click, body ``List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from newsletter.context import Context
from newsletter.errors import InvalidInputError, TokenError
from newsletter.models import joined_names
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
        "consent_version": ctx.config.subscriptions.consent_text_version,
        **values,
    }


@router.get("/abonnieren", response_class=HTMLResponse)
def subscribe_form(request: Request) -> HTMLResponse:
    return render(request, "subscribe.html", _form_values(context_of(request)))


@router.post("/abonnieren", response_class=HTMLResponse)
async def subscribe(request: Request) -> HTMLResponse:
    """Same answer whether or not the address is known: no enumeration."""
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    fields = {k: str(form.get(k, ""))[: MAX_FIELD * 2] for k in ("email", "name", "organisation")}
    regions = [str(r) for r in form.getlist("regions")]
    if form.get(HONEYPOT):
        return render(request, "subscribe_done.html")
    if not form.get("consent"):
        errors = {"consent": "Bitte bestätigen Sie die Einwilligung."}
        return render(
            request,
            "subscribe.html",
            _form_values(ctx, errors=errors, form=fields, chosen=regions),
            status=400,
        )
    verdict = rate_verdict(request, "mail", fields["email"])
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
        return render(request, "subscribe_done.html")
    try:
        await asyncio.to_thread(  # may wait for a busy database: not on the event loop
            subscriptions.request_subscription, ctx, regions=regions, request=_who(request),
            **fields,
        )  # fmt: skip
    except InvalidInputError as exc:
        errors = {exc.field or "email": exc.message}
        return render(
            request,
            "subscribe.html",
            _form_values(ctx, errors=errors, form=fields, chosen=regions),
            status=400,
        )
    return render(request, "subscribe_done.html")


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
    return render(request, "confirmed.html", {"subscriber": subscriber, "manage_token": manage})


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
    return render(
        request,
        "manage.html",
        {"subscriber": subscriber, "token": token, "saved": False, "errors": {}},
    )


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
    return render(
        request,
        "manage.html",
        {"subscriber": subscriber, "token": token, "saved": True, "errors": {}},
    )


@router.get("/abmelden/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    """Shows a button; never unsubscribes on GET (link scanners prefetch)."""
    try:
        data = _read(request, token, Purpose.UNSUBSCRIBE)
    except TokenError as exc:
        return _token_error(request, exc)
    return render(
        request, "unsubscribe.html", {"token": token, "region_name": _region_name(request, data)}
    )


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
    return render(request, "subscribe_done.html", {"link_request": True})
