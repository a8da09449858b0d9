"""Administrative areas: the seed's Kemendagri units as collections, the lookup of a point, and the
regency and district every parcel and zone reports, checked with shapely on the seed's own files."""

import json

import pytest
from shapely.geometry import Point, shape

from tests.conftest import AUTH
from tests.geo import admin_unit, admin_units, move, parcel, rectangle
from tests.test_bad_input import assert_problem

IKN_ZERO_POINT = (116.70883677, -0.97302475)  # Titik Nol Nusantara (reference_points.json)


@pytest.mark.parametrize(
    "level, path, count",
    [("regency", "regencies", 10), ("district", "districts", 105), ("village", "villages", 13)],
)
async def test_each_level_is_a_collection_natively_and_through_ogc(client, admin_areas, level, path, count):
    native = (await client.get(f"/admin/{path}", params={"limit": 200})).json()
    expected = {props["kode"]: props["nama"] for props, _ in admin_units(level)}
    assert native["numberMatched"] == count == len(expected)
    assert {f["id"]: f["properties"]["name"] for f in native["features"]} == expected
    ogc = (await client.get(f"/ogc/collections/{path}/items", params={"limit": 200})).json()
    assert {f["id"] for f in ogc["features"]} == set(expected)
    code, name = next(iter(expected.items()))
    one = (await client.get(f"/admin/{path}/{code}")).json()
    assert one["properties"]["name"] == name and one["geometry"]["type"] == "MultiPolygon"
    # a code of another level is not found at this one
    other = "64.71" if level != "regency" else "64.71.02"
    assert_problem(await client.get(f"/admin/{path}/{other}"), 404)


async def test_districts_name_their_regency_and_filter_by_it(client, admin_areas):
    body = (
        await client.get("/ogc/collections/districts/items", params={"regency_code": "64.71", "limit": 50})
    ).json()
    expected = {p["kode"] for p, _ in admin_units("district") if p["kode_kab"] == "64.71"}
    assert {f["id"] for f in body["features"]} == expected and len(expected) >= 5
    assert {f["properties"]["regency_code"] for f in body["features"]} == {"64.71"}


@pytest.mark.parametrize(
    "name, point",
    [
        ("IKN's zero point", IKN_ZERO_POINT),
        ("Kariangau", (116.80, -1.17)),
        ("Maloy", (117.98, 0.86)),
        ("inland Paser", (116.09, -1.74)),
    ],
)
async def test_lookup_answers_every_level_as_shapely_does(client, admin_areas, name, point):
    response = await client.get("/admin/lookup", params={"lon": point[0], "lat": point[1]})
    assert response.status_code == 200, response.text
    body = response.json()
    here = Point(point)
    for level in ("regency", "district", "village"):
        unit = admin_unit(level, here)
        expected = None if unit is None else {"code": unit["kode"], "name": unit["nama"]}
        assert body[level] == expected, (name, level)
    assert body["province"] == {"code": "64", "name": "Kalimantan Timur"}
    assert body["regency"] is not None


async def test_lookup_outside_kaltim_is_404_and_bad_points_are_422(client, admin_areas):
    for lon, lat in [(106.83, -6.18), (118.9, -1.5)]:  # Jakarta; Makassar Strait
        assert admin_unit("regency", Point(lon, lat)) is None
        assert_problem(await client.get("/admin/lookup", params={"lon": lon, "lat": lat}), 404)
    for params in [{"lon": 200, "lat": 0}, {"lon": "east", "lat": 0}, {"lat": 0}, {"lon": 116, "lat": -91}]:
        assert_problem(await client.get("/admin/lookup", params=params), 422)


async def test_a_parcel_reports_where_it_lies_and_sending_it_back_is_accepted(client, admin_areas):
    corner = move(*IKN_ZERO_POINT, 45, 500)
    response = await client.post("/parcels", json=parcel(rectangle(*corner, 120, 80), "ADM-1"), headers=AUTH)
    assert response.status_code == 201, response.text
    feature = response.json()
    props = feature["properties"]
    district = admin_unit("district", shape(feature["geometry"]).representative_point())
    assert (props["district_code"], props["district"]) == (district["kode"], district["nama"])
    assert (props["regency_code"], props["regency"]) == (district["kode_kab"], district["nama_kab"])
    assert props["id"] == feature["id"]
    # the computed properties are read-only: a feature read and sent back is accepted as it is
    again = {**feature, "properties": {**props, "code": "ADM-2"}}
    moved = move(*corner, 90, 400)
    again["geometry"] = {"type": "Polygon", "coordinates": [rectangle(*moved, 50, 50)]}
    response = await client.post("/parcels", json=json.loads(json.dumps(again)), headers=AUTH)
    assert response.status_code == 201, response.text
    tiles = (await client.get("/tiles/regencies.json")).json()
    assert tiles["vector_layers"][0]["id"] == "regencies" and tiles["minzoom"] == 0
