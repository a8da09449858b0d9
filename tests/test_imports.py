"""Imports over real HTTP (POST /imports) and from the command line, of files written by GDAL
(ogr2ogr) in each format and CRS, checked against pyproj's reprojection of the same files."""

import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import asyncpg
import httpx
import pyogrio
import pytest
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from tests.conftest import SERVER_KEY, run_cli, serve
from tests.geo import furthest_m, move, rectangle, to_lonlat
from tests.test_bad_input import assert_problem
from tests.test_migrations import dsn

AUTH = {"Authorization": f"Bearer {SERVER_KEY}"}
OGR2OGR = shutil.which("ogr2ogr")
needs_gdal = pytest.mark.skipif(OGR2OGR is None, reason="ogr2ogr (gdal-bin) is not installed")
MAPPING = {"NIB": "code", "STATUS": "land_status", "HAK": "land_rights", "PEMILIK": "holder", "LUAS": ""}


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await fresh_database("kaltim_imports")
    run_cli("alembic", "upgrade", "head", database_url=url)
    run_cli("app.cli", "seed", database_url=url)
    with serve(url) as base:
        yield base, url


def land_office_file(path: Path, origin: tuple[float, float], prefix: str, count: int = 3) -> Path:
    """A GeoJSON in CRS84 as a land office might send it: Indonesian field names, squares of
    100 m in a row eastwards from `origin`."""
    features = []
    for i in range(count):
        corner = move(*origin, 90, 150 * i)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "NIB": f"{prefix}-{i + 1}",
                    "STATUS": "available",
                    "HAK": "HGB",
                    "PEMILIK": f"PT {i}",
                    "LUAS": 1.0,
                },
                "geometry": {"type": "Polygon", "coordinates": [rectangle(*corner, 100, 100)]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def ogr2ogr(source: Path, out: Path, driver: str, srid: int, *extra: str) -> Path:
    subprocess.run(
        [
            OGR2OGR,
            "-f",
            driver,
            "-s_srs",
            "EPSG:4326",
            "-t_srs",
            f"EPSG:{srid}",
            "-nln",
            "persil",
            str(out),
            str(source),
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return out


def zipped(out: Path, members: list[Path]) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for member in members:
            archive.write(member, member.name)
    return out


def post(base: str, path: Path, **options) -> httpx.Response:
    data = {
        k: (json.dumps(v) if isinstance(v, dict) else str(v).lower() if isinstance(v, bool) else v)
        for k, v in options.items()
    }
    with path.open("rb") as f:
        return httpx.post(
            f"{base}/imports", files={"file": (path.name, f)}, data=data, headers=AUTH, timeout=60
        )


def finished(base: str, response: httpx.Response) -> dict:
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    deadline = time.monotonic() + 60
    while True:
        job = httpx.get(location, headers=AUTH, timeout=30).json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def stored(base: str, prefix: str) -> dict[str, dict]:
    body = httpx.get(
        f"{base}/ogc/collections/parcels/items",
        params={"filter": f"code LIKE '{prefix}-%'", "limit": 1000},
        headers=AUTH,
    ).json()
    return {f["properties"]["code"]: f for f in body["features"]}


def expected_lonlat(path: str, srid: int, **open_options: str) -> dict[str, shapely.Geometry]:
    """pyproj's reprojection of the file's own coordinates to lon/lat, by code."""
    meta, _, geometries, fields = pyogrio.raw.read(path, **open_options)
    codes = fields[list(meta["fields"]).index("NIB")]
    return {
        code: to_lonlat(shapely.force_2d(shapely.from_wkb(wkb)), srid)
        for code, wkb in zip(codes, geometries, strict=True)
    }


KARIANGAU, MALOY = (116.72, -1.19), (117.62, 0.83)
CASES = [
    # (name, origin, srid, how the file is written)
    ("geojson", KARIANGAU, 4326, "GeoJSON"),
    ("gpkg-tm3-50-1", move(*KARIANGAU, 180, 1000), 23837, "GPKG"),
    ("shp-tm3-50-2", MALOY, 23838, "ESRI Shapefile"),
    ("fgb-utm50s", move(*KARIANGAU, 180, 2000), 32750, "FlatGeobuf"),
    ("csv-utm50n", move(*MALOY, 0, 1000), 32650, "CSV"),
    ("kml", move(*KARIANGAU, 180, 3000), 4326, "KML"),
    ("kmz", move(*KARIANGAU, 180, 4000), 4326, "KMZ"),
    ("gpkg-srgi2013", move(*KARIANGAU, 180, 6000), 9470, "GPKG"),
]


def written(tmp: Path, name: str, origin, srid: int, how: str) -> tuple[Path, str]:
    """The file for a case, and the path pyogrio reads its own coordinates from."""
    prefix = name.upper()
    source = land_office_file(tmp / f"{name}-source.geojson", origin, prefix)
    if how == "GeoJSON":
        return source, str(source)
    if how == "ESRI Shapefile":
        folder = tmp / name
        folder.mkdir()
        ogr2ogr(source, folder / f"{name}.shp", how, srid)
        return zipped(tmp / f"{name}.zip", sorted(folder.iterdir())), str(folder / f"{name}.shp")
    if how == "CSV":
        out = ogr2ogr(source, tmp / f"{name}.csv", "CSV", srid, "-lco", "GEOMETRY=AS_WKT")
        return out, str(out)
    if how == "KMZ":
        kml = ogr2ogr(source, tmp / f"{name}.kml", "KML", 4326)
        return zipped(tmp / f"{name}.kmz", [kml]), str(kml)
    suffix = {"GPKG": "gpkg", "FlatGeobuf": "fgb", "KML": "kml"}[how]
    out = ogr2ogr(source, tmp / f"{name}.{suffix}", how, srid)
    return out, str(out)


@needs_gdal
@pytest.mark.parametrize("name,origin,srid,how", CASES, ids=[c[0] for c in CASES])
async def test_each_format_and_crs_imports_to_pyprojs_reprojection(server, tmp_path, name, origin, srid, how):
    base, _ = server
    path, read_from = written(tmp_path, name, origin, srid, how)
    # A CSV holds no CRS: its sender names it.
    crs = {"crs": f"EPSG:{srid}"} if how == "CSV" else {}
    job = finished(base, post(base, path, mapping=MAPPING, unknown_fields="ignore", **crs))
    assert job["state"] == "succeeded", job
    assert job["outcome"]["inserted"] == 3 and job["outcome"]["refused"] == 0, job
    assert job["crs"].startswith(f"EPSG:{srid} "), job["crs"]
    csv = {"GEOM_POSSIBLE_NAMES": "WKT", "KEEP_GEOM_COLUMNS": "NO"} if how == "CSV" else {}
    expected = expected_lonlat(read_from, srid, **csv)
    got = stored(base, name.upper())
    assert set(got) == set(expected)
    for code, geom in expected.items():
        assert furthest_m(shape(got[code]["geometry"]), geom) < 0.01, code
        assert got[code]["properties"]["land_rights"] == "HGB" and got[code]["properties"][
            "holder"
        ].startswith("PT ")


def bad_rows_file(path: Path, origin: tuple[float, float], prefix: str) -> tuple[Path, dict]:
    """One good parcel and one of each kind of refusal, with the reason each must get."""
    good = rectangle(*origin, 100, 100)
    bowtie = [good[0], good[2], good[1], good[3], good[0]]
    lon, lat = move(*origin, 90, 400)
    swapped = [[y, x] for x, y in rectangle(lon, lat, 100, 100)]
    inside_good = rectangle(*move(*move(*origin, 90, 20), 0, 20), 50, 50)
    rows = [
        ({"NIB": f"{prefix}-1", "STATUS": "available"}, {"type": "Polygon", "coordinates": [good]}, None),
        (
            {"NIB": f"{prefix}-2", "STATUS": "bogus"},
            {"type": "Polygon", "coordinates": [rectangle(*move(*origin, 90, 800), 50, 50)]},
            "bad land_status 'bogus'",
        ),
        (
            {"NIB": f"{prefix}-3", "STATUS": "available"},
            {"type": "Polygon", "coordinates": [bowtie]},
            "invalid geometry: " + explain_validity(shape({"type": "Polygon", "coordinates": [bowtie]})),
        ),
        (
            {"NIB": f"{prefix}-4", "STATUS": "available"},
            {"type": "Point", "coordinates": list(move(*origin, 90, 1200))},
            "a Point, not a Polygon",
        ),
        (
            {"NIB": f"{prefix}-5", "STATUS": "available"},
            {"type": "Polygon", "coordinates": [swapped]},
            "longitude and latitude look swapped",
        ),
        (
            {"NIB": f"{prefix}-1", "STATUS": "available"},
            {"type": "Polygon", "coordinates": [rectangle(*move(*origin, 90, 1600), 50, 50)]},
            f"duplicate code '{prefix}-1' (also row 1)",
        ),
        (
            {"NIB": f"{prefix}-7", "STATUS": "available"},
            {"type": "Polygon", "coordinates": [inside_good]},
            "overlaps row 1 of this file",
        ),
        (
            {"NIB": None, "STATUS": "available"},
            {"type": "Polygon", "coordinates": [rectangle(*move(*origin, 90, 2000), 50, 50)]},
            "missing code",
        ),
        ({"NIB": f"{prefix}-9", "STATUS": "available"}, None, "no geometry"),
    ]
    features = [{"type": "Feature", "properties": p, "geometry": g} for p, g, _ in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path, {i + 1: reason for i, (_, _, reason) in enumerate(rows) if reason}


async def history_rows(url: str) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return await conn.fetchval("SELECT count(*) FROM change WHERE table_name = 'parcel'")
    finally:
        await conn.close()


async def test_refused_rows_are_reported_with_their_reasons_and_nothing_is_stored(server, tmp_path):
    base, url = server
    path, reasons = bad_rows_file(tmp_path / "bad.geojson", move(*KARIANGAU, 90, 3000), "BAD")
    changes = await history_rows(url)
    mapping = {"NIB": "code", "STATUS": "land_status"}
    job = finished(base, post(base, path, mapping=mapping))
    assert job["state"] == "refused" and job["outcome"]["inserted"] == 0, job
    assert job["outcome"]["read"] == 9 and job["outcome"]["refused"] == len(reasons)
    got = {r["row_number"]: "; ".join(r["reasons"]) for r in job["refused_rows"]}
    assert set(got) == set(reasons)
    for row, reason in reasons.items():
        assert reason in got[row], (row, got[row])
    assert stored(base, "BAD") == {} and await history_rows(url) == changes

    # The refused rows, as GeoJSON to fix in QGIS: the file's fields, the row and its reasons.
    refused = httpx.get(f"{base}/imports/{job['id']}/refused", headers=AUTH)
    assert refused.status_code == 200 and refused.headers["content-type"] == "application/geo+json"
    features = refused.json()["features"]
    assert [f["properties"]["import_row"] for f in features] == sorted(reasons)
    assert all(set(f["properties"]) >= {"NIB", "STATUS", "import_reasons"} for f in features)

    # Fixed (here: the refused rows dropped) and sent again with skip_invalid, the good row goes in.
    again = finished(base, post(base, path, mapping=mapping, mode="skip_invalid"))
    assert again["state"] == "succeeded" and again["outcome"]["inserted"] == 1, again
    assert set(stored(base, "BAD")) == {"BAD-1"}
    assert await history_rows(url) == changes + 1


async def test_overlaps_alone_are_each_named(server, tmp_path):
    """A file whose only faults are overlaps: the database's rule refuses the store, and the
    staged rows are then checked so that each overlap is named, in every mode."""
    base, url = server
    origin = move(*KARIANGAU, 0, 4000)
    first = finished(
        base, post(base, land_office_file(tmp_path / "a.geojson", origin, "OVA"), mapping=MAPPING)
    )
    assert first["outcome"]["inserted"] == 3, first
    ids = {code: feature["id"] for code, feature in stored(base, "OVA").items()}
    path = land_office_file(tmp_path / "b.geojson", move(*origin, 90, 1000), "OVB", count=4)
    data = json.loads(path.read_text())
    # Row 2 half over OVA-2; row 4 half over row 3 of the same file.
    ova2 = shape(stored(base, "OVA")["OVA-2"]["geometry"])
    data["features"][1]["geometry"]["coordinates"] = [
        rectangle(*move(ova2.bounds[0], ova2.bounds[1], 90, 50), 100, 100)
    ]
    ring = data["features"][2]["geometry"]["coordinates"][0]
    data["features"][3]["geometry"]["coordinates"] = [[list(move(x, y, 90, 50)) for x, y in ring]]
    path.write_text(json.dumps(data))
    expected = {2: f"overlaps parcel {ids['OVA-2']} (OVA-2)", 4: "overlaps row 3 of this file"}
    changes = await history_rows(url)
    for options in ({}, {"dry_run": True}):
        job = finished(base, post(base, path, mapping=MAPPING, **options))
        assert job["state"] == "refused" and job["outcome"]["refused"] == 2, job
        assert {r["row_number"]: r["reasons"] for r in job["refused_rows"]} == {
            row: [reason] for row, reason in expected.items()
        }
        assert stored(base, "OVB") == {} and await history_rows(url) == changes
    job = finished(base, post(base, path, mapping=MAPPING, mode="skip_invalid"))
    assert job["state"] == "succeeded" and job["outcome"]["inserted"] == 2, job
    assert set(stored(base, "OVB")) == {"OVB-1", "OVB-3"} and await history_rows(url) == changes + 2


async def test_dry_run_checks_everything_and_stores_nothing(server, tmp_path):
    base, url = server
    path = land_office_file(tmp_path / "dry.geojson", move(*KARIANGAU, 90, 6000), "DRY")
    changes = await history_rows(url)
    job = finished(base, post(base, path, mapping=MAPPING, dry_run=True))
    assert job["state"] == "succeeded" and job["outcome"]["would_store"] == 3, job
    assert job["outcome"]["inserted"] == 0 and job["rows_stored"] == 0
    assert stored(base, "DRY") == {} and await history_rows(url) == changes


async def test_upsert_updates_by_code_and_history_names_the_key(server, tmp_path):
    base, url = server
    origin = move(*KARIANGAU, 90, 8000)
    path = land_office_file(tmp_path / "up.geojson", origin, "UP")
    assert finished(base, post(base, path, mapping=MAPPING))["outcome"]["inserted"] == 3
    again = finished(base, post(base, path, mapping=MAPPING))
    assert again["state"] == "refused" and "exists already" in again["refused_rows"][0]["reasons"][0]
    # Moved 30 m east and given a new status: updated in place, the overlap with itself allowed.
    data = json.loads(path.read_text())
    for feature in data["features"]:
        ring = feature["geometry"]["coordinates"][0]
        feature["geometry"]["coordinates"][0] = [list(move(x, y, 90, 30)) for x, y in ring]
        feature["properties"]["STATUS"] = "reserved"
    path.write_text(json.dumps(data))
    job = finished(base, post(base, path, mapping=MAPPING, upsert=True))
    assert job["outcome"]["updated"] == 3 and job["outcome"]["inserted"] == 0, job
    now = stored(base, "UP")
    assert {f["properties"]["land_status"] for f in now.values()} == {"reserved"}
    first = shape(data["features"][0]["geometry"])
    assert furthest_m(shape(now["UP-1"]["geometry"]), first) < 0.01
    history = httpx.get(f"{base}/parcels/{now['UP-1']['id']}/history", headers=AUTH).json()
    assert [c["operation"] for c in history["changes"]][:2] == ["update", "insert"]
    assert history["changes"][0]["actor"] == "env-key-1"


async def test_repair_makes_invalid_polygons_valid(server, tmp_path):
    base, _ = server
    origin = move(*KARIANGAU, 90, 10000)
    ring = rectangle(*origin, 100, 100)
    bowtie = [ring[0], ring[2], ring[1], ring[3], ring[0]]
    path = tmp_path / "repair.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "REPAIR-1", "land_status": "available"},
                        "geometry": {"type": "Polygon", "coordinates": [bowtie]},
                    }
                ],
            }
        )
    )
    job = finished(base, post(base, path, repair=True))
    assert job["outcome"]["inserted"] == 1 and job["outcome"]["repaired"] == 1, job
    geom = shape(stored(base, "REPAIR")["REPAIR-1"]["geometry"])
    expected = shapely.make_valid(shape({"type": "Polygon", "coordinates": [bowtie]}))
    # The same parts as shapely's make_valid, to the 7 decimals (about 1 cm) the service writes.
    assert geom.is_valid and shapely.normalize(geom).equals_exact(shapely.normalize(expected), 1e-7)


async def test_z_and_m_are_flattened_with_a_warning(server, tmp_path):
    base, _ = server
    ring = [[x, y, 12.5] for x, y in rectangle(*move(*KARIANGAU, 90, 12000), 100, 100)]
    path = tmp_path / "z.geojson"
    feature = {
        "type": "Feature",
        "properties": {"code": "Z-1", "land_status": "available"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    job = finished(base, post(base, path))
    assert job["outcome"]["inserted"] == 1 and job["outcome"]["flattened"] == 1, job
    assert any("flattened" in w for w in job["outcome"]["warnings"])
    assert not shape(stored(base, "Z")["Z-1"]["geometry"]).has_z


@pytest.mark.parametrize(
    "name,content,options,words",
    [
        ("notes.txt", b"hello", {}, "not a supported format"),
        ("empty.geojson", b"", {}, "empty"),
        ("broken.gpkg", b"this is not a geopackage", {}, "cannot be read as GeoPackage"),
        ("broken.geojson", b'{"type": "FeatureCollection", "features": [', {}, "cannot be read as GeoJSON"),
        ("noshp.zip", "zip:readme.txt", {}, "no .shp"),
        ("plain.zip", b"PK not really", {}, "not a readable zip"),
        ("a.geojson", "parcels", {"mapping": {"MISSING": "code"}}, "fields the file lacks: MISSING"),
        ("a.geojson", "parcels", {"mapping": {"NIB": "colour"}}, "do not have: colour"),
        ("a.geojson", "parcels", {"mapping": "{not json"}, "mapping: not JSON"),
        ("a.geojson", "parcels", {}, "fields parcels do not have: NIB"),
        ("a.geojson", "parcels", {"crs": "EPSG:99999999"}, "not one PROJ knows"),
        ("a.geojson", "parcels", {"mode": "sometimes"}, "mode"),
        ("a.geojson", "parcels", {"layer": "rivers"}, "layer"),
        ("a.geojson", "parcels", {"source_layer": "other"}, "no layer 'other'"),
    ],
)
async def test_bad_files_and_options_are_clear_problems(server, tmp_path, name, content, options, words):
    base, url = server
    path = tmp_path / name
    if content == "parcels":
        land_office_file(path, KARIANGAU, "NEVER")
    elif isinstance(content, str) and content.startswith("zip:"):
        inner = tmp_path / content[4:]
        inner.write_text("no shapefile here")
        zipped(path, [inner])
    else:
        path.write_bytes(content)
    before = await history_rows(url)
    response = post(base, path, **options)
    assert response.status_code in (400, 422), response.text
    assert words in assert_problem(response, response.status_code)["detail"]
    assert stored(base, "NEVER") == {} and await history_rows(url) == before


@needs_gdal
async def test_a_prj_postgis_does_not_know_is_a_clear_problem(server, tmp_path):
    base, _ = server
    source = land_office_file(tmp_path / "odd.geojson", KARIANGAU, "ODD")
    folder = tmp_path / "odd"
    folder.mkdir()
    odd = "+proj=tmerc +lat_0=0 +lon_0=116.123 +k=0.9999 +x_0=200000 +y_0=1500000 +ellps=WGS84 +units=m"
    subprocess.run(
        [OGR2OGR, "-f", "ESRI Shapefile", "-t_srs", odd, str(folder / "odd.shp"), str(source)], check=True
    )
    response = post(base, zipped(tmp_path / "odd.zip", sorted(folder.iterdir())), mapping=MAPPING)
    assert "matches no EPSG code" in assert_problem(response, 422, "import-invalid")["detail"]
    # Named by the sender, an EPSG CRS is used instead of the file's own.
    named = post(base, tmp_path / "odd.zip", mapping=MAPPING, crs="EPSG:23837")
    assert named.status_code == 202


async def test_imports_need_an_editor_key_and_uploads_have_their_own_bound(fresh_database, tmp_path):
    url = await fresh_database("kaltim_import_bounds")
    run_cli("alembic", "upgrade", "head", database_url=url)
    path = land_office_file(tmp_path / "big.geojson", KARIANGAU, "BIG", count=40)
    size = path.stat().st_size
    with serve(url, import_max_bytes=str(size // 2), max_body_bytes=str(1024)) as base:
        with path.open("rb") as f:
            anonymous = httpx.post(f"{base}/imports", files={"file": (path.name, f)})
        # Past IMPORT_MAX_BYTES: 413 before the upload is read, and before the key is checked.
        assert_problem(anonymous, 413, "too-large")
        small = land_office_file(tmp_path / "small.geojson", KARIANGAU, "SMALL", count=5)
        assert small.stat().st_size > 1024  # over MAX_BODY_BYTES, which uploads do not obey
        with small.open("rb") as f:
            no_key = httpx.post(f"{base}/imports", files={"file": (small.name, f)})
        assert_problem(no_key, 401)
        assert post(base, small, mapping=MAPPING).status_code == 202
        assert_problem(httpx.get(f"{base}/imports"), 401)
        listed = httpx.get(f"{base}/imports", headers=AUTH).json()
        assert [j["filename"] for j in listed["imports"]] == ["small.geojson"]
        assert_problem(httpx.get(f"{base}/imports/999999", headers=AUTH), 404)


async def test_the_command_line_runs_the_same_job(server, tmp_path):
    base, url = server
    path, reasons = bad_rows_file(tmp_path / "cli.geojson", move(*KARIANGAU, 90, 14000), "CLI")
    args = ["app.cli", "import", str(path), "--map", "NIB=code", "--map", "STATUS=land_status"]
    refused = run_cli(*args, database_url=url, check=False)
    assert refused.returncode == 1, refused.stderr
    assert "nothing stored" in refused.stdout and "overlaps row 1 of this file" in refused.stdout
    assert stored(base, "CLI") == {}
    done = run_cli(*args, "--mode", "skip_invalid", database_url=url, check=False)
    assert done.returncode == 1 and "1 stored" in done.stdout, done.stdout
    assert set(stored(base, "CLI")) == {"CLI-1"}
    missing = run_cli("app.cli", "import", str(tmp_path / "nothing.gpkg"), database_url=url, check=False)
    assert missing.returncode != 0 and "no file" in missing.stderr


async def test_facilities_from_a_csv_of_longitudes_and_latitudes(server, tmp_path):
    base, _ = server
    path = tmp_path / "pelabuhan.csv"
    rows = [
        ("port-uji-1", "Pelabuhan Uji 1", "port", 116.805, -1.255),
        ("city-uji-2", "Kota Uji", "city", 117.1, -0.5),
    ]
    path.write_text("code,name,kind,lon,lat\n" + "".join(f"{c},{n},{k},{x},{y}\n" for c, n, k, x, y in rows))
    job = finished(base, post(base, path, layer="facilities"))
    assert job["state"] == "succeeded" and job["outcome"]["inserted"] == 2, job
    for code, name, kind, lon, lat in rows:
        facility = httpx.get(f"{base}/facilities/{code}", headers=AUTH).json()
        assert facility["properties"]["name"] == name and facility["properties"]["kind"] == kind
        assert facility["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,kind,lon,lat\nPort Uji,Pelabuhan,harbour,116.8,-1.2\n")
    refused = finished(base, post(base, bad, layer="facilities"))
    reasons = refused["refused_rows"][0]["reasons"]
    assert (
        refused["state"] == "refused"
        and any("bad code" in r for r in reasons)
        and any("bad kind" in r for r in reasons)
    )


async def test_zones_with_their_sectors(server, tmp_path):
    base, _ = server
    ring = rectangle(*move(*KARIANGAU, 90, 20000), 2000, 1500)
    feature = {
        "type": "Feature",
        "properties": {
            "code": "ki-uji",
            "name": "KI Uji",
            "kind": "industrial_estate",
            "status": "planned",
            "sectors": ["logistics", "food"],
        },
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path = tmp_path / "kawasan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    job = finished(base, post(base, path, layer="zones"))
    assert job["state"] == "succeeded" and job["outcome"]["inserted"] == 1, job
    zone = httpx.get(f"{base}/zones/ki-uji").json()
    assert zone["properties"]["sectors"] == ["logistics", "food"]
    assert furthest_m(shape(zone["geometry"]), shape(feature["geometry"])) < 0.01
