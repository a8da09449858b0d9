"""Investment projects (IPRO): plain JSON, their geometry the union of their parcels."""

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ProjectRule, ValidationProblem
from app.queries import features
from app.queries.features import PRECISION, Page
from app.queries.versions import check_if_match
from app.queries.zones import ZONE, zone_exists
from app.schemas.projects import ProjectIn

# Each project row `t` with its zone `z` and the union `u` of its parcels, a MultiPolygon
# always (a union of neighbouring parcels is one Polygon; ST_Multi keeps the type declared).
SOURCE = """project t JOIN zone z ON z.id = t.zone_id
    LEFT JOIN LATERAL (
        SELECT ST_Multi(ST_Union(p.geom)) AS geom, array_agg(p.id ORDER BY p.id) AS ids
        FROM project_parcel pp JOIN parcel p ON p.id = pp.parcel_id WHERE pp.project_id = t.id
    ) u ON true"""

PROJECT = f"""json_build_object(
    'id', t.id, 'name', t.name, 'sector', t.sector, 'investment_value_usd', t.investment_value_usd,
    'status', t.status, 'zone', z.code, 'parcel_ids', coalesce(to_json(u.ids), '[]'::json),
    'area_ha', round((ST_Area(u.geom::geography, true) / 10000.0)::numeric, 4),
    'geometry', ST_AsGeoJSON(u.geom, {PRECISION})::json,
    'description', t.description, 'attributes', t.attributes,
    'created_at', t.created_at, 'updated_at', t.updated_at)"""

TYPES = {
    "name": "text",
    "sector": "text",
    "investment_value_usd": "numeric",
    "status": "text",
    "description": "text",
    "attributes": "jsonb",
}
COLUMNS = tuple(TYPES)


def not_found(project_id: int) -> NotFound:
    return NotFound(f"No project with id {project_id}.")


async def list_projects(
    session: AsyncSession,
    *,
    zone: str | None,
    status: list[str] | None,
    sector: str | None,
    limit: int,
    offset: int,
) -> Page:
    where, params = [], {}
    if zone is not None:
        if not await zone_exists(session, zone):
            raise ZONE.not_found(zone)
        where.append("z.code = :zone")
        params["zone"] = zone
    if status:
        where.append("t.status = ANY(:status)")
        params["status"] = status
    if sector is not None:
        where.append("lower(t.sector) = lower(:sector)")
        params["sector"] = sector
    return await features.page(
        session,
        feature=PROJECT,
        source=SOURCE,
        where=where,
        params=params,
        order="t.id",
        limit=limit,
        offset=offset,
    )


async def get_project(session: AsyncSession, project_id: int) -> str:
    sql = f"SELECT ({PROJECT})::text FROM {SOURCE} WHERE t.id = :id"
    found = await session.scalar(text(sql), {"id": project_id})
    if found is None:
        raise not_found(project_id)
    return found


async def _check(session: AsyncSession, zone: str, parcel_ids: list[int]) -> int:
    """The zone's id, after checking that it exists and that every parcel exists and lies in it."""
    zone_id = await session.scalar(text("SELECT id FROM zone WHERE code = :code"), {"code": zone})
    if zone_id is None:
        raise ValidationProblem(f"zone: no zone with code {zone!r}.")
    if not parcel_ids:
        return zone_id
    sql = """SELECT i.id, p.id IS NOT NULL AS found, coalesce(ST_Covers(z.geom, p.geom), false) AS inside
             FROM unnest(CAST(:ids AS bigint[])) AS i(id) LEFT JOIN parcel p ON p.id = i.id, zone z
             WHERE z.id = :zone_id ORDER BY i.id"""
    rows = (await session.execute(text(sql), {"ids": parcel_ids, "zone_id": zone_id})).all()
    missing = [r.id for r in rows if not r.found]
    if missing:
        raise ValidationProblem(
            f"parcel_ids: no parcel {', '.join(map(str, missing))}.", missing_parcel_ids=missing
        )
    outside = [r.id for r in rows if not r.inside]
    if outside:
        raise ValidationProblem(
            f"parcel_ids: parcel {', '.join(map(str, outside))} does not lie in zone {zone!r}.",
            parcels_outside_zone=outside,
        )
    return zone_id


async def _check_free(
    session: AsyncSession, project_id: int | None, status: str, parcel_ids: list[int]
) -> None:
    """An active project's parcels may not serve another active project (the database's partial
    unique index keeps the rule; this names the other project)."""
    if status == "withdrawn" or not parcel_ids:
        return
    sql = """SELECT pp.parcel_id, pr.id, pr.name
             FROM project_parcel pp JOIN project pr ON pr.id = pp.project_id
             WHERE pp.active AND pp.parcel_id = ANY(CAST(:ids AS bigint[])) AND pr.id <> :id
             ORDER BY pp.parcel_id"""
    rows = (await session.execute(text(sql), {"ids": parcel_ids, "id": project_id or 0})).all()
    if rows:
        taken = ", ".join(f"parcel {r.parcel_id} (project {r.id}, {r.name!r})" for r in rows)
        raise ProjectRule(
            f"A parcel serves at most one active project: {taken}.",
            parcel_ids=[r.parcel_id for r in rows],
            project_ids=sorted({r.id for r in rows}),
        )


async def _set_parcels(session: AsyncSession, project_id: int, parcel_ids: list[int]) -> None:
    await session.execute(text("DELETE FROM project_parcel WHERE project_id = :id"), {"id": project_id})
    await session.execute(
        text("INSERT INTO project_parcel (project_id, parcel_id) SELECT :id, unnest(CAST(:ids AS bigint[]))"),
        {"id": project_id, "ids": parcel_ids},
    )


def _values(body: ProjectIn, fields: set[str]) -> dict[str, Any]:
    """Column values for the fields given, JSONB as JSON text."""
    values = body.model_dump(mode="json", include=fields & set(COLUMNS))
    if "attributes" in values:
        values["attributes"] = json.dumps(values["attributes"])
    return values


def _placeholder(column: str) -> str:
    return "CAST(:attributes AS jsonb)" if column == "attributes" else f":{column}"


async def _insert(session: AsyncSession, values: dict[str, Any], zone_id: int) -> int:
    sql = (
        f"INSERT INTO project ({', '.join(values)}, zone_id) "
        f"VALUES ({', '.join(map(_placeholder, values))}, :zone_id) RETURNING id"
    )
    return await session.scalar(text(sql), {**values, "zone_id": zone_id})


async def _update(session: AsyncSession, project_id: int, values: dict[str, Any], zone_id: int) -> None:
    sets = [f"{column} = {_placeholder(column)}" for column in values]
    sql = (
        f"UPDATE project SET {', '.join([*sets, 'zone_id = :zone_id', 'updated_at = now()'])} WHERE id = :id"
    )
    await session.execute(text(sql), {**values, "zone_id": zone_id, "id": project_id})


CURRENT = """
    SELECT z.code AS zone, t.status,
           coalesce(array_agg(pp.parcel_id ORDER BY pp.parcel_id)
                    FILTER (WHERE pp.parcel_id IS NOT NULL), '{}') AS parcel_ids
    FROM project t JOIN zone z ON z.id = t.zone_id LEFT JOIN project_parcel pp ON pp.project_id = t.id
    WHERE t.id = :id GROUP BY z.code, t.status
"""


async def create_project(session: AsyncSession, body: ProjectIn) -> tuple[int, str]:
    zone_id = await _check(session, body.zone, body.parcel_ids)
    await _check_free(session, None, body.status, body.parcel_ids)
    project_id = await _insert(session, _values(body, set(COLUMNS)), zone_id)
    await _set_parcels(session, project_id, body.parcel_ids)
    await session.commit()
    return project_id, await get_project(session, project_id)


async def _check_version(session: AsyncSession, project_id: int, if_match: list[str] | None) -> None:
    await check_if_match(
        session,
        table="project",
        key_column="id",
        key=project_id,
        if_match=if_match,
        current=lambda: get_project(session, project_id),
        not_found=not_found(project_id),
    )


async def update_project(
    session: AsyncSession, project_id: int, body: ProjectIn, if_match: list[str] | None = None
) -> str:
    """Change the fields sent; the zone and parcels are checked again as they will be. With
    `if_match`, only if it names the current version (else 412)."""
    await _check_version(session, project_id, if_match)
    current = (await session.execute(text(CURRENT), {"id": project_id})).one_or_none()
    if current is None:
        raise not_found(project_id)
    sent = body.model_fields_set
    zone = body.zone if "zone" in sent else current.zone
    parcel_ids = body.parcel_ids if "parcel_ids" in sent else list(current.parcel_ids)
    zone_id = await _check(session, zone, parcel_ids)
    status = body.status if "status" in sent else current.status
    await _check_free(session, project_id, status, parcel_ids)
    await _update(session, project_id, _values(body, sent), zone_id)
    if "parcel_ids" in sent:
        await _set_parcels(session, project_id, parcel_ids)
    await session.commit()
    return await get_project(session, project_id)


async def delete_project(session: AsyncSession, project_id: int, if_match: list[str] | None = None) -> None:
    await _check_version(session, project_id, if_match)
    if (
        await session.scalar(text("DELETE FROM project WHERE id = :id RETURNING 1"), {"id": project_id})
        is None
    ):
        raise not_found(project_id)
    await session.commit()


async def upsert_seeded_project(session: AsyncSession, row: dict) -> str:
    """Insert or refresh a seeded project, found by its attributes.seed_key; its parcels are left
    alone. Returns 'inserted', 'updated' or 'unchanged'. The caller commits."""
    body = ProjectIn.model_validate(row)
    zone_id = await _check(session, body.zone, [])
    values = _values(body, set(COLUMNS))
    stored = ", ".join(f"t.{c}" for c in COLUMNS)
    given = ", ".join(f"CAST({_placeholder(c)} AS {TYPES[c]})" for c in COLUMNS)
    sql = f"""SELECT t.id, ({stored}, t.zone_id) IS NOT DISTINCT FROM ({given}, :zone_id) AS same
              FROM project t WHERE t.attributes ->> 'seed_key' = :key"""
    found = (
        await session.execute(text(sql), {**values, "zone_id": zone_id, "key": body.attributes["seed_key"]})
    ).one_or_none()
    if found is None:
        await _insert(session, values, zone_id)
        return "inserted"
    if found.same:
        return "unchanged"
    await _update(session, found.id, values, zone_id)
    return "updated"
