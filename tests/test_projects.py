"""Investment projects (IPRO): parcels must lie in the zone; geometry is their union."""

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union

from tests.conftest import AUTH, scalar
from tests.geo import ORIGIN, area_ha, move, parcel, rectangle, zone


async def setup(client):
    """Zone 'estate' (1 km square) with parcels A and B inside (touching) and C outside."""
    assert (
        await client.post("/zones", json=zone(rectangle(*ORIGIN, 1000, 1000), "estate"), headers=AUTH)
    ).status_code == 201
    a = rectangle(*move(*ORIGIN, 45, 200), 200, 100)
    b = [a[1], move(*a[1], 90, 150), move(*a[2], 90, 150), a[2], a[1]]
    c = rectangle(*move(*ORIGIN, 90, 3000), 100, 100)
    ids, rings = {}, {"A": a, "B": [list(p) for p in b], "C": c}
    for name, ring in rings.items():
        response = await client.post("/parcels", json=parcel(ring, f"PRJ-{name}"), headers=AUTH)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return ids, rings


def project(**fields):
    return {
        "name": "Cold storage",
        "sector": "logistics",
        "investment_value_usd": 12_500_000,
        "zone": "estate",
        **fields,
    }


async def test_create_project_with_derived_geometry(client):
    ids, rings = await setup(client)
    response = await client.post("/projects", json=project(parcel_ids=[ids["B"], ids["A"]]), headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/projects/{body['id']}"
    assert body["zone"] == "estate" and body["parcel_ids"] == sorted([ids["A"], ids["B"]])
    assert body["status"] == "offered" and body["investment_value_usd"] == 12_500_000
    union = unary_union([shape({"type": "Polygon", "coordinates": [rings[k]]}) for k in ("A", "B")])
    # the same shape, but for output rounded to 8 decimals (~1 mm) along the outline: under 2 m²
    assert shape(body["geometry"]).symmetric_difference(union).area * 111_000**2 < 2
    assert abs(body["area_ha"] - area_ha(union)) <= 1e-3 * area_ha(union)
    assert (await client.get(f"/projects/{body['id']}")).json() == body


async def test_project_geometry_is_derived_not_typed(client):
    ids, _ = await setup(client)
    typed = project(
        parcel_ids=[ids["A"]], geometry={"type": "Point", "coordinates": [0, 0]}, area_ha=99, id=5
    )
    body = (await client.post("/projects", json=typed, headers=AUTH)).json()
    assert body["geometry"]["type"] == "MultiPolygon" and body["area_ha"] < 10 and body["id"] != 5


@pytest.mark.parametrize(
    "fields,status,needle",
    [
        ({"parcel_ids": ["C"]}, 422, "does not lie in zone"),
        ({"parcel_ids": [987654]}, 422, "987654"),
        ({"zone": "nowhere"}, 422, "nowhere"),
        ({"parcel_ids": ["A", "A"]}, 422, "distinct"),
        ({"status": "sold"}, 422, "status"),
        ({"investment_value_usd": -1}, 422, "investment_value_usd"),
        ({"name": ""}, 422, "name"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
async def test_bad_projects_are_refused(client, session, fields, status, needle):
    ids, _ = await setup(client)
    if "parcel_ids" in fields:
        fields = {
            **fields,
            "parcel_ids": [ids.get(i, i) if isinstance(i, str) else i for i in fields["parcel_ids"]],
        }
    response = await client.post("/projects", json=project(**fields), headers=AUTH)
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
    assert needle in response.text
    if needle == "does not lie in zone":
        assert response.json()["parcels_outside_zone"] == [ids["C"]]
    assert await scalar(session, "SELECT count(*) FROM project") == 0


async def test_patch_project(client):
    ids, _ = await setup(client)
    created = (await client.post("/projects", json=project(parcel_ids=[ids["A"]]), headers=AUTH)).json()
    path = f"/projects/{created['id']}"
    renamed = await client.patch(path, json={"name": "Cold chain hub", "status": "negotiating"}, headers=AUTH)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Cold chain hub"
    assert renamed.json()["parcel_ids"] == [ids["A"]]
    moved = await client.patch(path, json={"parcel_ids": [ids["B"]]}, headers=AUTH)
    assert moved.json()["parcel_ids"] == [ids["B"]]
    refused = await client.patch(path, json={"parcel_ids": [ids["C"]]}, headers=AUTH)
    assert refused.status_code == 422
    assert (await client.get(path)).json()["parcel_ids"] == [ids["B"]]
    assert (await client.patch(path, json={"zone": None}, headers=AUTH)).status_code == 422
    emptied = await client.patch(path, json={"parcel_ids": []}, headers=AUTH)
    assert emptied.json()["geometry"] is None and emptied.json()["area_ha"] is None


async def test_parcels_and_zones_in_use_cannot_be_deleted(client, session):
    ids, _ = await setup(client)
    created = (await client.post("/projects", json=project(parcel_ids=[ids["A"]]), headers=AUTH)).json()
    response = await client.delete(f"/parcels/{ids['A']}", headers=AUTH)
    assert response.status_code == 409 and response.json()["type"] == "/problems/in-use"
    assert "project" in response.json()["detail"]
    assert (await client.delete("/zones/estate", headers=AUTH)).status_code == 409
    assert await scalar(session, "SELECT count(*) FROM parcel WHERE id = :id", id=ids["A"]) == 1
    assert (await client.delete(f"/projects/{created['id']}", headers=AUTH)).status_code == 204
    assert (await client.get(f"/projects/{created['id']}")).status_code == 404
    assert (await client.delete(f"/parcels/{ids['A']}", headers=AUTH)).status_code == 204


async def test_projects_by_zone_and_status(client):
    ids, _ = await setup(client)
    await client.post("/projects", json=project(parcel_ids=[ids["A"]]), headers=AUTH)
    await client.post("/projects", json=project(name="Smelter", status="committed"), headers=AUTH)
    in_zone = (await client.get("/zones/estate/projects")).json()
    assert [p["name"] for p in in_zone["projects"]] == ["Cold storage", "Smelter"] and in_zone[
        "numberMatched"
    ] == 2
    committed = (await client.get("/projects?status=committed")).json()
    assert [p["name"] for p in committed["projects"]] == ["Smelter"]
    assert (await client.get("/zones/atlantis/projects")).status_code == 404
    assert (await client.get("/projects?status=sold")).status_code == 422
    assert (await client.get("/projects/999999")).status_code == 404


async def test_seeded_projects_are_illustrative(client, seeded):
    body = (await client.get("/projects")).json()
    assert body["numberMatched"] >= 6
    assert {p["zone"] for p in body["projects"]} == {"kek-mbtk", "kik-kariangau", "kib-buluminung"}
    assert all(p["attributes"]["illustrative"] is True for p in body["projects"])
