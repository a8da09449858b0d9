"""Imports, in SQL: a staging table filled by COPY, every check made set-wise on it, the rows
that pass stored in one statement (the database's own rules still apply), and the job's row.

A job runs on one connection of its own (asyncpg, outside the request pools): the staging table
is a temporary table of that connection.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.geometry import GeometryRules
from app.models import FacilityKind, ImportState, LandRights, LandStatus, Role, ZoneKind, ZoneStatus
from app.schemas.common import SLUG
from app.schemas.parcels import PARCEL_CODE

LOCK_SPACE = 7_011  # pg_advisory_lock(LOCK_SPACE, job id) is held while a job runs


@dataclass(frozen=True)
class Column:
    """A property of the target table as imported: its checks over the staged text `s.<name>`."""

    name: str
    required: bool = False
    bad: str = ""  # SQL: true when the (non-null) staged text is not a value of this column
    expected: str = ""  # what a good value is, for the reason
    value: str = ""  # SQL: the column's value from the staged text (default: the text)


@dataclass(frozen=True)
class Target:
    layer: str
    table: str
    label: str  # one row, in words (a parcel)
    columns: tuple[Column, ...]
    extra: str | None  # the JSONB column that may take the file's other fields
    polygonal: bool = True
    overlaps: bool = False  # the no-overlap rule (parcels), checked set-wise before the store
    fixed: tuple[tuple[str, str], ...] = ()  # columns every stored row gets: (name, SQL value)
    scope: str = "true"  # SQL over the stored row p: the rows of this target (codes are unique there)
    conflict: str = "(code)"  # the unique key an upsert updates by
    writer: Role = Role.editor  # the role that may import into it


def _one_of(values: Sequence[str]) -> str:
    return "NOT ({} = ANY (ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]))"


def _text(name: str, most: int = 500, required: bool = False) -> Column:
    return Column(name, required, f"length({{}}) > {most}", f"text of at most {most} characters")


def _enum(name: str, enum: type[StrEnum], required: bool = False) -> Column:
    values = [member.value for member in enum]
    return Column(name, required, _one_of(values), "one of " + ", ".join(values))


def _code(pattern: str, most: int, expected: str) -> Column:
    """The code, by the pattern and length the API's schemas give it (app.schemas)."""
    return Column(
        "code",
        True,
        f"({{}} !~ '{pattern}' OR length({{}}) > {most})",
        f"{expected}, at most {most} characters",
    )


NUMBER = r"^\s*\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"

PARCELS = Target(
    layer="parcels",
    table="parcel",
    label="parcel",
    overlaps=True,
    columns=(
        _code(PARCEL_CODE, 100, "letters, digits and . _ / -"),
        _enum("land_status", LandStatus, required=True),
        _enum("land_rights", LandRights),
        _text("land_use"),
        _text("holder"),
        _text("sector"),
        Column(
            "price_idr_per_m2",
            bad=f"({{}} !~ '{NUMBER}' OR {{}}::numeric > 1e12)",
            expected="a number from 0 to 1,000,000,000,000",
            value="{}::numeric",
        ),
    ),
    extra="attributes",
)
CODE = _code(SLUG, 64, "a lower-case slug: letters, digits and single hyphens")
SECTORS = Column(
    "sectors",
    bad="length({}) > 2000",
    expected="comma-separated sectors",
    value="ARRAY(SELECT btrim(x) FROM unnest(string_to_array({}, ',')) x WHERE btrim(x) <> '')",
)
ZONES = Target(
    layer="zones",
    table="zone",
    label="zone",
    columns=(
        CODE,
        _text("name", 200, required=True),
        _enum("kind", ZoneKind, required=True),
        _enum("status", ZoneStatus, required=True),
        SECTORS,
        _text("description", 5000),
        _text("source", 1000),
    ),
    extra="attributes",
)
FACILITIES = Target(
    layer="facilities",
    table="facility",
    label="facility",
    polygonal=False,
    columns=(
        CODE,
        _text("name", 200, required=True),
        _enum("kind", FacilityKind, required=True),
        _text("source", 1000),
    ),
    extra="attributes",
)
TARGETS = {t.layer: t for t in (PARCELS, ZONES, FACILITIES)}


def constraint_target(layer_id: int, name: str) -> Target:
    """The areas of constraint layer `layer_id` (an integer from the database). Codes are
    optional, unique within the layer; `allowed_uses` matters in spatial plans."""
    return Target(
        layer=name,
        table="constraint_feature",
        label=f"area of {name}",
        columns=(
            Column("code", bad="length({}) > 100", expected="text of at most 100 characters"),
            _text("name", 500),
            replace(SECTORS, name="allowed_uses", expected="comma-separated uses"),
        ),
        extra="attributes",
        fixed=(("layer_id", str(int(layer_id))),),
        scope=f"p.layer_id = {int(layer_id)}",
        conflict="(layer_id, code)",
        writer=Role.admin,
    )


async def target_of(conn: asyncpg.Connection, layer: str) -> Target | None:
    """The target `layer` names: parcels, zones, facilities or a constraint layer's name."""
    if layer in TARGETS:
        return TARGETS[layer]
    layer_id = await conn.fetchval("SELECT id FROM constraint_layer WHERE name = $1", layer)
    return None if layer_id is None else constraint_target(layer_id, layer)


def _sql(template: str, column: str) -> str:
    return template.replace("{}", f"s.{column}")


# --- the job's row --------------------------------------------------------------------------


async def create_job(
    conn: asyncpg.Connection, layer: str, filename: str, options: dict, created_by: str
) -> int:
    """A queued job; its runner holds the job's advisory lock from here on (same connection)."""
    job_id = await conn.fetchval(
        "INSERT INTO import_job (layer, filename, options, created_by) VALUES ($1, $2, $3::jsonb, $4) "
        "RETURNING id",
        layer,
        filename,
        json.dumps(options),
        created_by,
    )
    await conn.execute("SELECT pg_advisory_lock($1, $2)", LOCK_SPACE, job_id)
    return job_id


async def start(conn: asyncpg.Connection, job_id: int, fmt: str, crs: str) -> None:
    await conn.execute(
        "UPDATE import_job SET state = 'running', started_at = now(), format = $2, crs = $3 WHERE id = $1",
        job_id,
        fmt,
        crs,
    )


async def progress(conn: asyncpg.Connection, job_id: int, **counts: int) -> None:
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(counts, start=2))
    await conn.execute(f"UPDATE import_job SET {sets} WHERE id = $1", job_id, *counts.values())


async def finish(
    conn: asyncpg.Connection,
    job_id: int,
    state: ImportState,
    outcome: dict | None = None,
    error: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE import_job SET state = $2, finished_at = now(), outcome = $3::jsonb, error = $4 "
        "WHERE id = $1",
        job_id,
        state.value,
        None if outcome is None else json.dumps(outcome),
        error,
    )


async def srid_known(conn: asyncpg.Connection, srid: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM spatial_ref_sys WHERE srid = $1", srid))


# --- staging and checks ---------------------------------------------------------------------


def stage_columns(target: Target) -> list[str]:
    names = [c.name for c in target.columns]
    return ["row_number", "original", "src", "reasons", *names] + ([target.extra] if target.extra else [])


async def create_stage(conn: asyncpg.Connection, target: Target) -> None:
    texts = ", ".join(f"{c.name} text" for c in target.columns)
    extra = f", {target.extra} text" if target.extra else ""
    await conn.execute(
        f"""CREATE TEMP TABLE import_stage (
                row_number bigint PRIMARY KEY, original jsonb NOT NULL, src bytea, {texts}{extra},
                geom geometry, flattened boolean NOT NULL DEFAULT false,
                repaired boolean NOT NULL DEFAULT false, reasons text[] NOT NULL DEFAULT '{{}}')"""
    )


async def copy_rows(conn: asyncpg.Connection, target: Target, records: list[tuple]) -> None:
    await conn.copy_records_to_table("import_stage", records=records, columns=stage_columns(target))


def _refuse(reason: str, where: str) -> str:
    return f"UPDATE import_stage s SET reasons = array_append(s.reasons, ({reason})::text) WHERE {where}"


def value_checks(target: Target, present: Sequence[str]) -> list[str]:
    """One statement per check of the properties; a row gathers every reason that applies."""
    statements = []
    for c in target.columns:
        column = f"s.{c.name}"
        if c.required:
            statements.append(_refuse(f"'missing {c.name}'", f"{column} IS NULL"))
        if c.bad and c.name in present:
            reason = f"format('bad {c.name} %s: {c.expected}', quote_literal(left({column}, 60)))"
            statements.append(_refuse(reason, f"{column} IS NOT NULL AND {_sql(c.bad, c.name)}"))
    return statements


GEOMETRY_IN = "ST_GeomFromWKB(s.src, $1)"


async def read_geometries(conn: asyncpg.Connection, srid: int) -> None:
    """Each row's geometry in EPSG:4326 and 2D, reprojected by PostGIS. Set-wise first; if one
    geometry breaks the statement (a ring left open, a point PROJ cannot reproject), row by row,
    each failure a reason of its row."""
    into_4326 = GEOMETRY_IN if srid == 4326 else f"ST_Transform({GEOMETRY_IN}, 4326)"
    setwise = f"""UPDATE import_stage s SET geom = ST_Force2D({into_4326}),
                      flattened = ST_Zmflag({GEOMETRY_IN}) > 0
                  WHERE s.src IS NOT NULL"""
    try:
        async with conn.transaction():
            await conn.execute(setwise, srid)
        return
    except asyncpg.PostgresError:
        pass
    await conn.execute(
        f"""DO $$ DECLARE r record; BEGIN
            FOR r IN SELECT row_number, src FROM import_stage WHERE src IS NOT NULL LOOP
                BEGIN
                    UPDATE import_stage s SET geom = ST_Force2D({into_4326.replace("$1", str(srid))}),
                        flattened = ST_Zmflag({GEOMETRY_IN.replace("$1", str(srid))}) > 0
                    WHERE s.row_number = r.row_number;
                EXCEPTION WHEN OTHERS THEN
                    UPDATE import_stage s SET reasons = s.reasons || ('unreadable geometry: ' || SQLERRM)
                    WHERE s.row_number = r.row_number;
                END;
            END LOOP; END $$"""
    )


def geometry_checks(target: Target, rules: GeometryRules, repair: bool) -> list[str]:
    x0, y0, x1, y1 = rules.area_of_interest
    envelope = f"ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326)"
    has_geometry = "s.geom IS NOT NULL AND s.reasons = '{}'"
    statements = [
        _refuse("'no geometry'", "s.src IS NULL"),
        _refuse("'empty geometry'", f"{has_geometry} AND ST_IsEmpty(s.geom)"),
    ]
    if target.polygonal:
        if repair:  # polygons inside a collection (KML MultiGeometry) are taken out of it
            statements.append(
                "UPDATE import_stage s SET geom = ST_CollectionExtract(s.geom, 3), repaired = true "
                f"WHERE {has_geometry} AND GeometryType(s.geom) = 'GEOMETRYCOLLECTION'"
            )
        statements.append(
            _refuse(
                "format('a %s, not a Polygon or MultiPolygon', replace(ST_GeometryType(s.geom), 'ST_', ''))",
                f"{has_geometry} AND GeometryType(s.geom) NOT IN ('POLYGON', 'MULTIPOLYGON')",
            )
        )
    statements += [
        _refuse(
            f"'more than {rules.max_vertices} vertices (MAX_VERTICES)'",
            f"{has_geometry} AND ST_NPoints(s.geom) > {rules.max_vertices}",
        ),
        _refuse(
            f"'more than {rules.max_parts} parts (MAX_PARTS)'",
            f"{has_geometry} AND ST_NumGeometries(s.geom) > {rules.max_parts}",
        ),
    ]
    if repair:
        statements.append(
            "UPDATE import_stage s SET geom = ST_Multi(ST_CollectionExtract(ST_MakeValid(s.geom), 3)), "
            f"repaired = true WHERE {has_geometry} AND NOT ST_IsValid(s.geom)"
        )
        statements.append(
            _refuse("'invalid geometry that repair leaves empty'", f"{has_geometry} AND ST_IsEmpty(s.geom)")
        )
    else:
        statements.append(
            _refuse(
                "'invalid geometry: ' || ST_IsValidReason(s.geom) || ' (send repair=true to repair it)'",
                f"{has_geometry} AND NOT ST_IsValid(s.geom)",
            )
        )
    statements.append(
        _refuse(
            f"'outside the area of interest {x0:g},{y0:g},{x1:g},{y1:g}' || CASE WHEN "
            f"ST_CoveredBy(ST_FlipCoordinates(s.geom), {envelope}) THEN "
            "' (its longitude and latitude look swapped)' ELSE '' END",
            # The box test settles nearly every row; the exact one only those near the edge.
            f"{has_geometry} AND NOT s.geom @ {envelope} AND NOT ST_CoveredBy(s.geom, {envelope})",
        )
    )
    return statements


def code_checks(target: Target, upsert: bool) -> list[str]:
    statements = [
        """UPDATE import_stage s SET reasons = s.reasons || format('duplicate code %s (also row %s)',
               quote_literal(s.code), d.first)
           FROM (SELECT code, min(row_number) AS first FROM import_stage WHERE code IS NOT NULL
                 GROUP BY code HAVING count(*) > 1) d
           WHERE s.code = d.code AND s.row_number > d.first"""
    ]
    if not upsert:
        statements.append(
            f"""UPDATE import_stage s SET reasons = s.reasons || format(
                   'code %s exists already ({target.label} %s); send upsert=true to update it',
                   quote_literal(s.code), p.id)
               FROM {target.table} p WHERE p.code = s.code AND {target.scope}"""
        )
    return statements


def overlap_checks(upsert: bool) -> list[str]:
    """Interiors that overlap (the database's rule, ST_Relate '2********'), among the rows still
    clean: a later row of the file against an earlier one, then each row against the parcels
    stored (the parcel an upsert replaces excepted, and pairs recorded as allowed)."""
    replaced = "p.code = s2.code" if upsert else "false"
    return [
        """UPDATE import_stage s SET reasons = s.reasons || format('overlaps row %s of this file', o.first)
           FROM (SELECT b.row_number, min(a.row_number) AS first
                 FROM import_stage a JOIN import_stage b
                   ON a.geom && b.geom AND a.row_number < b.row_number
                  AND ST_Relate(a.geom, b.geom, '2********')
                 WHERE a.reasons = '{}' AND b.reasons = '{}' GROUP BY b.row_number) o
           WHERE s.row_number = o.row_number""",
        f"""UPDATE import_stage s SET reasons = s.reasons || ('overlaps parcel ' || o.parcels)
            FROM (SELECT s2.row_number,
                         string_agg(format('%s (%s)', p.id, p.code), ', ' ORDER BY p.id) AS parcels
                  FROM import_stage s2 JOIN parcel p
                    ON p.geom && s2.geom AND ST_Relate(p.geom, s2.geom, '2********') AND NOT ({replaced})
                  WHERE s2.reasons = '{{}}' AND NOT EXISTS (
                      SELECT 1 FROM parcel x JOIN parcel_overlap_allowed a
                        ON a.parcel_id = least(x.id, p.id) AND a.other_id = greatest(x.id, p.id)
                      WHERE x.code = s2.code)
                  GROUP BY s2.row_number) o
            WHERE s.row_number = o.row_number""",
    ]


def project_checks(upsert: bool) -> list[str]:
    if not upsert:
        return []
    return [
        """UPDATE import_stage s SET reasons = s.reasons || format(
               'would leave zone %s of project %s (%s)', o.zone, o.project_id, o.project)
           FROM (SELECT DISTINCT ON (s2.row_number) s2.row_number, z.code AS zone, pr.id AS project_id,
                        pr.name AS project
                 FROM import_stage s2 JOIN parcel x ON x.code = s2.code
                 JOIN project_parcel pp ON pp.parcel_id = x.id JOIN project pr ON pr.id = pp.project_id
                 JOIN zone z ON z.id = pr.zone_id
                 WHERE s2.reasons = '{}' AND NOT ST_Covers(z.geom, s2.geom)
                 ORDER BY s2.row_number, pr.id) o
           WHERE s.row_number = o.row_number"""
    ]


async def check(
    conn: asyncpg.Connection,
    target: Target,
    present: Sequence[str],
    srid: int,
    rules: GeometryRules,
    *,
    repair: bool,
    upsert: bool,
) -> None:
    """Every check but overlaps, set-wise, each row keeping all the reasons found for it."""
    for statement in value_checks(target, present):
        await conn.execute(statement)
    await read_geometries(conn, srid)
    for statement in geometry_checks(target, rules, repair):
        await conn.execute(statement)
    statements = code_checks(target, upsert)
    if target.overlaps:
        statements += project_checks(upsert)
    for statement in statements:
        await conn.execute(statement)


async def check_overlaps(conn: asyncpg.Connection, *, upsert: bool) -> None:
    """The overlaps of the rows still clean, each named (a row of the file, or a parcel)."""
    await conn.execute("CREATE INDEX ON import_stage USING gist (geom)")
    await conn.execute("ANALYZE import_stage")
    for statement in overlap_checks(upsert):
        await conn.execute(statement)


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        """SELECT count(*) AS read, count(*) FILTER (WHERE reasons <> '{}') AS refused,
                  count(*) FILTER (WHERE flattened) AS flattened,
                  count(*) FILTER (WHERE repaired AND reasons = '{}') AS repaired
           FROM import_stage"""
    )
    return dict(row)


async def save_refusals(conn: asyncpg.Connection, job_id: int) -> None:
    await conn.execute(
        """INSERT INTO import_refusal (job_id, row_number, code, reasons, properties, geom)
           SELECT $1, row_number, code, reasons, original,
                  CASE WHEN ST_SRID(geom) = 4326 THEN geom END
           FROM import_stage WHERE reasons <> '{}'""",
        job_id,
    )


async def store(
    conn: asyncpg.Connection, target: Target, present: Sequence[str], *, upsert: bool
) -> tuple[int, int]:
    """Insert (or, with upsert, update by code) the rows without a reason, in the file's order.
    Returns (inserted, updated). Runs in the caller's transaction."""
    given = [c for c in target.columns if c.name in present or c.required]
    names = [c.name for c in given]
    values = [_sql(c.value, c.name) if c.value else f"s.{c.name}" for c in given]
    if target.extra:
        names.append(target.extra)
        values.append(f"coalesce(s.{target.extra}::jsonb, '{{}}'::jsonb)")
    names.append("geom")
    values.append("ST_Multi(s.geom)" if target.polygonal else "s.geom")
    conflict = ""
    if upsert:
        sets = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != "code")
        conflict = f"ON CONFLICT {target.conflict} DO UPDATE SET {sets}, updated_at = now()"
    for name, value in target.fixed:
        names.append(name)
        values.append(value)
    row = await conn.fetchrow(
        f"""WITH stored AS (
                INSERT INTO {target.table} AS t ({", ".join(names)})
                SELECT {", ".join(values)} FROM import_stage s WHERE s.reasons = '{{}}' ORDER BY s.row_number
                {conflict}
                RETURNING (xmax = 0) AS inserted)
            SELECT count(*) FILTER (WHERE inserted) AS inserted,
                   count(*) FILTER (WHERE NOT inserted) AS updated
            FROM stored"""
    )
    return row["inserted"], row["updated"]


async def first_refusals(conn: asyncpg.Connection, job_id: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT row_number, code, reasons FROM import_refusal WHERE job_id = $1 ORDER BY row_number LIMIT $2",
        job_id,
        limit,
    )


async def drop_stage(conn: asyncpg.Connection) -> None:
    await conn.execute("DROP TABLE IF EXISTS import_stage")


# --- reading jobs back (request sessions) ---------------------------------------------------

JOB_COLUMNS = (
    "id, layer, state, filename, format, crs, options, created_by, created_at, started_at, finished_at, "
    "rows_read, rows_checked, rows_stored, outcome, error"
)


async def job(session: AsyncSession, job_id: int) -> dict[str, Any] | None:
    """The job's row. One left queued or running by a runner that is gone (its advisory lock is
    free: the service stopped) is marked failed first."""
    sql = f"SELECT {JOB_COLUMNS} FROM import_job WHERE id = :id"
    row = (await session.execute(text(sql), {"id": job_id})).mappings().one_or_none()
    if row is not None and row["state"] in ("queued", "running"):
        free = await session.scalar(
            text("SELECT pg_try_advisory_lock(:space, :id)"), {"space": LOCK_SPACE, "id": job_id}
        )
        if free:
            await session.execute(
                text("SELECT pg_advisory_unlock(:space, :id)"), {"space": LOCK_SPACE, "id": job_id}
            )
            await session.execute(
                text(
                    "UPDATE import_job SET state = 'failed', finished_at = now(), error = :error "
                    "WHERE id = :id AND state IN ('queued', 'running')"
                ),
                {
                    "id": job_id,
                    "error": "the import stopped with the service that ran it; send the file again",
                },
            )
            await session.commit()
            row = (await session.execute(text(sql), {"id": job_id})).mappings().one()
    return None if row is None else dict(row)


async def jobs(session: AsyncSession, limit: int, before: int | None) -> list[dict[str, Any]]:
    sql = (
        f"SELECT {JOB_COLUMNS} FROM import_job WHERE (CAST(:before AS bigint) IS NULL OR id < :before) "
        "ORDER BY id DESC LIMIT :limit"
    )
    return [
        dict(r) for r in (await session.execute(text(sql), {"before": before, "limit": limit})).mappings()
    ]


async def refusals(session: AsyncSession, job_id: int, limit: int) -> list[dict[str, Any]]:
    sql = (
        "SELECT row_number, code, reasons FROM import_refusal WHERE job_id = :id "
        "ORDER BY row_number LIMIT :limit"
    )
    return [dict(r) for r in (await session.execute(text(sql), {"id": job_id, "limit": limit})).mappings()]


REFUSED_FEATURE = """json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(r.geom, 9)::json,
    'properties', r.properties || jsonb_build_object('import_row', r.row_number,
                                                     'import_reasons', array_to_string(r.reasons, '; ')))"""


async def refused_collection(session: AsyncSession, job_id: int) -> str:
    """The refused rows as a GeoJSON FeatureCollection, built in PostGIS: the file's own
    properties (so the file can be fixed and sent again with the same mapping), the row number
    and the reasons."""
    sql = f"""SELECT json_build_object('type', 'FeatureCollection', 'features',
                  coalesce(json_agg({REFUSED_FEATURE} ORDER BY r.row_number), '[]'::json))::text
              FROM import_refusal r WHERE r.job_id = :id"""
    return await session.scalar(text(sql), {"id": job_id})
