"""Lists, the same for every list the service answers, native and OGC alike: how many features
a page may hold, how a bbox is read, how links are made and how a FeatureCollection is written.

Native lists page by `limit` and `offset` and answer a bad parameter with 422; OGC API items page
by keyset (`after`, `before`) and answer 400, as the standard asks. Both read limits and boxes with
the functions here (which raise ValueError with the reason) and write their pages with `write`.
"""

import json
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.api.deps import GEOJSON, SettingsDep
from app.errors import ValidationProblem
from app.geometry import BBox, parse_bbox
from app.queries.features import FETCH_ALL_UP_TO, Page
from app.queries.ogc import CRS84, Crs


def page_size(limit: int | None, default: int, maximum: int) -> int:
    """The features a page holds: `limit`, or `default` when absent; ValueError past `maximum`."""
    if limit is None:
        return default
    if not 1 <= limit <= maximum:
        raise ValueError(f"limit: must be a whole number from 1 to {maximum}")
    return limit


def bbox_in(text: str, crs: Crs = CRS84) -> BBox:
    """Four numbers in `crs`'s axis order -> (x0, y0, x1, y1) in the order ST_MakeEnvelope takes
    them: longitude first for geographic CRSs; ValueError with the reason otherwise."""
    if not crs.geographic or crs.lat_lon:
        try:
            values = [float(part) for part in text.split(",")]
        except ValueError:
            raise ValueError("expected four numbers") from None
        if len(values) != 4:
            raise ValueError(f"expected four numbers, got {len(values)}")
        if crs.lat_lon:
            text = ",".join(map(repr, (values[1], values[0], values[3], values[2])))
    if crs.geographic:
        return parse_bbox(text)
    if not all(math.isfinite(v) for v in values) or values[0] > values[2] or values[1] > values[3]:
        raise ValueError("expected finite numbers with each minimum below its maximum")
    x0, y0, x1, y1 = crs.bounds
    if not (x0 <= values[0] and y0 <= values[1] and values[2] <= x1 and values[3] <= y1):
        raise ValueError(
            f"outside the range this CRS serves: x from {x0:g} to {x1:g}, y from {y0:g} to {y1:g}"
        )
    return tuple(values)


def link(href: Any, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    found = {"href": str(href), "rel": rel, "type": media_type}
    if title is not None:
        found["title"] = title
    return found


# --- native lists: limit and offset, 422 for a bad parameter ---------------------------------


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


async def paging(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="Features per page (default 100).")] = None,
    offset: Annotated[int, Query(ge=0, description="Features to skip.")] = 0,
) -> Paging:
    try:
        return Paging(page_size(limit, settings.default_page_size, settings.max_page_size), offset)
    except ValueError as exc:
        raise ValidationProblem(f"{exc}.") from None


PagingDep = Annotated[Paging, Depends(paging)]


async def bbox_param(
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat (WGS 84): features that intersect the box.",
            examples=["116.70,-1.20,116.85,-1.05"],
        ),
    ] = None,
) -> BBox | None:
    if bbox is None:
        return None
    try:
        return bbox_in(bbox)
    except ValueError as exc:
        raise ValidationProblem(f"bbox: {exc}.") from None


BBoxDep = Annotated[BBox | None, Depends(bbox_param)]


def offset_links(request: Request, paging: Paging | None, media_type: str) -> Callable[[bool], list[dict]]:
    """The links of an offset page: itself, and `next` (when a row beyond it was found) and `prev`."""

    def links(more: bool) -> list[dict]:
        found = [link(request.url, "self", media_type)]
        if paging is None:
            return found
        if more:
            found.append(link(_at(paging.offset + paging.limit), "next", media_type))
        if paging.offset > 0:
            found.append(link(_at(max(paging.offset - paging.limit, 0)), "prev", media_type))
        return found

    def _at(offset: int) -> Any:
        return request.url.include_query_params(limit=paging.limit, offset=offset)

    return links


async def collection(
    page: Page, request: Request, paging: Paging | None = None, member: str = "features"
) -> Response:
    """A native list: `write` with offset links. With another `member` than "features" it is a
    plain JSON list of that name (history)."""
    media_type = GEOJSON if member == "features" else "application/json"
    return await write(page, offset_links(request, paging, media_type), member=member)


# --- writing a page ---------------------------------------------------------------------------

STREAM_CHUNK = 64 * 1024


async def write(
    page: Page,
    links: Callable[[bool], list[dict]],
    *,
    member: str = "features",
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A FeatureCollection around Features rendered by PostgreSQL, for every list.

    The query runs, and its matches are counted, before the response starts, so a failing query
    still gets a problem response. Pages the query fetched whole go out as one body; larger ones
    stream from the cursor in chunks of about 64 KB. `links(more)` makes the links once the page
    is written (`more`: the query found a row beyond it). `numberMatched` is exact unless
    `numberMatchedEstimated` says otherwise; `extra` adds members (OGC's `timeStamp`).
    """
    geojson = member == "features"
    media_type = GEOJSON if geojson else "application/json"
    head = '{"type": "FeatureCollection", "features": [' if geojson else f'{{"{member}": ['

    def tail(returned: int, more: bool, matched: int | None, estimated: bool) -> str:
        closing: dict = {
            **(extra or {}),
            "numberReturned": returned,
            "numberMatched": returned if matched is None else matched,
        }
        if estimated:
            closing["numberMatchedEstimated"] = True
        closing["links"] = links(more)
        return "], " + json.dumps(closing)[1:]

    if page.whole is not None:  # a small page, fetched at once
        found = await page.whole()
        matched, estimated = await page.count() if page.count is not None else (None, False)
        shown = found[: page.limit]
        body = head + ",".join(shown) + tail(len(shown), len(found) > page.limit, matched, estimated)
        return Response(body, media_type=media_type, headers=headers)

    first = await anext(page.features, None)
    matched, estimated = await page.count() if page.count is not None else (None, False)
    returned, more = 0, False

    async def features() -> AsyncIterator[str]:
        nonlocal returned, more
        if first is None:
            return
        yield first
        returned = 1
        async for feature in page.features:
            if returned == page.limit:
                more = True
                break
            yield "," + feature
            returned += 1

    if page.limit < FETCH_ALL_UP_TO:  # small enough for one body
        parts = [head]
        async for feature in features():
            parts.append(feature)
        parts.append(tail(returned, more, matched, estimated))
        return Response("".join(parts), media_type=media_type, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        chunk, size = [head], len(head)
        async for feature in features():
            chunk.append(feature)
            size += len(feature)
            if size >= STREAM_CHUNK:
                yield "".join(chunk).encode()
                chunk, size = [], 0
        chunk.append(tail(returned, more, matched, estimated))
        yield "".join(chunk).encode()

    return StreamingResponse(body(), media_type=media_type, headers=headers)
