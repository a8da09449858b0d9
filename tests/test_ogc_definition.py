"""What the OGC API says about itself against what it does: the geometry types the collections
declare, the version the API definitions are announced in, the error responses they document.
Over real HTTP, checked against SQL."""

import asyncpg
import httpx
import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.conftest import prepared_database, serve
from tests.test_migrations import dsn
from tests.test_ogc import rel

GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


@pytest.fixture(scope="module")
async def server(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_ogc_definition", cell_m=400)
    with serve(url) as base:
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
    documents = [(whole, "", p) for p in whole["paths"] if p == "/ogc" or p.startswith("/ogc/")]
    assert len(documents) >= 7
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
    }
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
