"""Site search, checked against independent answers (pyproj on the same shapes)."""

import pytest
from sqlalchemy import text

from app.queries.search import within_distance
from tests.conftest import AUTH
from tests.geo import ORIGIN, area_ha, distance_m, distance_to_polygon_m, move, parcel, rectangle
from tests.test_distances import add_facility
from tests.test_generate import load


@pytest.mark.parametrize("metres", [150.0, 1234.5, 5000.0, 30_000.0])
async def test_within_distance_agrees_with_st_dwithin_on_geography(session, seeded, metres):
    """The degree-bound shortcuts never change an answer, including near the radius."""
    await load(session, 6000)
    shortcut = within_distance("p.geom", "f.geom", "CAST(:d AS float8)")
    ours = (
        f"SELECT array_agg(p.id ORDER BY p.id) FROM facility f JOIN parcel p ON {shortcut} "
        "WHERE f.kind = 'port'"
    )
    plain = (
        "SELECT array_agg(p.id ORDER BY p.id) FROM facility f JOIN parcel p "
        "ON ST_DWithin(p.geom::geography, f.geom::geography, :d, true) WHERE f.kind = 'port'"
    )
    got = await session.scalar(text(ours), {"d": metres})
    expected = await session.scalar(text(plain), {"d": metres})
    assert got == expected and (expected or metres < 1000)


async def scene(client):
    """A port at the origin, IKN 20 km north; six parcels east of the port at 1-11 km, 1-6 ha."""
    port = ORIGIN
    await add_facility(client, "port-a", "port", port)
    await add_facility(client, "ikn", "capital", move(*port, 0, 20_000))
    rings, ids = {}, {}
    for i in range(6):
        sw = move(*move(*port, 90, 1000 + 2000 * i), 180, 50)
        ring = rectangle(*sw, 100 * (i + 1), 100)
        status = "available" if i != 2 else "occupied"
        response = await client.post(
            "/parcels",
            json=parcel(ring, f"S-{i}", status, sector="food" if i % 2 else "logistics"),
            headers=AUTH,
        )
        assert response.status_code == 201, response.text
        ids[i] = response.json()["id"]
        rings[i] = ring
    return port, ids, rings


async def test_distance_criteria_match_an_independent_answer(client):
    port, ids, rings = await scene(client)
    ikn = move(*port, 0, 20_000)
    for limit_m in (2500, 5000, 9500):
        body = (await client.get(f"/parcels/search?max_distance_to_port_m={limit_m}&sort=area_ha")).json()
        expected = [
            ids[i] for i in range(6) if i != 2 and distance_to_polygon_m(port, rings[i], 200) <= limit_m
        ]
        assert [f["id"] for f in body["features"]] == expected and body["numberMatched"] == len(expected)
        for f in body["features"]:
            i = next(k for k, v in ids.items() if v == f["id"])
            assert abs(f["properties"]["distance_to_port_m"] - distance_to_polygon_m(port, rings[i], 200)) < 1
            assert (
                abs(f["properties"]["distance_to_capital_m"] - distance_to_polygon_m(ikn, rings[i], 200)) < 2
            )


async def test_two_distance_criteria_and_sorting(client):
    port, ids, rings = await scene(client)
    ikn = move(*port, 0, 20_000)
    to_ikn = {i: distance_to_polygon_m(ikn, rings[i], 200) for i in range(6)}
    limit_ikn = sorted(to_ikn.values())[3] + 1
    body = (
        await client.get(
            f"/parcels/search?max_distance_to_port_m=8000&max_distance_to_capital_m={limit_ikn}&sort=-area_ha"
        )
    ).json()
    expected = [
        i
        for i in range(6)
        if i != 2 and distance_to_polygon_m(port, rings[i], 200) <= 8000 and to_ikn[i] <= limit_ikn
    ]
    expected.sort(key=lambda i: -area_ha({"type": "Polygon", "coordinates": [rings[i]]}))
    assert [f["id"] for f in body["features"]] == [ids[i] for i in expected] and len(expected) >= 2
    by_port = (await client.get("/parcels/search?sort=distance_to_port")).json()
    distances = [f["properties"]["distance_to_port_m"] for f in by_port["features"]]
    assert distances == sorted(distances) and len(distances) == 5


async def test_area_sector_status_and_near(client):
    port, ids, rings = await scene(client)
    sizes = {i: area_ha({"type": "Polygon", "coordinates": [rings[i]]}) for i in range(6)}
    body = (await client.get("/parcels/search?min_area_ha=2.5&max_area_ha=5.5&sort=area_ha")).json()
    assert [f["id"] for f in body["features"]] == [
        ids[i] for i in range(6) if i != 2 and 2.5 <= sizes[i] <= 5.5
    ]
    food = (await client.get("/parcels/search?sector=FOOD")).json()
    assert {f["id"] for f in food["features"]} == {ids[1], ids[3], ids[5]}
    occupied = (await client.get("/parcels/search?land_status=occupied")).json()
    assert [f["id"] for f in occupied["features"]] == [ids[2]]
    spot = move(*port, 90, 5000)
    near = (await client.get(f"/parcels/search?near={spot[0]},{spot[1]}&within_m=2500")).json()
    expected = {ids[i] for i in range(6) if i != 2 and distance_to_polygon_m(spot, rings[i], 200) <= 2500}
    assert {f["id"] for f in near["features"]} == expected and expected
    for f in near["features"]:
        i = next(k for k, v in ids.items() if v == f["id"])
        assert abs(f["properties"]["distance_to_point_m"] - distance_to_polygon_m(spot, rings[i], 200)) < 1


async def test_zone_criterion(client):
    port, ids, rings = await scene(client)
    zone_ring = rectangle(*move(*port, 180, 500), 6000, 1000)  # covers the parcels up to 6 km east
    zone = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [zone_ring]},
        "properties": {"code": "east", "name": "East", "kind": "industrial_estate", "status": "planned"},
    }
    assert (await client.post("/zones", json=zone, headers=AUTH)).status_code == 201
    body = (await client.get("/parcels/search?zone=east&max_distance_to_port_m=20000&sort=area_ha")).json()
    assert [f["id"] for f in body["features"]] == [ids[0], ids[1]]
    assert distance_m(port, tuple(rings[1][1])) < 6000


@pytest.mark.parametrize(
    "query,reason",
    [
        ("near=116.7,-1.1", "go together"),
        ("within_m=100", "go together"),
        ("near=116.7&within_m=100", "lon,lat"),
        ("near=200,0&within_m=100", "±180"),
        ("min_area_ha=5&max_area_ha=1", "larger"),
        ("zone=atlantis", "atlantis"),
        ("sort=price", "sort"),
        ("max_distance_to_port_m=-5", "max_distance_to_port_m"),
        ("land_status=sold", "land_status"),
    ],
)
async def test_bad_search_parameters_are_422(client, query, reason):
    response = await client.get(f"/parcels/search?{query}")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
