"""Site search: the parcels that fit a project, judged by status, size, sector, zone and distance.

Distances are geodesic on the WGS84 spheroid, and every criterion is index-served. The spatial
criterion that should match the fewest parcels drives the query through the GiST index; the
others are checked on each parcel it yields. Distances are computed only for the parcels on the
page, or for all matches when sorting by one.

"Within d metres of a facility" (`within_distance`) is ST_DWithin on geography, preceded by two
exact shortcuts in plain lon/lat degrees that spare the spheroid maths for almost every parcel:
no direction on the WGS84 ellipsoid has more than MAX_M_PER_DEGREE metres per degree, so a
parcel within d / MAX_M_PER_DEGREE degrees is surely within d metres; and near the facility's
latitudes no direction has fewer than `min_m_per_degree` metres per degree, so a parcel farther
than d / min_m_per_degree degrees is surely beyond. Only parcels between the two bounds (under
1 % of the radius wide) are measured on the spheroid. tests/test_search.py checks the answers
against plain ST_DWithin on geography.
"""

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationProblem
from app.queries import features, layers
from app.queries.facilities import KNN_PARAMS, nearest_distance
from app.queries.features import Page, Selection
from app.queries.parcels import IN_ZONE, properties

Sort = Literal["area_ha", "-area_ha", "distance_to_port", "distance_to_capital"]

# The meridian degree near the poles (111,694 m) is the longest degree in any direction.
MAX_M_PER_DEGREE = 111_700.0
MARGIN = 1.001


def min_m_per_degree(geom: str, metres: str) -> str:
    """SQL: the fewest metres per degree in any direction within `metres` of `geom`'s latitudes
    (a degree of longitude shrinks with the cosine of the latitude; of latitude, 110,574 m at least)."""
    furthest_lat = (
        f"least(89.0, greatest(abs(ST_YMin({geom})), abs(ST_YMax({geom}))) + {metres} / 110574.0 + 0.01)"
    )
    return f"least(110574.0, 111320.0 * cos(radians({furthest_lat})))"


def within_distance(parcel: str, target: str, metres: str) -> str:
    """SQL: parcel geometry `parcel` lies within `metres` (geodesic) of geometry `target`."""
    inner = f"({metres} / {MAX_M_PER_DEGREE * MARGIN})"
    outer = f"({metres} / {min_m_per_degree(target, metres)} * {MARGIN})"
    return (
        f"({parcel} && ST_Expand({target}, {outer}) AND (ST_DWithin({parcel}, {target}, {inner}) OR "
        f"(ST_DWithin({parcel}, {target}, {outer}) AND "
        f"ST_DWithin(({parcel})::geography, ({target})::geography, {metres}, true))))"
    )


TO_PORT = nearest_distance("t.geom", "port_kind")
TO_CAPITAL = nearest_distance("t.geom", "capital_kind")
NEAR_POINT = "ST_SetSRID(ST_MakePoint(:near_lon, :near_lat), 4326)"

ORDER = {
    "area_ha": "t.area_ha, t.id",
    "-area_ha": "t.area_ha DESC, t.id",
    "distance_to_port": f"{TO_PORT}, t.id",
    "distance_to_capital": f"{TO_CAPITAL}, t.id",
}


@dataclass(frozen=True)
class SiteCriteria:
    land_status: list[str]
    zones: list[str] | None = None
    min_area_ha: float | None = None
    max_area_ha: float | None = None
    sector: str | None = None
    max_distance_to_port_m: float | None = None
    max_distance_to_capital_m: float | None = None
    near: tuple[float, float] | None = None
    within_m: float | None = None
    exclude: list[str] | None = None  # constraint layers a parcel must not overlap ...
    exclude_tolerance: float = 0.0  # ... by more than this share of its area
    require: list[str] | None = None  # constraint layers that must each cover the parcel
    conforms_to_plan: str | None = None  # a use the spatial plans must allow where the parcel lies
    sort: Sort = "-area_ha"


@dataclass(frozen=True)
class Spatial:
    """One spatial criterion, as a driving semi-join and as a per-parcel check."""

    reach_m2: float  # about how much ground it admits: the smallest drives
    drive: str
    check: str


def _near_facilities(kind_param: str, metres: str, reach_m2: float) -> Spatial:
    return Spatial(
        reach_m2,
        drive=f"t.id IN (SELECT p.id FROM facility f JOIN parcel p "
        f"ON {within_distance('p.geom', 'f.geom', metres)} WHERE f.kind = :{kind_param})",
        check=f"EXISTS (SELECT 1 FROM facility f WHERE f.kind = :{kind_param} "
        f"AND {within_distance('t.geom', 'f.geom', metres)})",
    )


async def _ground(session: AsyncSession, zones: list[str] | None) -> tuple[dict[str, int], float, list[str]]:
    """Facilities per kind, the zones' total area (m²) and the zone codes that do not exist."""
    sql = """SELECT (SELECT coalesce(json_object_agg(kind, n), '{}') FROM
                        (SELECT kind, count(*) AS n FROM facility GROUP BY kind) k),
                    (SELECT coalesce(sum(area_ha), 0) * 10000 FROM zone WHERE code = ANY(:zones)),
                    (SELECT coalesce(array_agg(code), '{}') FROM zone WHERE code = ANY(:zones))"""
    counts, area_m2, known = (await session.execute(text(sql), {"zones": zones or []})).one()
    return counts, area_m2, [code for code in zones or [] if code not in known]


def _spatial(c: SiteCriteria, counts: dict[str, int], zone_m2: float) -> list[Spatial]:
    spatial = []
    if c.zones:
        # The zones' parcels are gathered first (each zone's box, through the GiST index, settled
        # by the zones the database keeps on each parcel) and fetched by key. As a semi-join
        # (`t.id IN (...)`) the planner takes PostGIS's estimate of zone-parcel pairs, which is
        # blind to the choice of zones, and once zone has statistics reads parcel sequentially.
        spatial.append(
            Spatial(
                zone_m2,
                drive=f"t.id = ANY(ARRAY(SELECT t.id FROM zone z JOIN parcel t ON {IN_ZONE} "
                "WHERE z.code = ANY(:zones)))",
                check="t.zone_codes && CAST(:zones AS text[])",
            )
        )
    if c.max_distance_to_port_m is not None:
        reach = counts.get("port", 0) * 3.1416 * c.max_distance_to_port_m**2
        spatial.append(_near_facilities("port_kind", "CAST(:max_port_m AS float8)", reach))
    if c.max_distance_to_capital_m is not None:
        reach = counts.get("capital", 0) * 3.1416 * c.max_distance_to_capital_m**2
        spatial.append(_near_facilities("capital_kind", "CAST(:max_capital_m AS float8)", reach))
    if c.near is not None:
        near = within_distance("t.geom", NEAR_POINT, "CAST(:within_m AS float8)")
        spatial.append(Spatial(3.1416 * c.within_m**2, drive=near, check=near))
    return sorted(spatial, key=lambda s: s.reach_m2)


async def site_selection(session: AsyncSession, c: SiteCriteria, *, show_holder: bool) -> Selection:
    """The parcels that fit the criteria, with their distances, in the criteria's order: what
    a search answers (paged) and what its export holds (whole)."""
    counts, zone_m2, missing = await _ground(session, c.zones)
    if missing:
        raise ValidationProblem(f"zone: no zone with code {', '.join(map(repr, missing))}.")
    where = ["t.land_status = ANY(:land_status)"]
    params: dict = {
        "land_status": c.land_status,
        "port_kind": "port",
        "capital_kind": "capital",
        **KNN_PARAMS,
    }
    spatial = _spatial(c, counts, zone_m2)
    where += [s.drive if i == 0 else s.check for i, s in enumerate(spatial)]
    if c.min_area_ha is not None:
        where.append("t.area_ha >= :min_area_ha")
    if c.max_area_ha is not None:
        where.append("t.area_ha <= :max_area_ha")
    if c.sector is not None:
        where.append("lower(t.sector) = lower(:sector)")
    params.update(
        zones=c.zones,
        min_area_ha=c.min_area_ha,
        max_area_ha=c.max_area_ha,
        sector=c.sector,
        max_port_m=c.max_distance_to_port_m,
        max_capital_m=c.max_distance_to_capital_m,
        within_m=c.within_m,
    )
    if c.near is not None:
        params.update(near_lon=c.near[0], near_lat=c.near[1])
    where += await _constraint_conditions(session, c, params)
    judged = {
        **properties(show_holder),
        "distance_to_port_m": f"round({TO_PORT}::numeric, 2)",
        "distance_to_capital_m": f"round({TO_CAPITAL}::numeric, 2)",
    }
    if c.near is not None:
        to_point = f"ST_Distance(t.geom::geography, {NEAR_POINT}::geography, true)"
        judged["distance_to_point_m"] = f"round({to_point}::numeric, 2)"
    judged["constraints"] = layers.CONSTRAINTS_OF_PARCEL
    numbers = frozenset({"price_idr_per_m2", "area_ha", "distance_to_port_m", "distance_to_capital_m"})
    return Selection(
        "sites",
        "parcel t",
        where,
        params,
        judged,
        order=ORDER[c.sort],
        numbers=numbers | {"distance_to_point_m"},
    )


async def _constraint_conditions(session: AsyncSession, c: SiteCriteria, params: dict) -> list[str]:
    """The conditions of `exclude`, `require` and `conforms_to_plan` (their parameters go into
    `params`), each checked on the parcels the other criteria yield, through constraint_feature's
    GiST index."""
    where = []
    if c.exclude:
        params["exclude_layers"] = await layers.ids(session, c.exclude, "exclude")
        params["exclude_tolerance"] = c.exclude_tolerance
        where.append(layers.excluded("exclude_layers", "exclude_tolerance"))
    for i, layer_id in enumerate(await layers.ids(session, c.require, "require") if c.require else []):
        params[f"require_{i}"] = layer_id
        where.append(layers.required(f"require_{i}"))
    if c.conforms_to_plan is not None:
        uses = await layers.plan_uses(session)
        if c.conforms_to_plan not in uses:
            raise ValidationProblem(
                f"conforms_to_plan: no spatial plan allows {c.conforms_to_plan!r}; the uses the plans "
                f"allow are: {', '.join(uses) or 'none (no spatial_plan layer has areas)'}."
            )
        params["plan_use"] = c.conforms_to_plan
        where.append(layers.conforming("plan_use"))
    return where


async def search_sites(
    session: AsyncSession, c: SiteCriteria, limit: int, offset: int, *, show_holder: bool
) -> Page:
    s = await site_selection(session, c, show_holder=show_holder)
    return await features.page_of(session, s, limit, offset, count_in_query=True)
