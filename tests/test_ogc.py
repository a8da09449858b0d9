"""OGC API - Features at /ogc, over real HTTP, and read by real clients (GDAL, OWSLib)."""

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from openapi_spec_validator import validate
from shapely.geometry import shape

from tests.conftest import prepared_database, serve
from tests.test_migrations import dsn

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
UTM50S = "http://www.opengis.net/def/crs/EPSG/0/32750"
BBOX = "116.79,-1.13,116.81,-1.11"


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_ogc", cell_m=400)
    with serve(url) as base:
        yield base, url


def get(base: str, path: str, **params) -> httpx.Response:
    return httpx.get(base + path, params=params, timeout=30)


def rel(body: dict, name: str) -> list[dict]:
    return [link for link in body["links"] if link["rel"] == name]


async def parcel_ids(url: str, sql: str = "SELECT id FROM parcel ORDER BY id") -> list[int]:
    conn = await asyncpg.connect(dsn(url))
    try:
        return [r["id"] for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_landing_conformance_and_collections(server):
    base, _ = server
    landing = get(base, "/ogc").json()
    assert rel(landing, "service-desc")[0]["href"].endswith("/ogc/api")
    assert rel(landing, "conformance") and rel(landing, "data")
    document = get(base, "/openapi.json").json()
    assert document["openapi"].startswith("3.0")
    validate(document)  # a valid OpenAPI 3.0 document, as the oas30 conformance class says
    items = document["paths"]["/ogc/collections/{collectionId}/items"]["get"]["parameters"]
    assert {"bbox", "limit", "f"} <= {p["name"] for p in items}
    conforms = get(base, "/ogc/conformance").json()["conformsTo"]
    assert {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    } <= set(conforms)
    collections = get(base, "/ogc/collections").json()["collections"]
    assert [c["id"] for c in collections] == [
        "zones", "parcels", "facilities", "projects", "regencies", "districts", "villages",
        "demo-flood-hazard", "demo-spatial-plan",  # the demo data's constraint layers, by name
    ]  # fmt: skip
    for c in collections:
        assert "." not in c["id"] and c["crs"] == [CRS84, EPSG4326, UTM50S] and c["storageCrs"] == CRS84
        assert c["extent"]["spatial"]["crs"] == CRS84 and len(c["extent"]["spatial"]["bbox"][0]) == 4
        assert rel(c, "items")[0]["type"] == "application/geo+json" and rel(c, "describedby")
    one = get(base, "/ogc/collections/parcels").json()
    assert one["id"] == "parcels" and one["geometryType"] == "MultiPolygon"


async def test_keyset_paging_never_repeats_or_skips(server):
    base, url = server
    expected = await parcel_ids(url, "SELECT id FROM parcel WHERE land_status = 'available' ORDER BY id")
    seen, href, pages = [], f"{base}/ogc/collections/parcels/items?limit=37&land_status=available", []
    while href:
        response = httpx.get(href, timeout=30)
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        pages.append(body)
        seen += [f["id"] for f in body["features"]]
        assert body["numberReturned"] == len(body["features"]) <= 37
        href = rel(body, "next")[0]["href"] if rel(body, "next") else None
    assert seen == expected and len(pages) == -(-len(expected) // 37)
    assert pages[0]["numberMatched"] == len(expected) and not rel(pages[0], "prev")
    back = httpx.get(rel(pages[2], "prev")[0]["href"], timeout=30).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in pages[1]["features"]]


async def test_bbox_and_property_filters_match_the_native_endpoint(server):
    base, _ = server
    ogc = get(base, "/ogc/collections/parcels/items", bbox=BBOX, limit=10000).json()
    native = get(base, "/parcels", bbox=BBOX, limit=10000).json()
    assert [f["id"] for f in ogc["features"]] == [f["id"] for f in native["features"]] and native["features"]
    ports = get(base, "/ogc/collections/facilities/items", kind="port").json()
    assert {f["id"] for f in ports["features"]} >= {"semayang-port", "maloy-port"}
    assert all(f["properties"]["kind"] == "port" for f in ports["features"])
    item = get(base, f"/ogc/collections/parcels/items/{native['features'][0]['id']}").json()
    assert item["id"] == native["features"][0]["id"] and rel(item, "collection")
    queryables = get(base, "/ogc/collections/parcels/queryables").json()
    assert queryables["properties"]["land_status"]["enum"] == [
        "available",
        "reserved",
        "allocated",
        "occupied",
    ]


@pytest.mark.parametrize(
    "path,params,status",
    [
        ("/ogc/collections/parcels/items", {"colour": "red"}, 400),
        ("/ogc/collections/parcels/items", {"limit": "0"}, 400),
        ("/ogc/collections/parcels/items", {"limit": "many"}, 400),
        ("/ogc/collections/parcels/items", {"bbox": "1,2,3"}, 400),
        ("/ogc/collections/parcels/items", {"after": "x"}, 400),
        ("/ogc/collections/parcels/items", {"after": "1", "before": "5"}, 400),
        ("/ogc/collections/parcels/items", {"f": "xml"}, 400),
        ("/ogc/collections/parcels/items", {"filter": "land_status = = 'x'"}, 400),
        ("/ogc/collections/parcels/items", {"filter": "colour = 'red'"}, 400),
        ("/ogc/collections/parcels/items", {"filter": "area_ha > 'big'"}, 400),
        ("/ogc/collections/parcels/items", {"filter": "{not json", "filter-lang": "cql2-json"}, 400),
        ("/ogc/collections/parcels/items", {"filter": "area_ha > 1", "filter-lang": "sql"}, 400),
        ("/ogc/collections/parcels/items", {"datetime": "yesterday"}, 400),
        ("/ogc/collections/parcels/items", {"datetime": ".."}, 400),
        ("/ogc/collections/parcels/items", {"datetime": "2026-01-01/2026-02-01/2026-03-01"}, 400),
        ("/ogc/collections/parcels/items", {"datetime": "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"}, 400),
        ("/ogc/collections/parcels/items", {"datetime": "../0000-01-01T00:00:00Z"}, 400),
        ("/ogc/collections/rivers", {}, 404),
        ("/ogc/collections/parcels/items/999999999", {}, 404),
        ("/ogc/collections/parcels/items/abc", {}, 404),
        ("/ogc", {"x": "1"}, 400),
    ],
)
async def test_bad_requests(server, path, params, status):
    base, _ = server
    response = get(base, path, **params)
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"


async def test_datetime_selects_on_updated_at(server):
    """OGC's `datetime` (Core): an instant or an interval, ends included, open with `..` or
    nothing, in the forms QGIS (`0000-01-01...` for an open start) and GDAL (`2026-01-01T`)
    write it; on `updated_at` where a collection has it, and matching every feature where not."""
    base, url = server
    conn = await asyncpg.connect(dsn(url))
    try:
        stamps = {
            table: await conn.fetchval(f"SELECT min(updated_at) FROM {table}")
            for table in ("parcel", "zone", "facility")
        }

        async def expected(table: str, key: str, start, end) -> list:
            sql = (
                f"SELECT {key} FROM {table} WHERE updated_at BETWEEN coalesce($1::timestamptz, '-infinity') "
                f"AND coalesce($2::timestamptz, 'infinity') ORDER BY {key}"
            )
            return [r[0] for r in await conn.fetch(sql, start, end)]

        for collection, table, key in [("parcels", "parcel", "id"), ("zones", "zone", "code"),
                                       ("facilities", "facility", "code")]:  # fmt: skip
            t = stamps[table]
            tick = timedelta(microseconds=1)
            day = t.date().isoformat()
            midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
            for text, start, end in [
                (t.isoformat(), t, t),
                (f"{t.isoformat()}/..", t, None),
                (f"../{(t - tick).isoformat()}", None, t - tick),
                (f"{(t + tick).isoformat()}/", t + tick, None),
                (f"{(t - tick).isoformat()}/{(t + tick).isoformat()}", t - tick, t + tick),
                ("../..", None, None),
                (f"0000-01-01T00:00:00Z/{day}", None, midnight),
                (f"{day}T/..", midnight, None),
                (f"{day}T00:00:00/9999-12-31T00:00:00Z", midnight, None),
            ]:
                body = get(base, f"/ogc/collections/{collection}/items", datetime=text, limit=10000).json()
                want = await expected(table, key, start, end)
                assert [f["id"] for f in body["features"]] == want, (collection, text)
                assert body["numberMatched"] == len(want)
            assert await expected(table, key, t, t)  # the instant matched some
    finally:
        await conn.close()
    projects = get(base, "/ogc/collections/projects/items", limit=10000).json()["features"]
    dated = get(base, "/ogc/collections/projects/items", limit=10000, datetime="2000-01-01T00:00:00Z")
    assert [f["id"] for f in dated.json()["features"]] == [f["id"] for f in projects] and projects


@pytest.mark.parametrize(
    "path",
    [
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/zones",
        "/ogc/collections/zones/items",
        "/ogc/collections/zones/items/kek-mbtk",
    ],
)
async def test_html(server, path):
    base, _ = server
    response = get(base, path, f="html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<table" in response.text or "<p>" in response.text


needs_gdal = pytest.mark.skipif(
    shutil.which("ogrinfo") is None,
    reason="GDAL (ogrinfo, ogr2ogr) is not installed; .ci/run installs gdal-bin",
)


@needs_gdal
async def test_gdal_lists_every_collection(server):
    base, _ = server
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc"], capture_output=True, text=True, check=True
    )
    for name in ("zones", "parcels", "facilities", "projects"):
        assert f": {name} (" in out.stdout, out.stdout


@needs_gdal
async def test_gdal_copies_parcels_and_filters_by_bbox(server, tmp_path: Path):
    base, url = server
    target = tmp_path / "parcels.gpkg"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{base}/ogc", "parcels"],
        capture_output=True,
        text=True,
        check=True,
    )
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(target), "parcels"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Feature Count: {len(await parcel_ids(url))}" in info
    x0, y0, x1, y1 = BBOX.split(",")
    geojson = tmp_path / "box.geojson"
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(geojson), f"OAPIF:{base}/ogc", "parcels", "-spat", x0, y0, x1, y1],
        capture_output=True,
        text=True,
        check=True,
    )
    native = get(base, "/parcels", bbox=BBOX, limit=10000).json()
    copied = sorted(f["properties"]["code"] for f in json.loads(geojson.read_text())["features"])
    assert copied == sorted(f["properties"]["code"] for f in native["features"]) and copied


async def test_owslib_reads_collections_and_items(server):
    features = pytest.importorskip("owslib.ogcapi.features", reason="OWSLib is not installed")
    base, _ = server
    api = features.Features(f"{base}/ogc")
    assert {c["id"] for c in api.collections()["collections"]} == {
        "zones",
        "parcels",
        "facilities",
        "projects",
        "regencies",
        "districts",
        "villages",
        "demo-flood-hazard",
        "demo-spatial-plan",
    }
    items = api.collection_items("parcels", limit=5, land_status="available")
    assert len(items["features"]) == 5
    assert all(f["properties"]["land_status"] == "available" for f in items["features"])
    filtered = api.collection_items("parcels", limit=50, filter="land_status = 'occupied' AND area_ha > 2")
    assert filtered["features"] and all(
        f["properties"]["land_status"] == "occupied" and f["properties"]["area_ha"] > 2
        for f in filtered["features"]
    )
    assert api.collection_item("zones", "kek-mbtk")["properties"]["kind"] == "special_economic_zone"


async def test_crs_of_the_output(server):
    from pyproj import Transformer

    base, _ = server
    plain = get(base, "/ogc/collections/facilities/items/semayang-port").json()["geometry"]["coordinates"]
    lat_lon = get(base, "/ogc/collections/facilities/items/semayang-port", crs=EPSG4326)
    assert lat_lon.headers["content-crs"] == f"<{EPSG4326}>"
    assert lat_lon.json()["geometry"]["coordinates"] == [plain[1], plain[0]]
    utm = get(base, "/ogc/collections/facilities/items", crs=UTM50S, kind="port", limit=100)
    assert utm.headers["content-crs"] == f"<{UTM50S}>"
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32750", always_xy=True)
    for feature in utm.json()["features"]:
        lonlat = get(base, f"/ogc/collections/facilities/items/{feature['id']}").json()["geometry"][
            "coordinates"
        ]
        x, y = to_utm.transform(*lonlat)
        assert (
            abs(feature["geometry"]["coordinates"][0] - x) < 0.01
            and abs(feature["geometry"]["coordinates"][1] - y) < 0.01
        )
        assert "crs" not in feature["geometry"]
    assert get(base, "/ogc/collections/parcels/items").headers["content-crs"] == f"<{CRS84}>"


async def test_bbox_in_other_crss(server):
    from pyproj import Transformer

    base, _ = server
    x0, y0, x1, y1 = (float(v) for v in BBOX.split(","))
    native = [f["id"] for f in get(base, "/parcels", bbox=BBOX, limit=10000).json()["features"]]
    lat_lon = get(
        base,
        "/ogc/collections/parcels/items",
        limit=10000,
        bbox=f"{y0},{x0},{y1},{x1}",
        **{"bbox-crs": EPSG4326},
    ).json()
    assert [f["id"] for f in lat_lon["features"]] == native
    # A box drawn in UTM 50S: the parcels that meet it, by shapely, on its corners taken back to lon/lat
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32750", always_xy=True)
    to_lonlat = Transformer.from_crs("EPSG:32750", "EPSG:4326", always_xy=True)
    (ux0, uy0), (ux1, uy1) = to_utm.transform(x0, y0), to_utm.transform(x1, y1)
    corners = [
        to_lonlat.transform(x, y) for x, y in ((ux0, uy0), (ux1, uy0), (ux1, uy1), (ux0, uy1), (ux0, uy0))
    ]
    area = shape({"type": "Polygon", "coordinates": [corners]})
    utm = get(
        base,
        "/ogc/collections/parcels/items",
        limit=10000,
        bbox=f"{ux0},{uy0},{ux1},{uy1}",
        **{"bbox-crs": UTM50S},
    ).json()
    expected = [f["id"] for f in everything(base) if shape(f["geometry"]).intersects(area)]
    assert [f["id"] for f in utm["features"]] == expected and expected


@pytest.mark.parametrize(
    "params",
    [
        {"crs": "EPSG:3857"},
        {"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"},
        {"bbox": "1,2,3,4", "bbox-crs": "urn:nope"},
        {"bbox": "500000,9000000,400000,9100000", "bbox-crs": UTM50S},
    ],
)
async def test_bad_crs_requests(server, params):
    base, _ = server
    assert get(base, "/ogc/collections/parcels/items", **params).status_code == 400


def everything(base: str) -> list[dict]:
    return get(base, "/ogc/collections/parcels/items", limit=10000).json()["features"]


@pytest.mark.parametrize(
    "lang,expression",
    [
        ("cql2-text", "land_status = 'available' AND area_ha BETWEEN 3 AND 8"),
        (
            "cql2-json",
            json.dumps(
                {
                    "op": "and",
                    "args": [
                        {"op": "=", "args": [{"property": "land_status"}, "available"]},
                        {"op": ">=", "args": [{"property": "area_ha"}, 3]},
                        {"op": "<=", "args": [{"property": "area_ha"}, 8]},
                    ],
                }
            ),
        ),
    ],
)
async def test_cql2_comparison_filters(server, lang, expression):
    base, _ = server
    body = get(
        base, "/ogc/collections/parcels/items", filter=expression, limit=10000, **{"filter-lang": lang}
    ).json()
    expected = [
        f["id"]
        for f in everything(base)
        if f["properties"]["land_status"] == "available" and 3 <= f["properties"]["area_ha"] <= 8
    ]
    assert [f["id"] for f in body["features"]] == expected and expected


async def test_cql2_like_in_and_spatial_filters(server):
    base, _ = server
    parcels = everything(base)
    like = get(
        base,
        "/ogc/collections/parcels/items",
        limit=10000,
        filter="code LIKE 'DEMO-KEK%' AND land_status IN ('available', 'reserved')",
    ).json()
    assert [f["id"] for f in like["features"]] == [
        f["id"]
        for f in parcels
        if f["properties"]["code"].startswith("DEMO-KEK")
        and f["properties"]["land_status"] in ("available", "reserved")
    ] and like["features"]
    x0, y0, x1, y1 = (float(v) for v in BBOX.split(","))
    ring = f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"
    intersecting = get(
        base, "/ogc/collections/parcels/items", limit=10000, filter=f"S_INTERSECTS(geometry, {ring})"
    )
    native = get(base, "/parcels", bbox=BBOX, limit=10000).json()
    assert [f["id"] for f in intersecting.json()["features"]] == [f["id"] for f in native["features"]]
    within = get(
        base, "/ogc/collections/parcels/items", limit=10000, filter=f"S_WITHIN(geometry, {ring})"
    ).json()
    area = shape({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
    expected = [f["id"] for f in parcels if shape(f["geometry"]).within(area)]
    assert [f["id"] for f in within["features"]] == expected and expected
    assert len(expected) < len(native["features"])  # the edge parcels meet the box but are not within it


def _json(value) -> str:
    return json.dumps(value)


POINT_FAR = {"type": "Point", "coordinates": [1, 2], "crs": {"type": "name", "properties": {"name": "odd"}}}


@pytest.mark.parametrize(
    "lang,expression,words",
    [
        ("cql2-text", "S_INTERSECTS(geometry, POLYGON((116 -1, 117 -2, 117 -1, 116 -2, 116 -1)))", "invalid"),
        ("cql2-text", "S_INTERSECTS(geometry, POLYGON((116 -1, 117 -1, 117 -2)))", "not closed"),
        ("cql2-text", "S_INTERSECTS(geometry, POLYGON((116 -1, 117 -1)))", "not closed"),
        ("cql2-text", "S_INTERSECTS(geometry, POINT EMPTY)", ""),
        (
            "cql2-json",
            _json(
                {
                    "op": "s_intersects",
                    "args": [{"property": "geometry"}, {"type": "Point", "coordinates": []}],
                }
            ),
            "",
        ),
        ("cql2-text", "area_ha > 1e400", "out of range"),
        ("cql2-text", "S_INTERSECTS(geometry, POINT(200 1))", "outside"),
        ("cql2-text", "S_INTERSECTS(geometry, POINT(116 95))", "outside"),
        ("cql2-text", "S_INTERSECTS(land_status, POINT(1 2))", "spatial functions"),
        ("cql2-text", "area_ha = POINT(1 2)", "spatial functions"),
        ("cql2-text", "area_ha LIKE '1%'", "LIKE"),
        ("cql2-text", "S_RELATE(geometry, POINT(116 -1), 'XYZ')", ""),
        (
            "cql2-json",
            _json(
                {
                    "op": "s_relate",
                    "args": [{"property": "geometry"}, {"type": "Point", "coordinates": [116, -1]}, "XYZ"],
                }
            ),
            "",
        ),
        ("cql2-json", _json({"op": "s_intersects", "args": [{"property": "geometry"}, POINT_FAR]}), "crs"),
        ("cql2-text", " AND ".join(["area_ha > 1"] * 3000), "CQL2_MAX_LENGTH"),
        ("cql2-text", " AND ".join(["area_ha > 1"] * 600), "CQL2_MAX_NODES"),
        (
            "cql2-json",
            _json({"op": "and", "args": [{"op": ">", "args": [{"property": "area_ha"}, 1]}] * 300}),
            "CQL2_MAX_NODES",
        ),
        ("cql2-json", "[]", "object"),
        ("cql2-json", "5", "object"),
        ("cql2-json", '"x"', "object"),
        ("cql2-json", "null", "object"),
        ("cql2-text", "(" * 40 + "area_ha > 1" + ")" * 40, "CQL2_MAX_DEPTH"),
        (
            "cql2-json",
            '{"op":"not","args":[' * 40 + '{"op":">","args":[{"property":"area_ha"},1]}' + "]}" * 40,
            "CQL2_MAX_DEPTH",
        ),
        ("cql2-json", "[" * 9000 + "]" * 9000, "CQL2_MAX_DEPTH"),
    ],
)
async def test_bad_cql2_filters_are_400_problems(server, lang, expression, words):
    from tests.test_bad_input import assert_problem

    base, _ = server
    response = get(base, "/ogc/collections/parcels/items", filter=expression, **{"filter-lang": lang})
    body = assert_problem(response, 400)
    assert words in body["detail"]


async def test_cql2_forms_the_standard_allows(server):
    """BBOX literals (text and JSON, in the right slots), three-argument between, white space,
    Z coordinates, a GeometryCollection literal and a bare true or false, checked against shapely."""
    from shapely.geometry import box

    base, _ = server
    parcels = everything(base)
    x0, y0, x1, y1 = 116.7, -1.2, 116.85, -1.05
    area = box(x0, y0, x1, y1)
    expected = [f["id"] for f in parcels if shape(f["geometry"]).intersects(area)]
    assert expected and len(expected) < len(parcels)
    ring = f"{x0} {y0} 5, {x1} {y0} 5, {x1} {y1} 5, {x0} {y1} 5, {x0} {y0} 5"
    for lang, expression in [
        ("cql2-text", f"S_INTERSECTS(geometry, BBOX({x0},{y0},{x1},{y1}))"),
        ("cql2-text", f"S_INTERSECTS(\n\tgeometry,\r\n\tPOLYGON Z (({ring}))\n)"),
        (
            "cql2-json",
            _json({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [x0, y0, x1, y1]}]}),
        ),
        (
            "cql2-json",
            _json(
                {
                    "op": "s_intersects",
                    "args": [
                        {"property": "geometry"},
                        {
                            "type": "GeometryCollection",
                            "geometries": [
                                {
                                    "type": "Polygon",
                                    "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
                                }
                            ],
                        },
                    ],
                }
            ),
        ),
    ]:
        body = get(
            base, "/ogc/collections/parcels/items", filter=expression, limit=10000, **{"filter-lang": lang}
        ).json()
        assert [f["id"] for f in body["features"]] == expected, expression
    between = _json({"op": "between", "args": [{"property": "area_ha"}, 1, 5]})
    body = get(
        base, "/ogc/collections/parcels/items", filter=between, limit=10000, **{"filter-lang": "cql2-json"}
    ).json()
    want = [f["id"] for f in parcels if 1 <= f["properties"]["area_ha"] <= 5]
    assert [f["id"] for f in body["features"]] == want and want
    for lang, true, false in [("cql2-text", "TRUE", "false"), ("cql2-json", "true", "false")]:
        on = get(
            base, "/ogc/collections/parcels/items", filter=true, limit=10000, **{"filter-lang": lang}
        ).json()
        off = get(
            base, "/ogc/collections/parcels/items", filter=false, limit=10000, **{"filter-lang": lang}
        ).json()
        assert [f["id"] for f in on["features"]] == [f["id"] for f in parcels] and off["features"] == []
