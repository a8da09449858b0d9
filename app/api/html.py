"""Plain HTML pages for the OGC API - Features resources (`f=html`, or a browser)."""

import json
from html import escape
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse


def wanted(request: Request, f: str | None) -> bool:
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def page(title: str, body: str, links: list[dict]) -> HTMLResponse:
    nav = " · ".join(
        f'<a href="{escape(link["href"])}">{escape(link.get("title", link["rel"]))}</a>'
        for link in links
        if link["rel"] not in ("self",)
    )
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head>"
        f"<body><p>{nav}</p><h1>{escape(title)}</h1>{body}</body></html>"
    )


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
