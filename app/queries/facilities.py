"""Facilities (ports, airports, IKN ...): CRUD and the nearest facilities to a point."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.geometry import ANY_SIMPLE, normalise, to_wkb
from app.queries import features
from app.queries.features import Page, Resource, feature_sql
from app.schemas.facilities import FacilityCreate, FacilityPatch

PROPERTIES = {
    "code": "t.code",
    "name": "t.name",
    "kind": "t.kind",
    "source": "t.source",
    "attributes": "t.attributes",
    "created_at": "t.created_at",
    "updated_at": "t.updated_at",
}

FACILITY = Resource(
    label="facility",
    table="facility",
    key="code",
    properties=PROPERTIES,
    jsonb_columns=frozenset({"attributes"}),
)

# Nearest-neighbour questions take this many more candidates from the index (ordered by planar
# distance in degrees, `<->`) than they return, then rank them by distance on the spheroid. At
# Kaltim's latitudes a degree of longitude and of latitude differ by under 1 %, so the geodesic
# nearest is always among the planar candidates unless many facilities tie within that 1 %.
KNN_SPARE = 8


async def list_facilities(session: AsyncSession, kinds: list[str] | None, limit: int, offset: int) -> Page:
    where, params = [], {}
    if kinds:
        where.append("t.kind = ANY(:kinds)")
        params["kinds"] = kinds
    return await features.page(
        session, feature=FACILITY.feature, source="facility t", where=where, params=params,
        order="t.code", limit=limit, offset=offset,
    )


async def get_facility(session: AsyncSession, code: str) -> str:
    return await features.fetch(session, FACILITY, code)


async def create_facility(session: AsyncSession, body: FacilityCreate, settings: Settings) -> tuple[Any, str]:
    geom = normalise(body.geometry.model_dump(), ANY_SIMPLE, settings.area_of_interest)
    key, feature = await features.insert(session, FACILITY, body.properties.model_dump(mode="json"), to_wkb(geom))
    await session.commit()
    return key, feature


async def update_facility(session: AsyncSession, code: str, body: FacilityPatch, settings: Settings) -> str:
    geom = None
    if body.geometry is not None:
        geom = to_wkb(normalise(body.geometry.model_dump(), ANY_SIMPLE, settings.area_of_interest))
    values: dict[str, Any] = body.properties.model_dump(mode="json", exclude_unset=True)
    feature = await features.update(session, FACILITY, code, values, geom)
    await session.commit()
    return feature


async def delete_facility(session: AsyncSession, code: str) -> None:
    await features.delete(session, FACILITY, code)


NEAREST_FEATURE = feature_sql("t.code", {**PROPERTIES, "distance_m": "round(t.distance_m::numeric, 2)"})


async def nearest_to_point(
    session: AsyncSession, lon: float, lat: float, kinds: list[str] | None, limit: int
) -> Page:
    """The `limit` facilities nearest to (lon, lat), nearest first, each with its geodesic distance."""
    kind_filter = "AND f.kind = ANY(:kinds)" if kinds else ""
    sql = f"""
        WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom),
        candidates AS (
            SELECT f.* FROM facility f, here
            WHERE true {kind_filter}
            ORDER BY f.geom <-> here.geom
            LIMIT :candidates
        ),
        t AS (
            SELECT c.*, ST_Distance(c.geom::geography, here.geom::geography, true) AS distance_m
            FROM candidates c, here
            ORDER BY distance_m, c.code
            LIMIT :limit
        )
        SELECT count(*) AS returned,
               coalesce(json_agg({NEAREST_FEATURE} ORDER BY t.distance_m, t.code), '[]'::json)::text AS features
        FROM t
    """
    params: dict[str, Any] = {"lon": lon, "lat": lat, "limit": limit, "candidates": limit + KNN_SPARE}
    if kinds:
        params["kinds"] = kinds
    row = (await session.execute(text(sql), params)).one()
    return Page(features=row.features, matched=row.returned, returned=row.returned)
