"""Zones: CRUD, geodesic area, and the parcels that lie in (or touch) a zone."""

from shapely.geometry import shape

from tests.conftest import AUTH
from tests.geo import GEOD, ORIGIN, admin_unit, area_ha, close, move, parcel, rectangle, zone


async def test_create_and_read_zone(client, admin_areas):
    ring = rectangle(*ORIGIN, 1500, 1000)
    response = await client.post(
        "/zones",
        json=zone(
            ring,
            "new-estate",
            sectors=["logistics"],
            attributes={"approximate": True},
        ),
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/zones/new-estate"
    body = response.json()
    assert body["id"] == "new-estate" and body["geometry"]["type"] == "MultiPolygon"
    props = body["properties"]
    assert props["sectors"] == ["logistics"]
    # Where it lies: the district holding its point on surface (GEOS's, through shapely, on the
    # seed's own file); this zone straddles Penajam and Sepaku.
    district = admin_unit("district", shape(body["geometry"]).representative_point())
    assert (props["district_code"], props["district"]) == (district["kode"], district["nama"])
    assert (props["regency_code"], props["regency"]) == (district["kode_kab"], district["nama_kab"])
    assert close(props["area_ha"], area_ha({"type": "Polygon", "coordinates": [ring]}))
    assert (await client.get("/zones/new-estate")).json() == body

    listing = (await client.get("/zones")).json()
    assert [f["id"] for f in listing["features"]] == ["new-estate"] and listing["numberMatched"] == 1


async def test_patch_and_delete_zone(client):
    await client.post("/zones", json=zone(rectangle(*ORIGIN, 500, 500), "z-1"), headers=AUTH)
    patched = await client.patch(
        "/zones/z-1", json={"properties": {"status": "operating", "code": "z-2"}}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["id"] == "z-2" and patched.json()["properties"]["status"] == "operating"
    assert (await client.get("/zones/z-1")).status_code == 404
    assert (await client.delete("/zones/z-2", headers=AUTH)).status_code == 204
    assert (await client.get("/zones/z-2")).status_code == 404


async def test_zone_area_matches_geographiclib_for_seeded_zones(client, seeded):
    body = (await client.get("/zones")).json()
    assert {f["id"] for f in body["features"]} == {"kik-kariangau", "kek-mbtk", "kib-buluminung"}
    for feature in body["features"]:
        geom = shape(feature["geometry"])
        expected = abs(GEOD.geometry_area_perimeter(geom)[0]) / 10_000
        assert close(feature["properties"]["area_ha"], expected), feature["id"]


async def _zone_with_parcels(client):
    """A 1 km square zone; one parcel well inside, one straddling its east edge, one outside."""
    await client.post("/zones", json=zone(rectangle(*ORIGIN, 1000, 1000), "square"), headers=AUTH)
    inside = rectangle(*move(*ORIGIN, 45, 300), 100, 100)
    east_edge = move(*ORIGIN, 90, 1000)
    straddle = rectangle(*move(*move(*east_edge, 0, 400), 270, 60), 200, 100)  # 60 m of 200 m inside
    outside = rectangle(*move(*ORIGIN, 90, 2000), 100, 100)
    ids = {}
    for name, ring in (("inside", inside), ("straddle", straddle), ("outside", outside)):
        response = await client.post("/parcels", json=parcel(ring, name.upper()), headers=AUTH)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids, {"inside": inside, "straddle": straddle}


async def test_parcels_within_zone(client):
    ids, _ = await _zone_with_parcels(client)
    body = (await client.get("/zones/square/parcels")).json()
    assert [f["id"] for f in body["features"]] == [ids["inside"]]
    assert "share_in_zone" not in body["features"][0]["properties"]
    same = (await client.get("/zones/square/parcels?relation=within")).json()
    assert same["features"] == body["features"]


async def test_parcels_intersecting_zone_carry_their_share(client):
    ids, rings = await _zone_with_parcels(client)
    body = (await client.get("/zones/square/parcels?relation=intersects")).json()
    shares = {f["id"]: f["properties"]["share_in_zone"] for f in body["features"]}
    assert set(shares) == {ids["inside"], ids["straddle"]}
    assert shares[ids["inside"]] == 1.0
    # Independent answer: shapely clips the parcel to the zone, GeographicLib measures both.
    zone_shape = shape({"type": "Polygon", "coordinates": [rectangle(*ORIGIN, 1000, 1000)]})
    straddle = shape({"type": "Polygon", "coordinates": [rings["straddle"]]})
    expected = area_ha(straddle.intersection(zone_shape)) / area_ha(straddle)
    assert abs(shares[ids["straddle"]] - expected) < 1e-3
    assert abs(expected - 0.3) < 0.01  # the layout itself: 60 m of a 200 m wide parcel


async def test_parcels_in_zone_take_the_parcel_filters(client):
    ids, _ = await _zone_with_parcels(client)
    await client.patch(
        f"/parcels/{ids['inside']}", json={"properties": {"land_status": "occupied"}}, headers=AUTH
    )
    body = (await client.get("/zones/square/parcels?relation=intersects&land_status=available")).json()
    assert [f["id"] for f in body["features"]] == [ids["straddle"]]
    assert (await client.get("/zones/square/parcels?limit=1&relation=intersects")).json()[
        "numberMatched"
    ] == 2


async def test_parcels_in_unknown_zone_is_404(client):
    response = await client.get("/zones/atlantis/parcels")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/not-found" and "atlantis" in response.json()["detail"]
