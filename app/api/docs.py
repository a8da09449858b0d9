"""The API documentation pages, /docs (Swagger UI) and /redoc (ReDoc), and the service's icon.

Both load the service's own copies of their bundles (app/static/vendor, from the npm registry),
so they work without internet, under the same Content-Security-Policy as every other page."""

from html import escape
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
STATIC = files("app").joinpath("static")
SWAGGER_PAGE = STATIC.joinpath("docs.html").read_text(encoding="utf-8")
ICON = STATIC.joinpath("favicon.svg").read_bytes()
ICON_URL = "/static/favicon.svg"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every operation, with "Try it out". Its start-up is a file of the service
    (static/docs.js), as the pages' policy runs no inline script."""
    return HTMLResponse(SWAGGER_PAGE.replace("__OPENAPI_URL__", escape(request.app.openapi_url)))


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same OpenAPI document as one long page. No web fonts: the system's own."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title}: reference",
        redoc_js_url="/static/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url=ICON_URL,
        with_google_fonts=False,
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for /favicon.ico on pages that name no icon (a JSON answer opened in a tab)."""
    return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
