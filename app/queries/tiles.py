"""Mapbox Vector Tiles (WebMercatorQuad) built by PostGIS with ST_AsMVT."""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

EXTENT = 4096
BUFFER = 64
WORLD_M = 40_075_016.685578488  # the width of the Web Mercator world in metres


@dataclass(frozen=True)
class Layer:
    name: str
    source: str  # FROM clause; the row alias is t
    geometry: str  # geometry expression (EPSG:4326)
    fields: dict[str, str]  # attribute -> SQL over t
    field_types: dict[str, str]  # attribute -> TileJSON type ("String", "Number")
    minzoom: int
    maxzoom: int = 22


# Layer names are OGC API collection ids: a layer's extent is its collection's.
LAYERS = {
    layer.name: layer
    for layer in (
        Layer(
            "zones",
            "zone t",
            "t.geom",
            {
                "code": "t.code",
                "name": "t.name",
                "kind": "t.kind",
                "status": "t.status",
                "area_ha": "round(t.area_ha::numeric, 2)",
            },
            {"code": "String", "name": "String", "kind": "String", "status": "String", "area_ha": "Number"},
            0,
        ),
        Layer(
            "parcels",
            "parcel t",
            "t.geom",
            {
                "id": "t.id",
                "code": "t.code",
                "land_status": "t.land_status",
                "land_rights": "t.land_rights",
                "sector": "t.sector",
                "area_ha": "round(t.area_ha::numeric, 4)",
            },
            {
                "id": "Number",
                "code": "String",
                "land_status": "String",
                "land_rights": "String",
                "sector": "String",
                "area_ha": "Number",
            },
            10,
        ),
        Layer(
            "facilities",
            "facility t",
            "t.geom",
            {"code": "t.code", "name": "t.name", "kind": "t.kind"},
            {"code": "String", "name": "String", "kind": "String"},
            0,
        ),
    )
}


async def tile(session: AsyncSession, layer: Layer, z: int, x: int, y: int) -> bytes:
    """The layer's features in tile z/x/y as an MVT (empty bytes when there are none). Geometry is
    simplified to half a tile pixel at this zoom before it is quantised to the tile grid."""
    fields = ", ".join(f"{sql} AS {name}" for name, sql in layer.fields.items())
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
        text(sql), {"z": z, "x": x, "y": y, "tolerance": tolerance, "layer": layer.name}
    )
    return bytes(data or b"")
