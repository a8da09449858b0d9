"""Administrative areas: Kemendagri's regencies, districts and villages of the province, and the
units a point or a feature lies in.

Where a feature lies is taken at its point on surface (ST_PointOnSurface: inside the feature,
unlike a centroid), so a feature that straddles a boundary reports the unit that holds that
point.
"""

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

LEVELS = ("regency", "district", "village")


async def upsert(session: AsyncSession, row: dict[str, Any]) -> str:
    """Insert or refresh one area from the seed; 'inserted', 'updated' or 'unchanged'."""
    sql = """
        INSERT INTO admin_area AS a (code, level, name, parent_code, source, geom)
        VALUES (:code, :level, :name, :parent_code, :source,
                ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326)))
        ON CONFLICT (code) DO UPDATE SET level = EXCLUDED.level, name = EXCLUDED.name,
            parent_code = EXCLUDED.parent_code, source = EXCLUDED.source, geom = EXCLUDED.geom
        WHERE (a.level, a.name, a.parent_code, a.source, ST_AsBinary(a.geom))
              IS DISTINCT FROM (EXCLUDED.level, EXCLUDED.name, EXCLUDED.parent_code, EXCLUDED.source,
                                ST_AsBinary(EXCLUDED.geom))
        RETURNING (xmax = 0) AS inserted"""
    params = {**row, "geometry": json.dumps(row["geometry"])}
    inserted = await session.scalar(text(sql), params)
    return "unchanged" if inserted is None else "inserted" if inserted else "updated"


async def lookup(session: AsyncSession, lon: float, lat: float) -> dict[str, Any] | None:
    """The province, regency, district and village holding the point, each {code, name} (the
    village null where the seed has none), or None when no regency of the province holds it."""
    sql = """
        SELECT a.level, a.code, a.name FROM admin_area a
        WHERE ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY a.code"""
    found: dict[str, dict[str, str]] = {}
    for level, code, name in (await session.execute(text(sql), {"lon": lon, "lat": lat})).all():
        found.setdefault(level, {"code": code, "name": name})
    if "regency" not in found:
        return None
    return {
        "province": {"code": found["regency"]["code"].split(".")[0], "name": "Kalimantan Timur"},
        **{level: found.get(level) for level in LEVELS},
    }
