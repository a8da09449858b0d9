"""Zone summary, connectivity and land conflicts, against shapely + pyproj on the same shapes."""

import pytest
from shapely.geometry import Polygon

from tests.conftest import AUTH
from tests.geo import (
    GEOD,
    ORIGIN,
    area_ha,
    close,
    distance_m,
    distance_to_polygon_m,
    move,
    parcel,
    rectangle,
    zone,
)
from tests.test_distances import add_facility


def poly(ring):
    return Polygon(ring)


async def add(client, ring, code, status="available", **params):
    response = await client.post("/parcels", json=parcel(ring, code, status), headers=AUTH, params=params)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def estate(client):
    """A 1 km zone: two parcels inside, one straddling its east edge, one outside; a port 3 km
    west of it, IKN 12 km north."""
    zone_ring = rectangle(*ORIGIN, 1000, 1000)
    assert (await client.post("/zones", json=zone(zone_ring, "estate"), headers=AUTH)).status_code == 201
    rings = {
        "inside-a": rectangle(*move(*ORIGIN, 45, 300), 200, 100),
        "inside-b": rectangle(*move(*ORIGIN, 45, 800), 100, 150),
        "straddle": rectangle(*move(*move(*ORIGIN, 90, 900), 0, 400), 250, 100),
        "outside": rectangle(*move(*ORIGIN, 90, 2500), 100, 100),
    }
    ids = {
        "inside-a": await add(client, rings["inside-a"], "A", "available"),
        "inside-b": await add(client, rings["inside-b"], "B", "occupied"),
        "straddle": await add(client, rings["straddle"], "C", "available"),
        "outside": await add(client, rings["outside"], "D", "available"),
    }
    port = move(*move(*ORIGIN, 0, 500), 270, 3000)
    await add_facility(client, "west-port", "port", port)
    await add_facility(client, "ikn", "capital", move(*ORIGIN, 0, 12_000))
    return zone_ring, rings, ids, port


async def test_zone_summary(client):
    zone_ring, rings, ids, port = await estate(client)
    project = {"name": "Mill", "sector": "food", "zone": "estate", "parcel_ids": [ids["inside-a"]]}
    assert (await client.post("/projects", json=project, headers=AUTH)).status_code == 201
    body = (await client.get("/zones/estate/summary")).json()
    z = poly(zone_ring)
    a, b = area_ha(poly(rings["inside-a"])), area_ha(poly(rings["inside-b"]))
    straddle_inside = area_ha(poly(rings["straddle"]).intersection(z))
    assert body["zone"] == "estate" and close(body["area_ha"], area_ha(z))
    tally = body["parcels"]
    assert tally["count"] == 2 and close(tally["area_ha"], a + b)
    assert tally["by_land_status"]["available"] == {"count": 1, "area_ha": pytest.approx(a, rel=1e-3)}
    assert tally["by_land_status"]["occupied"]["count"] == 1
    assert tally["by_land_status"]["reserved"] == {"count": 0, "area_ha": 0}
    assert body["straddling"]["count"] == 1
    assert close(body["straddling"]["area_inside_ha"], straddle_inside)
    assert close(body["parcelled_area_ha"], a + b + straddle_inside)
    assert close(body["parcelled_share"], (a + b + straddle_inside) / area_ha(z))
    assert close(body["available_area_ha"], a)
    assert body["nearest"]["port"]["code"] == "west-port"
    assert close(body["nearest"]["port"]["distance_m"], distance_to_polygon_m(port, zone_ring))
    ikn = move(*ORIGIN, 0, 12_000)
    assert close(body["nearest"]["capital"]["distance_m"], distance_to_polygon_m(ikn, zone_ring))
    assert [p["name"] for p in body["projects"]] == ["Mill"]
    assert (await client.get("/zones/nowhere/summary")).status_code == 404


async def test_connectivity(client):
    a_ring = rectangle(*ORIGIN, 1000, 1000)
    b_ring = rectangle(*move(*ORIGIN, 90, 6000), 1000, 1000)  # 5 km east of A's east edge
    for ring, code in ((a_ring, "zone-a"), (b_ring, "zone-b")):
        assert (await client.post("/zones", json=zone(ring, code), headers=AUTH)).status_code == 201
    port, airport = move(*ORIGIN, 180, 2000), move(*ORIGIN, 90, 20_000)
    await add_facility(client, "south-port", "port", port)
    await add_facility(client, "east-airport", "airport", airport)
    body = (await client.get("/zones/connectivity")).json()
    (pair,) = body["pairs"]
    assert (pair["from"], pair["to"]) == ("zone-a", "zone-b")
    # edge to edge: the nearest points lie on A's east edge and B's west edge
    a_east = [a_ring[1], *GEOD.npts(*a_ring[1], *a_ring[2], 400), a_ring[2]]
    expected = min(distance_to_polygon_m(tuple(p), b_ring, steps=50) for p in a_east[::10])
    assert close(pair["distance_m"], expected) and abs(expected - 5000) < 5
    zones = {z["code"]: z["nearest"] for z in body["zones"]}
    assert zones["zone-a"]["port"]["code"] == "south-port"
    assert close(zones["zone-a"]["port"]["distance_m"], distance_to_polygon_m(port, a_ring))
    assert close(zones["zone-b"]["airport"]["distance_m"], distance_to_polygon_m(airport, b_ring))
    assert zones["zone-a"]["capital"] is None


async def test_conflicts(client):
    zone_ring, rings, ids, _ = await estate(client)
    shifted = rectangle(*move(*move(*ORIGIN, 45, 300), 90, 120), 200, 100)  # overlaps inside-a by 80 m
    overlapping = await add(client, shifted, "A2", allow_overlap="true")
    body = (await client.get("/parcels/conflicts")).json()
    kinds = [f["properties"]["conflict"] for f in body["features"]]
    assert kinds == ["overlap", "straddle"] and body["numberMatched"] == 2
    overlap, straddle = body["features"]
    assert overlap["properties"]["parcel_ids"] == [ids["inside-a"], overlapping]
    shared = poly(rings["inside-a"]).intersection(poly(shifted))
    assert close(overlap["properties"]["overlap_m2"], area_ha(shared) * 10_000, abs_m=0.5)
    assert abs(overlap["properties"]["overlap_m2"] - 8000) < 20
    assert (
        straddle["id"] == f"straddle-{ids['straddle']}-estate" and straddle["properties"]["zone"] == "estate"
    )
    share = area_ha(poly(rings["straddle"]).intersection(poly(zone_ring))) / area_ha(poly(rings["straddle"]))
    assert abs(straddle["properties"]["share_in_zone"] - share) < 1e-3 and abs(share - 0.4) < 0.01

    only = (await client.get("/parcels/conflicts?type=straddle")).json()
    assert [f["properties"]["conflict"] for f in only["features"]] == ["straddle"]
    far = move(*ORIGIN, 90, 50_000)
    empty = (
        await client.get(f"/parcels/conflicts?bbox={far[0]},{far[1]},{far[0] + 0.01},{far[1] + 0.01}")
    ).json()
    assert empty["features"] == [] and empty["numberMatched"] == 0
    assert (await client.get("/parcels/conflicts?zone=estate")).json()["numberMatched"] == 2


@pytest.mark.parametrize("query", ["type=gap", "zone=nowhere", "bbox=1,2,3", "limit=0"])
async def test_bad_conflict_parameters_are_422(client, query):
    response = await client.get(f"/parcels/conflicts?{query}")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


async def test_distance_helpers_agree(client):
    """A sanity check on the independent helper itself: a point 1 km due east of a vertex."""
    ring = rectangle(*ORIGIN, 100, 100)
    east = move(*ring[1], 90, 1000)
    assert abs(distance_to_polygon_m(east, ring) - distance_m(east, tuple(ring[1]))) < 0.5
