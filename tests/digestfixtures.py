"""The largest digest a region can get at 50 items: every teaser at its budget (a long
lead ending on »:« and a list cut to its bounds), long titles and links. Shared by the
size test and ``bench/bench_digest_size.py``."""

from __future__ import annotations

from dataclasses import replace

from newsletter.models import Item
from newsletter.teasers import LIST_ENTRIES, PARAGRAPH_CHARS
from tests.feedfixtures import sample_items

LEAD = "Die Polizeidirektion Zwickau warnt vor einer neuen Welle falscher Anrufe. "
ENTRY = "Legen Sie sofort auf und rufen Sie selbst über die 110 bei Ihrer Polizei an, bevor Sie"


def longest_items(count: int = 50, region: str = "zwickau") -> list[Item]:
    """``count`` hand-written items whose teasers are as long as the rule allows."""
    lead = (LEAD * 10)[: PARAGRAPH_CHARS - 20].rsplit(" ", 1)[0] + " Die Polizei rät:"
    entries = "".join(f"<li>{ENTRY} etwas tun ({n}).</li>" for n in range(LIST_ENTRIES + 3))
    content = f"<p>{lead}</p><ul>{entries}</ul><p>Die Langfassung folgt.</p>"
    base = sample_items()[1]
    return [
        replace(
            base,
            id=f"long{n:02d}",
            title=f"Meldung {n}: Falsche Polizeibeamte am Telefon in Zwickau und Umgebung",
            url=f"https://www.polizei.sachsen.de/de/medieninformation/MI_2026_{n:05d}.htm",
            summary_html="",
            content_html=content,
            regions=(region,),
            classified_regions=(region,),
        )
        for n in range(count)
    ]
