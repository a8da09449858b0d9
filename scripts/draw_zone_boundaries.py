"""Draw the approximate zone boundaries shipped in app/seed/zones.geojson.

No openly licensed boundary of the three industrial zones was found, so each is drawn as the
part of its village polygon (Kepmendagri 300.2.2-2430/2025 boundaries, cahyadsn/wilayah_boundaries,
MIT) that lies within a circle around the zone's published reference point, the circle's radius
chosen so that the result has the zone's published area (geodesic, WGS84). The result marks the
right place and the right size, not the legal boundary.

    python scripts/draw_zone_boundaries.py DATA_DIR > app/seed/zones.geojson

DATA_DIR holds kaltim_zone_villages.geojson, reference_points.json and industrial_zones.json.
"""

import json
import sys
from pathlib import Path

import shapely
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Point, mapping, shape
from shapely.ops import unary_union

GEOD = Geod(ellps="WGS84")
_TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32750", always_xy=True)
_TO_LONLAT = Transformer.from_crs("EPSG:32750", "EPSG:4326", always_xy=True)


def reproject(geom, transformer: Transformer):
    return shapely.transform(geom, lambda x, y: transformer.transform(x, y), interleaved=False)


# zone id in industrial_zones.json -> the villages (Kemendagri codes) the zone lies in
VILLAGES = {
    "kik_kariangau": ["64.71.02.1004"],  # Kariangau, Balikpapan Barat
    "kek_mbtk": ["64.08.05.2015"],  # Maloy, Sangkulirang
    "kib_buluminung": [
        "64.09.01.1013",
        "64.09.01.1012",
        "64.09.01.1018",
    ],  # Buluminung, Gn Seteleng, Jenebora
}


def geodesic_area_ha(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 10_000


def draw(village, centre: Point, target_ha: float):
    centre_utm = reproject(centre, _TO_UTM)
    low, high = 10.0, 50_000.0
    for _ in range(60):
        radius = (low + high) / 2
        disc = reproject(centre_utm.buffer(radius, quad_segs=16), _TO_LONLAT)
        area = geodesic_area_ha(village.intersection(disc))
        low, high = (radius, high) if area < target_ha else (low, radius)
    geom = village.intersection(disc)
    geom = shapely.set_precision(geom, 1e-6)  # 6 decimals, about 0.1 m
    polygons = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    return MultiPolygon(polygons)


def main(data_dir: Path) -> None:
    villages = {
        f["properties"]["kode"]: shape(f["geometry"])
        for f in json.loads((data_dir / "kaltim_zone_villages.geojson").read_text())["features"]
    }
    points = {p["id"]: p for p in json.loads((data_dir / "reference_points.json").read_text())["points"]}
    zones = {z["id"]: z for z in json.loads((data_dir / "industrial_zones.json").read_text())["zones"]}
    features = []
    for zone_id, codes in VILLAGES.items():
        zone = zones[zone_id]
        point = points[zone["reference_point_id"]]
        geom = draw(
            unary_union([villages[c] for c in codes]), Point(point["lon"], point["lat"]), zone["area_ha"]
        )
        assert geom.is_valid, zone_id
        features.append(
            {
                "type": "Feature",
                "id": zone_id,
                "geometry": mapping(geom),
                "properties": {
                    "published_area_ha": zone["area_ha"],
                    "drawn_area_ha": round(geodesic_area_ha(geom), 2),
                    "reference_point": point["id"],
                    "villages": codes,
                },
            }
        )
    json.dump({"type": "FeatureCollection", "features": features}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
