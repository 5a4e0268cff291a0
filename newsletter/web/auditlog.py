"""The audit log as German sentences (pure: an entry and some names in, one sentence out).

»anna hat den Newsletter Zwickau an 201 Empfänger gesendet.« Every action the admin, the
CLI (actor »Kommandozeile«) and the API record has its sentence; an action this module does
not know still reads as German (»… hat eine Aktion ausgeführt«), never as its raw key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from newsletter.store.audit import CLI_ACTOR, AuditEntry

_ACTORS = {"cli": CLI_ACTOR, "bench": "Messlauf"}


@dataclass(frozen=True)
class Names:
    """What turns keys into words: region names and item titles by id."""

    regions: Mapping[str, str]
    titles: Mapping[str, str]

    def region(self, key: object) -> str:
        if key in (None, "", "alle"):
            return "alle Regionen"
        return self.regions.get(str(key), str(key))

    def regions_of(self, keys: object) -> str:
        if not keys:
            return "Sachsen (landesweit)"
        if isinstance(keys, str):
            return self.region(keys)
        return ", ".join(self.region(k) for k in keys)  # type: ignore[attr-defined]

    def item(self, entry: AuditEntry) -> str:
        title = entry.detail.get("title") or self.titles.get(entry.target or "")
        return f"die Meldung »{title}«" if title else "eine inzwischen gelöschte Meldung"


def actor_name(actor: str) -> str:
    """Who, as a person reads it (the CLI's old ``cli`` is »Kommandozeile«)."""
    return _ACTORS.get(actor, actor)


def sentence(entry: AuditEntry, names: Names) -> str:
    """One German sentence for an audit entry, with a final full stop."""
    who = actor_name(entry.actor)
    words = _WORDS.get(entry.action)
    what = words(entry, names) if words is not None else "hat eine Aktion ausgeführt"
    via = " (über die API)" if entry.detail.get("via") == "api" else ""
    if entry.action == "login.failed":
        return f"Anmeldung als {who} fehlgeschlagen{_ip(entry)}."
    return f"{who} {what}{via}."


def _ip(entry: AuditEntry) -> str:
    ip = entry.detail.get("ip")
    return f" (von {ip})" if ip else ""


def _subscriber(entry: AuditEntry) -> str:
    return f"Abonnent {entry.target}" if entry.target else "einen Abonnenten"


def _count(n: object, one: str, many: str) -> str:
    number = int(n) if isinstance(n, int | str) and str(n).isdigit() else 0
    return f"{number} {one if number == 1 else many}"


def _approve(entry: AuditEntry, names: Names) -> str:
    """One slot's drafts approved: its regions, and the mails it sent (older entries:
    recipients of one region's mail)."""
    regions = entry.detail.get("regions") or [entry.target]
    text = (
        f"hat die Entwürfe der Newsletter {names.regions_of(regions)} freigegeben"
        if len(regions) > 1
        else f"hat den Entwurf des Newsletters {names.region(regions[0])} freigegeben"
    )
    if entry.detail.get("mails"):
        return text + f" und {_count(entry.detail['mails'], 'E-Mail', 'E-Mails')} gesendet"
    if entry.detail.get("recipients"):
        return (
            text
            + f" und an {_count(entry.detail['recipients'], 'Empfänger', 'Empfänger')} gesendet"
        )
    return text


def _collect(entry: AuditEntry, names: Names) -> str:
    d = entry.detail
    which = "alle Quellen" if entry.target in (None, "alle") else f"die Quelle »{entry.target}«"
    if "new" not in d:
        return f"hat {which} abrufen lassen"
    failed = f", {d['failed']} fehlgeschlagen" if d.get("failed") else ""
    return (
        f"hat {which} abgerufen: {_count(d['new'], 'neue Meldung', 'neue Meldungen')}, "
        f"{d.get('changed', 0)} geändert{failed}"
    )


def _send(entry: AuditEntry, names: Names) -> str:
    d = entry.detail
    newsletter = f"den Newsletter {names.region(entry.target)}"
    if d.get("status") == "nothing_new":
        return f"wollte {newsletter} senden, es gab aber nichts Neues"
    if d.get("status") == "already_sent":
        return f"wollte {newsletter} senden, er war für diesen Zeitraum schon gesendet"
    text = f"hat {newsletter}"
    if "recipients" in d:
        text += f" an {_count(d['recipients'], 'Empfänger', 'Empfänger')}"
    text += " gesendet"
    if "sent" in d:
        text += f" ({d['sent']} zugestellt, {d.get('failed', 0)} fehlgeschlagen)"
    return text


def _regions(entry: AuditEntry, names: Names) -> str:
    mode = entry.detail.get("mode")
    item = names.item(entry)
    if mode == "auto":
        return f"hat bei {item} die Regionen wieder der automatischen Erkennung überlassen"
    return f"hat {item} {names.regions_of(entry.detail.get('regions'))} zugeordnet"


def _import(entry: AuditEntry, names: Names) -> str:
    d = entry.detail
    kind = "probeweise geprüft" if d.get("dry_run") else "importiert"
    counts = (
        f"{d.get('added', 0)} neu, {d.get('updated', 0)} ergänzt, "
        f"{d.get('unchanged', 0)} unverändert, {d.get('rejected', 0)} abgelehnt"
    )
    mails = ""
    if "confirmed" in d:
        mails = "; ohne Bestätigungs-E-Mails" if d["confirmed"] else "; mit Bestätigungs-E-Mails"
    return f"hat die Abonnentenliste »{entry.target or 'ohne Namen'}« {kind}: {counts}{mails}"


def _editorial(entry: AuditEntry, names: Names) -> str:
    d = entry.detail
    which = (
        "die nächsten Newsletter aller Regionen"
        if entry.target in (None, "", "alle")
        else f"den nächsten Newsletter {names.region(entry.target)}"
    )
    pinned = _count(len(d.get("pinned") or []), "Meldung", "Meldungen")
    return (
        f"hat das Wort der Redaktion für {which} gespeichert "
        f"({pinned} angeheftet, {len(d.get('excluded') or [])} weggelassen)"
    )


def _add(entry: AuditEntry, names: Names) -> str:
    how = "bestätigt" if entry.detail.get("confirmed") else "mit Bestätigungs-E-Mail"
    where = names.regions_of(entry.detail.get("regions"))
    return f"hat {_subscriber(entry)} für {where} eingetragen ({how})"


def _admin(what: str) -> Callable[[AuditEntry, Names], str]:
    return lambda e, n: f"hat {what.format(name=e.target or '?')}"


_WORDS: dict[str, Callable[[AuditEntry, Names], str]] = {
    "login": lambda e, n: f"hat sich angemeldet{_ip(e)}",
    "logout": lambda e, n: "hat sich abgemeldet",
    "sources.collect": _collect,
    "digest.send": _send,
    "digest.test": lambda e, n: (
        f"hat einen Testversand des Newsletters {n.region(e.target)} an "
        f"{e.detail.get('to', 'sich')} geschickt"
    ),
    "digest.dry_run": lambda e, n: f"hat den Newsletter {n.region(e.target)} probeweise gebaut",
    "digest.retry": lambda e, n: (
        f"hat {_count(e.detail.get('deliveries', 0), 'fehlgeschlagene Zustellung', 'fehlgeschlagene Zustellungen')} "
        f"des Newsletters Nr. {e.target} erneut angestoßen"
    ),
    "item.add": lambda e, n: f"hat {n.item(e)} angelegt",
    "item.hide": lambda e, n: f"hat {n.item(e)} ausgeblendet",
    "item.show": lambda e, n: f"hat {n.item(e)} wieder sichtbar gemacht",
    "item.regions": _regions,
    "subscriber.add": _add,
    "subscriber.unsubscribe": lambda e, n: (
        f"hat {_subscriber(e)} von {n.region(e.detail.get('region'))} abgemeldet"
    ),
    "subscriber.forget": lambda e, n: (
        f"hat die Daten von {_subscriber(e)} gelöscht (DSGVO Art. 17)"
    ),
    "subscribers.export": lambda e, n: (
        f"hat die Abonnenten ({n.region(e.target)}) als CSV exportiert"
    ),
    "subscribers.import": _import,
    "digest.approve": _approve,
    "editorial.save": _editorial,
    "admin.add": _admin("den Verwaltungszugang »{name}« angelegt"),
    "admin.password": _admin("das Passwort von »{name}« geändert"),
    "admin.disable": _admin("den Zugang »{name}« gesperrt"),
    "admin.enable": _admin("den Zugang »{name}« wieder freigegeben"),
    "admin.sessions.end": _admin("alle Anmeldungen von »{name}« beendet"),
    "admin.token": _admin("einen neuen API-Schlüssel für »{name}« erzeugt"),
}
