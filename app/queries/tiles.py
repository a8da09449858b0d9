"""Mapbox Vector Tiles (WebMercatorQuad) built by PostGIS with ST_AsMVT."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.queries.catalogue import FeatureType

EXTENT = 4096
BUFFER = 64
WORLD_M = 40_075_016.685578488  # the width of the Web Mercator world in metres


# A tile layer is a catalogue type with a zoom range; its name is its OGC collection's id.
Layer = FeatureType


async def tile(session: AsyncSession, layer: Layer, z: int, x: int, y: int) -> bytes:
    """The layer's features in tile z/x/y as an MVT (empty bytes when there are none). Geometry is
    simplified to half a tile pixel at this zoom before it is quantised to the tile grid."""
    fields = ", ".join(f"{sql} AS {name}" for name, sql in layer.tile_fields.items())
    sql = f"""
        WITH bounds AS (SELECT ST_TileEnvelope(:z, :x, :y) AS merc),
        rows AS (
            SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform({layer.geometry}, 3857), :tolerance, true),
                                bounds.merc, {EXTENT}, {BUFFER}, true) AS mvt_geom, {fields}
            FROM {layer.source}, bounds
            WHERE {layer.geometry} && ST_Transform(bounds.merc, 4326)
        )
        SELECT ST_AsMVT(rows.*, :layer, {EXTENT}, 'mvt_geom') FROM rows WHERE mvt_geom IS NOT NULL
    """
    tolerance = WORLD_M / 2**z / EXTENT / 2
    data = await session.scalar(
        text(sql), {"z": z, "x": x, "y": y, "tolerance": tolerance, "layer": layer.id}
    )
    return bytes(data or b"")
