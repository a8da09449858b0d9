"""A map to look at the land: /map, MapLibre GL served by the service itself."""

import json
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import ReadAccess, SettingsDep
from app.db import SessionDep
from app.queries import layers

router = APIRouter(tags=["map"])
PAGE = files("app").joinpath("static", "map.html").read_text(encoding="utf-8")


@router.get("/map", response_class=HTMLResponse, summary="A map of the zones, parcels and facilities")
async def land_map(settings: SettingsDep) -> HTMLResponse:
    """The land on an offline base (the regencies as land, district and village boundaries closer
    in), every layer of /map/layers.json with a switch and a legend (constraint layers included,
    each in a colour of its own), labels of the zones, ports, airports and IKN, and popups: a
    parcel's properties and distances, a facility's distances to the nearest port, IKN and
    airport. Works offline; a raster basemap is optional (MAP_BASEMAP_URL)."""
    config = {"basemap": settings.map_basemap_url, "basemap_attribution": settings.map_basemap_attribution}
    return HTMLResponse(PAGE.replace("__CONFIG__", json.dumps(config).replace("</", "<\\/")))


@router.get("/map/layers.json", summary="The map's layers", dependencies=[ReadAccess])
async def map_layers(request: Request, session: SessionDep) -> dict:
    """Every tiled layer of the catalogue (built-in, administrative and constraint layers), in
    the order the map stacks them, with its TileJSON, the properties its tiles carry and the
    group its legend puts it in (core, admin, constraint)."""
    root = str(request.base_url).rstrip("/")
    return {
        "layers": [
            {
                "id": t.id,
                "title": t.title,
                "group": t.group,
                "geometry_type": t.geometry_type,
                "minzoom": t.minzoom,
                "maxzoom": t.maxzoom,
                "tilejson": f"{root}/tiles/{t.id}.json",
                "fields": t.tile_field_types,
                "collection": f"{root}/ogc/collections/{t.id}",
            }
            for t in await layers.feature_types(session)
            if t.tiled
        ]
    }
