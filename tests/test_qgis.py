"""QGIS (Debian's 3.22, its "OAPIF" provider) loads the service's collections as a user would:
a constraint layer made and filled over HTTP, then read headless by QGIS from /ogc. What QGIS
shows (fields, attributes, geometry) is checked against the file imported, with shapely and
pyproj; what it asked the server for (pages, `bbox`, `datetime`) is read from the server's log."""

import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from shapely import wkt
from shapely.geometry import MultiPolygon, Polygon

from tests.conftest import ROOT, prepared_database, serve
from tests.geo import area_ha, move, rectangle
from tests.test_imports import AUTH, finished, post
from tests.test_ogc_definition import REQUEST, requests_since, rows

QGIS_PYTHON = "/usr/bin/python3"  # Debian's python3-qgis installs the bindings for it alone
LAYER = "rtrw-penajam"  # a spatial plan: its areas carry allowed uses, a list
HERE = (116.735, -1.125)  # open ground in Penajam Paser Utara


def square(origin: tuple[float, float], east_m: float, north_m: float) -> Polygon:
    return Polygon(rectangle(*origin, east_m, north_m))


# An industrial area with a hole (a river reserve), farmland in two parts, and a coastal setback
# with no code and no allowed use.
INDUSTRY = Polygon(
    square(HERE, 600, 400).exterior.coords,
    [square(move(*move(*HERE, 90, 200), 0, 100), 100, 100).exterior.coords[::-1]],
)
FARMS = MultiPolygon([square(move(*HERE, 180, 900), 300, 300), square(move(*HERE, 180, 1400), 200, 200)])
COAST = square(move(*HERE, 270, 800), 150, 500)
AREAS = [
    ({"KODE": "KPI-01", "NAMA": "Kawasan Peruntukan Industri", "USES": "industry, port"}, INDUSTRY),
    ({"KODE": "KP-02", "NAMA": "Kawasan Pertanian", "USES": "agriculture"}, FARMS),
    ({"KODE": None, "NAMA": "Sempadan Pantai", "USES": None}, COAST),
]
for i, (fields, _) in enumerate(AREAS):  # fields the service keeps in `attributes`
    fields.update(SK="Perda PPU 3/2023", TAHUN=2023 + i)


def qgis_missing() -> str | None:
    """Why QGIS cannot be run here, or None when it can."""
    try:
        found = subprocess.run(
            [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        return f"{QGIS_PYTHON} does not exist"
    return None if found.returncode == 0 else f"{QGIS_PYTHON} cannot import qgis.core"


@pytest.fixture(scope="module")
def qgis() -> None:
    """QGIS is there, or the test is skipped; under CI (where .ci/run installs it) it fails."""
    why = qgis_missing()
    if why is None:
        return
    message = f"QGIS is not installed ({why}); apt-get install python3-qgis qgis-providers"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run_qgis(*loads: dict) -> list[dict]:
    """What QGIS made of each load (tests/qgis_load.py), in one QGIS with a home of its own: its
    settings and its HTTP cache start empty, so every run asks the server for everything."""
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run(
            [QGIS_PYTHON, str(ROOT / "tests" / "qgis_load.py"), json.dumps(loads)],
            capture_output=True,
            text=True,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("XDG_")},
                "HOME": home,
                "XDG_RUNTIME_DIR": home,
                "QT_QPA_PLATFORM": "offscreen",
            },
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def uri(base: str, collection: str) -> str:
    return f"url='{base}/ogc' typename='{collection}'"


@pytest.fixture(scope="module")
def access_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qgis") / "server.log"


@pytest.fixture(scope="module")
async def server(fresh_database, access_log, tmp_path_factory):
    """The service on a database with the reference data and demo parcels, and the spatial
    plan LAYER made by an admin and filled by an import job, as a planner would."""
    url = await prepared_database(fresh_database, "kaltim_qgis", cell_m=400)
    with serve(url, access_log=access_log) as base:
        made = httpx.post(
            f"{base}/layers",
            json={
                "name": LAYER,
                "title": "RTRW Penajam Paser Utara",
                "kind": "spatial_plan",
                "source": "test",
                "licence": "CC0",
            },
            headers=AUTH,
        )
        assert made.status_code == 201, made.text
        path = tmp_path_factory.mktemp("qgis-import") / f"{LAYER}.geojson"
        features = [
            {"type": "Feature", "properties": fields, "geometry": geometry.__geo_interface__}
            for fields, geometry in AREAS
        ]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        options = {"mapping": {"KODE": "code", "NAMA": "name", "USES": "allowed_uses"}}
        job = finished(base, post(base, path, layer=LAYER, unknown_fields="attributes", **options))
        assert job["state"] == "succeeded", job
        yield base, url


def requests(log: Path, mark: int, collection: str) -> list[dict]:
    """The items requests of `collection` QGIS sent after line `mark` of the log, each answered
    200: their query parameters."""
    sent = requests_since(log, mark, collection)
    assert sent and all(status == "200" for _, status in sent), sent
    return [query for query, _ in sent]


def sent_since(log: Path, mark: int) -> list[str]:
    """Every request (path and query) the server answered 200 after line `mark` of its log."""
    found = [REQUEST.search(line) for line in log.read_text().splitlines()[mark:]]
    assert all(m[2] == "200" for m in found if m), found
    return [m[1] for m in found if m]


def lines(log: Path) -> int:
    return len(log.read_text().splitlines())


def expected_areas(ids: dict[str, int]) -> dict[str, dict]:
    """What each imported area must look like, by name: from the file and the shapes alone."""
    expected = {}
    for fields, geometry in AREAS:
        uses = [u.strip() for u in fields["USES"].split(",")] if fields["USES"] else []
        expected[fields["NAMA"]] = {
            "id": ids[fields["NAMA"]],
            "code": fields["KODE"],
            "name": fields["NAMA"],
            "allowed_uses": uses,
            "layer": LAYER,
            "kind": "spatial_plan",
            "area_ha": round(area_ha(geometry), 2),
            "attributes": {"SK": fields["SK"], "TAHUN": fields["TAHUN"]},
            "uses": ", ".join(uses),
        }
    return expected


def same_shape(wkt_text: str, expected: Polygon | MultiPolygon) -> bool:
    """The same rings, vertex by vertex, within the served 8 decimals (about 1 mm)."""
    served = wkt.loads(wkt_text)
    multi = expected if isinstance(expected, MultiPolygon) else MultiPolygon([expected])
    return served.geom_type == "MultiPolygon" and served.normalize().equals_exact(multi.normalize(), 1e-7)


async def test_qgis_loads_a_constraint_layer_with_every_field_and_shape(qgis, server, access_log):
    base, url = server
    ids = json.loads((await rows(url, "SELECT json_object_agg(name, id) FROM constraint_feature"))[0])
    expected = expected_areas(ids)
    mark = lines(access_log)
    [layer] = run_qgis({"uri": uri(base, LAYER)})
    assert layer["isValid"] and layer["crs"] == "EPSG:4326" and layer["geometryType"] == "MultiPolygon"
    assert layer["featureCount"] == len(AREAS)
    assert layer["fields"] == [
        ["id", "Integer"],
        ["code", "String"],
        ["name", "String"],
        ["allowed_uses", "StringList"],
        ["layer", "String"],
        ["kind", "String"],
        ["area_ha", "Real"],
        ["attributes", "JSON"],
        ["uses", "String"],
    ]
    got = {f["attributes"]["name"]: f for f in layer["features"]}
    assert {name: f["attributes"] for name, f in got.items()} == expected
    shapes = {fields["NAMA"]: geometry for fields, geometry in AREAS}
    for name, feature in got.items():
        assert same_shape(feature["wkt"], shapes[name]), (name, feature["wkt"])
    # The landing page, the API definition, the collection, a first page to learn the fields,
    # then the features a page at a time (of 100, QGIS's own choice: it looks for the largest
    # `limit` in the definition's components.parameters, where this one has none).
    assert sent_since(access_log, mark) == [
        "/ogc",
        "/ogc/api",
        f"/ogc/collections/{LAYER}",
        f"/ogc/collections/{LAYER}/items?limit=10",
        f"/ogc/collections/{LAYER}/items?limit=100",
    ]


async def test_qgis_filters_a_layer_itself(qgis, server, access_log):
    """QGIS 3.22 evaluates a filter on a text field itself (it sends only comparisons of date
    fields): it asks for every feature and keeps those that match."""
    base, url = server
    ids = json.loads((await rows(url, "SELECT json_object_agg(name, id) FROM constraint_feature"))[0])
    expected = expected_areas(ids)
    mark = lines(access_log)
    [filtered] = run_qgis({"uri": uri(base, LAYER), "subset": "code = 'KP-02'"})
    assert filtered["subset"] == "code = 'KP-02'"
    assert [f["attributes"] for f in filtered["features"]] == [expected["Kawasan Pertanian"]]
    assert same_shape(filtered["features"][0]["wkt"], FARMS)
    assert all(set(q) == {"limit"} for q in requests(access_log, mark, LAYER))


async def test_qgis_sends_a_date_filter_as_datetime(qgis, server, access_log):
    """QGIS 3.22 sends a comparison of a date field as the Core's `datetime` (an open start as
    the year 0, an open end as 9999-12-31) and leaves the rest of the filter to itself. The
    service selects on `updated_at`: two parcels changed after the others are the ones QGIS
    shows."""
    base, url = server
    [loaded_at] = await rows(url, "SELECT max(updated_at) FROM parcel")
    since = (loaded_at + timedelta(seconds=1)).replace(microsecond=0)
    time.sleep(max(0.0, (since - datetime.now(UTC)).total_seconds()) + 0.1)
    changed = [3, 7]
    for parcel_id, land_use in zip(changed, ["warehousing", "industrial"], strict=True):
        patched = httpx.patch(
            f"{base}/parcels/{parcel_id}", json={"properties": {"land_use": land_use}}, headers=AUTH
        )
        assert patched.status_code == 200, patched.text
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await rows(url, f"SELECT id FROM parcel WHERE updated_at >= '{stamp}' ORDER BY id") == changed
    mark = lines(access_log)
    recent, warehouses = run_qgis(
        {"uri": uri(base, "parcels"), "subset": f"\"updated_at\" >= '{stamp}'"},
        {"uri": uri(base, "parcels"), "subset": f"\"updated_at\" >= '{stamp}' AND land_use = 'warehousing'"},
    )
    assert [f["attributes"]["id"] for f in recent["features"]] == changed
    assert [f["attributes"]["id"] for f in warehouses["features"]] == [3]
    pages = [q for q in requests(access_log, mark, "parcels") if q != {"limit": ["10"]}]
    assert pages == [{"limit": ["100"], "datetime": [f"{stamp}/9999-12-31T00:00:00Z"]}] * 2, pages


async def test_qgis_sends_the_map_extent_as_bbox(qgis, server, access_log):
    """With "Only request features overlapping the view extent" (`restrictToRequestBBOX`), QGIS
    reads the parcels in part of the map (as the canvas does) by sending that part as `bbox`,
    and gets exactly the parcels that meet it. Without it, QGIS reads every feature."""
    base, url = server
    rect = [116.765, -1.13, 116.775, -1.12]
    expected = await rows(
        url,
        "SELECT id FROM parcel WHERE ST_Intersects(geom, ST_MakeEnvelope("
        + ", ".join(map(str, rect))
        + ", 4326)) ORDER BY id",
    )
    assert 0 < len(expected) < 100
    mark = lines(access_log)
    [framed] = run_qgis({"uri": uri(base, "parcels") + " restrictToRequestBBOX='1'", "rect": rect})
    assert sorted(f["attributes"]["id"] for f in framed["features"]) == expected
    boxes = [q["bbox"][0] for q in requests(access_log, mark, "parcels") if "bbox" in q]
    assert boxes and all([float(v) for v in box.split(",")] == rect for box in boxes), boxes


async def test_qgis_loads_every_collection(qgis, server):
    """Each collection QGIS finds at /ogc: valid, with the server's feature count, its fields
    and its geometry type; its first features read, in the server's order."""
    base, url = server
    collections = httpx.get(f"{base}/ogc/collections").json()["collections"]
    assert LAYER in [c["id"] for c in collections]
    loaded = run_qgis(*({"uri": uri(base, c["id"]), "limit": 3} for c in collections))
    for collection, layer in zip(collections, loaded, strict=True):
        page = httpx.get(f"{base}/ogc/collections/{collection['id']}/items", params={"limit": 3}).json()
        assert layer["isValid"], (collection["id"], layer)
        assert layer["featureCount"] == page["numberMatched"] > 0, collection["id"]
        names = list(page["features"][0]["properties"])
        if "id" not in names:  # QGIS shows the feature id (a code) as a field of its own, first
            names = ["id", *names]
        assert [name for name, _ in layer["fields"]] == names, collection["id"]
        assert [f["attributes"]["id"] for f in layer["features"]] == [f["id"] for f in page["features"]]
        served = {f["geometry"]["type"] for f in page["features"]}
        if collection["geometryType"] != "Geometry":
            assert layer["geometryType"] == collection["geometryType"], collection["id"]
        assert {wkt.loads(f["wkt"]).geom_type for f in layer["features"]} == served, collection["id"]


async def test_qgis_reads_the_first_parcels_as_stored(qgis, server):
    base, url = server
    stored = [
        json.loads(r)
        for r in await rows(
            url,
            "SELECT json_build_object('id', id, 'code', code, 'land_status', land_status, "
            "'land_rights', land_rights, 'land_use', land_use, 'sector', sector, "
            "'price_idr_per_m2', price_idr_per_m2, "
            "'attributes', attributes, 'area_ha', round(area_ha::numeric, 4), "
            "'wkt', ST_AsText(geom))::text FROM parcel ORDER BY id LIMIT 5",
        )
    ]
    [layer] = run_qgis({"uri": uri(base, "parcels"), "limit": 5})
    assert len(layer["features"]) == 5
    for feature, row in zip(layer["features"], stored, strict=True):
        got = feature["attributes"]
        assert {k: got[k] for k in row if k != "wkt"} == {k: v for k, v in row.items() if k != "wkt"}
        assert got["holder"] is None  # personal: not shown without a key
        assert wkt.loads(feature["wkt"]).equals_exact(wkt.loads(row["wkt"]), 1e-7)
