"""The bounds every request lives within: body size, attributes, page size, projected bboxes,
time budgets, a database that is down, and the security headers on every answer."""

import json

import httpx
import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import Pools, close_quietly
from app.main import create_app
from tests.conftest import API_KEY, AUTH, free_port, make_settings, prepared_database, scalar
from tests.geo import ORIGIN, parcel, rectangle
from tests.test_bad_input import assert_problem

SMALL_BODY = 100_000  # more than the 64 KiB attributes may take, so their own bound shows


@pytest.fixture
def settings() -> Settings:
    return make_settings().model_copy(
        update={"max_body_bytes": SMALL_BODY, "max_page_size": 50, "max_vertices": 200, "max_parts": 3}
    )


def big_feature(size: int) -> bytes:
    feature = parcel(rectangle(*ORIGIN, 100, 100), "BIG-1", land_use="x" * size)
    return json.dumps(feature).encode()


async def parcels_stored(session) -> int:
    return await scalar(session, "SELECT count(*) FROM parcel")


async def test_a_body_over_the_limit_is_refused_before_the_key_is_checked(client, session):
    body = big_feature(SMALL_BODY)
    for headers in ({}, {"Authorization": "Bearer wrong"}, AUTH):
        response = await client.post(
            "/parcels", content=body, headers={**headers, "content-type": "application/json"}
        )
        problem = assert_problem(response, 413, "too-large")
        assert f"{SMALL_BODY:,} bytes" in problem["detail"]
    assert await parcels_stored(session) == 0


async def test_a_chunked_body_is_cut_off_at_the_limit(client, session):
    body = big_feature(SMALL_BODY)

    async def chunks():  # no Content-Length: sent in pieces
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await client.post(
        "/parcels", content=chunks(), headers={**AUTH, "content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "too-large")
    assert await parcels_stored(session) == 0


async def test_a_body_under_the_limit_is_read(client, session):
    response = await client.post(
        "/parcels", content=big_feature(100), headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "attributes, status, reason",
    [
        (nested(9), 422, "nested more than 8 levels"),
        ({"note": "x" * 70_000}, 422, "larger than 64 KiB"),
        (nested(3000), 400, "nested too deeply"),  # too deep for the JSON parser
    ],
    ids=["nine levels", "70 KB", "thousands of levels"],
)
async def test_bad_attributes(client, session, attributes, status, reason):
    feature = parcel(rectangle(*ORIGIN, 100, 100), "ATTR-1", attributes=attributes)
    body = json.dumps(feature) if status != 400 else _deep_json(feature)
    response = await client.post(
        "/parcels", content=body, headers={**AUTH, "content-type": "application/json"}
    )
    problem = assert_problem(response, status)
    assert reason in json.dumps(problem)
    assert await parcels_stored(session) == 0


def _deep_json(feature: dict) -> str:
    """json.dumps recurses; write the deep nesting by hand."""
    depth = 3000
    attributes = '{"a": ' * depth + '"leaf"' + "}" * depth
    return json.dumps({**feature, "properties": {**feature["properties"], "attributes": "@"}}).replace(
        '"@"', attributes
    )


async def test_one_page_size_bound_for_native_and_ogc_lists(client, seeded):
    assert (await client.get("/parcels?limit=50")).status_code == 200
    assert_problem(await client.get("/parcels?limit=51"), 422)
    assert (await client.get("/ogc/collections/zones/items?limit=50")).status_code == 200
    problem = assert_problem(await client.get("/ogc/collections/zones/items?limit=51"), 400)
    assert "from 1 to 50" in problem["detail"]


@pytest.mark.parametrize(
    "bbox", ["1e300,1e300,2e300,2e300", "-1e308,-1e308,1e308,1e308", "400000,9800000,1e12,9900000"]
)
async def test_a_projected_bbox_out_of_range_is_a_bad_request(client, seeded, bbox):
    utm = "http://www.opengis.net/def/crs/EPSG/0/32750"
    response = await client.get(f"/ogc/collections/parcels/items?bbox={bbox}&bbox-crs={utm}")
    assert "outside the range" in assert_problem(response, 400)["detail"]


async def test_security_headers(client, seeded):
    zones = await client.get("/zones")
    assert zones.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in zones.headers
    page = await client.get("/map")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-eval" not in policy
    assert "<script>" not in page.text  # every script is a file of the service, none inline
    assert "frame-ancestors 'self'" in policy and page.headers["x-content-type-options"] == "nosniff"
    ogc_page = await client.get("/ogc?f=html")
    assert ogc_page.headers["content-security-policy"] == policy
    for docs in ("/docs", "/redoc", "/"):  # the same policy: they too run only the service's files
        answer = await client.get(docs, headers={"Accept": "text/html"})
        assert answer.headers["content-security-policy"] == policy
    problem = await client.get("/zones/nope")
    assert problem.headers["x-content-type-options"] == "nosniff"


async def test_a_database_that_is_down_gives_503_with_retry_after():
    closed = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(Settings(database_url=closed, api_keys=[API_KEY], db_pool_timeout_s=1))
    async with app.router.lifespan_context(app):
        # Errors must not escape the app after its answer (the server would log them and drop
        # the client's connection): the transport raises any that do.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for path in ("/zones", "/parcels/1", "/ogc/collections/parcels/items", "/parcels/search"):
                response = await http.get(path)
                assert_problem(response, 503, "unavailable")
                assert int(response.headers["retry-after"]) > 0
            write = await http.post(
                "/parcels", json=parcel(rectangle(*ORIGIN, 50, 50), "DOWN-1"), headers=AUTH
            )
            assert_problem(write, 503, "unavailable")
            health = await http.get("/health")
    assert health.status_code == 503 and int(health.headers["retry-after"]) > 0
    assert health.json() == {"status": "unavailable", "database": "unreachable"}


async def test_a_query_over_its_budget_gives_503_and_cheap_reads_still_answer(fresh_database):
    url = await prepared_database(fresh_database, "kaltim_budget", cell_m=100)
    # Expensive reads (here: land conflicts over every parcel) get 10 ms; ordinary ones the default.
    app = create_app(Settings(database_url=url, heavy_query_timeout_s=0.01))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            over = await http.get("/parcels/conflicts?limit=10")
            problem = assert_problem(over, 503, "timeout")
            assert "time budget" in problem["detail"] and int(over.headers["retry-after"]) > 0
            assert (await http.get("/zones")).status_code == 200
            assert (await http.get("/parcels?limit=10")).status_code == 200
        async with app.state.pools.heavy.connect() as conn:
            assert await conn.scalar(text("SHOW statement_timeout")) == "10ms"
        async with app.state.pools.ordinary.connect() as conn:
            assert await conn.scalar(text("SHOW statement_timeout")) == "10s"


async def test_vertex_and_part_counts_are_bounded(client, session):
    import math

    # A 300-position circle is over this module's MAX_VERTICES of 200; four squares over MAX_PARTS of 3.
    lon, lat = ORIGIN
    circle = [
        [lon + 0.001 * math.cos(2 * math.pi * i / 299), lat + 0.001 * math.sin(2 * math.pi * i / 299)]
        for i in range(299)
    ]
    circle.append(circle[0])
    many = parcel(circle, "VX-1")
    problem = assert_problem(await client.post("/parcels", json=many, headers=AUTH), 422, "geometry-invalid")
    assert "more than 200 positions" in problem["detail"]
    squares = [[rectangle(lon + 0.01 * i, lat, 50, 50)] for i in range(4)]
    parts = {**parcel(squares[0][0], "VX-2"), "geometry": {"type": "MultiPolygon", "coordinates": squares}}
    problem = assert_problem(await client.post("/parcels", json=parts, headers=AUTH), 422, "geometry-invalid")
    assert "4 parts; at most 3" in problem["detail"]
    parts["geometry"]["coordinates"] = squares[:3]
    assert (await client.post("/parcels", json=parts, headers=AUTH)).status_code == 201
    assert await parcels_stored(session) == 1


async def test_a_request_without_an_answer_by_its_deadline_gets_503(migrated):
    app = create_app(make_settings(migrated).model_copy(update={"request_deadline_s": 0.001}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/parcels?limit=10")
    problem = assert_problem(response, 503, "unavailable")
    assert "no answer within 0.001 s" in problem["detail"] and response.headers["retry-after"] == "5"


async def test_a_session_whose_connection_died_after_its_work_closes_quietly(migrated):
    # The database restarting between a request's answer and the session's close must not
    # turn into an error after the answer (the server would drop the client's connection).
    pools = Pools.open(make_settings(migrated))
    try:
        session = pools.sessions()
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
        async with pools.heavy.connect() as other:
            assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await close_quietly(session)
        # The pool dropped the dead connection: the next session gets a live one.
        async with pools.sessions() as fresh:
            assert await fresh.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await pools.close()
