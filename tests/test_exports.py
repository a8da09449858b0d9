"""Exports of the parcel lists in every format and CRS offered, read back with GDAL (pyogrio)
and checked against the lists' own answers; an export imported again gives the same parcels."""

import csv
import io
import json
import zipfile
from pathlib import Path

import httpx
import pyogrio
import pytest
import shapely
from shapely import wkt
from shapely.geometry import shape

from tests.conftest import SERVER_KEY, prepared_database, run_cli, serve
from tests.geo import furthest_m, to_lonlat
from tests.test_bad_input import assert_problem
from tests.test_imports import finished, post

AUTH = {"Authorization": f"Bearer {SERVER_KEY}"}
BBOX = "116.76,-1.16,116.82,-1.10"
# The south of Kariangau: clear of the demo data's illustrative overlaps, which an import refuses
# (it has no leave to overlap).
ROUND_TRIP_BBOX = "116.76,-1.16,116.82,-1.13"
PROPERTIES = ["code", "land_status", "land_rights", "land_use", "holder", "sector", "price_idr_per_m2"]


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_exports", cell_m=400)
    with serve(url) as base:
        yield base, url


def listed(base: str, path: str = "/parcels", **params) -> dict[int, dict]:
    body = httpx.get(f"{base}{path}", params={"limit": 10000, **params}, headers=AUTH, timeout=60).json()
    return {f["id"]: f for f in body["features"]}


def read_gdal(path: Path | str, **options) -> dict[int, tuple[dict, shapely.Geometry]]:
    meta, _, geometries, values = pyogrio.raw.read(str(path), **options)
    names = list(meta["fields"])
    out = {}
    for i, wkb in enumerate(geometries):
        props = {n: values[j][i] for j, n in enumerate(names)}
        out[int(props.pop("id"))] = (props, shapely.from_wkb(wkb))
    return out


def export(base: str, tmp: Path, fmt: str, crs: str, path: str = "/parcels/export", **params) -> Path:
    response = httpx.get(
        f"{base}{path}", params={"format": fmt, "crs": crs, **params}, headers=AUTH, timeout=120
    )
    assert response.status_code == 200, response.text
    out = tmp / f"export-{fmt}{'.zip' if fmt == 'shp' else '.' + fmt}"
    out.write_bytes(response.content)
    return out


def same(expected: dict, props: dict, rename: dict[str, str] | None = None) -> None:
    rename = rename or {}
    for name in PROPERTIES:
        want, got = expected["properties"][name], props.get(rename.get(name, name))
        if isinstance(got, float) and got != got:  # GDAL reads a null number as NaN
            got = None
        if isinstance(want, float) or name == "price_idr_per_m2":
            assert (want is None and got in (None, "")) or float(got) == pytest.approx(want), name
        else:
            assert (got or None) == want, (name, got, want)


@pytest.mark.parametrize(
    "fmt,crs",
    [
        ("gpkg", "EPSG:23837"),
        ("fgb", "EPSG:32750"),
        ("shp", "EPSG:23838"),
        ("gpkg", "EPSG:9470"),
        ("fgb", "EPSG:4326"),
    ],
)
async def test_gdal_formats_hold_the_list_in_the_crs_asked(server, tmp_path, fmt, crs):
    base, _ = server
    expected = listed(base, bbox=BBOX)
    assert len(expected) > 20
    srid = int(crs.split(":")[1])
    path = export(base, tmp_path, fmt, crs, bbox=BBOX)
    rename = {}
    if fmt == "shp":
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            fields = archive.read("parcels-fields.csv").decode()
        assert {"parcels.shp", "parcels.shx", "parcels.dbf", "parcels.prj"} <= set(names)
        rename = dict(line.split(",") for line in fields.splitlines()[1:])
        assert all(len(short) <= 10 for short in rename.values())
        assert len({s.lower() for s in rename.values()}) == len(rename)
        assert rename["land_status"] == "land_statu" and rename["code"] == "code"
        path = f"/vsizip/{path}/parcels.shp"
    got = read_gdal(path)
    assert set(got) == set(expected)
    info = pyogrio.read_info(str(path))
    assert info["crs"] == crs, info["crs"]
    for pid, (props, geom) in got.items():
        same(expected[pid], props, rename)
        assert furthest_m(to_lonlat(geom, srid), shape(expected[pid]["geometry"])) < 0.01


async def test_text_formats_hold_the_list(server, tmp_path):
    base, _ = server
    expected = listed(base, bbox=BBOX, land_status="available")
    params = {"bbox": BBOX, "land_status": "available"}
    collection = json.loads(export(base, tmp_path, "geojson", "EPSG:4326", **params).read_text())
    assert {f["id"] for f in collection["features"]} == set(expected)
    for f in collection["features"]:
        assert f["properties"]["id"] == f["id"]  # GDAL readers look for it among the properties
        same(expected[f["id"]], f["properties"])
        assert furthest_m(shape(f["geometry"]), shape(expected[f["id"]]["geometry"])) < 0.01

    utm = json.loads(export(base, tmp_path, "geojson", "EPSG:32750", **params).read_text())
    assert utm["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32750"
    for f in utm["features"]:
        assert furthest_m(to_lonlat(shape(f["geometry"]), 32750), shape(expected[f["id"]]["geometry"])) < 0.01

    text = export(base, tmp_path, "geojsonseq", "EPSG:4326", **params).read_text()
    records = [json.loads(r) for r in text.split("\x1e") if r.strip()]
    assert text.startswith("\x1e") and [r["id"] for r in records] == sorted(expected)

    rows = list(
        csv.DictReader(io.StringIO(export(base, tmp_path, "csv", "EPSG:23837", **params).read_text()))
    )
    assert [int(r["id"]) for r in rows] == sorted(expected)
    for r in rows:
        same(expected[int(r["id"])], r)
        assert (
            furthest_m(to_lonlat(wkt.loads(r["wkt"]), 23837), shape(expected[int(r["id"])]["geometry"]))
            < 0.01
        )

    kml = export(base, tmp_path, "kml", "EPSG:4326", **params)
    got = read_gdal(kml)
    assert set(got) == set(expected)
    for pid, (props, geom) in got.items():
        same(expected[pid], props)
        assert furthest_m(shapely.force_2d(geom), shape(expected[pid]["geometry"])) < 0.01


async def test_zone_export_takes_the_zone_lists_filters(server, tmp_path):
    base, _ = server
    expected = listed(base, "/zones/kik-kariangau/parcels", relation="intersects")
    path = export(
        base, tmp_path, "gpkg", "EPSG:4326", "/zones/kik-kariangau/parcels/export", relation="intersects"
    )
    got = read_gdal(path)
    assert set(got) == set(expected)
    for pid, (props, _) in got.items():
        assert props["share_in_zone"] == pytest.approx(expected[pid]["properties"]["share_in_zone"])


async def test_holder_stays_hidden_from_anonymous_exports(server):
    base, _ = server
    response = httpx.get(f"{base}/parcels/export", params={"format": "csv", "bbox": BBOX}, timeout=60)
    assert response.status_code == 200
    assert {r["holder"] for r in csv.DictReader(io.StringIO(response.text))} == {""}


@pytest.mark.parametrize(
    "params,status,words",
    [
        ({"format": "xls"}, 422, "format"),
        ({"format": "gpkg", "crs": "EPSG:3857"}, 400, "crs: one of"),
        ({"format": "kml", "crs": "EPSG:32750"}, 400, "KML is always EPSG:4326"),
        ({"zone": "nowhere"}, 422, "no zone"),
        ({"bbox": "1,2,3"}, 422, "bbox"),
        ({"land_status": "sold"}, 422, "land_status"),
    ],
)
async def test_bad_export_requests_are_problems(server, params, status, words):
    base, _ = server
    response = httpx.get(f"{base}/parcels/export", params=params, timeout=30)
    assert words in assert_problem(response, status)["detail"]
    assert_problem(httpx.get(f"{base}/zones/nowhere/parcels/export", timeout=30), 404)


@pytest.mark.parametrize("fmt,crs", [("gpkg", "EPSG:23837"), ("shp", "EPSG:32750"), ("geojson", "EPSG:4326")])
async def test_an_export_imported_again_gives_the_same_parcels(server, fresh_database, tmp_path, fmt, crs):
    base, _ = server
    expected = {f["properties"]["code"]: f for f in listed(base, bbox=ROUND_TRIP_BBOX).values()}
    assert len(expected) > 50
    assert not [
        c for c, f in expected.items() if f["properties"]["attributes"].get("illustrates") == "overlap"
    ]
    path = export(base, tmp_path, fmt, crs, bbox=ROUND_TRIP_BBOX)
    url = await fresh_database(f"kaltim_round_trip_{fmt}")
    run_cli("alembic", "upgrade", "head", database_url=url)
    with serve(url) as other:
        job = finished(other, post(other, path))
        assert job["state"] == "succeeded" and job["outcome"]["inserted"] == len(expected), job
        again = {f["properties"]["code"]: f for f in listed(other, bbox=ROUND_TRIP_BBOX).values()}
    assert set(again) == set(expected)
    for code, feature in expected.items():
        got = again[code]["properties"]
        for name in PROPERTIES + ["attributes"]:
            assert got[name] == feature["properties"][name], (code, name)
        # Coordinates are written to about 1 mm: the area computed again agrees to a few m².
        assert got["area_ha"] == pytest.approx(feature["properties"]["area_ha"], abs=3e-4)
        assert furthest_m(shape(again[code]["geometry"]), shape(feature["geometry"])) < 0.01


async def test_site_search_export_holds_the_search_in_its_order(server, tmp_path):
    base, _ = server
    params = {"zone": "kik-kariangau", "min_area_ha": "5", "sort": "distance_to_port"}
    expected = httpx.get(f"{base}/parcels/search", params={**params, "limit": 10000}, timeout=60).json()[
        "features"
    ]
    assert len(expected) > 5
    rows = list(
        csv.DictReader(
            io.StringIO(
                export(base, tmp_path, "csv", "EPSG:4326", "/parcels/search/export", **params).read_text()
            )
        )
    )
    assert [int(r["id"]) for r in rows] == [f["id"] for f in expected]
    for r, f in zip(rows, expected, strict=True):
        assert float(r["distance_to_port_m"]) == pytest.approx(f["properties"]["distance_to_port_m"])
    assert_problem(
        httpx.get(f"{base}/parcels/search/export", params={"min_area_ha": "5", "max_area_ha": "1"}), 422
    )
