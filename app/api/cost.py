"""Which requests are expensive reads, served from their own small pool (app/db.py).

Judged from the request alone, before any query runs: what it asks for decides how much work
PostgreSQL will do, whatever the data.
"""

import re

from starlette.requests import Request

from app.config import Settings

# Tiles at this zoom or lower cover so much ground that they may gather many features.
LOW_ZOOM = 10

_TILE = re.compile(r"^/tiles/[^/]+/(\d+)/\d+/\d+\.mvt$")
_ZONE_SUMMARY = re.compile(r"^/zones/[^/]+/summary$")


def is_expensive(settings: Settings, request: Request) -> bool:
    """Big pages, CQL2 filters, `datetime` (no index serves it), site search sorted by
    distance, land conflicts, zone summaries and low-zoom tiles."""
    if request.method != "GET":
        return False
    path, query = request.url.path, request.query_params
    limit = query.get("limit", "")
    if limit.isdigit() and int(limit) > settings.heavy_page_size:
        return True
    if "filter" in query or "datetime" in query:
        return True
    if path == "/parcels/search" and query.get("sort", "").startswith("distance"):
        return True
    if path == "/parcels/conflicts" or _ZONE_SUMMARY.match(path):
        return True
    tile = _TILE.match(path)
    return tile is not None and int(tile.group(1)) <= LOW_ZOOM
