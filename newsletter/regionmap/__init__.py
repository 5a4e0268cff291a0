"""The map of the regions: Saxony's districts coloured by region (pure, packaged data).

``kreise.json`` holds one SVG path per district, built offline by ``build.py`` from the
BKG's open boundary data (SOURCE.md). :func:`region_map` groups the districts by the
configured regions; the templates draw it (``templates/web/_region_map.html``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from newsletter.models import Region

# Light fills that keep dark labels readable, and the darker shade of a chosen region.
PALETTE = (
    ("#9ecae1", "#2b6ca3"),
    ("#fdae6b", "#b8520a"),
    ("#a1d99b", "#2f7d32"),
    ("#cbc9e2", "#5e4fa2"),
    ("#f4b6d2", "#a8175f"),
)


@dataclass(frozen=True)
class District:
    key: str
    name: str  # »Stadt Leipzig«, »Landkreis Leipzig«, »Erzgebirgskreis«
    path: str
    centre: tuple[float, float]
    area: float


@dataclass(frozen=True)
class RegionArea:
    key: str
    name: str
    fill: str
    chosen_fill: str
    districts: tuple[District, ...]
    label: tuple[float, float]

    @property
    def district_names(self) -> str:
        return ", ".join(d.name for d in self.districts)


@dataclass(frozen=True)
class RegionMap:
    width: float
    height: float
    regions: tuple[RegionArea, ...]

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:g} {self.height:g}"


def _display_name(name: str, kind: str) -> str:
    if kind == "Kreisfreie Stadt":
        return f"Stadt {name}"
    return name if name.endswith("kreis") else f"Landkreis {name}"


@cache
def _shapes() -> tuple[float, float, dict[str, District]]:
    text = resources.files(__package__).joinpath("kreise.json").read_text(encoding="utf-8")
    data = json.loads(text)
    districts = {
        key: District(
            key, _display_name(d["name"], d["kind"]), d["d"], tuple(d["centre"]), d["area"]
        )
        for key, d in data["districts"].items()
    }
    return data["width"], data["height"], districts


def _label(districts: Sequence[District]) -> tuple[float, float]:
    """The area-weighted centre of the districts: where the region's name goes."""
    total = sum(d.area for d in districts) or 1.0
    x = sum(d.centre[0] * d.area for d in districts) / total
    y = sum(d.centre[1] * d.area for d in districts) / total
    return (round(x, 1), round(y, 1))


def region_map(regions: Sequence[Region]) -> RegionMap:
    """The configured regions with their districts' shapes (unknown district keys are left out)."""
    width, height, shapes = _shapes()
    areas = []
    for index, region in enumerate(regions):
        districts = tuple(shapes[d] for d in region.districts if d in shapes)
        fill, chosen = PALETTE[index % len(PALETTE)]
        areas.append(
            RegionArea(region.key, region.name, fill, chosen, districts, _label(districts))
        )
    return RegionMap(width, height, tuple(areas))
