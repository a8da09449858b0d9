"""The landing page, health check and the problem types that error responses point to."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import SessionDep
from app.errors import PROBLEM_TYPES, NotFound

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
                "type": "application/vnd.oai.openapi+json;version=3.1",
            },
            {"rel": "service-doc", "href": f"{base}/docs", "type": "text/html"},
            {"rel": "zones", "href": f"{base}/zones", "type": "application/geo+json"},
            {"rel": "parcels", "href": f"{base}/parcels", "type": "application/geo+json"},
            {"rel": "facilities", "href": f"{base}/facilities", "type": "application/geo+json"},
        ],
    }


@router.get("/health")
async def health(session: SessionDep) -> JSONResponse:
    """200 when the database answers and PostGIS is installed; 503 otherwise."""
    try:
        version = await session.scalar(text("SELECT postgis_lib_version()"))
    except Exception as exc:  # the database is down or PostGIS is missing: report, don't raise
        return JSONResponse({"status": "unavailable", "database": str(exc).splitlines()[0]}, status_code=503)
    return JSONResponse({"status": "ok", "postgis": version})


@router.get("/problems/{slug}")
async def problem_type(slug: str) -> dict:
    """The meaning of a problem `type` URI."""
    if slug not in PROBLEM_TYPES:
        raise NotFound(f"No problem type {slug!r}.")
    title, description = PROBLEM_TYPES[slug]
    return {"type": f"/problems/{slug}", "title": title, "description": description}
