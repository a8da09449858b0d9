"""Constraint layers (/layers), the read-only catalogue types (administrative areas under /admin)
and the administrative lookup of a point.

Each read-only type of the catalogue gets its list and item routes here, made from its
declaration: adding one takes its declaration and its migration.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.api.deps import GEOJSON, AdminKey, GeoJSONResponse, ReadAccess, versioned
from app.api.lists import BBoxDep, PagingDep, collection
from app.db import SessionDep
from app.errors import NotFound, ValidationProblem
from app.queries import admin, features, layers
from app.queries.catalogue import STATIC, FeatureType
from app.schemas.common import FeatureCollection, ProblemOut
from app.schemas.layers import AdminLookup, LayerIn, LayerList, LayerOut, LayerPatch

router = APIRouter(dependencies=[ReadAccess])

ADMIN = {401: {"model": ProblemOut}, 403: {"model": ProblemOut}, 404: {"model": ProblemOut}}
LayerName = Annotated[str, Path(description="The layer's name, as GET /layers lists them.")]


def _links(request: Request, name: str) -> list[dict[str, str]]:
    root = str(request.base_url).rstrip("/")
    return [
        {"href": f"{root}/layers/{name}", "rel": "self", "type": "application/json"},
        {"href": f"{root}/layers/{name}/features", "rel": "items", "type": GEOJSON},
        {"href": f"{root}/ogc/collections/{name}", "rel": "collection", "type": "application/json"},
        {"href": f"{root}/tiles/{name}.json", "rel": "tiles", "type": "application/json"},
    ]


def _described(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    described = {k: v for k, v in row.items() if k != "id"}
    described["area_ha"] = float(described["area_ha"])
    return {**described, "links": _links(request, row["name"])}


async def _one(request: Request, session, name: str) -> dict[str, Any]:
    found = await layers.describe(session, name)
    if not found:
        raise NotFound(f"No constraint layer {name!r}; GET /layers lists them.")
    return _described(request, found[0])


@router.get("/layers", tags=["constraint layers"], response_model=LayerList)
async def list_layers(request: Request, session: SessionDep):
    """The constraint layers (protected forest, peatland, flood hazard, concessions, permits,
    customary land, spatial plans ...), each with its source, licence, number of areas and links
    to its features, its OGC collection and its tiles."""
    return {"layers": [_described(request, row) for row in await layers.describe(session)]}


@router.post(
    "/layers",
    tags=["constraint layers"],
    status_code=201,
    dependencies=[AdminKey],
    response_model=LayerOut,
    responses={409: {"model": ProblemOut}, 422: {"model": ProblemOut}, **ADMIN},
)
async def create_layer(body: LayerIn, request: Request, session: SessionDep):
    """Create an empty layer (admins). Fill it with an import job: `POST /imports` with
    `layer=<name>` (each area may carry `code`, `name`, and, in a spatial plan, `allowed_uses`)."""
    created = await layers.create(session, body.values())
    described = await _one(request, session, created.name)
    return JSONResponse(
        jsonable_encoder(described), status_code=201, headers={"Location": f"/layers/{created.name}"}
    )


@router.get("/layers/{name}", tags=["constraint layers"], response_model=LayerOut, responses=ADMIN)
async def get_layer(name: LayerName, request: Request, session: SessionDep):
    return await _one(request, session, name)


@router.patch(
    "/layers/{name}",
    tags=["constraint layers"],
    dependencies=[AdminKey],
    response_model=LayerOut,
    responses={422: {"model": ProblemOut}, **ADMIN},
)
async def patch_layer(name: LayerName, body: LayerPatch, request: Request, session: SessionDep):
    """Change a layer's title, source, licence, description or attributes (admins); its name
    and kind stay."""
    try:
        values = body.values()
    except ValueError as exc:
        raise ValidationProblem(str(exc)) from None
    if values:
        await layers.update(session, name, values)
    return await _one(request, session, name)


@router.delete(
    "/layers/{name}", tags=["constraint layers"], status_code=204, dependencies=[AdminKey], responses=ADMIN
)
async def delete_layer(name: LayerName, session: SessionDep):
    """Delete a layer and its areas (admins)."""
    await layers.delete(session, name)
    return Response(status_code=204)


async def _layer_type(session, name: str) -> FeatureType:
    return layers.constraint_type(await layers.get(session, name))


@router.get(
    "/layers/{name}/features",
    tags=["constraint layers"],
    response_class=GeoJSONResponse,
    responses={200: {"model": FeatureCollection}, 404: {"model": ProblemOut}},
)
async def layer_features(
    name: LayerName, request: Request, session: SessionDep, paging: PagingDep, bbox: BBoxDep
):
    """The layer's areas as a FeatureCollection, in id order, those meeting `bbox` if given."""
    ft = await _layer_type(session, name)
    return await collection(
        await features.list_of(session, ft, bbox, paging.limit, paging.offset), request, paging
    )


@router.get(
    "/layers/{name}/features/{feature_id}",
    tags=["constraint layers"],
    response_class=GeoJSONResponse,
    responses={404: {"model": ProblemOut}},
)
async def layer_feature(
    name: LayerName, feature_id: Annotated[int, Path(ge=1, lt=2**63)], session: SessionDep
):
    ft = await _layer_type(session, name)
    return versioned(await features.fetch(session, ft, feature_id))


@router.get(
    "/admin/lookup",
    tags=["administrative areas"],
    response_model=AdminLookup,
    responses={404: {"model": ProblemOut}, 422: {"model": ProblemOut}},
)
async def admin_lookup(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, WGS 84.")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, WGS 84.")],
):
    """The province, regency, district and village (Kemendagri codes and names) holding a point;
    404 outside Kalimantan Timur's regencies."""
    found = await admin.lookup(session, lon, lat)
    if found is None:
        raise NotFound(f"The point {lon:g},{lat:g} lies in no regency of Kalimantan Timur.")
    return {"lon": lon, "lat": lat, **found}


def _read_only_routes(made: APIRouter, ft: FeatureType) -> None:
    """List and item routes of a read-only catalogue type, under /admin for administrative ones."""
    base = f"/admin/{ft.id}" if ft.group == "admin" else f"/{ft.id}"

    async def list_features(request: Request, session: SessionDep, paging: PagingDep, bbox: BBoxDep):
        page = await features.list_of(session, ft, bbox, paging.limit, paging.offset)
        return await collection(page, request, paging)

    async def get_feature(
        key: Annotated[str, Path(description=f"The {ft.label}'s {ft.key}.")], session: SessionDep
    ):
        if ft.key_is_int:  # an integer key: anything else names no feature
            if not (key.isdigit() and int(key) < 2**63):
                raise ft.not_found(key)
            return versioned(await features.fetch(session, ft, int(key)))
        return versioned(await features.fetch(session, ft, key))

    tags = ["administrative areas" if ft.group == "admin" else ft.id]
    made.add_api_route(
        base,
        list_features,
        methods=["GET"],
        tags=tags,
        summary=ft.title,
        description=f"{ft.description} A FeatureCollection in {ft.key} order; `bbox` keeps those it meets.",
        response_class=GeoJSONResponse,
        responses={200: {"model": FeatureCollection}},
        operation_id=f"list_{ft.id}",
    )
    made.add_api_route(
        f"{base}/{{key}}",
        get_feature,
        methods=["GET"],
        tags=tags,
        summary=f"One {ft.label}",
        response_class=GeoJSONResponse,
        responses={404: {"model": ProblemOut}},
        operation_id=f"get_{ft.id}",
    )


def read_only_router() -> APIRouter:
    """The list and item routes of every read-only type the catalogue declares, made from the
    declarations when the app is made."""
    made = APIRouter(dependencies=[ReadAccess])
    for ft in STATIC.values():
        if ft.writer is None:
            _read_only_routes(made, ft)
    return made
