"""The tile cache stays fresh: a tile is served from the cache until a write touches it, exactly
then (not for writes elsewhere, nor for columns tiles do not show), and a render that raced a
write is never served. Tiles are decoded and compared with the parcels as the API lists them."""

import json

import asyncpg
import mapbox_vector_tile
import pytest
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.queries import catalogue, tiles
from tests.conftest import AUTH, scalar
from tests.geo import move, parcel, rectangle
from tests.test_rules import dsn
from tests.test_tiles import bounds_of, tile_of

Z = 15
SPOT = (116.7001, -1.1499)  # south-west corner of a quiet tile in Kariangau
HERE = tile_of(*move(*SPOT, 45, 150), Z)
ELSEWHERE = tile_of(116.80, -1.10, Z)


def url(x: int, y: int, layer: str = "parcels") -> str:
    return f"/tiles/{layer}/{Z}/{x}/{y}.mvt"


async def get(client, x: int, y: int, layer: str = "parcels", **headers):
    response = await client.get(url(x, y, layer), headers=headers)
    assert response.status_code in (200, 204, 304), response.text
    return response


def codes(response, layer: str = "parcels") -> set[str]:
    if response.status_code == 204:
        return set()
    return {f["properties"]["code"] for f in mapbox_vector_tile.decode(response.content)[layer]["features"]}


async def expected_codes(client, x: int, y: int) -> set[str]:
    """By shapely: the parcels the API lists whose geometry meets the tile."""
    everything = (
        await client.get("/parcels", params={"bbox": "116.6,-1.3,116.9,-1.0", "limit": 10000})
    ).json()
    tile = bounds_of(Z, x, y)
    return {f["properties"]["code"] for f in everything["features"] if shape(f["geometry"]).intersects(tile)}


async def test_a_tile_is_cached_until_a_write_touches_it(client, seeded):
    ring = rectangle(*move(*SPOT, 45, 200), 60, 60)
    assert (await client.post("/parcels", json=parcel(ring, "TC-0"), headers=AUTH)).status_code == 201
    first = await get(client, *HERE)
    assert codes(first) == {"TC-0"}
    assert first.headers["x-tile-cache"] == "miss"
    again = await get(client, *HERE)
    assert again.headers["x-tile-cache"] == "hit" and again.headers["etag"] == first.headers["etag"]
    assert (await get(client, *HERE, **{"If-None-Match": first.headers["etag"]})).status_code == 304
    assert (await get(client, *ELSEWHERE)).headers["x-tile-cache"] == "miss"

    created = await client.post(
        "/parcels", json=parcel(rectangle(*move(*SPOT, 45, 100), 60, 60), "TC-1"), headers=AUTH
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    fresh = await get(client, *HERE)
    assert fresh.headers["x-tile-cache"] == "miss" and fresh.headers["etag"] != first.headers["etag"]
    assert "TC-1" in codes(fresh) and codes(fresh) == await expected_codes(client, *HERE)
    assert (await get(client, *ELSEWHERE)).headers["x-tile-cache"] == "hit"  # untouched ground

    # A column tiles do not show leaves the tile cached; one they show drops it.
    await client.patch(f"/parcels/{pid}", json={"properties": {"holder": "PT Contoh"}}, headers=AUTH)
    assert (await get(client, *HERE)).headers["x-tile-cache"] == "hit"
    await client.patch(f"/parcels/{pid}", json={"properties": {"land_status": "reserved"}}, headers=AUTH)
    after = await get(client, *HERE)
    assert after.headers["x-tile-cache"] == "miss"
    shown = {
        f["properties"]["code"]: f["properties"]
        for f in mapbox_vector_tile.decode(after.content)["parcels"]["features"]
    }
    assert shown["TC-1"]["land_status"] == "reserved"

    assert (await client.delete(f"/parcels/{pid}", headers=AUTH)).status_code == 204
    gone = await get(client, *HERE)
    assert gone.headers["x-tile-cache"] == "miss" and "TC-1" not in codes(gone)


async def test_a_zone_change_drops_zone_tiles_not_parcel_tiles(client, seeded, session):
    """Moving a zone refreshes its parcels' derived zones, which tiles do not show."""
    x, y = tile_of(116.795, -1.118, Z)
    await client.post("/parcels", json=parcel(rectangle(116.795, -1.118, 50, 50), "TC-2"), headers=AUTH)
    await get(client, x, y)
    await get(client, x, y, "zones")
    await session.execute(
        text("UPDATE zone SET geom = ST_Multi(ST_Buffer(geom, 0.0001)) WHERE code = 'kik-kariangau'")
    )
    assert (await get(client, x, y)).headers["x-tile-cache"] == "hit"
    assert (await get(client, x, y, "zones")).headers["x-tile-cache"] == "miss"


async def test_constraint_layer_tiles_follow_its_areas_and_its_name(client, seeded, session):
    made = await client.post(
        "/layers",
        json={
            "name": "tc-flood",
            "title": "Flood",
            "kind": "flood_hazard",
            "source": "test",
            "licence": "CC0",
        },
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    layer_id = await scalar(session, "SELECT id FROM constraint_layer WHERE name = 'tc-flood'")
    area = shape({"type": "Polygon", "coordinates": [rectangle(*move(*SPOT, 45, 100), 200, 200)]})
    insert = (
        "INSERT INTO constraint_feature (layer_id, code, geom) "
        "VALUES (:l, :c, ST_Multi(ST_GeomFromText(:w, 4326)))"
    )
    await session.execute(text(insert), {"l": layer_id, "c": "A", "w": area.wkt})
    assert codes(await get(client, *HERE, "tc-flood"), "tc-flood") == {"A"}
    assert (await get(client, *HERE, "tc-flood")).headers["x-tile-cache"] == "hit"
    await session.execute(text(insert), {"l": layer_id, "c": "B", "w": area.buffer(-0.0002).wkt})
    assert codes(await get(client, *HERE, "tc-flood"), "tc-flood") == {"A", "B"}
    await session.execute(text("UPDATE constraint_layer SET kind = 'peatland' WHERE name = 'tc-flood'"))
    kinds = {
        f["properties"]["kind"]
        for f in mapbox_vector_tile.decode((await get(client, *HERE, "tc-flood")).content)["tc-flood"][
            "features"
        ]
    }
    assert kinds == {"peatland"}


async def test_a_cached_tile_of_another_recipe_is_not_served(client, seeded, session):
    await get(client, *HERE)
    await session.execute(text("UPDATE tile_cache SET recipe = 'an older release'"))
    assert (await get(client, *HERE)).headers["x-tile-cache"] == "miss"


# --- a render racing a write, on real connections -------------------------------------------


@pytest.fixture
async def committed(migrated):
    conn = await asyncpg.connect(dsn(migrated))
    yield conn
    await conn.execute("DELETE FROM parcel WHERE code LIKE 'TCR-%'")
    await conn.execute("DELETE FROM tile_cache")
    await conn.execute("DELETE FROM tile_dirty")
    await conn.close()


async def test_a_render_that_missed_a_committed_write_is_not_served(migrated, committed):
    """The render reads a snapshot taken before another transaction writes a parcel into the
    tile and commits; it stores its tile after the write's trigger has looked. That tile must
    not be served, and pruning then drops it and the note."""
    engine = create_async_engine(migrated)
    x, y = HERE
    layer = catalogue.PARCELS
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with AsyncSession(bind=conn) as racing:
                await racing.execute(text("SELECT count(*) FROM parcel"))  # its snapshot
                ring = rectangle(*move(*SPOT, 45, 100), 60, 60)
                await committed.execute(
                    "INSERT INTO parcel (code, land_status, geom) "
                    "VALUES ('TCR-1', 'available', ST_Multi(ST_GeomFromGeoJSON($1)))",
                    json.dumps({"type": "Polygon", "coordinates": [ring]}),
                )
                stale = await tiles.tile(racing, layer, Z, x, y)
                assert not stale.cached and "TCR-1" not in _codes(stale.data)
        assert await committed.fetchval("SELECT count(*) FROM tile_cache") == 1  # it was stored
        async with AsyncSession(bind=engine) as reader:
            served = await tiles.tile(reader, layer, Z, x, y)
            assert not served.cached and "TCR-1" in _codes(served.data)
        # The fresh render replaced it; pruning leaves the valid tile and drops the note.
        async with AsyncSession(bind=engine) as housekeeping:
            await tiles.prune(housekeeping, keep=100)
        assert await committed.fetchval("SELECT count(*) FROM tile_dirty") == 0
        async with AsyncSession(bind=engine) as reader:
            assert (await tiles.tile(reader, layer, Z, x, y)).cached
    finally:
        await engine.dispose()


def _codes(data: bytes) -> set[str]:
    if not data:
        return set()
    return {f["properties"]["code"] for f in mapbox_vector_tile.decode(data)["parcels"]["features"]}


async def test_prune_keeps_the_newest_tiles(client, seeded, session):
    for i in range(3):
        await get(client, HERE[0] + i, HERE[1])
    assert await tiles.prune(session, keep=1) == 2
    assert await scalar(session, "SELECT count(*) FROM tile_cache") == 1
