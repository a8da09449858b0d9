"""OGC API - Features, Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0), under /ogc.

JSON by default, HTML with `f=html` (or a browser's Accept header). Unknown or invalid query
parameters get 400, as the standard asks.
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from app import openapi
from app.api import html, lists
from app.api.deps import GeoJSONResponse, HolderDep, ReadAccess, SettingsDep
from app.db import SessionDep
from app.errors import OGC_ROOT, BadRequest, NotFound
from app.queries import cql2, layers, ogc
from app.queries.catalogue import STATIC
from app.queries.ogc import Collection
from app.schemas.common import ProblemOut

# What every route may answer besides 200; routes naming a collection add 404.
router = APIRouter(
    prefix=OGC_ROOT,
    tags=["OGC API - Features"],
    dependencies=[ReadAccess],
    responses={
        400: {"model": ProblemOut, "description": "An unknown or invalid query parameter."},
        401: {
            "model": ProblemOut,
            "description": "The key sent is unknown or revoked, or reads need a key on this server.",
        },
    },
)
NO_COLLECTION = {404: {"model": ProblemOut, "description": "No such collection."}}
NO_FEATURE = {404: {"model": ProblemOut, "description": "No such collection, or no such feature in it."}}

GEOJSON = "application/geo+json"
CRS84 = ogc.CRS84.uri
CRSS = ogc.CRSS
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]
FilterLang = Literal["cql2-text", "cql2-json"]
DEFAULT_LIMIT = 10

Format = html.Format
# Path parameters named as OGC API - Features names them (GDAL looks for these paths).
CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        description=f"A collection id: {', '.join(f'`{name}`' for name in STATIC)}, or a constraint "
        "layer's name (GET /ogc/collections lists them all).",
    ),
]
FeatureId = Annotated[str, Path(alias="featureId", description="The feature's id.")]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + OGC_ROOT


async def _collection(session, collection_id: str) -> Collection:
    """A catalogue type: built in, or a constraint layer."""
    found = await layers.feature_type(session, collection_id)
    if found is None:
        raise NotFound(f"No collection {collection_id!r}; /ogc/collections lists them.")
    return found


def _refuse_unknown(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise BadRequest(
            f"Unknown query parameter {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}."
        )


@router.get("", summary="Landing page")
async def landing(request: Request, f: Format = None):
    _refuse_unknown(request, {"f"})
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    links = [
        {"href": f"{base}?f=json", "rel": "self", "type": "application/json", "title": "This document"},
        {"href": f"{base}?f=html", "rel": "alternate", "type": "text/html", "title": "This document as HTML"},
        {
            "href": f"{base}/api",
            "rel": "service-desc",
            "type": openapi.MEDIA_TYPE,
            "title": "The API definition",
        },
        {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "The API documentation"},
        {
            "href": f"{base}/conformance",
            "rel": "conformance",
            "type": "application/json",
            "title": "Conformance classes",
        },
        {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "Collections"},
    ]
    body = {
        "title": "Kaltim Land API",
        "description": "Industrial zones, land parcels, facilities and "
        "investment projects of East Kalimantan, as OGC API - Features.",
        "links": links,
    }
    if html.wanted(request, f):
        return html.page(body["title"], f"<p>{html.escape(body['description'])}</p>", links)
    return JSONResponse(body)


@router.get("/api", summary="The API definition")
async def definition(request: Request, session: SessionDep, show_holder: HolderDep) -> JSONResponse:
    """This OGC API's OpenAPI document: paths relative to the landing page, and an items path per
    collection that lists the queryables this caller may filter on as query parameters."""
    _refuse_unknown(request, set())
    queryables = {
        c.id: {name: q.schema for name, q in c.for_caller(show_holder).queryables.items()}
        for c in await layers.feature_types(session)
    }
    document = openapi.ogc_definition(request.app.openapi(), _base(request), queryables)
    return JSONResponse(document, media_type=openapi.MEDIA_TYPE)


@router.get("/conformance", summary="Conformance classes")
async def conformance(request: Request, f: Format = None):
    _refuse_unknown(request, {"f"})
    if html.wanted(request, f):
        return html.page(
            "Conformance",
            "<ul>" + "".join(f"<li>{c}</li>" for c in CONFORMANCE) + "</ul>",
            [{"href": _base(request), "rel": "home", "title": "Home"}],
        )
    return JSONResponse({"conformsTo": CONFORMANCE})


async def _describe(request: Request, session, collection: Collection) -> dict:
    base = f"{_base(request)}/collections/{collection.id}"
    bbox = await ogc.extent(session, collection)
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": list(CRSS),
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [bbox] if bbox else [], "crs": CRS84}},
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": collection.title},
            {"href": f"{base}?f=html", "rel": "alternate", "type": "text/html", "title": "As HTML"},
            {"href": f"{base}/items", "rel": "items", "type": GEOJSON, "title": "Items"},
            {"href": f"{base}/items?f=html", "rel": "items", "type": "text/html", "title": "Items as HTML"},
            {
                "href": f"{base}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "Queryables",
            },
            {
                "href": f"{base}/queryables",
                "rel": "describedby",
                "type": "application/schema+json",
                "title": "Schema of the properties that may be filtered",
            },
        ],
        "geometryType": collection.geometry_type,
    }


@router.get("/collections", summary="Collections")
async def collections(request: Request, session: SessionDep, f: Format = None):
    _refuse_unknown(request, {"f"})
    described = [await _describe(request, session, c) for c in await layers.feature_types(session)]
    base = _base(request)
    links = [
        {"href": f"{base}/collections", "rel": "self", "type": "application/json"},
        {"href": f"{base}/collections?f=html", "rel": "alternate", "type": "text/html"},
    ]
    if html.wanted(request, f):
        rows = [
            {
                "collection": f"{base}/collections/{c['id']}?f=html",
                "title": c["title"],
                "description": c["description"],
            }
            for c in described
        ]
        return html.page(
            "Collections", html.table(rows), [{"href": base + "?f=html", "rel": "home", "title": "Home"}]
        )
    return JSONResponse({"collections": described, "links": links})


@router.get("/collections/{collectionId}", summary="A collection", responses=NO_COLLECTION)
async def collection(collection_id: CollectionId, request: Request, session: SessionDep, f: Format = None):
    _refuse_unknown(request, {"f"})
    described = await _describe(request, session, await _collection(session, collection_id))
    if html.wanted(request, f):
        body = (
            f"<p>{html.escape(described['description'])}</p><p>Extent: "
            f"{html.escape(json.dumps(described['extent']['spatial']['bbox']))}</p>"
        )
        return html.page(described["title"], body, described["links"])
    return JSONResponse(described)


@router.get("/collections/{collectionId}/queryables", summary="What may be filtered", responses=NO_COLLECTION)
async def queryables(
    collection_id: CollectionId, request: Request, session: SessionDep, show_holder: HolderDep
):
    _refuse_unknown(request, {"f"})
    c = (await _collection(session, collection_id)).for_caller(show_holder)
    return JSONResponse(
        {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{_base(request)}/collections/{c.id}/queryables",
            "type": "object",
            "title": c.title,
            "properties": {
                "geometry": {"$ref": f"https://geojson.org/schema/{c.geometry_type}.json"},
                **{name: q.schema for name, q in c.queryables.items()},
            },
            "additionalProperties": False,
        },
        media_type="application/schema+json",
    )


CrsUri = Literal[
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "http://www.opengis.net/def/crs/EPSG/0/32750",
]
OutputCrs = Annotated[CrsUri | None, Query(description="The CRS of the features returned (default CRS84).")]


def _crs(uri: str | None) -> ogc.Crs:
    """The CRS a validated `crs` or `bbox-crs` names; CRS84 when absent."""
    return ogc.CRS84 if uri is None else CRSS[uri]


def _moment(text: str) -> datetime | None:
    """One end of `datetime`: an RFC 3339 date-time (or a date: its midnight; without an offset:
    UTC), or None for an open end (`..` or nothing)."""
    text = text.strip().upper()
    if text in ("", ".."):
        return None
    try:
        moment = datetime.fromisoformat(text.removesuffix("T"))  # GDAL ends a date with T
    except ValueError:
        raise BadRequest(
            f"datetime: {text!r} is not a date-time such as 2026-01-31T08:00:00Z, nor `..`."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _datetime(text: str) -> ogc.Interval:
    """`datetime`: an instant, or an interval `start/end` with `..` (or nothing) for an open end."""
    parts = text.split("/")
    if len(parts) > 2:
        raise BadRequest("datetime: an instant, or two separated by one `/`.")
    if len(parts) == 1:
        instant = _moment(parts[0])
        if instant is None:
            raise BadRequest("datetime: an instant must be a date-time; an open interval is `../..`.")
        return instant, instant
    # QGIS 3.22 writes an open start as the year 0, which no date-time type holds.
    start = None if parts[0].strip().startswith("0000-") else _moment(parts[0])
    end = _moment(parts[1])
    if start is not None and end is not None and start > end:
        raise BadRequest("datetime: the interval ends before it starts.")
    return start, end


def _cursor(c: Collection, name: str, value: str | None) -> Any:
    if value is None or not c.key_is_int:
        return value
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name}: expected a feature id (an integer).") from None


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    response_class=GeoJSONResponse,
    responses=NO_COLLECTION,
)
async def items(
    collection_id: CollectionId,
    request: Request,
    session: SessionDep,
    show_holder: HolderDep,
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(description="Four numbers in `bbox-crs` (default CRS84: minLon,minLat,maxLon,maxLat)."),
    ] = None,
    bbox_crs: Annotated[CrsUri | None, Query(alias="bbox-crs", description="The CRS of `bbox`.")] = None,
    crs: OutputCrs = None,
    limit: Annotated[
        str | None,
        Query(description=f"1 to the MAX_PAGE_SIZE setting (10,000 unless set); default {DEFAULT_LIMIT}."),
    ] = None,
    after: Annotated[str | None, Query(description="Keyset cursor: the page after this feature id.")] = None,
    before: Annotated[
        str | None, Query(description="Keyset cursor: the page before this feature id.")
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            description="An instant or an interval (RFC 3339: `2026-01-01T00:00:00Z`, "
            "`2026-01-01T00:00:00Z/2026-02-01T00:00:00Z`, `2026-01-01T00:00:00Z/..`, "
            "`../2026-02-01T00:00:00Z`): the features whose `updated_at` is that instant or in "
            "that interval, ends included. Collections without `updated_at` ignore it.",
        ),
    ] = None,
    filter: Annotated[
        str | None,
        Query(
            description="A CQL2 filter over the queryables, e.g. `land_status = 'available' AND "
            "area_ha > 1 AND S_INTERSECTS(geometry, POLYGON((...)))`."
        ),
    ] = None,
    filter_lang: Annotated[FilterLang, Query(alias="filter-lang")] = "cql2-text",
    filter_crs: Annotated[
        Literal["http://www.opengis.net/def/crs/OGC/1.3/CRS84"] | None, Query(alias="filter-crs")
    ] = None,
    f: Format = None,
):
    """Features of the collection in id order, filtered by `bbox`, by `datetime` (on
    `updated_at`), by any queryable property (`?land_status=available`) and by a CQL2 `filter`
    (text or JSON, per `filter-lang`); `next` and `prev` links walk keyset pages."""
    c = (await _collection(session, collection_id)).for_caller(show_holder)
    _refuse_unknown(
        request,
        {
            "bbox",
            "bbox-crs",
            "crs",
            "datetime",
            "limit",
            "after",
            "before",
            "f",
            "filter",
            "filter-lang",
            "filter-crs",
            *c.queryables,
        },
    )
    try:
        size = lists.page_size(
            None if limit is None else int(limit) if limit.isdigit() else 0,
            DEFAULT_LIMIT,
            settings.max_page_size,
        )
    except ValueError as exc:
        raise BadRequest(f"{exc}.") from None
    output = _crs(crs)
    box_crs = _crs(bbox_crs)
    try:
        box = None if bbox is None else (lists.bbox_in(bbox, box_crs), box_crs)
    except ValueError as exc:
        raise BadRequest(f"bbox: {exc}.") from None
    when = None if datetime_ is None else _datetime(datetime_)
    if after is not None and before is not None:
        raise BadRequest("after and before cannot be used together.")
    filters = {}
    for name, queryable in c.queryables.items():
        if name in request.query_params:
            try:
                filters[name] = queryable.value(request.query_params[name])
            except ValueError:
                raise BadRequest(f"{name}: must be a {queryable.kind}.") from None
    try:
        cql = (
            None
            if filter is None
            else cql2.to_sql(
                c,
                filter,
                filter_lang,
                max_length=settings.cql2_max_length,
                max_depth=settings.cql2_max_depth,
                max_nodes=settings.cql2_max_nodes,
                max_vertices=settings.max_vertices,
            )
        )
    except cql2.FilterInvalid as exc:
        raise BadRequest(str(exc)) from None
    want_html = html.wanted(request, f)
    found = await ogc.items(
        session,
        c,
        bbox=box,
        filters=filters,
        cql=cql,
        when=when,
        crs=ogc.CRS84 if want_html else output,  # a page draws its features on a map
        limit=size,
        after=_cursor(c, "after", after),
        before=_cursor(c, "before", before),
    )
    url = request.url.remove_query_params(["after", "before"])
    kind = "text/html" if want_html else GEOJSON

    def links(more: bool) -> list[dict]:
        first, last, has_next, has_prev = found.ends(more)
        other = GEOJSON if want_html else "text/html"
        made = [
            lists.link(request.url, "self", kind, "This page"),
            lists.link(
                url.include_query_params(f="json" if want_html else "html"),
                "alternate",
                other,
                "This page in another format",
            ),
            lists.link(f"{_base(request)}/collections/{c.id}", "collection", "application/json", c.title),
        ]
        if has_next and last is not None:
            made.append(lists.link(url.include_query_params(after=last), "next", kind, "Next page"))
        if has_prev and first is not None:
            made.append(lists.link(url.include_query_params(before=first), "prev", kind, "Previous page"))
        return made

    if want_html:
        features = [json.loads(feature) async for feature in found.page.features]
        more = len(features) > size
        features = features[:size]
        matched, estimated = await found.page.count()
        page_links = links(more)
        rows = [
            {
                "id": f"{_base(request)}/collections/{c.id}/items/{ft['id']}?f=html",
                **{
                    k: v
                    for k, v in ft["properties"].items()
                    if k not in ("id", "attributes", "created_at", "updated_at")  # id: the link
                },
            }
            for ft in features
        ]
        pager = html.pager(page_links)
        return html.page(
            f"{c.title}: {len(rows)} of {'about ' if estimated else ''}{matched:,}",
            pager + html.table(rows) + pager,
            page_links,
            features=features,
            items_url=f"{_base(request)}/collections/{c.id}/items",
        )
    return await lists.write(
        found.page,
        links,
        extra={"timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        headers={"Content-Crs": f"<{output.uri}>"},
    )


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    summary="One feature",
    response_class=GeoJSONResponse,
    responses=NO_FEATURE,
)
async def feature(
    collection_id: CollectionId,
    feature_id: FeatureId,
    request: Request,
    session: SessionDep,
    show_holder: HolderDep,
    crs: OutputCrs = None,
    f: Format = None,
):
    c = (await _collection(session, collection_id)).for_caller(show_holder)
    _refuse_unknown(request, {"f", "crs"})
    want_html = html.wanted(request, f)
    output = ogc.CRS84 if want_html else _crs(crs)  # a page draws the feature on a map
    try:
        key = int(feature_id) if c.key_is_int else feature_id
    except ValueError:
        raise NotFound(f"No feature {feature_id!r} in {c.id}.") from None
    found = await ogc.item(session, c, key, output) if not c.key_is_int or 1 <= key < 2**63 else None
    if found is None:
        raise NotFound(f"No feature {feature_id!r} in {c.id}.")
    base = f"{_base(request)}/collections/{c.id}"
    links = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {"href": f"{base}/items/{feature_id}?f=html", "rel": "alternate", "type": "text/html"},
        {"href": base, "rel": "collection", "type": "application/json", "title": c.title},
    ]
    if want_html:
        parsed = json.loads(found)
        rows = [{"property": k, "value": v} for k, v in parsed["properties"].items()]
        return html.page(f"{c.title}: {feature_id}", html.table(rows), links, features=[parsed])
    return Response(
        found[:-1] + ', "links": ' + json.dumps(links) + "}",
        media_type=GEOJSON,
        headers={"Content-Crs": f"<{output.uri}>"},
    )
