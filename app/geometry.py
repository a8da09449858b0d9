"""Incoming GeoJSON geometry: checked against RFC 7946 and our rules, then normalised.

Everything here works on plain data and shapely; nothing touches the database.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import (
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from shapely.geometry.base import BaseGeometry

from app.errors import GeometryInvalid

POLYGONAL = ("Polygon", "MultiPolygon")
ANY_SIMPLE = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class GeometryRules:
    """What incoming geometry must keep to: lie in the area of interest, and stay within the
    vertex and part counts (settings MAX_VERTICES, MAX_PARTS)."""

    area_of_interest: BBox
    max_vertices: int = 100_000
    max_parts: int = 10_000


def _where(path: Sequence[int]) -> str:
    return "coordinates" + "".join(f"[{i}]" for i in path)


def _position(value: Any, path: Sequence[int]) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        raise GeometryInvalid(f"{_where(path)} is not a position: expected [lon, lat] or [lon, lat, height].")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise GeometryInvalid(f"{_where(path)} must hold finite numbers.")
    return float(value[0]), float(value[1])


def _positions(value: Any, path: Sequence[int], minimum: int, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, (list, tuple)):
        raise GeometryInvalid(f"{_where(path)} must be an array of positions ({what}).")
    points = [_position(v, (*path, i)) for i, v in enumerate(value)]
    if len(points) < minimum:
        raise GeometryInvalid(
            f"{_where(path)}: a {what} needs at least {minimum} positions, got {len(points)}."
        )
    return points


def _ring(value: Any, path: Sequence[int]) -> list[tuple[float, float]]:
    points = _positions(value, path, 4, "linear ring")
    if points[0] != points[-1]:
        raise GeometryInvalid(
            f"{_where(path)}: the linear ring is not closed; its first position {list(points[0])} "
            f"differs from its last {list(points[-1])}.",
            hint="Repeat the first position at the end of the ring (RFC 7946 §3.1.6).",
        )
    return points


def _array(value: Any, path: Sequence[int], what: str, minimum: int = 1) -> list:
    if not isinstance(value, (list, tuple)) or len(value) < minimum:
        raise GeometryInvalid(f"{_where(path)} must be a non-empty array of {what}.")
    return list(value)


def _polygon(value: Any, path: Sequence[int]) -> Polygon:
    rings = [_ring(r, (*path, i)) for i, r in enumerate(_array(value, path, "linear rings"))]
    return Polygon(rings[0], rings[1:])


def _build(kind: str, coords: Any) -> BaseGeometry:
    if kind == "Point":
        return Point(_position(coords, ()))
    if kind == "MultiPoint":
        return MultiPoint([_position(p, (i,)) for i, p in enumerate(_array(coords, (), "positions"))])
    if kind == "LineString":
        return LineString(_positions(coords, (), 2, "line string"))
    if kind == "MultiLineString":
        lines = _array(coords, (), "line strings")
        return MultiLineString([_positions(line, (i,), 2, "line string") for i, line in enumerate(lines)])
    if kind == "Polygon":
        return _polygon(coords, ())
    if kind == "MultiPolygon":
        return MultiPolygon([_polygon(p, (i,)) for i, p in enumerate(_array(coords, (), "polygons"))])
    raise GeometryInvalid(f"Unknown geometry type {kind!r}.")


def _count_positions(coordinates: Any) -> int:
    """How many positions nested arrays hold, counted before anything is built from them."""
    count, stack = 0, [coordinates]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            if item and not isinstance(item[0], (list, tuple)):
                count += 1  # a position: [lon, lat(, height)]
            else:
                stack.extend(item)
    return count


def _inside(lon: float, lat: float, box: BBox) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def check_extent(points: Iterable[tuple[float, float]], area_of_interest: BBox) -> None:
    """Refuse coordinates off the globe or outside the area of interest, hinting at swapped axes."""
    points = list(points)
    world = (-180.0, -90.0, 180.0, 90.0)
    bad = next((p for p in points if not _inside(*p, world)), None)
    what = "outside the valid range of longitude ±180 and latitude ±90"
    if bad is None:
        bad = next((p for p in points if not _inside(*p, area_of_interest)), None)
        what = "outside the area of interest " + ",".join(f"{v:g}" for v in area_of_interest)
    if bad is None:
        return
    hint = None
    if all(_inside(lat, lon, area_of_interest) for lon, lat in points):
        hint = (
            "The axes look swapped: GeoJSON orders positions [longitude, latitude] (RFC 7946 §3.1.1); "
            f"[{bad[1]:g}, {bad[0]:g}] would lie inside the area of interest."
        )
    raise GeometryInvalid(f"Position [{bad[0]:g}, {bad[1]:g}] is {what}.", hint=hint)


def _polygonal_part(geom: BaseGeometry) -> MultiPolygon:
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, (Polygon, MultiPolygon))]
    polygons = [p for part in parts for p in getattr(part, "geoms", [part]) if not p.is_empty]
    return MultiPolygon(polygons)


def normalise(
    geometry: dict[str, Any],
    allowed: Sequence[str],
    rules: GeometryRules,
    *,
    repair: bool = False,
) -> BaseGeometry:
    """Check a GeoJSON geometry and return it as a valid 2D shapely geometry.

    Where only polygons are allowed, the result is a MultiPolygon. Invalid geometry is refused
    with shapely's reason unless `repair` is set, when it is made valid (keeping its polygonal
    part where only polygons are allowed).
    """
    polygonal = set(allowed) <= set(POLYGONAL)
    kind = geometry.get("type")
    if kind not in allowed:
        raise GeometryInvalid(
            f"Geometry type {kind!r} is not accepted here; expected {' or '.join(allowed)}."
        )
    if "coordinates" not in geometry:
        raise GeometryInvalid("The geometry has no coordinates.")
    coordinates = geometry["coordinates"]
    parts = len(coordinates) if kind.startswith("Multi") and isinstance(coordinates, (list, tuple)) else 1
    if parts > rules.max_parts:
        raise GeometryInvalid(
            f"The geometry has {parts} parts; at most {rules.max_parts} are accepted (MAX_PARTS)."
        )
    if _count_positions(coordinates) > rules.max_vertices:
        raise GeometryInvalid(
            f"The geometry has more than {rules.max_vertices} positions, the most accepted (MAX_VERTICES)."
        )
    geom = _build(kind, coordinates)
    check_extent(shapely.get_coordinates(geom).tolist(), rules.area_of_interest)

    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        if not repair:
            raise GeometryInvalid(
                f"The geometry is not valid: {reason}.",
                hint="Fix the geometry, or send repair=true to have it made valid.",
            )
        geom = shapely.make_valid(geom)
        if polygonal:
            geom = _polygonal_part(geom)
        if geom.is_empty:
            raise GeometryInvalid(f"The geometry is not valid ({reason}) and nothing is left after repair.")
    if polygonal and isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    return geom


def to_wkb(geom: BaseGeometry) -> bytes:
    return shapely.to_wkb(geom, output_dimension=2)


def parse_bbox(text: str) -> BBox:
    """`minLon,minLat,maxLon,maxLat` -> a checked tuple; ValueError with the reason otherwise."""
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"bbox needs 4 numbers minLon,minLat,maxLon,maxLat; got {len(parts)}")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("bbox values must be numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("bbox values must be finite numbers")
    min_lon, min_lat, max_lon, max_lat = values
    if not (
        -180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90
    ):
        raise ValueError("bbox longitudes must lie within ±180 and latitudes within ±90")
    if min_lon > max_lon or min_lat > max_lat:
        raise ValueError("bbox minimum exceeds its maximum; the order is minLon,minLat,maxLon,maxLat")
    return values
