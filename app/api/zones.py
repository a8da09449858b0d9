from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    GEOJSON,
    AdminKey,
    GeoJSONResponse,
    HolderDep,
    IfMatchDep,
    ReadAccess,
    SettingsDep,
    WriteKey,
    csv_enum,
    versioned,
)
from app.api.lists import BBoxDep, PagingDep, collection
from app.db import SessionDep
from app.models import LandStatus
from app.queries import analysis, features, history, parcels, projects, zones
from app.queries.parcels import ParcelFilter, Relation
from app.queries.zones import ZONE
from app.schemas.common import FeatureCollection, ProblemOut
from app.schemas.history import ChangeList
from app.schemas.projects import ProjectList
from app.schemas.zones import Connectivity, ZoneCreate, ZoneFeature, ZonePatch, ZoneSummary

router = APIRouter(prefix="/zones", tags=["zones"], dependencies=[ReadAccess])

FEATURE = {200: {"model": ZoneFeature, "content": {GEOJSON: {}}}, 404: {"model": ProblemOut}}
WRITE = {
    401: {"model": ProblemOut},
    403: {"model": ProblemOut},
    409: {"model": ProblemOut},
    422: {"model": ProblemOut},
}
DELETE = {401: {"model": ProblemOut}, 403: {"model": ProblemOut}, 404: {"model": ProblemOut}}
Repair = Annotated[bool, Query(description="Make invalid geometry valid instead of refusing it.")]


@router.get("", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def list_zones(request: Request, session: SessionDep, paging: PagingDep):
    """All zones as a GeoJSON FeatureCollection, ordered by code."""
    page = await zones.list_zones(session, paging.limit, paging.offset)
    return await collection(page, request, paging)


@router.get("/connectivity", response_model=Connectivity)
async def zone_connectivity(session: SessionDep):
    """Geodesic distances between every pair of zones (edge to edge) and from each zone to its
    nearest port, airport and IKN: the table for the province's aim of connecting its three
    industrial areas."""
    return Response(await analysis.connectivity(session), media_type="application/json")


@router.post(
    "",
    status_code=201,
    response_class=GeoJSONResponse,
    dependencies=[WriteKey],
    responses={201: {"model": ZoneFeature}, **WRITE},
)
async def create_zone(body: ZoneCreate, session: SessionDep, settings: SettingsDep, repair: Repair = False):
    """Create a zone from a GeoJSON Feature (Polygon or MultiPolygon)."""
    code, feature = await features.create(session, ZONE, body, settings.geometry_rules, repair=repair)
    return versioned(feature, status_code=201, Location=f"/zones/{code}")


@router.get("/{code}", response_class=GeoJSONResponse, responses=FEATURE)
async def get_zone(code: str, session: SessionDep):
    return versioned(await features.fetch(session, ZONE, code))


@router.patch(
    "/{code}", response_class=GeoJSONResponse, dependencies=[WriteKey], responses={**FEATURE, **WRITE}
)
async def update_zone(
    code: str,
    body: ZonePatch,
    session: SessionDep,
    settings: SettingsDep,
    if_match: IfMatchDep,
    repair: Repair = False,
):
    """Change the properties sent (and the geometry, if sent); the rest stays. With `If-Match`,
    only if the zone is still the version of that ETag (412 otherwise)."""
    feature = await features.patch(
        session, ZONE, code, body, settings.geometry_rules, repair=repair, if_match=if_match
    )
    return versioned(feature)


@router.delete("/{code}", status_code=204, dependencies=[AdminKey], responses=DELETE)
async def delete_zone(code: str, session: SessionDep, if_match: IfMatchDep):
    await features.delete(session, ZONE, code, if_match)
    return Response(status_code=204)


@router.get(
    "/{code}/parcels",
    response_class=GeoJSONResponse,
    responses={200: {"model": FeatureCollection}, 404: {"model": ProblemOut}},
)
async def parcels_in_zone(
    code: str,
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    show_holder: HolderDep,
    relation: Annotated[
        Relation,
        Query(
            description="`within`: covered by the zone; "
            "`intersects`: touching it at all, with `share_in_zone`."
        ),
    ] = "within",
    land_status: Annotated[str | None, Query(description="Comma-separated land statuses.")] = None,
):
    """The parcels in a zone. With `relation=intersects` each carries `share_in_zone`, the share
    (0-1) of its geodesic area that lies inside the zone."""
    f = ParcelFilter(
        bbox=bbox, land_status=csv_enum("land_status", land_status, LandStatus), relation=relation
    )
    page = await parcels.list_parcels_in_zone(
        session, code, f, paging.limit, paging.offset, show_holder=show_holder
    )
    return await collection(page, request, paging)


@router.get("/{code}/projects", responses={200: {"model": ProjectList}, 404: {"model": ProblemOut}})
async def projects_in_zone(code: str, request: Request, session: SessionDep, paging: PagingDep):
    """The investment projects in a zone."""
    page = await projects.list_projects(
        session, zone=code, status=None, sector=None, limit=paging.limit, offset=paging.offset
    )
    return await collection(page, request, paging, member="projects")


@router.get("/{code}/summary", response_model=ZoneSummary, responses={404: {"model": ProblemOut}})
async def zone_summary(code: str, session: SessionDep):
    """Parcels by land status (count and geodesic area), the share of the zone that is parcelled,
    the available area, the nearest port and IKN (geodesic, from the zone's edge; 0 when inside)
    and the zone's investment projects."""
    return Response(await analysis.zone_summary(session, code), media_type="application/json")


@router.get("/{code}/history", responses={200: {"model": ChangeList}, 404: {"model": ProblemOut}})
async def zone_history(code: str, request: Request, session: SessionDep, paging: PagingDep):
    """Every recorded change of the zone, newest first, also once it is deleted."""
    page = await history.changes_of(
        session,
        "zone",
        "code",
        code,
        lambda: ZONE.not_found(code),
        show_holder=True,
        limit=paging.limit,
        offset=paging.offset,
    )
    return await collection(page, request, paging, member="changes")
