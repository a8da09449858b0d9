"""Bulk loading through COPY, and what the parcel generator needs to know of the zones."""

from collections.abc import AsyncIterator, Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def zone_centres(session: AsyncSession) -> list[tuple[str, float, float, list[str]]]:
    """(code, lon, lat, sectors) of each zone's centroid."""
    sql = """SELECT code, ST_X(c), ST_Y(c), sectors
             FROM (SELECT code, sectors, ST_Centroid(geom) AS c FROM zone) z ORDER BY code"""
    return [
        (code, lon, lat, list(sectors))
        for code, lon, lat, sectors in (await session.execute(text(sql))).all()
    ]


async def delete_generated_parcels(session: AsyncSession) -> int:
    result = await session.execute(text("""DELETE FROM parcel WHERE attributes @> '{"generated": true}'"""))
    return result.rowcount


async def copy_parcels(
    session: AsyncSession,
    columns: Sequence[str],
    chunks: Iterable[bytes],
    *,
    allow_overlap: str | None = None,
) -> int:
    """COPY parcel rows (text format, in `columns` order) in the session's transaction, then
    refresh the planner's statistics and commit. Returns the number of rows loaded.

    The database's rules apply to every row: a row overlapping another parcel fails the whole
    COPY, unless `allow_overlap` gives a reason, under which the overlaps are recorded as allowed."""
    if allow_overlap:
        await session.execute(
            text("SELECT set_config('kaltim.allow_overlap', :r, true)"), {"r": allow_overlap}
        )
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    status = await raw.copy_to_table("parcel", source=source(), columns=list(columns), format="text")
    await session.commit()
    await session.execute(text("ANALYZE parcel"))
    return int(status.split()[-1])
