"""``newsletter regions corrections --export FILE`` and ``regions check FILE``: admin
corrections as test cases for the classifier, and its accuracy on such a file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from newsletter.cli.base import console, open_context
from newsletter.cli.regions import regions_app
from newsletter.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from newsletter.region_cases import Evaluation

EXCERPT = 70


@regions_app.command("corrections")
def corrections(
    export: Annotated[
        Path, typer.Option("--export", metavar="DATEI", help="Als JSONL in diese Datei schreiben.")
    ],
) -> None:
    """Von Admins korrigierte Regionen als Testfälle (Format von tests/data/regions.jsonl)."""
    from newsletter.region_cases import cases_from_corrections
    from newsletter.store import corrections as correction_store
    from newsletter.store.db import transaction

    with open_context() as ctx, transaction(ctx.engine) as conn:
        stored = correction_store.all_corrections(conn)
    cases = cases_from_corrections(stored)
    export.write_text("".join(case.to_json() + "\n" for case in cases), encoding="utf-8")
    console.print(
        f"{len(cases)} Testfälle aus {len(stored)} Korrekturen geschrieben: {export}",
        highlight=False,
    )


@regions_app.command("check")
def check(
    file: Annotated[
        Path, typer.Argument(metavar="DATEI", help="JSONL-Datei: je Zeile text und regions.")
    ],
) -> None:
    """Genauigkeit der Regionserkennung auf einer Testdatei (exakt gleiche Regionen)."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise NotFoundError(f"Die Datei »{file}« gibt es nicht.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Die Datei »{file}« ist nicht lesbar ({exc}).") from exc
    from newsletter.region_cases import evaluate, parse_cases
    from newsletter.regions import classify

    cases = parse_cases(lines, str(file))
    with open_context(init=False) as ctx:
        gazetteer = ctx.gazetteer
    _print_evaluation(evaluate(cases, lambda text: classify(text, gazetteer).regions))


def _print_evaluation(result: Evaluation) -> None:
    right = result.total - len(result.misses)
    percent = f"{result.accuracy * 100:.1f} %".replace(".", ",")
    console.print(
        f"Genauigkeit: {percent} ({right} von {result.total} Texten genau richtig)",
        highlight=False,
    )
    from newsletter.sanitize import text_excerpt

    if result.misses:
        console.print(f"Fehlzuordnungen: {len(result.misses)}", highlight=False)
    for miss in result.misses:
        console.print(
            f"  erwartet: {_regions(miss.expected)}; erkannt: {_regions(miss.got)}"
            f" – »{text_excerpt(miss.text, EXCERPT)}«",
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line per miss, also in a pipe
        )


def _regions(keys: tuple[str, ...]) -> str:
    return ", ".join(keys) or "landesweit"
