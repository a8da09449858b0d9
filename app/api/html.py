"""Plain HTML pages for browsers (`f=html`, or a browser's Accept header): the landing page and
the OGC API - Features resources. They load nothing from another host, and run no inline
script: a map is the vendored MapLibre GL started by static/features.js."""

import json
from html import escape
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

Format = Annotated[str | None, Query(description="`json` (default) or `html`.", pattern="^(json|html)$")]
# For a route's `responses`: it may answer a page too.
HTML_RESPONSE = {200: {"content": {"text/html": {}}}}

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
    ".map{height:22em;border:1px solid #ccc;margin:1em 0}.pager{margin:.8em 0}.pager a{margin-right:1.5em}"
)
MAP_ASSETS = (
    "<link rel='stylesheet' href='/static/vendor/maplibre-gl/maplibre-gl.css'>"
    "<script src='/static/vendor/maplibre-gl/maplibre-gl.js' defer></script>"
    "<script src='/static/features.js' defer></script>"
)


def wanted(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def page(
    title: str,
    body: str,
    links: list[dict],
    features: list[dict] | None = None,
    items_url: str | None = None,
    vary: str | None = None,
) -> HTMLResponse:
    """A page: the links (but `self`, and `next`/`prev`, which `pager` shows) as a bar on top, the
    title, a map of `features` (GeoJSON in CRS84) when any has a geometry, then `body`. On the
    map, a click on a feature links to its page under `items_url`."""
    nav = " · ".join(
        f'<a href="{escape(link["href"])}">{escape(link.get("title", link["rel"]))}</a>'
        for link in links
        if link["rel"] not in ("self", "next", "prev")
    )
    drawn = [feature for feature in features or () if feature.get("geometry")]
    head = figure = ""
    if drawn:
        head = MAP_ASSETS
        items = f' data-items-url="{escape(items_url)}"' if items_url else ""
        figure = (
            f'<div id="map" class="map"{items}></div>'
            f'<script id="features" type="application/json">{_data(drawn)}</script>'
        )
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<link rel='icon' href='/static/favicon.svg' type='image/svg+xml'><style>{STYLE}</style>{head}"
        f"</head><body>{f'<p>{nav}</p>' if nav else ''}<h1>{escape(title)}</h1>{figure}{body}</body></html>",
        headers={"Vary": vary} if vary else None,
    )


def _data(features: list[dict]) -> str:
    """Features as JSON that is safe inside a <script> element: no `<`, `>` or `&` as such."""
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def pager(links: list[dict]) -> str:
    """The previous and next page, from a page's `prev` and `next` links."""
    shown = [
        f'<a rel="{rel}" href="{escape(link["href"])}">{label}</a>'
        for rel, label in (("prev", "← Previous page"), ("next", "Next page →"))
        for link in links
        if link["rel"] == rel
    ]
    return f"<p class='pager'>{''.join(shown)}</p>" if shown else ""


def table(rows: list[dict]) -> str:
    if not rows:
        return "<p>None.</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(row[c])}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def cell(value: Any) -> str:
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return f'<a href="{escape(value)}">{escape(value)}</a>'
    return escape(value if isinstance(value, str) else json.dumps(value))
