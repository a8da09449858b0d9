from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.api.deps import (
    GEOJSON,
    AsOfDep,
    GeoJSONResponse,
    HolderDep,
    IfMatchDep,
    ReadAccess,
    SettingsDep,
    WriteKey,
    csv_enum,
    csv_list,
    point_param,
    versioned,
)
from app.api.lists import BBoxDep, PagingDep, collection
from app.db import SessionDep
from app.errors import ValidationProblem
from app.models import ConflictType, FacilityKind, LandStatus
from app.queries import analysis, features, history, layers, parcels, search
from app.queries.parcels import PARCEL, ParcelFilter
from app.queries.search import SiteCriteria, Sort
from app.schemas.common import FeatureCollection, ProblemOut
from app.schemas.history import ChangeList
from app.schemas.parcels import ParcelConstraints, ParcelCreate, ParcelDistances, ParcelFeature, ParcelPatch

router = APIRouter(prefix="/parcels", tags=["parcels"], dependencies=[ReadAccess])

FEATURE = {200: {"model": ParcelFeature, "content": {GEOJSON: {}}}, 404: {"model": ProblemOut}}
WRITE = {
    401: {"model": ProblemOut},
    403: {"model": ProblemOut},
    409: {"model": ProblemOut},
    422: {"model": ProblemOut},
}
Repair = Annotated[bool, Query(description="Make invalid geometry valid instead of refusing it.")]
AllowOverlap = Annotated[bool, Query(description="Store the parcel even if it overlaps others.")]
# Distances from 1 mm: smaller ones underflow PostgreSQL's float8 arithmetic (an error, not 0).
DISTANCE = "Metres, geodesic, from 0.001 to 1,000,000."
ParcelId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The parcel's id.")]


@router.get("", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def list_parcels(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    show_holder: HolderDep,
    as_of: AsOfDep,
    land_status: Annotated[str | None, Query(description="Comma-separated land statuses.")] = None,
    zone: Annotated[str | None, Query(description="Code of a zone that must cover the parcel.")] = None,
):
    """Parcels as a GeoJSON FeatureCollection, ordered by id, filtered by bbox, status and zone;
    with `as_of`, the parcels as they stood then (deleted ones included, later ones left out)."""
    f = ParcelFilter(
        bbox=bbox, land_status=csv_enum("land_status", land_status, LandStatus), zone=zone, as_of=as_of
    )
    page = await parcels.list_parcels(session, f, paging.limit, paging.offset, show_holder=show_holder)
    return await collection(page, request, paging)


async def site_criteria(
    zone: Annotated[
        str | None, Query(description="Comma-separated zone codes the parcel must lie in.")
    ] = None,
    land_status: Annotated[str, Query(description="Comma-separated land statuses.")] = "available",
    min_area_ha: Annotated[float | None, Query(ge=0)] = None,
    max_area_ha: Annotated[float | None, Query(ge=0)] = None,
    sector: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    max_distance_to_port_m: Annotated[
        float | None, Query(ge=0.001, le=1_000_000, description=DISTANCE)
    ] = None,
    max_distance_to_capital_m: Annotated[
        float | None, Query(ge=0.001, le=1_000_000, description=DISTANCE)
    ] = None,
    near: Annotated[
        str | None, Query(description="lon,lat of a point; use with within_m.", examples=["116.80,-1.12"])
    ] = None,
    within_m: Annotated[float | None, Query(ge=0.001, le=1_000_000, description=DISTANCE)] = None,
    exclude: Annotated[
        str | None,
        Query(description="Comma-separated constraint layers (GET /layers): drop parcels they overlap."),
    ] = None,
    exclude_tolerance: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            description="The share of a parcel's area the `exclude` layers may overlap (default 0: none).",
        ),
    ] = 0.0,
    require: Annotated[
        str | None,
        Query(description="Comma-separated constraint layers that must each cover the whole parcel."),
    ] = None,
    conforms_to_plan: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="A use (e.g. `industry`): keep parcels lying wholly where spatial plans allow it.",
        ),
    ] = None,
    sort: Annotated[Sort, Query()] = "-area_ha",
) -> SiteCriteria:
    """The site search's criteria, shared by the search and its export."""
    if min_area_ha is not None and max_area_ha is not None and min_area_ha > max_area_ha:
        raise ValidationProblem("min_area_ha is larger than max_area_ha.")
    return SiteCriteria(
        land_status=csv_enum("land_status", land_status, LandStatus),
        zones=csv_list(zone),
        min_area_ha=min_area_ha,
        max_area_ha=max_area_ha,
        sector=sector,
        max_distance_to_port_m=max_distance_to_port_m,
        max_distance_to_capital_m=max_distance_to_capital_m,
        near=point_param("near", near, within_m, "within_m"),
        within_m=within_m,
        exclude=csv_list(exclude),
        exclude_tolerance=exclude_tolerance,
        require=csv_list(require),
        conforms_to_plan=conforms_to_plan,
        sort=sort,
    )


SiteCriteriaDep = Annotated[SiteCriteria, Depends(site_criteria)]


@router.get("/search", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def search_sites(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    show_holder: HolderDep,
    criteria: SiteCriteriaDep,
):
    """The parcels that fit a project: all criteria optional and combined with AND. Each feature
    carries `distance_to_port_m` and `distance_to_capital_m` (geodesic, to the nearest port and to
    IKN), `distance_to_point_m` with `near`, and `constraints`: per constraint layer, the areas it
    overlaps (m², geodesic) and their share of the parcel. Distance criteria use index-assisted
    ST_DWithin on the spheroid; `exclude`, `require` and `conforms_to_plan` the constraint areas'
    GiST index."""
    page = await search.search_sites(session, criteria, paging.limit, paging.offset, show_holder=show_holder)
    return await collection(page, request, paging)


@router.get("/conflicts", response_class=GeoJSONResponse, responses={200: {"model": FeatureCollection}})
async def land_conflicts(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    show_holder: HolderDep,
    type: Annotated[str, Query(description="Comma-separated: `overlap`, `straddle`.")] = "overlap,straddle",
    zone: Annotated[str | None, Query(description="Only conflicts in or across this zone.")] = None,
):
    """Pairs of parcels that overlap (the feature is the shared ground, with `overlap_m2`) and
    parcels that straddle a zone boundary (the feature is the parcel, with `share_in_zone`).
    Unfiltered it examines every parcel: narrow it with `zone` or `bbox` on large data."""
    kinds = csv_enum("type", type, ConflictType)
    page = await analysis.conflicts(
        session, kinds, zone, bbox, paging.limit, paging.offset, show_holder=show_holder
    )
    return await collection(page, request, paging)


@router.post(
    "",
    status_code=201,
    response_class=GeoJSONResponse,
    dependencies=[WriteKey],
    responses={201: {"model": ParcelFeature}, **WRITE},
)
async def create_parcel(
    body: ParcelCreate,
    session: SessionDep,
    settings: SettingsDep,
    repair: Repair = False,
    allow_overlap: AllowOverlap = False,
):
    """Create a parcel from a GeoJSON Feature (Polygon or MultiPolygon). Its id is assigned here.
    A parcel whose interior overlaps another's is refused (409) unless `allow_overlap=true`."""
    parcel_id, feature = await parcels.create_parcel(
        session, body, settings.geometry_rules, repair=repair, allow_overlap=allow_overlap
    )
    return versioned(feature, status_code=201, Location=f"/parcels/{parcel_id}")


@router.get("/{parcel_id}", response_class=GeoJSONResponse, responses=FEATURE)
async def get_parcel(parcel_id: ParcelId, session: SessionDep, show_holder: HolderDep, as_of: AsOfDep):
    """The parcel; with `as_of`, as it stood then (404 if it did not exist then)."""
    return versioned(await parcels.get_parcel(session, parcel_id, show_holder=show_holder, as_of=as_of))


@router.get("/{parcel_id}/history", responses={200: {"model": ChangeList}, 404: {"model": ProblemOut}})
async def parcel_history(
    parcel_id: ParcelId, request: Request, session: SessionDep, paging: PagingDep, show_holder: HolderDep
):
    """Every recorded change of the parcel, newest first, also once it is deleted: who, when, the
    operation, and the row before and after."""
    page = await history.changes_of(
        session,
        "parcel",
        "id",
        parcel_id,
        lambda: PARCEL.not_found(parcel_id),
        show_holder=show_holder,
        limit=paging.limit,
        offset=paging.offset,
    )
    return await collection(page, request, paging, member="changes")


@router.patch(
    "/{parcel_id}", response_class=GeoJSONResponse, dependencies=[WriteKey], responses={**FEATURE, **WRITE}
)
async def update_parcel(
    parcel_id: ParcelId,
    body: ParcelPatch,
    session: SessionDep,
    settings: SettingsDep,
    if_match: IfMatchDep,
    repair: Repair = False,
    allow_overlap: AllowOverlap = False,
):
    """Change the properties sent (and the geometry, if sent); the rest stays. With `If-Match`,
    only if the parcel is still the version of that ETag (412 otherwise)."""
    feature = await parcels.update_parcel(
        session,
        parcel_id,
        body,
        settings.geometry_rules,
        repair=repair,
        allow_overlap=allow_overlap,
        if_match=if_match,
    )
    return versioned(feature)


@router.delete(
    "/{parcel_id}", status_code=204, dependencies=[WriteKey], responses={404: {"model": ProblemOut}}
)
async def delete_parcel(parcel_id: ParcelId, session: SessionDep, if_match: IfMatchDep):
    await features.delete(session, PARCEL, parcel_id, if_match)
    return Response(status_code=204)


@router.get(
    "/{parcel_id}/constraints", response_model=ParcelConstraints, responses={404: {"model": ProblemOut}}
)
async def parcel_constraints(parcel_id: ParcelId, session: SessionDep):
    """What constrains the parcel: per constraint layer (GET /layers), the areas the parcel's
    interior overlaps, each with the overlapping area (m², geodesic on the WGS84 spheroid) and its
    share of the parcel, and the layer's total. Layers it does not overlap are left out."""
    found = await layers.of_parcel(session, parcel_id)
    if found is None:
        raise PARCEL.not_found(parcel_id)
    return Response(found, media_type="application/json")


@router.get("/{parcel_id}/distances", response_model=ParcelDistances, responses={404: {"model": ProblemOut}})
async def parcel_distances(
    parcel_id: ParcelId,
    session: SessionDep,
    kinds: Annotated[str, Query(description="Comma-separated facility kinds.")] = "port,capital",
):
    """The nearest facility of each kind to the parcel, with its geodesic distance in metres on the
    WGS84 spheroid (0 when the facility lies inside the parcel)."""
    wanted = csv_enum("kinds", kinds, FacilityKind)
    return Response(await parcels.distances(session, parcel_id, wanted), media_type="application/json")
