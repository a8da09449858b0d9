"""A read-only feature type is its declaration in the catalogue and its table, nothing else: the
native list and item routes, the OGC collection with its queryables, the vector tiles, the map's
layer list and both OpenAPI documents all come from the one declaration."""

import mapbox_vector_tile
import pytest
from shapely.geometry import Point, shape
from sqlalchemy import text

from app.queries import catalogue
from app.queries.catalogue import FeatureType, integer, number
from app.queries.catalogue import text as text_property
from tests.conftest import app_client

WELLS = FeatureType(
    id="wells",
    label="well",
    title="Groundwater wells",
    description="Test wells.",
    source="test_well t",
    table="test_well",
    key="id",
    key_is_int=True,
    properties_of=(
        integer("id", "Well id", tile=True),
        text_property("name", "Name", queryable=True, tile=True),
        number("depth_m", "Depth (m)", queryable=True, tile=True),
    ),
    geometry_type="Point",
    zooms=(0, 22),
)
ROWS = [(1, "Sumur Kariangau", 42.5, 116.80, -1.12), (2, "Sumur Maloy", 18.0, 117.80, 0.80)]


@pytest.fixture
async def wells(session, settings, monkeypatch):
    """The table a migration would make, filled, and the type declared: a client of a new app."""
    await session.execute(
        text(
            "CREATE TABLE test_well (id bigint PRIMARY KEY, name text, depth_m numeric, geom geometry(Point))"
        )
    )
    for key, name, depth, lon, lat in ROWS:
        await session.execute(
            text("INSERT INTO test_well VALUES (:k, :n, :d, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
            {"k": key, "n": name, "d": depth, "lon": lon, "lat": lat},
        )
    monkeypatch.setitem(catalogue.STATIC, WELLS.id, WELLS)
    async with app_client(session, settings) as client:
        yield client


async def test_native_routes_come_from_the_declaration(wells):
    listed = (await wells.get("/wells")).json()
    assert listed["numberMatched"] == 2
    by_id = {f["id"]: f for f in listed["features"]}
    for key, name, depth, lon, lat in ROWS:
        assert by_id[key]["properties"] == {"id": key, "name": name, "depth_m": depth}
        assert shape(by_id[key]["geometry"]).equals_exact(Point(lon, lat), 1e-9)
    boxed = (await wells.get("/wells?bbox=116.7,-1.2,116.9,-1.0")).json()
    assert [f["id"] for f in boxed["features"]] == [1]
    one = await wells.get("/wells/2")
    assert one.status_code == 200 and one.json()["properties"]["name"] == "Sumur Maloy"
    assert (await wells.get("/wells/3")).status_code == 404
    assert (await wells.get("/wells/three")).status_code == 404


async def test_ogc_collection_and_queryables_come_from_the_declaration(wells):
    ids = [c["id"] for c in (await wells.get("/ogc/collections")).json()["collections"]]
    assert "wells" in ids
    described = (await wells.get("/ogc/collections/wells")).json()
    assert described["geometryType"] == "Point"
    queryables = (await wells.get("/ogc/collections/wells/queryables")).json()["properties"]
    assert set(queryables) == {"geometry", "name", "depth_m"}
    deep = (await wells.get("/ogc/collections/wells/items", params={"filter": "depth_m > 20"})).json()
    assert [f["id"] for f in deep["features"]] == [1]
    named = (await wells.get("/ogc/collections/wells/items?name=Sumur%20Maloy")).json()
    assert [f["id"] for f in named["features"]] == [2]


async def test_tiles_map_and_openapi_come_from_the_declaration(wells):
    # Zoom 0 holds the world: both wells, with the properties declared for tiles.
    tile = await wells.get("/tiles/wells/0/0/0.mvt")
    assert tile.status_code == 200
    decoded = mapbox_vector_tile.decode(tile.content)["wells"]["features"]
    assert sorted(f["properties"]["name"] for f in decoded) == ["Sumur Kariangau", "Sumur Maloy"]
    layer = next(x for x in (await wells.get("/map/layers.json")).json()["layers"] if x["id"] == "wells")
    assert layer["fields"] == {"id": "Number", "name": "String", "depth_m": "Number"}
    assert "/wells" in (await wells.get("/openapi.json")).json()["paths"]
    assert "/collections/wells/items" in (await wells.get("/ogc/api")).json()["paths"]
