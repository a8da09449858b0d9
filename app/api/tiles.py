"""Vector tiles for web maps: /tiles/{layer}/{z}/{x}/{y}.mvt and a TileJSON document per layer."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from app import etag
from app.api.deps import ReadAccess, SettingsDep
from app.db import SessionDep
from app.errors import NotFound
from app.queries import layers, ogc, tiles
from app.queries.catalogue import STATIC
from app.queries.tiles import Layer

router = APIRouter(prefix="/tiles", tags=["vector tiles"], dependencies=[ReadAccess])

MVT = "application/vnd.mapbox-vector-tile"
# Browsers and proxies keep tiles but ask again each time (If-None-Match, 304 while unchanged): a
# write shows on the next request.
CACHE = "public, no-cache"
LayerName = Annotated[
    str,
    Path(
        description=f"A tile layer: {', '.join(f'`{t.id}`' for t in STATIC.values() if t.tiled)}, or a "
        "constraint layer's name."
    ),
]


async def _layer(session, name: str) -> Layer:
    """A tiled catalogue type: built in, or a constraint layer."""
    found = await layers.feature_type(session, name)
    if found is None or not found.tiled:
        raise NotFound(f"No tile layer {name!r}; GET /map/layers.json lists them.")
    return found


@router.get("/{layer}.json", summary="TileJSON for a layer")
async def tilejson(layer: LayerName, request: Request, session: SessionDep):
    chosen = await _layer(session, layer)
    root = str(request.base_url).rstrip("/")
    box = await ogc.extent(session, chosen) or [-180, -85.0511, 180, 85.0511]
    return JSONResponse(
        {
            "tilejson": "3.0.0",
            "name": chosen.id,
            "scheme": "xyz",
            "tiles": [f"{root}/tiles/{chosen.id}/{{z}}/{{x}}/{{y}}.mvt"],
            "minzoom": chosen.minzoom,
            "maxzoom": chosen.maxzoom,
            "bounds": box,
            "center": [
                round((box[0] + box[2]) / 2, 6),
                round((box[1] + box[3]) / 2, 6),
                max(chosen.minzoom, 8),
            ],
            "vector_layers": [
                {
                    "id": chosen.id,
                    "fields": chosen.tile_field_types,
                    "minzoom": chosen.minzoom,
                    "maxzoom": chosen.maxzoom,
                }
            ],
        },
        headers={"Cache-Control": CACHE},
    )


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    summary="A vector tile",
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No features in this tile."}},
)
async def tile(
    layer: LayerName,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
):
    """The layer's features in tile z/x/y (WebMercatorQuad), built by PostGIS with ST_AsMVT and
    simplified per zoom. 204 when the tile is empty or below the layer's minimum zoom. Tiles are
    cached and dropped by the writes that touch them; each carries a strong ETag, so a client
    revalidates with `If-None-Match` and gets 304 while the tile is unchanged."""
    chosen = await _layer(session, layer)
    if x >= 2**z or y >= 2**z:
        raise NotFound(f"No tile {z}/{x}/{y}: x and y run from 0 to {2**z - 1} at zoom {z}.")
    if z < chosen.minzoom:
        return Response(status_code=204, headers={"Cache-Control": CACHE})
    found = await tiles.tile(session, chosen, z, x, y, use_cache=settings.tile_cache_tiles > 0)
    tag = f'"{found.etag}"'
    headers = {"Cache-Control": CACHE, "ETag": tag, "X-Tile-Cache": "hit" if found.cached else "miss"}
    if tag in etag.parse_list(request.headers.get("if-none-match", "")):  # an empty tile too
        return Response(status_code=304, headers=headers)
    if not found.data:
        return Response(status_code=204, headers=headers)
    return Response(found.data, media_type=MVT, headers=headers)
