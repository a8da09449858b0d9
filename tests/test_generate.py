"""The parcel generator: the count asked for, valid shapes, varied sizes and a few deliberate overlaps."""

from app.queries import bulk
from app.seed import generate
from tests.conftest import scalar


async def load(session, count: int, seed: int = 7) -> int:
    zones = [generate.ZoneCentre(*row) for row in await bulk.zone_centres(session)]
    return await bulk.copy_parcels(
        session,
        generate.COLUMNS,
        generate.rows(zones, count, seed, "t"),
        allow_overlap=generate.OVERLAP_REASON,
    )


async def test_generates_the_count_asked_for(session, seeded):
    assert await load(session, 6000) == 6000
    generated = "SELECT count(*) FROM parcel WHERE attributes @> '{\"generated\": true}'"
    assert await scalar(session, generated) == 6000
    assert await scalar(session, "SELECT count(*) FROM parcel WHERE NOT ST_IsValid(geom)") == 0
    assert await scalar(session, "SELECT count(DISTINCT land_status) FROM parcel") == 4
    # varied sizes: small plots and large industrial lots
    assert await scalar(session, "SELECT min(area_ha) FROM parcel") < 0.2
    assert await scalar(session, "SELECT count(*) FROM parcel WHERE area_ha >= 3") >= 100
    # the deliberate overlaps, and only those: every overlapping pair involves a shifted copy
    pairs = await scalar(
        session,
        """
        SELECT count(*) FROM parcel a JOIN parcel b ON a.id < b.id AND a.geom && b.geom
        WHERE ST_Relate(a.geom, b.geom, '2********')""",
    )
    copies = 6000 // generate.OVERLAP_EVERY
    assert copies <= pairs <= 3 * copies
    # grids run across the zone boundaries: some parcels straddle them
    straddling = await scalar(
        session,
        """
        SELECT count(*) FROM parcel p JOIN zone z ON ST_Intersects(p.geom, z.geom)
        WHERE NOT ST_CoveredBy(p.geom, z.geom)""",
    )
    assert straddling > 0


async def test_same_seed_same_parcels(session, seeded):
    zones = [generate.ZoneCentre(*row) for row in await bulk.zone_centres(session)]
    first = b"".join(generate.rows(zones, 500, 3, "x"))
    assert first == b"".join(generate.rows(zones, 500, 3, "x"))
    assert first != b"".join(generate.rows(zones, 500, 4, "x"))
