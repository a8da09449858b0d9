"""`kaltim-land`, the planners' command line, run as installed, against a real server."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pyogrio
import pytest

from tests.conftest import SERVER_KEY, prepared_database, serve
from tests.geo import move
from tests.test_imports import KARIANGAU, bad_rows_file, land_office_file

KALTIM_LAND = str(Path(sys.executable).parent / "kaltim-land")


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_client", cell_m=400)
    with serve(url) as base:
        yield base


def run(
    base: str, *args: str, key: str | None = SERVER_KEY, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALTIM_LAND_")}
    env["KALTIM_LAND_URL"] = base
    if key:
        env["KALTIM_LAND_KEY"] = key
    return subprocess.run([KALTIM_LAND, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def api(base: str, path: str, **params):
    return httpx.get(f"{base}{path}", params=params, headers={"Authorization": f"Bearer {SERVER_KEY}"}).json()


def test_zones_as_a_table_and_as_json(server):
    table = run(server, "zones")
    assert table.returncode == 0, table.stderr
    zones = api(server, "/zones")["features"]
    assert all(z["properties"]["code"] in table.stdout for z in zones)
    assert json.loads(run(server, "zones", "--json").stdout) == api(server, "/zones", limit=100)
    # --url given before the command works as well as the environment.
    assert run("http://127.0.0.1:9", "--url", server, "zones", "--json").returncode == 0


def test_parcels_in_a_zone_by_status_as_csv_and_geojson(server):
    out = run(
        server, "parcels", "--zone", "kik-kariangau", "--status", "available", "--limit", "1000", "--csv"
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    expected = api(server, "/zones/kik-kariangau/parcels", land_status="available", limit=1000)["features"]
    assert [int(r["id"]) for r in rows] == [f["id"] for f in expected] and rows
    geojson = json.loads(run(server, "parcels", "--bbox", "116.76,-1.16,116.82,-1.10", "--geojson").stdout)
    assert (
        geojson["features"]
        == api(server, "/parcels", bbox="116.76,-1.16,116.82,-1.10", limit=100)["features"]
    )


def test_distance_of_a_parcel_and_of_a_point(server):
    parcel = api(server, "/parcels", limit=1)["features"][0]["id"]
    got = json.loads(run(server, "distance", "--parcel", str(parcel), "--json").stdout)
    assert got == api(server, f"/parcels/{parcel}/distances")
    point = json.loads(run(server, "distance", "--lonlat", "116.80,-1.15", "--json").stdout)
    nearest = api(server, "/facilities/nearest", lon=116.80, lat=-1.15, kind="port", limit=1)["features"][0]
    assert point["port"]["code"] == nearest["properties"]["code"]
    assert point["port"]["distance_m"] == nearest["properties"]["distance_m"]
    table = run(server, "distance", "--lonlat", "116.80,-1.15").stdout
    assert "port" in table and "capital" in table and "airport" in table


def test_search_summary_connectivity(server):
    out = run(
        server,
        "search",
        "--zone",
        "kik-kariangau",
        "--min-area-ha",
        "5",
        "--sort",
        "distance_to_port",
        "--csv",
    )
    expected = api(
        server, "/parcels/search", zone="kik-kariangau", min_area_ha=5, sort="distance_to_port", limit=50
    )
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(out.stdout))] == [
        f["id"] for f in expected["features"]
    ]
    assert json.loads(run(server, "summary", "kik-kariangau", "--json").stdout) == api(
        server, "/zones/kik-kariangau/summary"
    )
    assert json.loads(run(server, "connectivity", "--json").stdout) == api(server, "/zones/connectivity")
    assert "available" in run(server, "summary", "kik-kariangau").stdout


def test_import_prints_the_report_and_exits_non_zero_when_rows_are_refused(server, tmp_path):
    path, reasons = bad_rows_file(tmp_path / "persil.geojson", move(*KARIANGAU, 90, 30000), "CLIENT")
    maps = ["--map", "NIB=code", "--map", "STATUS=land_status"]
    refused = run(server, "import", str(path), *maps, "--quiet")
    assert refused.returncode == 1
    assert "overlaps row 1 of this file" in refused.stdout and "nothing stored" in refused.stderr
    stored = run(server, "import", str(path), *maps, "--mode", "skip_invalid")
    assert stored.returncode == 1 and "inserted" in stored.stdout
    assert "import" in stored.stderr  # the progress line
    good = land_office_file(tmp_path / "good.geojson", move(*KARIANGAU, 90, 32000), "CLIENTOK")
    ok = run(
        server,
        "import",
        str(good),
        "--map",
        "NIB=code",
        "--map",
        "STATUS=land_status",
        "--unknown-fields",
        "ignore",
        "--json",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["outcome"]["inserted"] == 3
    no_key = run(server, "import", str(good), key=None)
    assert no_key.returncode == 1 and "401" in no_key.stderr


def test_export_writes_the_file(server, tmp_path):
    out = run(
        server,
        "export",
        "--zone",
        "kik-kariangau",
        "--format",
        "gpkg",
        "--crs",
        "EPSG:23837",
        "-o",
        "kik.gpkg",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    info = pyogrio.read_info(str(tmp_path / "kik.gpkg"))
    assert info["features"] == api(server, "/zones/kik-kariangau/summary")["parcels"]["count"]
    assert info["crs"] == "EPSG:23837"


def test_history_and_errors(server):
    parcel = api(server, "/parcels", limit=1)["features"][0]["id"]
    history = json.loads(run(server, "history", "--parcel", str(parcel), "--json").stdout)
    assert history == api(server, f"/parcels/{parcel}/history", limit=50)
    missing = run(server, "parcels", "--zone", "nowhere")
    assert missing.returncode == 1 and "404 not-found: No zone with code 'nowhere'" in missing.stderr
    away = run("http://127.0.0.1:9", "zones")
    assert away.returncode == 2 and "cannot reach" in away.stderr
    assert run(server, "history").returncode == 1
