"""The landing page, health check and the problem types that error responses point to."""

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import openapi
from app.api import html
from app.db import SessionDep
from app.errors import PROBLEM_TYPES, NotFound, unavailable

log = logging.getLogger("app.health")

router = APIRouter(tags=["service"])


@router.get("/", response_model=dict, responses=html.HTML_RESPONSE)
async def landing(request: Request, response: Response, f: html.Format = None) -> dict | HTMLResponse:
    """What the service offers, with links. A browser (or `f=html`) gets a page linking to the
    map, the OGC API pages and the API documentation."""
    base = str(request.base_url).rstrip("/")
    body = {
        "title": "Kaltim Land API",
        "description": "Industrial zones, land parcels and facilities of East Kalimantan, "
        "with geodesic distances and areas.",
        "links": [
            {
                "rel": "service-desc",
                "href": f"{base}/openapi.json",
                "type": openapi.MEDIA_TYPE,
            },
            {"rel": "service-doc", "href": f"{base}/docs", "type": "text/html"},
            {"rel": "zones", "href": f"{base}/zones", "type": "application/geo+json"},
            {"rel": "parcels", "href": f"{base}/parcels", "type": "application/geo+json"},
            {"rel": "facilities", "href": f"{base}/facilities", "type": "application/geo+json"},
        ],
    }
    if html.wanted(request, f):
        return html.page(body["title"], _landing_body(base, body), [], vary="Accept")
    response.headers["Vary"] = "Accept"  # the same URL answers a browser with a page
    return body


LINK_TITLES = {
    "service-desc": "The OpenAPI document",
    "zones": "Industrial zones",
    "parcels": "Land parcels",
    "facilities": "Facilities: ports, airport, cities, IKN",
}


def _landing_body(base: str, body: dict) -> str:
    data = "".join(
        f'<li><a href="{html.escape(link["href"])}">{LINK_TITLES[link["rel"]]}</a> '
        f"(<code>{html.escape(link['type'])}</code>)</li>"
        for link in body["links"]
        if link["rel"] in LINK_TITLES
    )
    ogc = html.escape(f"{base}/ogc")
    return (
        f"<p>{html.escape(body['description'])}</p>"
        "<h2>Look at the land</h2><ul>"
        '<li><a href="/map">The map</a>: zones, parcels coloured by land status, facilities and '
        "every layer, with a legend; click a parcel or a facility for its distances.</li>"
        '<li><a href="/ogc?f=html">OGC API - Features</a>: the collections as pages, their '
        f"features on a map. QGIS, GDAL and OWSLib connect to <code>{ogc}</code>.</li>"
        "</ul><h2>The API</h2><ul>"
        '<li><a href="/docs">Swagger UI</a>: every operation, with its parameters, and "Try it out".</li>'
        '<li><a href="/redoc">ReDoc</a>: the same reference as one page.</li>'
        "</ul><h2>Documents</h2><ul>"
        f"{data}"
        "<li>Vector tiles (TileJSON, for MapLibre, OpenLayers and QGIS): "
        '<a href="/tiles/zones.json">zones</a>, <a href="/tiles/parcels.json">parcels</a>, '
        '<a href="/tiles/facilities.json">facilities</a></li>'
        "</ul>"
    )


HEALTH_TIMEOUT_S = 3.0


@router.get("/health")
async def health(session: SessionDep) -> JSONResponse:
    """200 when the database answers and PostGIS is installed; otherwise 503 with `Retry-After`
    and what is wrong in a word: `unreachable` (down, or every connection busy for 3 s),
    `postgis-missing` or `error`. Internals (hosts, messages) are logged, not shown."""
    try:
        version = await asyncio.wait_for(
            session.scalar(text("SELECT postgis_lib_version()")), timeout=HEALTH_TIMEOUT_S
        )
        return JSONResponse({"status": "ok", "database": "ok", "postgis": version})
    except Exception as exc:  # the database is down or PostGIS is missing: report, don't raise
        log.warning("health check failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if isinstance(exc, DBAPIError) and "postgis_lib_version" in str(exc) and unavailable(exc) is None:
            state = "postgis-missing"
        elif isinstance(exc, TimeoutError) or unavailable(exc) is not None:
            state = "unreachable"
        else:
            state = "error"
        return JSONResponse(
            {"status": "unavailable", "database": state}, status_code=503, headers={"Retry-After": "5"}
        )


@router.get("/problems/{slug}")
async def problem_type(slug: str) -> dict:
    """The meaning of a problem `type` URI."""
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type {slug!r}.")
    title, description = PROBLEM_TYPES[slug]
    return {"type": f"/problems/{slug}", "title": title, "description": description}
