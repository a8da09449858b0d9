"""HTTP niceties for front-ends: CORS, compression, validators for caching, security headers."""

import json
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_cramjam.middleware import CompressionMiddleware

from app import etag
from app.config import Settings


class Validators:
    """An ETag on every GET answer sent in one piece (and 304 when the client has it already):
    the strong one a single resource's route set (the one `If-Match` must name), otherwise a weak
    one. Last-Modified on single Features from their updated_at. Streamed pages are left alone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        wanted = Headers(scope=scope).get("if-none-match")

        async def hold(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                held = message
                return
            if held is not None:
                start, held = held, None
                if (
                    start["status"] == 200
                    and message["type"] == "http.response.body"
                    and not message.get("more_body")
                ):
                    headers = MutableHeaders(raw=start["headers"])
                    body = message.get("body", b"")
                    tag = headers.get("etag") or etag.weak(body)
                    headers["ETag"] = tag
                    updated = _updated_at(headers.get("content-type", ""), body)
                    if updated is not None:
                        headers["Last-Modified"] = format_datetime(updated, usegmt=True)
                    if wanted is not None and _weak_match(wanted, tag):
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 304,
                                "headers": [
                                    (k, v)
                                    for k, v in start["headers"]
                                    if k in (b"etag", b"last-modified", b"cache-control")
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": b""})
                        return
                await send(start)
            await send(message)

        await self.app(scope, receive, hold)


def _weak_match(header: str, tag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 §13.1.2): W/ prefixes do not matter."""
    return any(t == "*" or t.removeprefix("W/") == tag.removeprefix("W/") for t in etag.parse_list(header))


def _updated_at(content_type: str, body: bytes) -> datetime | None:
    """A single Feature's properties.updated_at, if the body is one."""
    if not content_type.startswith("application/geo+json") or not body.startswith(b'{"type" : "Feature"'):
        return None
    try:
        return datetime.fromisoformat(json.loads(body)["properties"]["updated_at"])
    except (ValueError, KeyError, TypeError):
        return None


# Every HTML page (the landing page, the map, the OGC pages, /docs and /redoc) runs only script
# files of the service: no inline script, no eval, nothing from another host. What is allowed
# beyond 'self', and why:
# - style-src 'unsafe-inline': ReDoc (styled-components) writes <style> elements as it runs,
#   MapLibre and Swagger UI set style attributes, and the pages carry small <style> blocks.
# - img-src data: blob: Swagger UI's icons are data: URIs in its stylesheet; MapLibre makes
#   images from blob:.
# - worker-src blob: MapLibre's workers and ReDoc's search worker start from blob: URLs.
# Only /map adds another origin: that of its optional raster basemap (MAP_BASEMAP_URL), to
# img-src and connect-src. ReDoc's side menu asks for the Redocly logo from cdn.redoc.ly: the
# policy refuses it, and ReDoc then leaves the image out.
HTML_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; worker-src 'self' blob:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
MAP_PATH = "/map"


class SecurityHeaders:
    """On every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy` and `Vary:
    Authorization`; on HTML pages a Content-Security-Policy. (The server banner is switched off
    where uvicorn starts.)"""

    def __init__(self, app: ASGIApp, basemap_url: str | None = None) -> None:
        self.app = app
        origin = ""
        if basemap_url:
            parts = urlsplit(basemap_url.replace("{", "").replace("}", ""))
            origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
        self.html_policy = HTML_POLICY.format(extra="")
        self.map_policy = HTML_POLICY.format(extra=origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.map_policy if scope["path"] == MAP_PATH else self.html_policy

        async def secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = policy
                # Answers differ by key (parcels' `holder`, and everything when reads need a
                # key): a shared cache must never hand a keyed answer to anyone else.
                headers.add_vary_header("Authorization")
            await send(message)

        await self.app(scope, receive, secure)


class HeadAsGet:
    """HEAD answered as GET would be, without the body (RFC 9110, 9.3.2): the same status and
    headers (ETag, Content-Type, Content-Length), for clients and caches that ask before they
    fetch. The routes are declared for GET only, so they see a GET."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)


def install(app: FastAPI, settings: Settings) -> None:
    """Added innermost first: validators see the uncompressed body, CORS and the security headers
    wrap everything, and HEAD is a GET to all of them."""
    app.add_middleware(Validators)
    # gzip, br or deflate by the client's Accept-Encoding, for bodies over 1 KB; tiles are
    # already compact and are left alone.
    app.add_middleware(
        CompressionMiddleware, minimum_size=1024, exclude_mediatype={"application/vnd.mapbox-vector-tile"}
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match", "If-Match"],
        expose_headers=["Location", "ETag", "Last-Modified", "Retry-After"],
    )
    app.add_middleware(SecurityHeaders, basemap_url=settings.map_basemap_url)
    app.add_middleware(HeadAsGet)
