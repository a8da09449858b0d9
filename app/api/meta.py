"""The landing page, health check and the problem types that error responses point to."""

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import openapi
from app.db import SessionDep
from app.errors import PROBLEM_TYPES, NotFound, unavailable

log = logging.getLogger("app.health")

router = APIRouter(tags=["service"])


@router.get("/")
async def landing(request: Request) -> dict:
    """What the service offers, with links."""
    base = str(request.base_url).rstrip("/")
    return {
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
