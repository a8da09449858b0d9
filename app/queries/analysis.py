"""The planner's overviews: a zone's summary, the connectivity table, and land conflicts."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.geometry import BBox
from app.models import LandStatus
from app.queries import features
from app.queries.catalogue import PRECISION, feature_sql
from app.queries.facilities import KNN_PARAMS, nearest_by_kind
from app.queries.features import Page
from app.queries.parcels import IN_ZONE, PROPERTIES, SHARE_IN_ZONE
from app.queries.zones import ZONE, check_zone_filter

# A parcel straddles zone `z` when its interior overlaps the zone but the zone does not cover it (as
# the parcel's stored zones say: migration 0009).
STRADDLES = (
    "t.geom && z.geom AND NOT t.zone_codes @> ARRAY[z.code] AND ST_Relate(z.geom, t.geom, 'T********')"
)

SUMMARY = f"""
WITH z AS (SELECT * FROM zone WHERE code = :code),
inside AS (
    SELECT t.land_status, count(*) AS n, sum(t.area_ha) AS ha
    FROM z JOIN parcel t ON {IN_ZONE} GROUP BY t.land_status
),
straddling AS (
    SELECT count(*) AS n,
           coalesce(sum(ST_Area(ST_Intersection(t.geom, z.geom)::geography, true)), 0) / 10000.0 AS inside_ha
    FROM z JOIN parcel t ON {STRADDLES}
),
statuses AS (
    SELECT s.status, coalesce(i.n, 0) AS n, coalesce(i.ha, 0) AS ha, s.position
    FROM unnest(CAST(:statuses AS text[])) WITH ORDINALITY AS s(status, position)
    LEFT JOIN inside i ON i.land_status = s.status
),
-- Constraint layers (spatial plans aside: they allow uses, they do not constrain): the part of
-- each inside the zone, its areas' union so that overlapping areas count once.
layer_parts AS (
    SELECT l.name, l.title, l.kind, ST_Union(ST_Intersection(f.geom, z.geom)) AS geom
    FROM z JOIN constraint_feature f ON f.geom && z.geom AND ST_Relate(f.geom, z.geom, '2********')
    JOIN constraint_layer l ON l.id = f.layer_id AND l.kind <> 'spatial_plan'
    GROUP BY l.name, l.title, l.kind
),
-- Each available parcel's constrained part, per layer and over all layers: the union of its
-- intersections with the areas that overlap it (found through their GiST index), so that
-- overlapping areas count once. The zone covers these parcels, so clipping to it changes nothing.
available_parts AS (
    SELECT t.id, f.layer_id, ST_Intersection(t.geom, f.geom) AS geom
    FROM z JOIN parcel t ON {IN_ZONE}
    JOIN constraint_feature f ON f.geom && t.geom AND ST_Relate(f.geom, t.geom, '2********')
    JOIN constraint_layer l ON l.id = f.layer_id AND l.kind <> 'spatial_plan'
    WHERE t.land_status = 'available'
),
available_by_layer AS (
    SELECT l.name, sum(s.m2) / 10000.0 AS ha
    FROM (SELECT layer_id, ST_Area(ST_Union(geom)::geography, true) AS m2 FROM available_parts
          GROUP BY layer_id, id) s
    JOIN constraint_layer l ON l.id = s.layer_id GROUP BY l.name
),
layer_summary AS (
    SELECT lp.name, lp.title, lp.kind, ST_Area(lp.geom::geography, true) / 10000.0 AS ha,
           coalesce(a.ha, 0) AS available_ha
    FROM layer_parts lp LEFT JOIN available_by_layer a ON a.name = lp.name
),
constrained_available AS (
    SELECT coalesce(sum(m2), 0) / 10000.0 AS ha
    FROM (SELECT ST_Area(ST_Union(geom)::geography, true) AS m2 FROM available_parts GROUP BY id) s
)
SELECT json_build_object(
    'zone', z.code,
    'name', z.name,
    'area_ha', round(z.area_ha::numeric, 4),
    'parcels', json_build_object(
        'count', (SELECT sum(n) FROM statuses),
        'area_ha', (SELECT round(sum(ha)::numeric, 4) FROM statuses),
        'by_land_status', (SELECT json_object_agg(status, json_build_object('count', n, 'area_ha',
                                                  round(ha::numeric, 4)) ORDER BY position) FROM statuses)),
    'straddling', (SELECT json_build_object('count', n, 'area_inside_ha', round(inside_ha::numeric, 4))
                   FROM straddling),
    'parcelled_area_ha', round(p.parcelled_ha::numeric, 4),
    'parcelled_share', round((p.parcelled_ha / nullif(z.area_ha, 0))::numeric, 6),
    'available_area_ha', (SELECT round(ha::numeric, 4) FROM statuses WHERE status = 'available'),
    'constraints', (SELECT coalesce(json_agg(json_build_object(
                        'layer', s.name, 'title', s.title, 'kind', s.kind,
                        'area_ha', round(s.ha::numeric, 4),
                        'share_of_zone', round((s.ha / nullif(z.area_ha, 0))::numeric, 6),
                        'available_area_ha', round(s.available_ha::numeric, 4)) ORDER BY s.name), '[]'::json)
                    FROM layer_summary s),
    'unconstrained_available_area_ha', (SELECT round((st.ha - c.ha)::numeric, 4)
                                        FROM statuses st, constrained_available c
                                        WHERE st.status = 'available'),
    'nearest', {nearest_by_kind("z.geom")},
    'projects', (SELECT coalesce(json_agg(json_build_object(
                     'id', p.id, 'name', p.name, 'sector', p.sector, 'status', p.status,
                     'investment_value_usd', p.investment_value_usd) ORDER BY p.id), '[]'::json)
                 FROM project p WHERE p.zone_id = z.id)
)::text
FROM z, LATERAL (SELECT (SELECT sum(ha) FROM statuses) + (SELECT inside_ha FROM straddling) AS parcelled_ha) p
"""


async def zone_summary(session: AsyncSession, code: str) -> str:
    """Parcels by land status (count and geodesic area), the share of the zone that is parcelled,
    the available area, per constraint layer the area it covers in the zone and of its available
    parcels, the available area no constraint covers, the nearest port and IKN (geodesic
    distance from the zone's edge, 0 if inside), and the zone's projects. Parcels that straddle
    the edge count with their part inside; where parcels overlap each other, the shared ground
    counts once per parcel."""
    params = {
        "code": code,
        "statuses": [s.value for s in LandStatus],
        "kinds": ["port", "capital"],
        **KNN_PARAMS,
    }
    summary = await session.scalar(text(SUMMARY), params)
    if summary is None:
        raise ZONE.not_found(code)
    return summary


CONNECTIVITY = f"""
SELECT json_build_object(
    'zones', (SELECT coalesce(json_agg(json_build_object(
                  'code', z.code, 'name', z.name, 'nearest', {nearest_by_kind("z.geom")}) ORDER BY z.code),
                  '[]'::json)
              FROM zone z),
    'pairs', (SELECT coalesce(json_agg(json_build_object(
                  'from', a.code, 'to', b.code,
                  'distance_m', round(ST_Distance(a.geom::geography, b.geom::geography, true)::numeric, 2))
                  ORDER BY a.code, b.code), '[]'::json)
              FROM zone a JOIN zone b ON a.code < b.code)
)::text
"""


async def connectivity(session: AsyncSession) -> str:
    """Geodesic distances between every pair of zones (edge to edge), and from each zone to its
    nearest port, airport and IKN."""
    return await session.scalar(text(CONNECTIVITY), {"kinds": ["port", "airport", "capital"], **KNN_PARAMS})


# Overlapping pairs: a Feature whose geometry is the shared ground; straddling parcels: the parcel.
OVERLAPS = f"""
SELECT 'overlap' AS conflict, a.id AS first_id, b.id AS second_id,
    json_build_object('type', 'Feature', 'id', format('overlap-%s-%s', a.id, b.id),
        'geometry', ST_AsGeoJSON(o.geom, {PRECISION})::json,
        'properties', json_build_object('conflict', 'overlap', 'parcel_ids', json_build_array(a.id, b.id),
            'codes', json_build_array(a.code, b.code),
            'overlap_m2', round(ST_Area(o.geom::geography, true)::numeric, 1))) AS feature
FROM {{first}} JOIN parcel b ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS geom) o
WHERE {{scope}}
"""

# {holder} is filled in per caller: t.holder, or null (personal data).
STRADDLING = f"""
SELECT 'straddle' AS conflict, t.id AS first_id, NULL::bigint AS second_id,
    {
    feature_sql(
        "format('straddle-%s-%s', t.id, z.code)",
        {
            **PROPERTIES,
            "holder": "{holder}",
            "conflict": "'straddle'",
            "zone": "z.code",
            "share_in_zone": SHARE_IN_ZONE,
        },
    )
} AS feature
FROM zone z JOIN parcel t ON {STRADDLES}
WHERE {{scope}}
"""


async def conflicts(
    session: AsyncSession,
    kinds: list[str],
    zone: str | None,
    bbox: BBox | None,
    limit: int,
    offset: int,
    *,
    show_holder: bool,
) -> Page:
    """Overlapping parcel pairs (with the overlap in m²) and parcels straddling a zone boundary
    (with their share inside), as one FeatureCollection: overlaps first, by parcel id."""
    params: dict = {}
    overlap_scope, straddle_scope = ["true"], ["true"]
    await check_zone_filter(session, zone)
    first = "parcel a"  # the first parcel of each pair; with a zone, found through the zone
    if zone is not None:
        first = "zone z JOIN parcel a ON z.code = :zone AND ST_Intersects(z.geom, a.geom)"
        straddle_scope.append("z.code = :zone")
        params["zone"] = zone
    if bbox is not None:
        box = "ST_MakeEnvelope(:min_lon, :min_lat, :max_lon, :max_lat, 4326)"
        overlap_scope.append(f"ST_Intersects(a.geom, {box})")
        straddle_scope.append(f"ST_Intersects(t.geom, {box})")
        params.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), bbox, strict=True))
    parts = []
    if "overlap" in kinds:
        parts.append(OVERLAPS.format(first=first, scope=" AND ".join(overlap_scope)))
    if "straddle" in kinds:
        holder = "t.holder" if show_holder else "NULL::text"
        parts.append(STRADDLING.format(scope=" AND ".join(straddle_scope), holder=holder))
    source = "(" + " UNION ALL ".join(parts) + ") t"
    return await features.page(
        session,
        feature="t.feature",
        source=source,
        where=[],
        params=params,
        order="t.conflict, t.first_id, t.second_id",
        count_in_query=True,
        limit=limit,
        offset=offset,
    )
