"""Parcels: create/read/update/delete, derived properties, filters, paging and the overlap rule."""

from urllib.parse import parse_qs, urlparse

from tests.conftest import AUTH, scalar
from tests.geo import ORIGIN, area_ha, close, move, parcel, rectangle, zone


async def post(client, feature, **params):
    return await client.post("/parcels", json=feature, headers=AUTH, params=params)


async def test_create_returns_feature_with_geodesic_area(client):
    ring = rectangle(*ORIGIN, 300, 200)
    response = await post(
        client,
        parcel(
            ring,
            "HGB-001",
            holder="PT Contoh",
            sector="logistics",
            price_idr_per_m2=950000,
            attributes={"nib": "123"},
        ),
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert response.headers["location"] == f"/parcels/{body['id']}"
    assert body["type"] == "Feature" and isinstance(body["id"], int)
    assert body["geometry"]["type"] == "MultiPolygon"
    props = body["properties"]
    assert props["code"] == "HGB-001" and props["holder"] == "PT Contoh" and props["sector"] == "logistics"
    assert props["price_idr_per_m2"] == 950000 and props["attributes"] == {"nib": "123"}
    assert props["land_rights"] == "unknown" and props["zones"] == []
    # 300 m x 200 m = 6 ha, checked against GeographicLib on the same ring
    assert close(props["area_ha"], area_ha({"type": "Polygon", "coordinates": [ring]}))
    assert abs(props["area_ha"] - 6.0) < 0.01

    again = await client.get(f"/parcels/{body['id']}", headers=AUTH)  # holder: keyed readers only
    assert again.status_code == 200 and again.json() == body


async def test_multipolygon_area_is_the_sum_of_its_parts(client):
    a = rectangle(*ORIGIN, 100, 100)
    b = rectangle(*move(*ORIGIN, 90, 500), 50, 400)
    feature = {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": [[a], [b]]},
        "properties": {"code": "MULTI-1", "land_status": "reserved"},
    }
    response = await post(client, feature)
    assert response.status_code == 201, response.text
    expected = area_ha({"type": "Polygon", "coordinates": [a]}) + area_ha(
        {"type": "Polygon", "coordinates": [b]}
    )
    assert close(response.json()["properties"]["area_ha"], expected)


async def test_read_only_properties_are_ignored(client):
    feature = parcel(rectangle(*ORIGIN, 100, 100), "RO-1", area_ha=999, zones=["nowhere"], id=77)
    feature["id"] = 12345
    response = await post(client, feature)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] != 12345
    assert body["properties"]["zones"] == [] and abs(body["properties"]["area_ha"] - 1.0) < 0.01


async def test_zones_property_is_computed_spatially(client):
    zone_ring = rectangle(*ORIGIN, 2000, 2000)
    assert (await client.post("/zones", json=zone(zone_ring, "test-estate"), headers=AUTH)).status_code == 201
    inside = (await post(client, parcel(rectangle(*move(*ORIGIN, 45, 500), 100, 100), "IN-1"))).json()
    outside = (await post(client, parcel(rectangle(*move(*ORIGIN, 270, 500), 100, 100), "OUT-1"))).json()
    assert inside["properties"]["zones"] == ["test-estate"]
    assert outside["properties"]["zones"] == []

    # Moving the zone away moves the parcel out of it: no stored link can drift.
    far = rectangle(*move(*ORIGIN, 180, 10_000), 2000, 2000)
    response = await client.patch(
        "/zones/test-estate", json={"geometry": {"type": "Polygon", "coordinates": [far]}}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/parcels/{inside['id']}")).json()["properties"]["zones"] == []


async def test_patch_changes_only_what_is_sent(client):
    created = (
        await post(client, parcel(rectangle(*ORIGIN, 100, 100), "P-1", holder="A", sector="food"))
    ).json()
    response = await client.patch(
        f"/parcels/{created['id']}",
        headers=AUTH,
        json={"properties": {"land_status": "reserved", "holder": None}},
    )
    assert response.status_code == 200, response.text
    props = response.json()["properties"]
    assert props["land_status"] == "reserved" and props["holder"] is None and props["sector"] == "food"
    assert props["updated_at"] >= created["properties"]["updated_at"]
    assert response.json()["geometry"] == created["geometry"]


async def test_patch_geometry_recomputes_area(client):
    created = (await post(client, parcel(rectangle(*ORIGIN, 100, 100), "P-2"))).json()
    bigger = rectangle(*ORIGIN, 200, 100)
    response = await client.patch(
        f"/parcels/{created['id']}",
        headers=AUTH,
        json={"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [bigger]}},
    )
    assert response.status_code == 200, response.text
    assert close(
        response.json()["properties"]["area_ha"], area_ha({"type": "Polygon", "coordinates": [bigger]})
    )


async def test_delete(client, session):
    created = (await post(client, parcel(rectangle(*ORIGIN, 100, 100), "DEL-1"))).json()
    assert (await client.delete(f"/parcels/{created['id']}", headers=AUTH)).status_code == 204
    assert (await client.get(f"/parcels/{created['id']}")).status_code == 404
    assert await scalar(session, "SELECT count(*) FROM parcel WHERE code = 'DEL-1'") == 0


async def test_overlap_is_refused_with_the_ids(client, session):
    first = (await post(client, parcel(rectangle(*ORIGIN, 200, 200), "A-1"))).json()
    second = (await post(client, parcel(rectangle(*move(*ORIGIN, 90, 300), 200, 200), "A-2"))).json()
    straddling = parcel(rectangle(*move(*ORIGIN, 90, 100), 300, 100), "A-3")
    response = await post(client, straddling)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/parcel-overlap" and body["status"] == 409
    assert body["overlapping_parcel_ids"] == sorted([first["id"], second["id"]])
    assert await scalar(session, "SELECT count(*) FROM parcel WHERE code = 'A-3'") == 0

    allowed = await post(client, straddling, allow_overlap="true")
    assert allowed.status_code == 201


async def test_parcels_sharing_an_edge_do_not_overlap(client):
    west = rectangle(*ORIGIN, 100, 100)
    east = [west[1], move(*west[1], 90, 100), move(*west[2], 90, 100), west[2], west[1]]
    assert (await post(client, parcel(west, "W-1"))).status_code == 201
    assert (await post(client, parcel([list(p) for p in east], "E-1"))).status_code == 201


async def test_moving_a_parcel_onto_another_is_refused(client, session):
    a = (await post(client, parcel(rectangle(*ORIGIN, 100, 100), "M-1"))).json()
    b = (await post(client, parcel(rectangle(*move(*ORIGIN, 0, 500), 100, 100), "M-2"))).json()
    onto_a = {"geometry": {"type": "Polygon", "coordinates": [rectangle(*move(*ORIGIN, 0, 50), 100, 100)]}}
    response = await client.patch(f"/parcels/{b['id']}", json=onto_a, headers=AUTH)
    assert response.status_code == 409 and response.json()["overlapping_parcel_ids"] == [a["id"]]
    assert (await client.get(f"/parcels/{b['id']}")).json()["geometry"] == b["geometry"]
    # A parcel never overlaps itself when it is reshaped in place.
    grown = {"geometry": {"type": "Polygon", "coordinates": [rectangle(*move(*ORIGIN, 0, 500), 150, 100)]}}
    assert (await client.patch(f"/parcels/{b['id']}", json=grown, headers=AUTH)).status_code == 200


async def _grid(client, n: int, prefix: str = "G") -> list[int]:
    ids = []
    for i in range(n):
        sw = move(*ORIGIN, 90, 150 * i)
        ids.append(
            (
                await post(
                    client,
                    parcel(rectangle(*sw, 100, 100), f"{prefix}-{i}", "available" if i % 2 else "occupied"),
                )
            ).json()["id"]
        )
    return ids


async def test_paging_walks_every_parcel_once(client):
    ids = await _grid(client, 7)
    seen, url, pages = [], "/parcels?limit=3", 0
    while url:
        body = (await client.get(url)).json()
        pages += 1
        assert body["type"] == "FeatureCollection" and body["numberMatched"] == 7
        assert body["numberReturned"] == len(body["features"]) <= 3
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert seen == sorted(ids) and pages == 3
    last = (await client.get("/parcels?limit=3&offset=6")).json()
    prev = [link["href"] for link in last["links"] if link["rel"] == "prev"]
    assert parse_qs(urlparse(prev[0]).query)["offset"] == ["3"]


async def test_filter_by_land_status_and_bbox(client):
    ids = await _grid(client, 6)
    available = (await client.get("/parcels?land_status=available")).json()
    assert [f["id"] for f in available["features"]] == ids[1::2]
    both = (await client.get("/parcels?land_status=available,occupied")).json()
    assert both["numberMatched"] == 6
    # A box from 310 m to 460 m east: the 3rd cell (300-400 m) and 4th (450-550 m) only.
    lo = move(*move(*ORIGIN, 90, 310), 0, 10)
    hi = move(*move(*ORIGIN, 90, 460), 0, 90)
    boxed = (await client.get(f"/parcels?bbox={lo[0]},{lo[1]},{hi[0]},{hi[1]}")).json()
    assert [f["id"] for f in boxed["features"]] == ids[2:4]


async def test_filter_by_zone(client):
    zone_ring = rectangle(*ORIGIN, 400, 400)
    await client.post("/zones", json=zone(zone_ring, "zone-f"), headers=AUTH)
    inside = (await post(client, parcel(rectangle(*move(*ORIGIN, 45, 100), 50, 50), "ZF-1"))).json()
    await post(client, parcel(rectangle(*move(*ORIGIN, 90, 1000), 50, 50), "ZF-2"))
    body = (await client.get("/parcels?zone=zone-f")).json()
    assert [f["id"] for f in body["features"]] == [inside["id"]]
    unknown = await client.get("/parcels?zone=no-such-zone")
    assert unknown.status_code == 422 and "no-such-zone" in unknown.json()["detail"]
