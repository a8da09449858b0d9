"""Parcels: writes (the database keeps the overlap rule), filtered pages, parcels in a zone, distances."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import read
from app.errors import NotFound
from app.geometry import BBox, GeometryRules
from app.queries import features, history
from app.queries.catalogue import PARCELS, FeatureType
from app.queries.facilities import KNN_PARAMS, nearest_by_kind
from app.queries.features import Page, Selection
from app.queries.zones import ZONE, check_zone_filter, zone_exists
from app.schemas.parcels import ParcelCreate, ParcelPatch

Relation = Literal["within", "intersects"]
T = TypeVar("T")

PARCEL = PARCELS
PROPERTIES = PARCEL.properties


def properties(show_holder: bool) -> dict[str, str]:
    return PARCEL.for_caller(show_holder).properties


def resource(show_holder: bool) -> FeatureType:
    return PARCEL.for_caller(show_holder)


# Share of the parcel's (geodesic) area inside zone `z`; 1 without computing an intersection
# when the zone covers the parcel (as the parcel's stored zones say).
SHARE_IN_ZONE = (
    "CASE WHEN t.zone_codes @> ARRAY[z.code] THEN 1.0 "
    "ELSE round((ST_Area(ST_Intersection(t.geom, z.geom)::geography, true) "
    "/ nullif(t.area_ha * 10000.0, 0))::numeric, 6) END"
)


# "Within" is the parcel's stored zones (kept by the database, migration 0009): the zone's box finds
# the candidates through the GiST index, and the stored codes settle them without testing the
# geometry again. "Intersects" is spatial, and gives the share inside.
IN_ZONE = "t.geom @ z.geom AND t.zone_codes @> ARRAY[z.code]"
ZONE_RELATION = {
    "within": IN_ZONE,
    "intersects": "ST_Intersects(t.geom, z.geom)",
}


@dataclass(frozen=True)
class ParcelFilter:
    bbox: BBox | None = None
    land_status: list[str] | None = None
    zone: str | None = None
    relation: Relation = "within"
    as_of: datetime | None = None  # the parcels as they stood then (app.queries.history)


def _scope(f: ParcelFilter) -> tuple[str, list[str], dict[str, Any]]:
    """FROM clause, conditions and parameters for a filter. Each condition is index-served."""
    source, where, params = "parcel t", [], {}
    if f.as_of is not None:
        source = history.state_as_of("parcel")
        params["as_of"] = f.as_of
    if f.zone is not None:
        source = f"{source} JOIN zone z ON z.code = :zone AND {ZONE_RELATION[f.relation]}"
        params["zone"] = f.zone
    if f.bbox is not None:
        where.append(features.intersects_bbox("t.geom", f.bbox, params))
    if f.land_status:
        where.append("t.land_status = ANY(:land_status)")
        params["land_status"] = f.land_status
    return source, where, params


NUMBERS = frozenset({"price_idr_per_m2", "area_ha", "share_in_zone"})


async def selection(
    session: AsyncSession, f: ParcelFilter, *, show_holder: bool, in_zone: str | None = None
) -> Selection:
    """The parcels a list answers: those matching the filter (an unknown zone in it is a 422), or
    with `in_zone` the parcels of that zone (404 if there is none) by the filter's relation,
    each then with its share in the zone for `intersects`. Lists page it; exports stream it."""
    if in_zone is not None:
        if not await zone_exists(session, in_zone):
            raise ZONE.not_found(in_zone)
        f = ParcelFilter(bbox=f.bbox, land_status=f.land_status, zone=in_zone, relation=f.relation)
    else:
        await check_zone_filter(session, f.zone)
    source, where, params = _scope(f)
    props = dict(properties(show_holder))
    if in_zone is not None and f.relation == "intersects":
        props["share_in_zone"] = SHARE_IN_ZONE
    return Selection("parcels", source, where, params, props, numbers=NUMBERS)


async def list_parcels(
    session: AsyncSession, f: ParcelFilter, limit: int, offset: int, *, show_holder: bool
) -> Page:
    """Parcels matching the filter; an unknown zone in the filter is a bad parameter (422)."""
    return await features.page_of(
        session, await selection(session, f, show_holder=show_holder), limit, offset
    )


async def list_parcels_in_zone(
    session: AsyncSession, code: str, f: ParcelFilter, limit: int, offset: int, *, show_holder: bool
) -> Page:
    """The parcels in zone `code` (404 if there is none) by `f.relation`, with the filter's other
    criteria; with `intersects`, each with its share in the zone."""
    chosen = await selection(session, f, show_holder=show_holder, in_zone=code)
    return await features.page_of(session, chosen, limit, offset)


async def get_parcel(
    session: AsyncSession, parcel_id: int, *, show_holder: bool, as_of: datetime | None = None
) -> str:
    """One parcel as a Feature: as it is, or as it stood at `as_of` (404 if it did not exist then)."""
    if as_of is None:
        return await features.fetch(session, resource(show_holder), parcel_id)
    sql = f"SELECT ({resource(show_holder).feature})::text FROM {history.row_as_of('parcel')}"
    feature = await session.scalar(text(sql), {"id": parcel_id, "as_of": as_of})
    if feature is None:
        raise NotFound(f"No parcel with id {parcel_id} at {as_of.isoformat()}.")
    return feature


# The overlap rule lives in the database (triggers parcel_rules_inserted for inserts and
# parcel_rules for moves, migrations 0003 and 0006): an insert or a
# move whose interior overlaps another parcel is refused with the ids (SQLSTATE KL001, a 409
# parcel-overlap problem), unless the transaction's setting kaltim.allow_overlap gives a reason,
# in which case the overlaps are recorded as allowed.
ALLOW_OVERLAP = "SELECT set_config('kaltim.allow_overlap', :reason, true)"
API_REASON = "allowed by the caller (allow_overlap=true)"


async def _writing(session: AsyncSession, allow_overlap: bool, write: Callable[[], Awaitable[T]]) -> T:
    """Run `write` with overlaps allowed (and recorded) if asked, and the setting cleared after
    (a failed write takes the setting with it when its transaction is rolled back)."""
    if not allow_overlap:
        return await write()
    await session.execute(text(ALLOW_OVERLAP), {"reason": API_REASON})
    result = await write()
    await session.execute(text(ALLOW_OVERLAP), {"reason": ""})
    return result


async def create_parcel(
    session: AsyncSession, body: ParcelCreate, rules: GeometryRules, *, repair: bool, allow_overlap: bool
) -> tuple[int, str]:
    return await _writing(
        session,
        allow_overlap,
        lambda: features.create(session, PARCEL, body, rules, repair=repair),
    )


async def update_parcel(
    session: AsyncSession,
    parcel_id: int,
    body: ParcelPatch,
    rules: GeometryRules,
    *,
    repair: bool,
    allow_overlap: bool,
    if_match: list[str] | None = None,
) -> str:
    return await _writing(
        session,
        allow_overlap,
        lambda: features.patch(session, PARCEL, parcel_id, body, rules, repair=repair, if_match=if_match),
    )


async def distances(session: AsyncSession, parcel_id: int, kinds: list[str]) -> str:
    """For each kind, the facility nearest to the parcel and its geodesic distance (0 if inside)."""
    sql = (
        f"SELECT json_build_object('parcel_id', p.id, 'nearest', {nearest_by_kind('p.geom')})::text "
        "FROM parcel p WHERE p.id = :id"
    )
    result = await read(session, sql, {"id": parcel_id, "kinds": kinds, **KNN_PARAMS}, one=True)
    if result is None:
        raise PARCEL.not_found(parcel_id)
    return result
