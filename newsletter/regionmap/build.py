"""Build the district shapes of the region map from open boundary data (run offline).

Input: ``kreise-sachsen.geojson`` beside this file, the 13 Saxon districts cut out of the
BKG's VG5000 (see SOURCE.md). Output: ``kreise.json``, one SVG path per district in a
fixed ``viewBox`` and a label point, read by :mod:`newsletter.regionmap` at run time.

Steps: project (equirectangular at the mean latitude, north up), round to 0.1 units,
then simplify each border with Douglas-Peucker. A border shared by two districts is
split at the same points in both (where the set of districts using a point changes), so
both sides simplify it alike and no slivers open between neighbours.

    python -m newsletter.regionmap.build                      # kreise-sachsen.geojson -> kreise.json
    python -m newsletter.regionmap.build --extract Ebene_Kreise.geojson   # cut Saxony out first
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "kreise-sachsen.geojson"
TARGET = HERE / "kreise.json"
WIDTH = 800.0
TOLERANCE = 1.5  # viewBox units (the map is shown 300 to 800 px wide)

Point = tuple[float, float]
Ring = list[Point]


def extract(full: dict[str, Any]) -> dict[str, Any]:
    """The Saxon districts (ARS 14…) of a Germany-wide district GeoJSON, coordinates rounded."""
    features = [
        {
            "type": "Feature",
            "properties": {k: f["properties"][k] for k in ("ARS", "GEN", "BEZ")},
            "geometry": _rounded(f["geometry"]),
        }
        for f in full["features"]
        if str(f["properties"]["ARS"]).startswith("14")
    ]
    return {"type": "FeatureCollection", "features": features}


def _rounded(geometry: dict[str, Any]) -> dict[str, Any]:
    def walk(value: Any) -> Any:
        if isinstance(value, list) and value and isinstance(value[0], (int, float)):
            return [round(float(v), 5) for v in value]
        return [walk(v) for v in value] if isinstance(value, list) else value

    return {"type": geometry["type"], "coordinates": walk(geometry["coordinates"])}


def rings(geometry: dict[str, Any]) -> list[list[Point]]:
    """Outer rings of a Polygon or MultiPolygon (VG5000 districts in Saxony have no holes)."""
    coords = geometry["coordinates"]
    polygons = coords if geometry["type"] == "MultiPolygon" else [coords]
    return [[(p[0], p[1]) for p in polygon[0]] for polygon in polygons]


def projection(all_points: Sequence[Point]) -> tuple[float, float, float, float, float]:
    """(west, north, x scale, y scale, height): the map is WIDTH units wide, north up,
    a degree of longitude shortened by the cosine of the mean latitude."""
    lons = [p[0] for p in all_points]
    lats = [p[1] for p in all_points]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    squeeze = math.cos(math.radians((north + south) / 2))
    scale = WIDTH / ((east - west) * squeeze)  # units per degree of latitude
    return west, north, squeeze * scale, scale, (north - south) * scale


def project(p: Point, west: float, north: float, xscale: float, yscale: float) -> Point:
    return (round((p[0] - west) * xscale, 1), round((north - p[1]) * yscale, 1))


def douglas_peucker(points: Ring, tolerance: float) -> Ring:
    """Keep the ends; keep the farthest point while it is farther than ``tolerance``."""
    if len(points) < 3:
        return list(points)
    (ax, ay), (bx, by) = points[0], points[-1]
    length = math.hypot(bx - ax, by - ay) or 1e-9
    far, index = 0.0, 0
    for i in range(1, len(points) - 1):
        px, py = points[i]
        dist = abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
        if dist > far:
            far, index = dist, i
    if far <= tolerance:
        return [points[0], points[-1]]
    left = douglas_peucker(points[: index + 1], tolerance)
    return left[:-1] + douglas_peucker(points[index:], tolerance)


def simplify_ring(ring: Ring, users: dict[Point, frozenset[str]], tolerance: float) -> Ring:
    """Douglas-Peucker between the points where the neighbouring districts change."""
    pts = ring[:-1] if ring[0] == ring[-1] else ring
    n = len(pts)
    fixed = [
        i
        for i in range(n)
        if i == 0 or users[pts[i]] != users[pts[i - 1]] or users[pts[i]] != users[pts[(i + 1) % n]]
    ]
    out: Ring = []
    for a, b in zip(fixed, [*fixed[1:], n], strict=True):
        out.extend(douglas_peucker([*pts[a:b], pts[b % n]], tolerance)[:-1])
    return out


def path(ring: Ring) -> str:
    head, *rest = ring
    return f"M{head[0]:g} {head[1]:g}" + "".join(f"L{x:g} {y:g}" for x, y in rest) + "Z"


def centroid(ring: Ring) -> Point:
    """Area centroid of a polygon ring (shoelace)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return (round(cx / (3 * area), 1), round(cy / (3 * area), 1))


def area(ring: Ring) -> float:
    pairs = zip(ring, [*ring[1:], ring[0]], strict=True)
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs) / 2)


def build(collection: dict[str, Any], tolerance: float = TOLERANCE) -> dict[str, Any]:
    features = collection["features"]
    raw = {f["properties"]["ARS"]: rings(f["geometry"]) for f in features}
    west, north, xscale, yscale, height = projection(
        [p for rs in raw.values() for r in rs for p in r]
    )
    projected = {
        key: [[project(p, west, north, xscale, yscale) for p in r] for r in rs]
        for key, rs in raw.items()
    }
    users: dict[Point, set[str]] = defaultdict(set)
    for key, rs in projected.items():
        for r in rs:
            for p in r:
                users[p].add(key)
    frozen = {p: frozenset(keys) for p, keys in users.items()}
    districts = {}
    for f in features:
        key = f["properties"]["ARS"]
        shapes = [simplify_ring(r, frozen, tolerance) for r in projected[key]]
        largest = max(shapes, key=area)
        districts[key] = {
            "name": f["properties"]["GEN"],
            "kind": f["properties"]["BEZ"],
            "d": "".join(path(s) for s in shapes),
            "centre": list(centroid(largest)),
            "area": round(sum(area(s) for s in shapes)),
        }
    return {"width": WIDTH, "height": round(height, 1), "districts": districts}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, help="Germany-wide district GeoJSON (VG5000)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    if args.extract:
        full = json.loads(args.extract.read_text(encoding="utf-8"))
        SOURCE.write_text(json.dumps(extract(full), ensure_ascii=False) + "\n", encoding="utf-8")
    result = build(json.loads(SOURCE.read_text(encoding="utf-8")), args.tolerance)
    TARGET.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    points = sum(d["d"].count("L") + d["d"].count("M") for d in result["districts"].values())
    print(f"{len(result['districts'])} Kreise, {points} Punkte -> {TARGET.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
