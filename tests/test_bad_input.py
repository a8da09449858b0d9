"""Every kind of bad input: a 4xx RFC 9457 problem body, and nothing stored."""

import pytest

from tests.conftest import AUTH, scalar
from tests.geo import ORIGIN, parcel, rectangle, zone

GOOD_RING = rectangle(*ORIGIN, 100, 100)


def with_geometry(geometry, code="BAD-1"):
    return {"type": "Feature", "geometry": geometry, "properties": {"code": code, "land_status": "available"}}


def assert_problem(response, status, slug=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["instance"]
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


async def count(session, table="parcel"):
    return await scalar(session, f"SELECT count(*) FROM {table}")


async def test_malformed_json(client, session):
    response = await client.post(
        "/parcels",
        content=b'{"type": "Feature", "geometry": ',
        headers={**AUTH, "content-type": "application/json"},
    )
    body = assert_problem(response, 400, "bad-request")
    assert "JSON" in body["detail"]
    assert await count(session) == 0


BAD_GEOMETRIES = {
    "wrong type for a parcel": ({"type": "Point", "coordinates": list(ORIGIN)}, "Polygon or MultiPolygon"),
    "line for a parcel": ({"type": "LineString", "coordinates": GOOD_RING[:3]}, "Polygon or MultiPolygon"),
    "self-intersecting (bow tie)": (
        {
            "type": "Polygon",
            "coordinates": [[GOOD_RING[0], GOOD_RING[2], GOOD_RING[1], GOOD_RING[3], GOOD_RING[0]]],
        },
        "Self-intersection",
    ),
    "unclosed ring": ({"type": "Polygon", "coordinates": [GOOD_RING[:4]]}, "not closed"),
    "too few positions": (
        {"type": "Polygon", "coordinates": [[GOOD_RING[0], GOOD_RING[1], GOOD_RING[0]]]},
        "at least 4 positions",
    ),
    "longitude beyond 180": (
        {"type": "Polygon", "coordinates": [[[181, 0], [182, 0], [182, 1], [181, 0]]]},
        "±180",
    ),
    "latitude beyond 90": (
        {"type": "Polygon", "coordinates": [[[116, 91], [116.1, 91], [116.1, 92], [116, 91]]]},
        "±90",
    ),
    "outside the area of interest": (
        {"type": "Polygon", "coordinates": [[[106.8, -6.2], [106.81, -6.2], [106.81, -6.19], [106.8, -6.2]]]},
        "area of interest",
    ),
    "not numbers": (
        {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]},
        "numbers",
    ),
    "empty coordinates": ({"type": "Polygon", "coordinates": []}, "non-empty"),
    "no coordinates": ({"type": "Polygon"}, "coordinates"),
    "unknown geometry type": ({"type": "Circle", "coordinates": [116, -1]}, "type"),
}


@pytest.mark.parametrize("case", list(BAD_GEOMETRIES), ids=list(BAD_GEOMETRIES))
async def test_bad_parcel_geometry(client, session, case):
    geometry, reason = BAD_GEOMETRIES[case]
    response = await client.post("/parcels", json=with_geometry(geometry), headers=AUTH)
    body = assert_problem(response, 422)
    assert reason in str(body), body
    assert await count(session) == 0


async def test_swapped_axes_get_a_hint(client, session):
    swapped = [[lat, lon] for lon, lat in GOOD_RING]
    body = assert_problem(
        await client.post(
            "/parcels", json=with_geometry({"type": "Polygon", "coordinates": [swapped]}), headers=AUTH
        ),
        422,
        "geometry-invalid",
    )
    assert "swapped" in body["hint"] and "[longitude, latitude]" in body["hint"]
    assert await count(session) == 0


async def test_self_intersection_can_be_repaired_on_request(client, session):
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[GOOD_RING[0], GOOD_RING[2], GOOD_RING[1], GOOD_RING[3], GOOD_RING[0]]],
    }
    body = assert_problem(await client.post("/parcels", json=with_geometry(bow_tie), headers=AUTH), 422)
    assert "repair=true" in body["hint"]
    repaired = await client.post("/parcels?repair=true", json=with_geometry(bow_tie), headers=AUTH)
    assert repaired.status_code == 201, repaired.text
    assert repaired.json()["geometry"]["type"] == "MultiPolygon"
    assert len(repaired.json()["geometry"]["coordinates"]) == 2  # the bow tie's two triangles


async def test_bad_zone_and_facility_geometry(client, session):
    point = {"type": "Point", "coordinates": list(ORIGIN)}
    assert_problem(
        await client.post("/zones", json={**zone(GOOD_RING, "z"), "geometry": point}, headers=AUTH),
        422,
        "geometry-invalid",
    )
    far = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [0, 0]},
        "properties": {"code": "null-island", "name": "Null Island", "kind": "port"},
    }
    assert_problem(await client.post("/facilities", json=far, headers=AUTH), 422, "geometry-invalid")
    assert await count(session, "zone") == 0 and await count(session, "facility") == 0


async def test_duplicate_code_is_409(client, session):
    assert (await client.post("/parcels", json=parcel(GOOD_RING, "DUP-1"), headers=AUTH)).status_code == 201
    elsewhere = rectangle(ORIGIN[0] + 0.01, ORIGIN[1], 100, 100)
    assert_problem(
        await client.post("/parcels", json=parcel(elsewhere, "DUP-1"), headers=AUTH), 409, "duplicate"
    )
    assert await count(session) == 1
    assert (await client.post("/zones", json=zone(GOOD_RING, "dup-zone"), headers=AUTH)).status_code == 201
    assert_problem(
        await client.post("/zones", json=zone(GOOD_RING, "dup-zone"), headers=AUTH), 409, "duplicate"
    )
    assert await count(session, "zone") == 1


async def test_renaming_onto_an_existing_code_is_409(client, session):
    await client.post("/zones", json=zone(GOOD_RING, "first"), headers=AUTH)
    await client.post("/zones", json=zone(GOOD_RING, "second"), headers=AUTH)
    assert_problem(
        await client.patch("/zones/second", json={"properties": {"code": "first"}}, headers=AUTH),
        409,
        "duplicate",
    )
    assert (await client.get("/zones/second")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/zones/nowhere",
        "/parcels/424242",
        "/facilities/nowhere",
        "/zones/nowhere/parcels",
        "/parcels/424242/distances",
        "/no/such/route",
    ],
)
async def test_unknown_resources_are_404(client, path):
    assert_problem(await client.get(path), 404, "not-found")


@pytest.mark.parametrize(
    "method,path",
    [
        ("PATCH", "/zones/nowhere"),
        ("DELETE", "/zones/nowhere"),
        ("PATCH", "/parcels/424242"),
        ("DELETE", "/parcels/424242"),
        ("PATCH", "/facilities/nowhere"),
        ("DELETE", "/facilities/nowhere"),
    ],
)
async def test_writes_to_unknown_resources_are_404(client, method, path):
    assert_problem(
        await client.request(method, path, json={"properties": {}}, headers=AUTH), 404, "not-found"
    )


@pytest.mark.parametrize(
    "bbox,reason",
    [
        ("1,2,3", "4 numbers"),
        ("1,2,3,4,5", "4 numbers"),
        ("117,-1,116,0", "minimum exceeds"),
        ("116,0,117,-1", "minimum exceeds"),
        ("a,b,c,d", "numbers"),
        ("116,-1,117,nan", "finite"),
        ("-200,-1,117,0", "±180"),
    ],
)
async def test_bad_bbox_is_422(client, bbox, reason):
    body = assert_problem(await client.get(f"/parcels?bbox={bbox}"), 422, "validation")
    assert reason in body["detail"]
    assert_problem(await client.get(f"/zones/any/parcels?bbox={bbox}"), 422)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=abc", "offset=-1", "limit=1000000", "land_status=sold", "relation=touches"]
)
async def test_bad_list_parameters_are_422(client, query):
    path = "/zones/any/parcels" if query.startswith("relation") else "/parcels"
    assert_problem(await client.get(f"{path}?{query}"), 422, "validation")


@pytest.mark.parametrize(
    "properties,where",
    [
        ({"code": "X-1", "land_status": "available", "colour": "red"}, "colour"),
        ({"code": "X-1", "land_status": "sold"}, "land_status"),
        ({"code": "X-1", "land_status": "available", "land_rights": "freehold"}, "land_rights"),
        ({"code": "X-1", "land_status": "available", "price_idr_per_m2": -5}, "price_idr_per_m2"),
        ({"code": "X-1", "land_status": "available", "attributes": [1, 2]}, "attributes"),
        ({"code": "", "land_status": "available"}, "code"),
        ({"land_status": "available"}, "code"),
        ({"code": "X-1", "land_status": "available", "holder": "PT \u0000 Null"}, ""),
    ],
)
async def test_bad_parcel_properties_are_422(client, session, properties, where):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [GOOD_RING]},
        "properties": properties,
    }
    body = assert_problem(await client.post("/parcels", json=feature, headers=AUTH), 422)
    assert where in body["detail"]
    assert await count(session) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"type": "FeatureCollection", "features": []},
        {"type": "Feature", "properties": {"code": "X-1", "land_status": "available"}},
        [],
        "a string",
    ],
)
async def test_not_a_feature_is_422(client, session, body):
    assert_problem(await client.post("/parcels", json=body, headers=AUTH), 422, "validation")
    assert await count(session) == 0


async def test_patch_cannot_clear_required_properties(client, session):
    created = (await client.post("/parcels", json=parcel(GOOD_RING, "REQ-1"), headers=AUTH)).json()
    for properties in ({"code": None}, {"land_status": None}, {"attributes": None}):
        assert_problem(
            await client.patch(f"/parcels/{created['id']}", json={"properties": properties}, headers=AUTH),
            422,
        )
    assert_problem(
        await client.patch(f"/parcels/{created['id']}", json={"geometry": None}, headers=AUTH), 422
    )
    assert (await client.get(f"/parcels/{created['id']}")).json() == created


async def test_parcel_id_out_of_range(client):
    assert_problem(await client.get("/parcels/0"), 422)
    assert_problem(await client.get(f"/parcels/{2**63}"), 422)
    assert_problem(await client.get("/parcels/abc"), 422)


async def test_wrong_method_is_405(client):
    assert_problem(await client.put("/zones", json={}), 405, "method-not-allowed")


async def test_problem_types_resolve(client):
    body = (await client.get("/problems/parcel-overlap")).json()
    assert body["title"] == "Parcel overlaps" and "allow_overlap" in body["description"]
    assert_problem(await client.get("/problems/nope"), 404)


@pytest.mark.parametrize("name", ["max_distance_to_port_m", "max_distance_to_capital_m", "within_m"])
async def test_distances_too_small_for_float_arithmetic_are_422_on_search_and_export(client, name):
    """5e-324 m would underflow PostgreSQL's float8 division (an error in the middle of an export
    stream); distances start at 1 mm."""
    params = {name: "5e-324", **({"near": "116.8,-1.1"} if name == "within_m" else {})}
    for path in ("/parcels/search", "/parcels/search/export"):
        assert_problem(await client.get(path, params=params, headers=AUTH), 422)
    ok = {name: "0.001", **({"near": "116.8,-1.1"} if name == "within_m" else {})}
    assert (await client.get("/parcels/search", params=ok)).status_code == 200
