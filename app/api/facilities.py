from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import (
    GEOJSON,
    GeoJSONResponse,
    IfMatchDep,
    ReadAccess,
    SettingsDep,
    WriteKey,
    csv_enum,
    versioned,
)
from app.api.lists import PagingDep, collection
from app.db import SessionDep
from app.models import FacilityKind
from app.queries import facilities, features, history
from app.queries.facilities import FACILITY
from app.schemas.common import FeatureCollection, ProblemOut
from app.schemas.facilities import FacilityCreate, FacilityFeature, FacilityPatch
from app.schemas.history import ChangeList

router = APIRouter(prefix="/facilities", tags=["facilities"], dependencies=[ReadAccess])

FEATURE = {200: {"model": FacilityFeature, "content": {GEOJSON: {}}}, 404: {"model": ProblemOut}}
WRITE = {
    401: {"model": ProblemOut},
    403: {"model": ProblemOut},
    409: {"model": ProblemOut},
    422: {"model": ProblemOut},
}
Kinds = Annotated[str | None, Query(description="Comma-separated facility kinds, e.g. `port,capital`.")]


@router.get("", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def list_facilities(request: Request, session: SessionDep, paging: PagingDep, kind: Kinds = None):
    """Facilities (ports, airports, IKN ...) as a FeatureCollection, ordered by code."""
    kinds = csv_enum("kind", kind, FacilityKind)
    return await collection(
        await facilities.list_facilities(session, kinds, paging.limit, paging.offset), request, paging
    )


@router.get("/nearest", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def nearest_facilities(
    request: Request,
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, WGS 84.")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, WGS 84.")],
    kind: Kinds = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
):
    """The facilities nearest to a point, nearest first; each feature carries `distance_m`, the
    geodesic distance on the WGS84 spheroid (0 when the point lies inside the facility)."""
    kinds = csv_enum("kind", kind, FacilityKind)
    return await collection(await facilities.nearest_to_point(session, lon, lat, kinds, limit), request)


@router.post(
    "",
    status_code=201,
    response_class=GeoJSONResponse,
    dependencies=[WriteKey],
    responses={201: {"model": FacilityFeature}, **WRITE},
)
async def create_facility(body: FacilityCreate, session: SessionDep, settings: SettingsDep):
    code, feature = await features.create(session, FACILITY, body, settings.geometry_rules)
    return versioned(feature, status_code=201, Location=f"/facilities/{code}")


@router.get("/{code}", response_class=GeoJSONResponse, responses=FEATURE)
async def get_facility(code: str, session: SessionDep):
    return versioned(await features.fetch(session, FACILITY, code))


@router.patch(
    "/{code}", response_class=GeoJSONResponse, dependencies=[WriteKey], responses={**FEATURE, **WRITE}
)
async def update_facility(
    code: str, body: FacilityPatch, session: SessionDep, settings: SettingsDep, if_match: IfMatchDep
):
    """Change the properties sent (and the geometry, if sent). With `If-Match`, only if the
    facility is still the version of that ETag (412 otherwise)."""
    feature = await features.patch(session, FACILITY, code, body, settings.geometry_rules, if_match=if_match)
    return versioned(feature)


@router.delete("/{code}", status_code=204, dependencies=[WriteKey], responses={404: {"model": ProblemOut}})
async def delete_facility(code: str, session: SessionDep, if_match: IfMatchDep):
    await features.delete(session, FACILITY, code, if_match)
    return Response(status_code=204)


@router.get("/{code}/history", responses={200: {"model": ChangeList}, 404: {"model": ProblemOut}})
async def facility_history(code: str, request: Request, session: SessionDep, paging: PagingDep):
    """Every recorded change of the facility, newest first, also once it is deleted."""
    page = await history.changes_of(
        session,
        "facility",
        "code",
        code,
        lambda: FACILITY.not_found(code),
        show_holder=True,
        limit=paging.limit,
        offset=paging.offset,
    )
    return await collection(page, request, paging, member="changes")
