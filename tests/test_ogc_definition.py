"""What the OGC API says about itself against what it does: the API definitions' versions, the
error responses they document, the geometry types the collections declare, and whether GDAL,
reading the definition, leaves filters to the server. Over real HTTP, checked against SQL."""

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pyogrio.raw
import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.conftest import prepared_database, serve
from tests.test_migrations import dsn
from tests.test_ogc import needs_gdal, rel

COLLECTIONS = ["zones", "parcels", "facilities", "projects"]
GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
REQUEST = re.compile(r'"GET (\S+) HTTP/1\.1" (\d{3})')


@pytest.fixture(scope="module")
def access_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ogc-definition") / "server.log"


@pytest.fixture(scope="module")
async def server(fresh_database, access_log):
    url = await prepared_database(fresh_database, "kaltim_ogc_definition", cell_m=400)
    with serve(url, access_log=access_log) as base:
        yield base, url


async def rows(url: str, sql: str) -> list:
    conn = await asyncpg.connect(dsn(url))
    try:
        return [r[0] for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def media_version(media_type: str) -> str:
    """The `version` parameter of an OpenAPI media type (`...;version=3.0`)."""
    params = dict(p.strip().split("=", 1) for p in media_type.split(";")[1:])
    return params["version"]


async def test_every_link_announces_the_version_the_definition_is_in(server):
    base, _ = server
    conformance = httpx.get(f"{base}/ogc/conformance").json()["conformsTo"]
    for landing in (f"{base}/", f"{base}/ogc"):
        [link] = rel(httpx.get(landing).json(), "service-desc")
        answer = httpx.get(link["href"])
        document = answer.json()
        assert answer.status_code == 200, link
        validate(document)
        major_minor = ".".join(document["openapi"].split(".")[:2])
        assert media_version(link["type"]) == major_minor, (landing, link, document["openapi"])
        if answer.headers["content-type"] != "application/json":
            assert answer.headers["content-type"] == link["type"]
        if landing.endswith("/ogc"):  # the conformance class names the same version
            oas = [c for c in conformance if "/conf/oas" in c]
            assert oas == [
                f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas{major_minor.replace('.', '')}"
            ]
            # paths relative to the landing page, as OGC clients look them up
            assert document["servers"] == [{"url": f"{base}/ogc"}]
            assert "/collections/{collectionId}/items" in document["paths"]
            for collection in COLLECTIONS:
                items = document["paths"][f"/collections/{collection}/items"]["get"]["parameters"]
                queryables = httpx.get(f"{base}/ogc/collections/{collection}/queryables").json()
                documented = {p["name"] for p in items if p["in"] == "query"}
                assert set(queryables["properties"]) - {"geometry"} <= documented, collection
                assert "holder" not in documented  # not a queryable without a key


def bad_requests(base: str, path: str, feature_ids: dict[str, str]) -> list[tuple[str, dict, dict]]:
    """Requests that must fail for `path` (a path of the document, under /ogc): url, params,
    headers. One for each way it can fail."""
    real = path.replace("{collectionId}", "parcels").replace("{featureId}", feature_ids["parcels"])
    made = [
        (base + real, {"colour": "red"}, {}),  # unknown parameter: 400
        (base + real, {}, {"Authorization": "Bearer not-a-key"}),  # unknown key: 401
    ]
    if "{collectionId}" in path:
        made.append((base + path.replace("{collectionId}", "rivers").replace("{featureId}", "1"), {}, {}))
    if "{featureId}" in path:
        made.append(
            (base + path.replace("{collectionId}", "parcels").replace("{featureId}", "999999999"), {}, {})
        )
    if path.endswith("/items"):
        made.append((base + real, {"limit": "0"}, {}))
        made.append((base + real, {"filter": "area_ha > 1", "filter-lang": "sql"}, {}))
    return made


async def test_the_documents_list_the_errors_the_ogc_routes_give(server):
    base, url = server
    feature_ids = {"parcels": str((await rows(url, "SELECT min(id) FROM parcel"))[0])}
    whole = httpx.get(f"{base}/openapi.json").json()
    ogc = httpx.get(f"{base}/ogc/api").json()
    documents = [(whole, "", p) for p in whole["paths"] if p == "/ogc" or p.startswith("/ogc/")]
    documents += [(ogc, "/ogc", p) for p in ogc["paths"]]
    assert len(documents) >= 2 * 8
    for document, prefix, path in documents:
        problem = document["components"]["schemas"]["ProblemOut"]
        operation = document["paths"][path]["get"]
        documented = {s for s in operation["responses"] if s[0] in "45"}
        assert "422" not in documented, path
        for status in documented:
            assert operation["responses"][status]["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemOut"}}
            }, (path, status)
        seen = set()
        for href, params, headers in bad_requests(base, prefix + path.rstrip("/"), feature_ids):
            answer = httpx.get(href, params=params, headers=headers)
            status = str(answer.status_code)
            assert status in documented, (path, href, params, status, documented)
            assert answer.headers["content-type"] == "application/problem+json"
            OAS30Validator(problem).validate(answer.json())
            seen.add(status)
        assert seen == documented, (path, seen, documented)  # nothing documented that cannot occur


async def test_every_feature_has_its_collections_geometry_type(server):
    base, url = server
    counts = {
        "zones": "SELECT count(*) FROM zone",
        "parcels": "SELECT count(*) FROM parcel",
        "facilities": "SELECT count(*) FROM facility",
        "projects": "SELECT count(*) FROM project",
        **{
            f"{level}s".replace("ys", "ies"): f"SELECT count(*) FROM admin_area WHERE level = '{level}'"
            for level in ("regency", "district", "village")
        },
    }
    layer_areas = "SELECT count(*) FROM constraint_feature f JOIN constraint_layer l ON l.id = f.layer_id "
    for name in await rows(url, "SELECT name FROM constraint_layer"):  # the demo data's
        counts[name] = layer_areas + f"WHERE l.name = '{name}'"
    for collection in httpx.get(f"{base}/ogc/collections").json()["collections"]:
        declared = collection["geometryType"]
        features, href = [], f"{base}/ogc/collections/{collection['id']}/items?limit=1000"
        while href:
            page = httpx.get(href, timeout=30).json()
            features += page["features"]
            href = rel(page, "next")[0]["href"] if rel(page, "next") else None
        assert len(features) == (await rows(url, counts[collection["id"]]))[0] > 0
        served = {f["geometry"]["type"] for f in features if f["geometry"] is not None}
        assert all(f["geometry"] is not None for f in features), collection["id"]
        if declared == "Geometry":
            assert served <= GEOMETRY_TYPES, (collection["id"], served)
        else:
            assert served == {declared}, (collection["id"], declared, served)
    # Among the projects are some whose parcels' union is a single Polygon: the case ST_Multi is for.
    single = await rows(
        url,
        "SELECT count(*) FROM project t JOIN LATERAL (SELECT ST_NumGeometries("
        "ST_Union(p.geom)) n FROM project_parcel pp JOIN parcel p ON p.id = pp.parcel_id "
        "WHERE pp.project_id = t.id) u ON u.n = 1",
    )
    assert single[0] > 0


def requests_since(log: Path, mark: int, collection: str) -> list[tuple[dict, str]]:
    """The items requests of `collection` logged after line `mark`: their query and status."""
    found = []
    for line in log.read_text().splitlines()[mark:]:
        match = REQUEST.search(line)
        if match and urlsplit(match[1]).path == f"/ogc/collections/{collection}/items":
            found.append((parse_qs(urlsplit(match[1]).query), match[2]))
    return found


def filtered(requests: list[tuple[dict, str]], name: str, value: str) -> list[dict]:
    """The requests that carried `name=value`, after checking that every other one was only
    GDAL's first look at the layer (a page without any filter, to learn its fields)."""
    assert all(status == "200" for _, status in requests), requests
    carried = [q for q, _ in requests if q.get(name) == [value]]
    looks = [q for q, _ in requests if q.get(name) != [value]]
    assert all(set(q) <= {"limit"} for q in looks), looks
    assert carried, requests
    return carried


@needs_gdal
async def test_gdal_leaves_the_filters_it_can_to_the_server(server, access_log, tmp_path: Path):
    base, url = server
    version = subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True, check=True).stdout
    # Equality on a queryable the definition lists as a parameter goes to the server; the number
    # comparison GDAL evaluates itself on what comes back: the answer must be the same set.
    where = "land_status = 'available' AND area_ha > 10"
    mark = len(access_log.read_text().splitlines())
    out = tmp_path / "parcels.geojson"
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GeoJSON",
            str(out),
            f"OAPIF:{base}/ogc",
            "parcels",
            "-where",
            where,
            "-oo",
            "PAGE_SIZE=100",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    carried = filtered(requests_since(access_log, mark, "parcels"), "land_status", "available")
    assert len(carried) > 1 and any("after" in q for q in carried)  # the next pages kept it
    expected = sorted(
        await rows(url, "SELECT code FROM parcel WHERE land_status = 'available' AND area_ha > 10")
    )
    copied = sorted(f["properties"]["code"] for f in json.loads(out.read_text())["features"])
    assert copied == expected and expected, version
    # another collection, another queryable
    mark = len(access_log.read_text().splitlines())
    out = tmp_path / "ports.geojson"
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", "facilities", "-where", "kind = 'port'"],
        capture_output=True,
        text=True,
        check=True,
    )
    filtered(requests_since(access_log, mark, "facilities"), "kind", "port")
    ports = sorted(f["properties"]["code"] for f in json.loads(out.read_text())["features"])
    assert ports == sorted(await rows(url, "SELECT code FROM facility WHERE kind = 'port'")) and ports
    # A comparison with any date field GDAL sends as the Core's `datetime` (a date as
    # `2000-01-01T`, `<` as an interval that includes its end), which selects on `updated_at`.
    for where, value, sql in [
        ("updated_at >= '2000-01-01'", "2000-01-01T/..", "updated_at >= '2000-01-01Z'"),
        ("created_at < '2000-01-01'", "../2000-01-01T", "updated_at <= '2000-01-01Z'"),
    ]:
        mark = len(access_log.read_text().splitlines())
        out = tmp_path / "dated.geojson"
        out.unlink(missing_ok=True)
        subprocess.run(
            ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogc", "facilities", "-where", where],
            capture_output=True,
            text=True,
            check=True,
        )
        filtered(requests_since(access_log, mark, "facilities"), "datetime", value)
        codes = sorted(f["properties"]["code"] for f in json.loads(out.read_text())["features"])
        assert codes == sorted(await rows(url, f"SELECT code FROM facility WHERE {sql}")), where


async def test_pyogrios_gdal_leaves_the_filters_it_can_to_the_server(server, access_log):
    """The GDAL that pyogrio brings (newer than most systems'), through the same driver."""
    base, url = server
    mark = len(access_log.read_text().splitlines())
    meta, _, _, fields = pyogrio.raw.read(
        f"OAPIF:{base}/ogc",
        layer="parcels",
        where="land_status = 'reserved' AND area_ha > 10",
        read_geometry=False,
    )
    filtered(requests_since(access_log, mark, "parcels"), "land_status", "reserved")
    codes = sorted(fields[list(meta["fields"]).index("code")])
    expected = sorted(
        await rows(url, "SELECT code FROM parcel WHERE land_status = 'reserved' AND area_ha > 10")
    )
    assert codes == expected and expected, pyogrio.__gdal_version_string__
    mark = len(access_log.read_text().splitlines())
    meta, _, _, fields = pyogrio.raw.read(
        f"OAPIF:{base}/ogc", layer="facilities", where="updated_at >= '2000-01-01'", read_geometry=False
    )
    [dated] = [q for q, _ in requests_since(access_log, mark, "facilities") if "datetime" in q]
    assert dated["datetime"] == ["2000-01-01T/.."], dated
    codes = sorted(fields[list(meta["fields"]).index("code")])
    assert codes == sorted(await rows(url, "SELECT code FROM facility WHERE updated_at >= '2000-01-01Z'"))
