"""Mapbox Vector Tiles (WebMercatorQuad) built by PostGIS with ST_AsMVT, and kept in a cache that
the writes touching a tile invalidate (migration 0010).

A tile is served from `tile_cache` when its recipe (the SQL that renders it) is today's and no
write its render did not see has touched it since: writes delete the cached tiles they touch and
leave a note (`tile_dirty`) that catches a render racing them. Otherwise it is rendered and stored
in the same statement, so the snapshot it was rendered from is the one recorded beside it.
"""

import hashlib
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import read
from app.queries.catalogue import FeatureType

EXTENT = 4096
BUFFER = 64
WORLD_M = 40_075_016.685578488  # the width of the Web Mercator world in metres
# How long storing a tile may wait for a writer holding its cache row (an import that deleted it
# and has not committed yet); past it the tile is served without being stored.
STORE_LOCK_TIMEOUT = "100ms"


# A tile layer is a catalogue type with a zoom range; its name is its OGC collection's id.
Layer = FeatureType


@dataclass(frozen=True)
class Tile:
    data: bytes  # empty when no feature lies in the tile
    etag: str  # strong: the MD5 of the bytes
    cached: bool  # served from the cache


def _render(layer: Layer) -> tuple[str, str]:
    """The layer's tile SQL (parameters :z :x :y :tolerance :layer) giving `mvt` and `box`, the
    EPSG:4326 box by which it chose its features; and its recipe, a digest of that SQL."""
    fields = ", ".join(f"{sql} AS {name}" for name, sql in layer.tile_fields.items())
    sql = f"""
        WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS merc),
        box AS (SELECT ST_Transform(merc, 4326) AS box FROM bounds),
        rows AS (
            SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform({layer.geometry}, 3857), :tolerance, true),
                                bounds.merc, {EXTENT}, {BUFFER}, true) AS mvt_geom, {fields}
            FROM {layer.source}, bounds, box
            WHERE {layer.geometry} && box.box
        ),
        tile AS (
            SELECT coalesce(ST_AsMVT(rows.*, :layer, {EXTENT}, 'mvt_geom'), ''::bytea) AS mvt
            FROM rows WHERE mvt_geom IS NOT NULL
        )
        SELECT tile.mvt, box.box FROM tile, box"""
    return sql, hashlib.md5(sql.encode()).hexdigest()


CACHED = """
    SELECT c.mvt, c.etag FROM tile_cache c
    WHERE c.layer = :layer AND c.z = :z AND c.x = :x AND c.y = :y AND c.recipe = :recipe
      AND NOT EXISTS (
          SELECT 1 FROM tile_dirty d WHERE d.layer = c.layer AND d.bounds && c.bounds
            AND NOT tile_saw(c.snapshot, c.rendered_by, d.xid))"""


def _params(layer: Layer, z: int, x: int, y: int) -> dict:
    return {"z": z, "x": x, "y": y, "layer": layer.id, "tolerance": WORLD_M / 2**z / EXTENT / 2}


async def tile(
    session: AsyncSession, layer: Layer, z: int, x: int, y: int, *, use_cache: bool = True
) -> Tile:
    """The layer's features in tile z/x/y as an MVT. Geometry is simplified to half a tile pixel
    at this zoom before it is quantised to the tile grid."""
    render, recipe = _render(layer)
    params = {**_params(layer, z, x, y), "recipe": recipe}
    if use_cache:
        found = await read(session, CACHED, params)
        if found:
            return Tile(bytes(found[0]["mvt"]), found[0]["etag"], cached=True)
        stored = await _render_and_store(session, render, params)
        if stored is not None:
            return stored
    data = bytes((await session.execute(text(render), params)).one().mvt)
    return Tile(data, hashlib.md5(data).hexdigest(), cached=False)


async def _render_and_store(session: AsyncSession, render: str, params: dict) -> Tile | None:
    """Render the tile and store it with the snapshot it read, in one statement; None (nothing
    stored) when its cache row is held by a writer that has not committed."""
    sql = f"""
        WITH made AS ({render})
        INSERT INTO tile_cache AS c (layer, z, x, y, recipe, bounds, snapshot, rendered_by, mvt, etag)
        SELECT :layer, :z, :x, :y, :recipe, made.box, pg_current_snapshot(), pg_current_xact_id_if_assigned(),
               made.mvt, md5(made.mvt)
        FROM made
        ON CONFLICT (layer, z, x, y) DO UPDATE SET recipe = EXCLUDED.recipe, bounds = EXCLUDED.bounds,
            snapshot = EXCLUDED.snapshot, rendered_by = EXCLUDED.rendered_by, mvt = EXCLUDED.mvt,
            etag = EXCLUDED.etag, created_at = now()
        RETURNING c.mvt, c.etag"""
    try:
        async with session.begin_nested():
            await session.execute(text(f"SET LOCAL lock_timeout = '{STORE_LOCK_TIMEOUT}'"))
            made = (await session.execute(text(sql), params)).one()
            await session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) not in ("55P03", "40001", "40P01"):
            raise
        return None
    await session.commit()
    return Tile(bytes(made.mvt), made.etag, cached=False)


async def prune(session: AsyncSession, keep: int) -> int:
    """Drop the tiles later writes invalidated, the notes no snapshot can still miss, and the
    oldest tiles past `keep`; returns the number of tiles dropped."""
    removed = await session.scalar(text("SELECT tile_cache_prune(:keep)"), {"keep": keep})
    await session.commit()
    return int(removed or 0)
