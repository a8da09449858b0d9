"""The application: routers, problem handlers, and the database engine's lifetime."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError

from app import errors, http, limits, openapi, replicas
from app.api import (
    cost,
    docs,
    exports,
    facilities,
    imports,
    layers,
    meta,
    ogc,
    parcels,
    projects,
    tiles,
    webmap,
    zones,
)
from app.api.deps import KeyCache
from app.config import Settings, get_settings
from app.db import Pools
from app.importer import Runner
from app.queries import tiles as tile_queries

log = logging.getLogger("app")

DESCRIPTION = """
Land information for East Kalimantan's priority industrial zones — Kariangau (Balikpapan),
Maloy Batuta Trans Kalimantan (Kutai Timur) and Buluminung (Penajam Paser Utara) — their land
parcels, and the facilities that matter for siting: ports, the airport and IKN Nusantara.

* Every resource is a GeoJSON Feature (RFC 7946, WGS 84, `[lon, lat]`); lists are
  FeatureCollections with `numberMatched`, `numberReturned` and `next`/`prev` links.
* Distances and areas are geodesic on the WGS84 spheroid, in metres and hectares.
* Errors are RFC 9457 problem details (`application/problem+json`).
* Writes need `Authorization: Bearer <key>` with an `editor` key (deleting a zone: `admin`); reads
  are open unless the server requires a key. Parcels' `holder` is shown to callers with a key.
* `GET /parcels/{id}/history` (and zones, facilities, projects) lists every change; `as_of` on
  `GET /parcels` and `GET /parcels/{id}` answers as the data stood at a time.
"""


async def prune_tiles(pools: Pools, settings: Settings) -> None:
    """Every TILE_PRUNE_S, drop the cached tiles later writes invalidated and those past
    TILE_CACHE_TILES (app.queries.tiles.prune). A failure is logged and tried again next time."""
    while settings.tile_cache_tiles > 0:
        await asyncio.sleep(settings.tile_prune_s)
        try:
            async with pools.sessions() as session:
                await tile_queries.prune(session, settings.tile_cache_tiles)
        except (DBAPIError, OSError) as exc:
            log.warning("tile cache housekeeping failed: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pools = Pools.open(settings)
        app.state.imports = Runner(settings)
        pools = app.state.pools
        tasks = [asyncio.create_task(prune_tiles(pools, settings))]
        if pools.router is not None:
            tasks.append(asyncio.create_task(pools.router.poll(pools.ordinary, settings.replica_poll_s)))
        yield
        for task in tasks:
            task.cancel()
        await app.state.imports.close()
        await app.state.pools.close()

    # /docs and /redoc are the service's own routes (app/api/docs.py), on its vendored bundles.
    app = FastAPI(
        title="Kaltim Land API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings  # what SettingsDep gives routes
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    app.state.is_expensive = partial(cost.is_expensive, settings)
    errors.install(app)
    limits.install(app, settings)
    http.install(app, settings)
    if settings.database_replica_url:
        app.add_middleware(replicas.Headers)
    app.mount("/static", StaticFiles(packages=[("app", "static")]), name="static")
    openapi.install(app)
    # exports before parcels and zones: /parcels/export is not /parcels/{id}
    routers = (meta, docs, exports, zones, parcels, facilities, projects, layers, imports, ogc, tiles, webmap)
    for module in routers:
        app.include_router(module.router)
        if module is layers:  # the read-only catalogue types' routes, from their declarations
            app.include_router(layers.read_only_router())
    return app


app = create_app()
