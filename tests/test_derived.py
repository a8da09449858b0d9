"""Derived spatial facts (a parcel's zones, a parcel's and a zone's regency and district) are kept by
the database when either side changes, and never stale: writes to zones, parcels and
administrative areas, each followed by reads checked against shapely on the same shapes, and
concurrent writers on real connections under READ COMMITTED and REPEATABLE READ."""

import asyncio

import asyncpg
import pytest
from shapely.geometry import Polygon, shape
from sqlalchemy import text

from tests.conftest import AUTH, scalar
from tests.geo import admin_unit, move, parcel, rectangle, zone
from tests.test_rules import dsn

SPOT = (116.795, -1.125)  # Balikpapan Barat, inland of the bay


def expected_zones(parcel_geometry: dict, zones: list[dict]) -> list[str]:
    """By shapely: the codes of the zones covering the parcel."""
    g = shape(parcel_geometry)
    return sorted(z["properties"]["code"] for z in zones if shape(z["geometry"]).covers(g))


def expected_admin(geometry: dict) -> dict:
    """By shapely on the seed's files: the district and regency covering the whole (small) feature,
    so any point inside it, PostGIS's point on surface included, lies in them."""
    district = admin_unit("district", shape(geometry))
    assert district is not None, "pick a spot well inside one district"
    regency = admin_unit("regency", shape(geometry))
    return {
        "district_code": district["kode"],
        "district": district["nama"],
        "regency_code": regency["kode"],
        "regency": regency["nama"],
    }


async def _parcel(client, parcel_id: int) -> dict:
    response = await client.get(f"/parcels/{parcel_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _zones(client) -> list[dict]:
    return (await client.get("/zones", params={"limit": 1000})).json()["features"]


async def test_a_parcels_zones_follow_every_zone_write(client, seeded, session):
    ring = rectangle(*SPOT, 80, 60)
    created = await client.post("/parcels", json=parcel(ring, "DER-1"), headers=AUTH)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    stamp = (await _parcel(client, pid))["properties"]["updated_at"]
    changes = await scalar(
        session, "SELECT count(*) FROM change WHERE table_name = 'parcel' AND row_id = :i", i=pid
    )

    async def check() -> list[str]:
        found = await _parcel(client, pid)
        assert found["properties"]["zones"] == expected_zones(found["geometry"], await _zones(client))
        assert found["properties"]["updated_at"] == stamp  # a refresh is no change of the parcel
        return found["properties"]["zones"]

    await check()
    around = rectangle(*move(*SPOT, 225, 300), 700, 700)
    assert (await client.post("/zones", json=zone(around, "der-estate"), headers=AUTH)).status_code == 201
    assert "der-estate" in await check()
    away = rectangle(*move(*SPOT, 90, 2_000), 500, 500)
    moved = await client.patch(
        "/zones/der-estate", json={"geometry": {"type": "Polygon", "coordinates": [away]}}, headers=AUTH
    )
    assert moved.status_code == 200, moved.text
    assert "der-estate" not in await check()
    back = await client.patch(
        "/zones/der-estate", json={"geometry": {"type": "Polygon", "coordinates": [around]}}, headers=AUTH
    )
    assert back.status_code == 200
    assert "der-estate" in await check()
    # A new code is a new name for the same ground (the API keeps codes; SQL may change them).
    await session.execute(text("UPDATE zone SET code = 'der-renamed' WHERE code = 'der-estate'"))
    assert "der-renamed" in await check()
    assert (await client.delete("/zones/der-renamed", headers=AUTH)).status_code == 204
    assert "der-renamed" not in await check()
    # History recorded none of these refreshes.
    after = await scalar(
        session, "SELECT count(*) FROM change WHERE table_name = 'parcel' AND row_id = :i", i=pid
    )
    assert after == changes


async def test_regency_and_district_follow_a_parcel_and_a_zone_as_they_move(client, seeded):
    here = rectangle(*SPOT, 80, 60)
    pid = (await client.post("/parcels", json=parcel(here, "DER-2"), headers=AUTH)).json()["id"]
    found = (await _parcel(client, pid))["properties"]
    assert {
        k: found[k] for k in expected_admin({"type": "Polygon", "coordinates": [here]})
    } == expected_admin({"type": "Polygon", "coordinates": [here]})
    maloy = rectangle(117.95, 0.80, 80, 60)  # Kutai Timur
    moved = await client.patch(
        "/parcels/" + str(pid), json={"geometry": {"type": "Polygon", "coordinates": [maloy]}}, headers=AUTH
    )
    assert moved.status_code == 200, moved.text
    want = expected_admin({"type": "Polygon", "coordinates": [maloy]})
    assert {k: moved.json()["properties"][k] for k in want} == want
    assert want["regency_code"] != found["regency_code"]
    # A zone reports its units too, and they follow its geometry.
    created = await client.post("/zones", json=zone(maloy, "der-zone"), headers=AUTH)
    assert {k: created.json()["properties"][k] for k in want} == want


async def test_an_administrative_change_refreshes_parcels_and_zones(client, seeded, session):
    here = rectangle(*SPOT, 80, 60)
    pid = (await client.post("/parcels", json=parcel(here, "DER-3"), headers=AUTH)).json()["id"]
    district = expected_admin({"type": "Polygon", "coordinates": [here]})["district_code"]
    # The district loses the parcel's ground: the parcel lies in no district now.
    hole = Polygon(rectangle(*move(*SPOT, 225, 100), 300, 300))
    await session.execute(
        text(
            "UPDATE admin_area SET geom = ST_Multi(ST_Difference(geom, ST_GeomFromText(:w, 4326))) "
            "WHERE code = :c"
        ),
        {"w": hole.wkt, "c": district},
    )
    props = (await _parcel(client, pid))["properties"]
    assert props["district_code"] is None and props["regency_code"] is None
    # Renamed: the new name reaches the parcel once its ground is back.
    await session.execute(
        text(
            "UPDATE admin_area SET name = 'Balikpapan Barat (renamed)', "
            "geom = ST_Multi(ST_Union(geom, ST_GeomFromText(:w, 4326))) WHERE code = :c"
        ),
        {"w": hole.wkt, "c": district},
    )
    props = (await _parcel(client, pid))["properties"]
    assert props["district_code"] == district and props["district"] == "Balikpapan Barat (renamed)"


async def test_derived_values_cannot_be_typed_in(client, session, seeded):
    ring = Polygon(rectangle(*SPOT, 80, 60))
    covering = expected_zones(ring.__geo_interface__, await _zones(client))
    assert covering == ["kik-kariangau"]
    row = (
        await session.execute(
            text(
                "INSERT INTO parcel (code, land_status, geom, zone_codes, regency, district_code) VALUES "
                "('DER-4', 'available', ST_Multi(ST_GeomFromText(:w, 4326)), '{kek-mbtk}', 'X', '00') "
                "RETURNING zone_codes, regency, district_code"
            ),
            {"w": ring.wkt},
        )
    ).one()
    want = expected_admin(ring.__geo_interface__)
    assert row.zone_codes == covering
    assert row.regency == want["regency"] and row.district_code == want["district_code"]
    again = (
        await session.execute(
            text(
                "UPDATE parcel SET zone_codes = '{kek-mbtk}', geom = geom WHERE code = 'DER-4' "
                "RETURNING zone_codes"
            )
        )
    ).scalar()
    assert again == covering


# --- concurrent writers ---------------------------------------------------------------------

FAR = (118.60, 1.60)
ZONE_SQL = (
    "INSERT INTO zone (code, name, kind, status, geom) "
    "VALUES ($1, $1, 'industrial_estate', 'planned', ST_Multi(ST_GeomFromText($2, 4326)))"
)
PARCEL_SQL = (
    "INSERT INTO parcel (code, land_status, geom) "
    "VALUES ($1, 'available', ST_Multi(ST_GeomFromText($2, 4326))) RETURNING id"
)


@pytest.fixture
async def two(migrated):
    a, b = await asyncpg.connect(dsn(migrated)), await asyncpg.connect(dsn(migrated))
    for c in (a, b):
        await c.execute("SET lock_timeout = '20s'")
    yield a, b
    await a.execute("DELETE FROM parcel WHERE code LIKE 'DERC-%'")
    await a.execute("DELETE FROM zone WHERE code LIKE 'derc-%'")
    await a.close()
    await b.close()


def _square(lon: float, lat: float, side: float) -> str:
    return Polygon([(lon, lat), (lon + side, lat), (lon + side, lat + side), (lon, lat + side)]).wkt


async def _zones_of(conn, code: str) -> list[str]:
    return await conn.fetchval("SELECT zone_codes FROM parcel WHERE code = $1", code)


async def test_a_zone_written_while_a_parcel_is_in_flight_reaches_it(two):
    """READ COMMITTED: the zone's write waits for the parcel's transaction, then refreshes it."""
    p, z = two
    tx = p.transaction()
    await tx.start()
    await p.fetchval(PARCEL_SQL, "DERC-1", _square(*FAR, 0.001))
    zone_write = asyncio.ensure_future(
        z.execute(ZONE_SQL, "derc-a", _square(FAR[0] - 0.01, FAR[1] - 0.01, 0.03))
    )
    await asyncio.sleep(0.5)
    assert not zone_write.done()  # held back until the parcel commits
    await tx.commit()
    await zone_write
    assert await _zones_of(z, "DERC-1") == ["derc-a"]


async def test_a_parcel_written_while_a_zone_is_in_flight_sees_it(two):
    p, z = two
    tx = z.transaction()
    await tx.start()
    await z.execute(ZONE_SQL, "derc-b", _square(FAR[0] - 0.01, FAR[1] - 0.01, 0.03))
    parcel_write = asyncio.ensure_future(p.fetchval(PARCEL_SQL, "DERC-2", _square(*FAR, 0.001)))
    await asyncio.sleep(0.5)
    assert not parcel_write.done()
    await tx.commit()
    await parcel_write
    assert await _zones_of(p, "DERC-2") == ["derc-b"]


@pytest.mark.parametrize("level", ["repeatable_read", "serializable"])
async def test_a_snapshot_older_than_the_zone_fails_and_the_retry_sees_it(two, level):
    p, z = two
    tx = p.transaction(isolation=level)
    await tx.start()
    await p.fetchval("SELECT count(*) FROM zone")  # the snapshot is taken here
    await z.execute(ZONE_SQL, f"derc-{level[:3]}", _square(FAR[0] - 0.01, FAR[1] - 0.01, 0.03))
    with pytest.raises(asyncpg.SerializationError):
        await p.fetchval(PARCEL_SQL, f"DERC-{level}", _square(*FAR, 0.001))
    await tx.rollback()
    await p.fetchval(PARCEL_SQL, f"DERC-{level}", _square(*FAR, 0.001))
    assert await _zones_of(p, f"DERC-{level}") == [f"derc-{level[:3]}"]
