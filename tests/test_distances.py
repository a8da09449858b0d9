"""Distances on the WGS84 spheroid, checked against GeographicLib (pyproj.Geod) on the same inputs."""

import pytest

from tests.conftest import AUTH
from tests.geo import ORIGIN, close, distance_m, distance_to_polygon_m, move, parcel, rectangle


async def add_facility(client, code, kind, point, name=None):
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": {"code": code, "name": name or code.title(), "kind": kind},
    }
    response = await client.post("/facilities", json=feature, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


async def add_parcel(client, ring, code="D-1"):
    response = await client.post("/parcels", json=parcel(ring, code), headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_nearest_port_from_a_corner_and_capital_inside(client):
    ring = rectangle(*ORIGIN, 400, 300)
    parcel_id = await add_parcel(client, ring)
    # South-west of the SW corner: the corner is the parcel's nearest point.
    near_port = move(*ORIGIN, 225, 5000)
    far_port = move(*ring[2], 45, 8000)
    await add_facility(client, "near-port", "port", near_port)
    await add_facility(client, "far-port", "port", far_port)
    await add_facility(client, "capital-x", "capital", move(*ORIGIN, 45, 100))  # inside the parcel

    response = await client.get(f"/parcels/{parcel_id}/distances")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["parcel_id"] == parcel_id and list(body["nearest"]) == ["port", "capital"]
    port = body["nearest"]["port"]
    assert port["code"] == "near-port" and port["name"] == "Near-Port"
    assert close(port["distance_m"], distance_m(tuple(ring[0]), near_port))
    assert abs(port["distance_m"] - 5000) < 5
    assert body["nearest"]["capital"] == {"code": "capital-x", "name": "Capital-X", "distance_m": 0}


async def test_distance_to_an_edge_not_a_vertex(client):
    ring = rectangle(*ORIGIN, 1000, 1000)
    parcel_id = await add_parcel(client, ring)
    mid_east = move(*move(*ORIGIN, 90, 1000), 0, 500)
    port = move(*mid_east, 90, 500)
    await add_facility(client, "east-port", "port", port)
    body = (await client.get(f"/parcels/{parcel_id}/distances?kinds=port")).json()
    expected = distance_to_polygon_m(port, ring)
    assert close(body["nearest"]["port"]["distance_m"], expected)
    # The nearest vertex is much farther: the answer really is the distance to the edge.
    assert min(distance_m(port, tuple(v)) for v in ring) > expected + 150


async def test_kinds_without_facilities_are_null_and_order_is_kept(client):
    parcel_id = await add_parcel(client, rectangle(*ORIGIN, 100, 100))
    await add_facility(client, "some-airport", "airport", move(*ORIGIN, 0, 3000))
    body = (await client.get(f"/parcels/{parcel_id}/distances?kinds=airport,port")).json()
    assert list(body["nearest"]) == ["airport", "port"]
    assert body["nearest"]["port"] is None and body["nearest"]["airport"]["code"] == "some-airport"


async def test_seeded_parcel_distances_to_ikn_and_ports(client, seeded):
    """A parcel in Kariangau measured against the seeded ports and the IKN zero point."""
    ring = rectangle(*ORIGIN, 200, 200)
    parcel_id = await add_parcel(client, ring)
    body = (await client.get(f"/parcels/{parcel_id}/distances")).json()
    facilities = (await client.get("/facilities?limit=100")).json()["features"]
    points = {f["id"]: tuple(f["geometry"]["coordinates"]) for f in facilities}
    kinds = {f["id"]: f["properties"]["kind"] for f in facilities}
    for kind in ("port", "capital"):
        expected = {
            code: distance_to_polygon_m(p, ring, steps=50)
            for code, p in points.items()
            if kinds[code] == kind
        }
        best = min(expected, key=expected.get)
        assert body["nearest"][kind]["code"] == best
        assert close(body["nearest"][kind]["distance_m"], expected[best])
    assert body["nearest"]["capital"]["code"] == "ikn"


async def test_nearest_facilities_to_a_point(client):
    here = move(*ORIGIN, 0, 5000)
    placed = {
        "a-port": ("port", move(*here, 10, 1000)),
        "b-airport": ("airport", move(*here, 200, 3000)),
        "c-port": ("port", move(*here, 300, 7000)),
    }
    for code, (kind, point) in placed.items():
        await add_facility(client, code, kind, point)
    response = await client.get("/facilities/nearest", params={"lon": here[0], "lat": here[1]})
    assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    features = response.json()["features"]
    assert [f["id"] for f in features] == ["a-port", "b-airport", "c-port"]
    for feature in features:
        expected = distance_m(here, placed[feature["id"]][1])
        assert close(feature["properties"]["distance_m"], expected)

    ports = (
        await client.get(
            "/facilities/nearest", params={"lon": here[0], "lat": here[1], "kind": "port", "limit": 1}
        )
    ).json()
    assert [f["id"] for f in ports["features"]] == ["a-port"] and ports["numberReturned"] == 1


async def test_nearest_is_ranked_on_the_spheroid_not_in_degrees(client):
    """Near the equator a degree of longitude is longer than a degree of latitude, so the point
    that is nearer in degrees can be farther in metres."""
    here = ORIGIN
    north = (here[0], here[1] + 0.0100)  # 0.0100 degrees away, about 1106 m
    east = (here[0] + 0.00995, here[1])  # 0.00995 degrees away, about 1107 m
    assert distance_m(here, north) < distance_m(here, east)
    await add_facility(client, "north-port", "port", north)
    await add_facility(client, "east-port", "port", east)
    body = (
        await client.get("/facilities/nearest", params={"lon": here[0], "lat": here[1], "limit": 1})
    ).json()
    assert [f["id"] for f in body["features"]] == ["north-port"]


@pytest.mark.parametrize("query", ["kinds=harbour", "kinds=", "kinds=port,,spaceport"])
async def test_unknown_kind_is_422(client, query):
    parcel_id = await add_parcel(client, rectangle(*ORIGIN, 100, 100))
    response = await client.get(f"/parcels/{parcel_id}/distances?{query}")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "port" in response.json()["detail"]


async def test_distances_of_unknown_parcel_is_404(client):
    response = await client.get("/parcels/999999/distances")
    assert response.status_code == 404 and response.json()["status"] == 404


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 200, "lat": 0},
        {"lon": 116, "lat": -91},
        {"lat": 1},
        {"lon": "x", "lat": 1},
        {"lon": 116, "lat": -1, "limit": 0},
        {"lon": 116, "lat": -1, "kind": "harbour"},
    ],
)
async def test_nearest_bad_parameters_are_422(client, params):
    response = await client.get("/facilities/nearest", params=params)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
