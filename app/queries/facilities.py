"""Facilities (ports, airports, IKN ...): listing and the nearest facilities to a point."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.queries import features
from app.queries.catalogue import FACILITIES, feature_sql
from app.queries.features import Page

FACILITY = FACILITIES
PROPERTIES = FACILITY.properties

# Nearest-neighbour questions take this many more candidates from the index (ordered by planar
# distance in degrees, `<->`) than they return, then rank them by distance on the spheroid. At
# Kaltim's latitudes a degree of longitude and of latitude differ by under 1 %, so the geodesic
# nearest is always among the planar candidates unless many facilities tie within that 1 %.
KNN_SPARE = 8


def nearest_by_kind(geom: str) -> str:
    """SQL: a JSON object giving, for each kind in the `:kinds` text[] parameter (in its order),
    the facility nearest to geometry `geom` as {code, name, distance_m}, or null if there is none.

    KNN (`<->`) on the facility index picks `:knn` candidates; the spheroid distance ranks them.
    The distance is 0 when the facility touches or lies inside the geometry.
    """
    return f"""(
        SELECT json_object_agg(k.kind, CASE WHEN n.code IS NULL THEN NULL ELSE
                   json_build_object('code', n.code, 'name', n.name,
                                     'distance_m', round(n.distance_m::numeric, 2)) END
               ORDER BY k.position)
        FROM unnest(CAST(:kinds AS text[])) WITH ORDINALITY AS k(kind, position)
        LEFT JOIN LATERAL (
            SELECT c.code, c.name, ST_Distance(c.geom::geography, ({geom})::geography, true) AS distance_m
            FROM (SELECT f.code, f.name, f.geom FROM facility f WHERE f.kind = k.kind
                  ORDER BY f.geom <-> ({geom}) LIMIT :knn) c
            ORDER BY distance_m, c.code
            LIMIT 1
        ) n ON true
    )"""


def nearest_distance(geom: str, kind_param: str) -> str:
    """SQL: the geodesic distance in metres from `geom` to the nearest facility of kind `:kind_param`."""
    return f"""(
        SELECT min(ST_Distance(c.geom::geography, ({geom})::geography, true))
        FROM (SELECT f.geom FROM facility f WHERE f.kind = :{kind_param}
              ORDER BY f.geom <-> ({geom}) LIMIT :knn) c
    )"""


KNN_PARAMS = {"knn": 1 + KNN_SPARE}


async def list_facilities(session: AsyncSession, kinds: list[str] | None, limit: int, offset: int) -> Page:
    where, params = [], {}
    if kinds:
        where.append("t.kind = ANY(:kinds)")
        params["kinds"] = kinds
    return await features.page(
        session,
        feature=FACILITY.feature,
        source="facility t",
        where=where,
        params=params,
        order="t.code",
        limit=limit,
        offset=offset,
    )


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
        )
        SELECT ({NEAREST_FEATURE})::text
        FROM (SELECT c.*, ST_Distance(c.geom::geography, here.geom::geography, true) AS distance_m
              FROM candidates c, here) t
        ORDER BY t.distance_m, t.code
        LIMIT :limit
    """
    params: dict[str, Any] = {"lon": lon, "lat": lat, "limit": limit, "candidates": limit + KNN_SPARE}
    if kinds:
        params["kinds"] = kinds
    return features.page_of_rows(session, sql, params, limit)
