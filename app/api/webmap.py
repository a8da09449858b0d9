"""A map to look at the land: /map, MapLibre GL served by the service itself."""

import json
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from app.api.deps import SettingsDep

router = APIRouter(tags=["map"])
PAGE = files("app").joinpath("static", "map.html").read_text(encoding="utf-8")


@router.get("/map", response_class=HTMLResponse, summary="A map of the zones, parcels and facilities")
async def land_map(settings: SettingsDep) -> HTMLResponse:
    """Zones, parcels coloured by land status (vector tiles), ports and IKN; click a parcel for its
    properties and its distances to the nearest port and to IKN. Works offline; a raster basemap
    is optional (MAP_BASEMAP_URL)."""
    config = {"basemap": settings.map_basemap_url, "basemap_attribution": settings.map_basemap_attribution}
    return HTMLResponse(PAGE.replace("__CONFIG__", json.dumps(config).replace("</", "<\\/")))
