"""Two illustrative constraint layers for the demo data: a flood hazard layer and a spatial plan,
both invented shapes drawn from the zones' outlines, so that a parcel's constraints, site search
by layers and plan, and the zone summary's constrained area have something to show. Neither is
official data, and each says so in its title, description, source, licence and attributes."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ConstraintKind
from app.queries import layers

NOT_OFFICIAL = (
    "Illustrative demo data: invented shapes, not surveyed and not published by any agency; "
    "do not use it for decisions."
)
SOURCE = (
    "Illustrative: invented by `python -m app.cli demo-parcels` from the demo zones' outlines "
    "(app/queries/demo_layers.py)"
)
LICENCE = "Illustrative demo data, free to use; not official data"

FLOOD = {
    "name": "demo-flood-hazard",
    "title": "Flood hazard (illustrative demo data)",
    "kind": ConstraintKind.flood_hazard.value,
    "source": SOURCE,
    "licence": LICENCE,
    "description": "One invented flood-prone ellipse in each zone, about 1.3 by 0.76 km, covering some demo "
    "parcels wholly and others in part. " + NOT_OFFICIAL,
    "attributes": {"demo": True, "illustrative": True},
}
PLAN = {
    "name": "demo-spatial-plan",
    "title": "Spatial plan (illustrative demo data)",
    "kind": ConstraintKind.spatial_plan.value,
    "source": SOURCE,
    "licence": LICENCE,
    "description": "Each zone cut in two by an invented north-south line a quarter of the way across: a "
    "green belt in the west (allowed use: green_open_space), an industrial area in the rest (allowed uses: "
    "industry, logistics, warehousing). Demo parcels across the line conform to neither. " + NOT_OFFICIAL,
    "attributes": {"demo": True, "illustrative": True},
}

AREA_ATTRIBUTES = '{"demo": true, "illustrative": true}'

# In UTM 50S: an ellipse with semi-axes of 650 m and 380 m, its long axis turned 35 degrees from
# east, centred west and north of each zone's centroid (by 15 % of the zone's width and 20 % of
# its height).
FLOOD_AREAS = f"""
INSERT INTO constraint_feature (layer_id, code, name, attributes, geom)
SELECT :layer_id, format('DEMO-FLOOD-%s', upper(z.code)),
       format('Flood-prone area in %s (illustrative)', z.name), CAST('{AREA_ATTRIBUTES}' AS jsonb),
       ST_Multi(ST_Transform(ST_SetSRID(ST_Translate(
           ST_Rotate(ST_Scale(ST_Buffer(ST_MakePoint(0, 0), 1, 16), 650, 380), radians(35)),
           ST_X(ST_Centroid(z.utm)) - 0.15 * (ST_XMax(z.utm) - ST_XMin(z.utm)),
           ST_Y(ST_Centroid(z.utm)) + 0.20 * (ST_YMax(z.utm) - ST_YMin(z.utm))), 32750), 4326))
FROM (SELECT code, name, ST_Transform(geom, 32750) AS utm FROM zone) z
ON CONFLICT (layer_id, code) DO NOTHING
"""

# Each zone cut by a line of UTM 50S, a quarter of the way from its west to its east end; the two
# parts are the zone's own outline on either side, so together they cover it exactly.
PLAN_AREAS = f"""
INSERT INTO constraint_feature (layer_id, code, name, allowed_uses, attributes, geom)
SELECT :layer_id, format('DEMO-PLAN-%s-%s', upper(z.code), part.code),
       format('%s of %s (illustrative)', part.label, z.name), part.uses, CAST('{AREA_ATTRIBUTES}' AS jsonb),
       ST_Multi(ST_CollectionExtract(ST_Intersection(z.geom, ST_Transform(ST_MakeEnvelope(
           part.x0, ST_YMin(z.utm) - 10, part.x1, ST_YMax(z.utm) + 10, 32750), 4326)), 3))
FROM (SELECT code, name, geom, ST_Transform(geom, 32750) AS utm,
             ST_XMin(ST_Transform(geom, 32750)) + 0.25 * (ST_XMax(ST_Transform(geom, 32750))
                 - ST_XMin(ST_Transform(geom, 32750))) AS cut
      FROM zone) z
CROSS JOIN LATERAL (VALUES
    ('GREEN', 'Green belt', ARRAY['green_open_space'], ST_XMin(z.utm) - 10, z.cut),
    ('INDUSTRY', 'Industrial area', ARRAY['industry', 'logistics', 'warehousing'], z.cut, ST_XMax(z.utm) + 10)
) AS part(code, label, uses, x0, x1)
ON CONFLICT (layer_id, code) DO NOTHING
"""


async def _layer(session: AsyncSession, values: dict[str, Any]) -> tuple[int, bool]:
    """The layer's id, made if missing (an existing layer of that name is left as it is)."""
    found = await layers.row(session, values["name"])
    if found is not None:
        return found.id, False
    return (await layers.create(session, values)).id, True


async def add_demo_layers(session: AsyncSession) -> tuple[int, int]:
    """Make the two illustrative layers and their areas in every zone where missing; returns
    how many layers and areas were added."""
    made, areas = 0, 0
    for values, sql in ((FLOOD, FLOOD_AREAS), (PLAN, PLAN_AREAS)):
        layer_id, created = await _layer(session, values)
        made += created
        areas += (await session.execute(text(sql), {"layer_id": layer_id})).rowcount
    await session.commit()
    return made, areas
