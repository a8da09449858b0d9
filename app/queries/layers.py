"""Constraint layers: made by admins at run time, described by rows of constraint_layer, their
areas in constraint_feature. Each row becomes a catalogue type (`constraint_type`), so a layer is
an OGC collection, a tile layer and a map layer as soon as it exists, with no change of code.

The questions: which constraint areas a parcel overlaps and by how much (`of_parcel`), and the
SQL conditions site search uses to exclude or require layers and to keep parcels where a spatial
plan allows a use (`overlap_share`, `excluded`, `required`, `conforming`).
"""

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationProblem
from app.models import ConstraintKind, Role
from app.queries.catalogue import STATIC, FeatureType, area_ha, integer, json_value
from app.queries.catalogue import text as text_property

LAYER_COLUMNS = "id, name, title, kind, source, licence, description, attributes, created_at, updated_at"


@dataclass(frozen=True)
class LayerRow:
    id: int
    name: str
    title: str
    kind: str
    source: str
    licence: str
    description: str | None
    attributes: dict[str, Any]
    created_at: Any
    updated_at: Any


def constraint_type(layer: LayerRow) -> FeatureType:
    """The catalogue type of one constraint layer. Its id is a database integer, never text."""
    kind = ConstraintKind(layer.kind)
    properties = (
        integer("id", "Area id"),
        text_property("code", "Code", queryable=True, tile=True),
        text_property("name", "Name", queryable=True, tile=True),
        *(
            (json_value("allowed_uses", "Uses the plan allows here"),)
            if kind is ConstraintKind.spatial_plan
            else ()
        ),
        text_property("layer", "Layer", f"'{layer.name}'::text", tile=True),
        text_property("kind", "Kind of constraint", f"'{kind.value}'::text", tile=True),
        area_ha(2),
        json_value("attributes", "Attributes"),
    )
    if kind is ConstraintKind.spatial_plan:  # the allowed uses, as text, in tiles too
        properties += (
            text_property("uses", "Allowed uses", "array_to_string(t.allowed_uses, ', ')", tile=True),
        )
    return FeatureType(
        id=layer.name,
        label=f"area of {layer.name}",
        title=layer.title,
        description=(layer.description or layer.title)
        + f" ({kind.value.replace('_', ' ')}; source: {layer.source}; licence: {layer.licence})",
        source=f"(SELECT * FROM constraint_feature WHERE layer_id = {int(layer.id)}) t",
        key="id",
        key_is_int=True,
        properties_of=properties,
        geometry_type="MultiPolygon",
        zooms=(4, 22),
        writer=Role.admin,
        group="constraint",
    )


async def rows(session: AsyncSession) -> list[LayerRow]:
    result = await session.execute(text(f"SELECT {LAYER_COLUMNS} FROM constraint_layer ORDER BY name"))
    return [LayerRow(**r) for r in result.mappings()]


async def row(session: AsyncSession, name: str) -> LayerRow | None:
    sql = f"SELECT {LAYER_COLUMNS} FROM constraint_layer WHERE name = :name"
    found = (await session.execute(text(sql), {"name": name})).mappings().one_or_none()
    return None if found is None else LayerRow(**found)


async def get(session: AsyncSession, name: str) -> LayerRow:
    found = await row(session, name)
    if found is None:
        raise NotFound(f"No constraint layer {name!r}; GET /layers lists them.")
    return found


async def feature_type(session: AsyncSession, type_id: str) -> FeatureType | None:
    """The catalogue type `type_id` names: a built-in one or a constraint layer."""
    if type_id in STATIC:
        return STATIC[type_id]
    layer = await row(session, type_id)
    return None if layer is None else constraint_type(layer)


async def feature_types(session: AsyncSession) -> list[FeatureType]:
    """Every catalogue type: the built-in ones, then the constraint layers by name."""
    return [*STATIC.values(), *(constraint_type(layer) for layer in await rows(session))]


async def describe(session: AsyncSession, name: str | None = None) -> list[dict[str, Any]]:
    """Each layer (or the one named) with the number and area of its features."""
    sql = f"""SELECT l.{LAYER_COLUMNS.replace(", ", ", l.")}, count(f.id) AS features,
                     round(coalesce(sum(f.area_ha), 0)::numeric, 2) AS area_ha
              FROM constraint_layer l LEFT JOIN constraint_feature f ON f.layer_id = l.id
              WHERE CAST(:name AS text) IS NULL OR l.name = :name
              GROUP BY l.id ORDER BY l.name"""
    return [dict(r) for r in (await session.execute(text(sql), {"name": name})).mappings()]


async def create(session: AsyncSession, values: dict[str, Any]) -> LayerRow:
    if values["name"] in STATIC or values["name"] == "layers":
        raise ValidationProblem(f"name: {values['name']!r} is a built-in collection; choose another.")
    sql = f"""INSERT INTO constraint_layer (name, title, kind, source, licence, description, attributes)
              VALUES (:name, :title, :kind, :source, :licence, :description, CAST(:attributes AS jsonb))
              RETURNING {LAYER_COLUMNS}"""
    created = (await session.execute(text(sql), _json(values))).mappings().one()
    await session.commit()
    return LayerRow(**created)


def _json(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters of `values`, attributes as JSON text."""
    return {**values, **({"attributes": json.dumps(values["attributes"])} if "attributes" in values else {})}


async def update(session: AsyncSession, name: str, values: dict[str, Any]) -> LayerRow:
    sets = [f"{c} = CAST(:{c} AS jsonb)" if c == "attributes" else f"{c} = :{c}" for c in values]
    sql = f"""UPDATE constraint_layer SET {", ".join([*sets, "updated_at = now()"])}
              WHERE name = :layer_name RETURNING {LAYER_COLUMNS}"""
    changed = (
        (await session.execute(text(sql), {**_json(values), "layer_name": name})).mappings().one_or_none()
    )
    if changed is None:
        raise NotFound(f"No constraint layer {name!r}; GET /layers lists them.")
    await session.commit()
    return LayerRow(**changed)


async def delete(session: AsyncSession, name: str) -> None:
    deleted = await session.scalar(
        text("DELETE FROM constraint_layer WHERE name = :name RETURNING id"), {"name": name}
    )
    if deleted is None:
        raise NotFound(f"No constraint layer {name!r}; GET /layers lists them.")
    await session.commit()


# --- the questions --------------------------------------------------------------------------

# The overlap of parcel `t` with constraint area `f`: the geodesic area of their intersection,
# with the whole parcel's area when the area covers it (no intersection is computed then).
OVERLAP_M2 = (
    "CASE WHEN ST_Covers(f.geom, t.geom) THEN t.area_ha * 10000.0 "
    "ELSE ST_Area(ST_Intersection(t.geom, f.geom)::geography, true) END"
)

# Per layer (alias l), the areas parcel `t` overlaps: a JSON list of layers, each with its
# features, their overlapping area (m², geodesic) and share of the parcel; a layer's own overlap
# is that of the union of its areas, so areas that overlap each other are not counted twice.
CONSTRAINTS_OF_PARCEL = f"""(
    SELECT coalesce(json_agg(json_build_object(
        'layer', x.name, 'title', x.title, 'kind', x.kind,
        'overlap_m2', round(x.overlap_m2::numeric, 1),
        'share', round((x.overlap_m2 / nullif(t.area_ha * 10000.0, 0))::numeric, 6),
        'features', x.features) ORDER BY x.name), '[]'::json)
    FROM (
        SELECT l.name, l.title, l.kind,
               CASE WHEN count(*) = 1 THEN sum(o.m2)
                    ELSE ST_Area(ST_Intersection(t.geom, ST_Union(o.geom))::geography, true)
               END AS overlap_m2,
               json_agg(json_build_object('id', o.id, 'code', o.code, 'name', o.name,
                        'allowed_uses', o.allowed_uses,
                        'overlap_m2', round(o.m2::numeric, 1),
                        'share', round((o.m2 / nullif(t.area_ha * 10000.0, 0))::numeric, 6))
                        ORDER BY o.m2 DESC, o.id) AS features
        FROM (
            SELECT f.id, f.layer_id, f.code, f.name, f.allowed_uses, f.geom, {OVERLAP_M2} AS m2
            FROM constraint_feature f
            WHERE f.geom && t.geom AND ST_Relate(f.geom, t.geom, '2********')
        ) o JOIN constraint_layer l ON l.id = o.layer_id
        GROUP BY l.name, l.title, l.kind
    ) x
)"""


async def of_parcel(session: AsyncSession, parcel_id: int) -> dict[str, Any] | None:
    sql = f"""SELECT json_build_object('parcel_id', t.id, 'code', t.code,
                  'area_m2', round((t.area_ha * 10000.0)::numeric, 1),
                  'constraints', {CONSTRAINTS_OF_PARCEL})::text
              FROM parcel t WHERE t.id = :id"""
    found = await session.scalar(text(sql), {"id": parcel_id})
    return None if found is None else found


def overlap_share(layers_param: str) -> str:
    """SQL: the share (0 to 1) of parcel t's area overlapped by the areas of the layers whose ids
    are in the bigint[] parameter `layers_param`; areas of one layer that overlap each other are
    counted once (their union is taken)."""
    return f"""coalesce((
        SELECT ST_Area(ST_Intersection(t.geom, ST_Union(f.geom))::geography, true)
               / nullif(t.area_ha * 10000.0, 0)
        FROM constraint_feature f
        WHERE f.layer_id = ANY(:{layers_param}) AND f.geom && t.geom
          AND ST_Relate(f.geom, t.geom, '2********')), 0)"""


def excluded(layers_param: str, tolerance_param: str) -> str:
    """SQL: parcel t is not overlapped by those layers by more than the tolerance (a share)."""
    return f"""(NOT EXISTS (SELECT 1 FROM constraint_feature f
                            WHERE f.layer_id = ANY(:{layers_param}) AND f.geom && t.geom
                              AND ST_Relate(f.geom, t.geom, '2********'))
                OR {overlap_share(layers_param)} <= :{tolerance_param})"""


def required(layer_id_param: str) -> str:
    """SQL: parcel t is covered by the union of the areas of one layer."""
    return f"""EXISTS (SELECT 1 FROM constraint_feature f
                       WHERE f.layer_id = :{layer_id_param} AND f.geom && t.geom)
               AND ST_CoveredBy(t.geom, (SELECT ST_Union(f.geom) FROM constraint_feature f
                                         WHERE f.layer_id = :{layer_id_param} AND f.geom && t.geom))"""


def conforming(use_param: str) -> str:
    """SQL: parcel t lies within the areas of spatial plans that allow the use (covered by their
    union), and in a spatial plan at all."""
    plans = "SELECT id FROM constraint_layer WHERE kind = 'spatial_plan'"
    return f"""EXISTS (SELECT 1 FROM constraint_feature f
                       WHERE f.layer_id IN ({plans}) AND :{use_param} = ANY(f.allowed_uses)
                         AND f.geom && t.geom)
               AND ST_CoveredBy(t.geom, (SELECT ST_Union(f.geom) FROM constraint_feature f
                                         WHERE f.layer_id IN ({plans})
                                           AND :{use_param} = ANY(f.allowed_uses) AND f.geom && t.geom))"""


async def ids(session: AsyncSession, names: list[str], what: str) -> list[int]:
    """The ids of the layers named; an unknown name is a 422 naming it."""
    found = dict(
        (
            await session.execute(
                text("SELECT name, id FROM constraint_layer WHERE name = ANY(:n)"), {"n": names}
            )
        ).all()
    )
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidationProblem(
            f"{what}: no constraint layer {', '.join(map(repr, unknown))}; GET /layers lists them."
        )
    return [found[n] for n in names]


async def plan_uses(session: AsyncSession) -> list[str]:
    sql = """SELECT DISTINCT u FROM constraint_feature f JOIN constraint_layer l ON l.id = f.layer_id,
                    unnest(f.allowed_uses) u WHERE l.kind = 'spatial_plan' ORDER BY u"""
    return list((await session.scalars(text(sql))).all())
