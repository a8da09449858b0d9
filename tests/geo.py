"""Independent answers: geodesics on WGS84 from pyproj (GeographicLib), shapes from shapely."""

import functools
import json
from pathlib import Path

import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")

# A quiet corner of Kariangau used by most tests (inside the area of interest).
ORIGIN = (116.70, -1.15)


def move(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point `metres` away from (lon, lat) along `azimuth` (degrees from north)."""
    end_lon, end_lat, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return end_lon, end_lat


def rectangle(lon: float, lat: float, east_m: float, north_m: float) -> list[list[float]]:
    """A closed ring: SW corner at (lon, lat), `east_m` wide and `north_m` tall."""
    se = move(lon, lat, 90, east_m)
    nw = move(lon, lat, 0, north_m)
    ne = move(*nw, 90, east_m)
    return [[lon, lat], list(se), list(ne), list(nw), [lon, lat]]


def polygon(ring: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}


def parcel(ring: list[list[float]], code: str, land_status: str = "available", **props) -> dict:
    return {
        "type": "Feature",
        "geometry": polygon(ring),
        "properties": {"code": code, "land_status": land_status, **props},
    }


def zone(ring: list[list[float]], code: str, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": polygon(ring),
        "properties": {
            "code": code,
            "name": code.title(),
            "kind": "industrial_estate",
            "status": "planned",
            **props,
        },
    }


def area_ha(geometry) -> float:
    geom = shape(geometry) if isinstance(geometry, dict) else geometry
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 10_000


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def distance_to_polygon_m(point: tuple[float, float], ring: list[list[float]], steps: int = 2000) -> float:
    """Point to polygon on the spheroid by brute force along each geodesic edge; 0 inside."""
    if Polygon(ring).covers(Point(point)):
        return 0.0
    best = float("inf")
    for (lon1, lat1), (lon2, lat2) in zip(ring, ring[1:], strict=False):
        samples = [(lon1, lat1), *GEOD.npts(lon1, lat1, lon2, lat2, steps), (lon2, lat2)]
        best = min(best, *(distance_m(point, s) for s in samples))
    return best


def close(actual: float, expected: float, rel: float = 1e-3, abs_m: float = 0.05) -> bool:
    """Within 0.1 % (or 5 cm for tiny values) of the independent answer."""
    return abs(actual - expected) <= max(rel * abs(expected), abs_m)


def furthest_m(a, b) -> float:
    """The largest geodesic distance between corresponding vertices of two equal-shaped geometries."""
    pa, pb = shapely.get_coordinates(a), shapely.get_coordinates(b)
    assert len(pa) == len(pb), (a, b)
    return max(GEOD.inv(x0, y0, x1, y1)[2] for (x0, y0), (x1, y1) in zip(pa, pb, strict=True))


def to_lonlat(geom, srid: int):
    """pyproj's reprojection of a geometry in EPSG:`srid` to longitude and latitude."""
    if srid == 4326:
        return geom
    back = Transformer.from_crs(srid, 4326, always_xy=True)
    return shapely.transform(geom, lambda xy: list(zip(*back.transform(xy[:, 0], xy[:, 1]), strict=True)))


ADMIN_FILES = {
    "regency": "kaltim_regencies.geojson",
    "district": "kaltim_districts.geojson",
    "village": "kaltim_zone_villages.geojson",
}


@functools.cache
def admin_units(level: str) -> list[tuple[dict, BaseGeometry]]:
    """(properties, shapely geometry) of the seed's administrative units, read from its files."""
    path = Path(__file__).parent.parent / "app" / "seed" / "admin" / ADMIN_FILES[level]
    return [(f["properties"], shape(f["geometry"])) for f in json.loads(path.read_text())["features"]]


def admin_unit(level: str, geometry: BaseGeometry) -> dict | None:
    """The properties of the unit of `level` whose polygon covers `geometry` (shapely), or None."""
    found = [props for props, g in admin_units(level) if g.covers(geometry)]
    assert len(found) <= 1, found
    return found[0] if found else None
