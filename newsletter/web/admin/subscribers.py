"""Admin subscribers: search and filter, add, unsubscribe, forget, consent proof,
CSV import (upload → dry-run table → import) and export.

Everything goes through :mod:`newsletter.subscriptions` and :mod:`newsletter.subscriptions.roster`, so
the consent log records each step with the admin as actor.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from newsletter.errors import InvalidInputError, NotFoundError
from newsletter.models import SubscriptionStatus
from newsletter.store import subscribers as store
from newsletter.store.db import transaction
from newsletter.subscriptions import privacy, roster, rules
from newsletter.subscriptions import service as subscriptions
from newsletter.web import import_jobs
from newsletter.web.admin.common import Pager, admin_page, field, redirect, region_keys
from newsletter.web.auth import current_admin, record
from newsletter.web.params import PageNumber, PathId
from newsletter.web.rendering import context_of
from newsletter.web.security import checked_form
from newsletter.web.state import state_of

router = APIRouter(prefix="/abonnenten")
MAX_UPLOAD = 5_000_000
PAGE_SIZE = 50
QUICK_SECONDS = 2.0  # an import done within this answers the upload directly
STATUSES = {
    SubscriptionStatus.CONFIRMED: "bestätigt",
    SubscriptionStatus.PENDING: "unbestätigt",
    SubscriptionStatus.UNSUBSCRIBED: "abgemeldet",
}


@router.get("", response_class=HTMLResponse, include_in_schema=False)
def list_page(
    request: Request, suche: str = "", region: str = "", status: str = "", seite: PageNumber = 1
) -> HTMLResponse:
    """Search, filter and page in SQL: 50 rows and one count per request."""
    ctx = context_of(request)
    where = store.SubscriberFilter(
        suche.strip(), region or None, status if status in STATUSES else None
    )
    with transaction(ctx.engine) as conn:
        pager = Pager(seite, PAGE_SIZE, store.search_count(conn, where))
        rows = store.search(conn, where, limit=PAGE_SIZE, offset=pager.offset)
    values = {
        "subscribers": rows,
        "pager": pager,
        "filters": {"suche": suche, "region": region, "status": status},
        "statuses": STATUSES,
        "error": None,
        "form": {},
    }
    return admin_page(request, "admin/subscribers.html", values)


@router.post("/neu", include_in_schema=False)
async def add(request: Request) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    email, reason = field(form, "email"), field(form, "reason")
    regions = region_keys(request, form)
    if not regions:
        raise InvalidInputError("Bitte mindestens eine Region ankreuzen", field="region")
    subscriptions.admin_add(
        ctx,
        email=email,
        regions=regions,
        name=field(form, "name"),
        organisation=field(form, "organisation"),
        confirmed_reason=reason or None,
        actor=current_admin(request).name,
    )
    with transaction(ctx.engine) as conn:
        added = store.find_by_email(conn, rules.normalise_email(email))
    target = f"#{added.id}" if added else None  # no address in the audit log (Art. 17)
    record(request, "subscriber.add", target, regions=regions, confirmed=bool(reason))
    text = (
        f"{email} ist eingetragen (bestätigt: {reason})."
        if reason
        else f"{email} bekommt eine Bestätigungs-E-Mail."
    )
    return redirect(request, "/admin/abonnenten", text)


@router.get("/import", response_class=HTMLResponse, include_in_schema=False)
def import_form(request: Request) -> HTMLResponse:
    return admin_page(request, "admin/subscribers_import.html", {"report": None, "data": ""})


@router.post("/import", response_class=HTMLResponse, include_in_schema=False)
async def import_upload(request: Request) -> Response:
    """A first upload is always a dry run; »Jetzt importieren« sends the same bytes back.

    The import runs on a thread; a small file answers at once, a large one leads to a
    page that shows the progress and refreshes itself until the report is there.
    """
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    try:
        data, filename = await _upload(form.get("file"), field(form, "data"))
    finally:
        await form.close()
    job = state_of(request.app).imports.start(
        ctx,
        import_jobs.ImportJob(
            admin=current_admin(request).name,
            filename=field(form, "filename") or filename,
            data=data,
            reason=field(form, "reason") or None,
            dry_run=field(form, "commit") != "1",
        ),
    )
    if await asyncio.to_thread(job.finished.wait, QUICK_SECONDS):
        return _finished(request, job)
    return redirect(request, f"/admin/abonnenten/import/{job.id}")


@router.get("/import/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def import_progress(request: Request, job_id: str) -> Response:
    job = state_of(request.app).imports.get(job_id, current_admin(request).name)
    if job is None:
        raise NotFoundError("Diesen Import gibt es nicht (mehr); bitte die Datei neu hochladen.")
    if job.finished.is_set():
        return _finished(request, job)
    values = {"report": None, "job": job, "refresh": True}
    return admin_page(request, "admin/subscribers_import.html", values)


def _finished(request: Request, job: import_jobs.ImportJob) -> Response:
    """The dry-run table, or (after the real import) the list with a notice."""
    if job.error is not None:
        raise job.error
    if not job.dry_run:
        return redirect(request, "/admin/abonnenten", _import_notice(job.counts()))
    values = {
        "report": job.report,
        "counts": job.counts(),
        "data": base64.b64encode(job.data).decode(),
        "filename": job.filename,
        "reason": job.reason or "",
    }
    return admin_page(request, "admin/subscribers_import.html", values)


def _import_notice(counts: dict[str, int]) -> str:
    return (
        f"Import fertig: {counts['added']} neu, {counts['updated']} ergänzt, "
        f"{counts['unchanged']} unverändert, {counts['rejected']} abgelehnt."
    )


async def _upload(upload: object, carried: str) -> tuple[bytes, str]:
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_UPLOAD + 1)
        name = upload.filename
    else:
        try:
            data, name = base64.b64decode(carried, validate=True), "upload.csv"
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError("Die Datei ist beschädigt; bitte neu hochladen.") from exc
    if not data:
        raise InvalidInputError("Bitte eine CSV-Datei auswählen.", field="file")
    if len(data) > MAX_UPLOAD:
        raise InvalidInputError("Die Datei ist größer als 5 MB.", field="file")
    return data, name


@router.get("/export.csv", include_in_schema=False)
def export(request: Request, region: str = "") -> Response:
    ctx = context_of(request)
    text = roster.export_roster(ctx, region or None)
    record(request, "subscribers.export", region or "alle")
    name = f"abonnenten-{region or 'alle'}-{date.today().isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/{subscriber_id}", response_class=HTMLResponse, include_in_schema=False)
def detail(request: Request, subscriber_id: PathId) -> HTMLResponse:
    ctx = context_of(request)
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
    consent = privacy.consent_record(ctx, subscriber.email)
    values = {"subscriber": subscriber, "consent": consent, "statuses": STATUSES}
    return admin_page(request, "admin/subscriber.html", values)


@router.post("/{subscriber_id}/abmelden", include_in_schema=False)
async def unsubscribe(request: Request, subscriber_id: PathId) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    region = field(form, "region") or None
    actor = rules.Request(actor=current_admin(request).name)
    subscriptions.unsubscribe(ctx, subscriber_id, region, actor, via="admin")
    record(request, "subscriber.unsubscribe", f"#{subscriber_id}", region=region or "alle")
    return redirect(request, f"/admin/abonnenten/{subscriber_id}", "Abgemeldet.")


@router.post("/{subscriber_id}/zustellung", include_in_schema=False)
async def delivery_choice(request: Request, subscriber_id: PathId) -> Response:
    """»eine E-Mail je Region« or one combined mail for the regions of a slot."""
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    per_region = field(form, "per_region") == "ja"
    with transaction(ctx.engine) as conn:
        store.get(conn, subscriber_id)  # 404 for an unknown id
        store.set_per_region(conn, subscriber_id, per_region)
    choice = "je Region" if per_region else "gemeinsam"
    record(request, "subscriber.delivery", f"#{subscriber_id}", mails=choice)
    return redirect(request, f"/admin/abonnenten/{subscriber_id}", "Zustellung gespeichert.")


@router.post("/{subscriber_id}/vergessen", include_in_schema=False)
async def forget(request: Request, subscriber_id: PathId) -> Response:
    ctx = context_of(request)
    form = await checked_form(request, ctx.secret_key)
    with transaction(ctx.engine) as conn:
        subscriber = store.get(conn, subscriber_id)
    if field(form, "confirm") != subscriber.email:
        raise InvalidInputError(
            "Zum Löschen bitte die E-Mail-Adresse zur Bestätigung eintippen.", field="confirm"
        )
    privacy.forget(ctx, subscriber.email, current_admin(request).name)
    record(request, "subscriber.forget", f"#{subscriber_id}")
    return redirect(
        request, "/admin/abonnenten", "Die Daten sind gelöscht; die Adresse ist gesperrt."
    )
