"""Generic feature CRUD over one table: every resource is a GeoJSON Feature built in SQL.

A resource is a catalogue entry (app.queries.catalogue): its table, its key and how a row becomes
a Feature (`json_build_object` over the row alias `t`); the functions here do the rest with bound
parameters only. Column names come from the catalogue's fixed declarations, never from the
request.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import read
from app.geometry import BBox, GeometryRules, normalise, to_wkb
from app.queries.catalogue import FeatureType, feature_sql
from app.queries.versions import check_if_match
from app.schemas.common import FeatureIn, PatchIn


@dataclass(frozen=True)
class Page:
    """A page of Features as PostgreSQL renders them: up to `limit` + 1 rows in order (the extra
    row only tells that there is a next page), and how to count all matches."""

    features: AsyncIterator[str]
    limit: int
    count: Callable[[], Awaitable[tuple[int, bool]]] | None = None  # -> (matched, estimated)
    # The page's rows at once, where it is small enough to be fetched whole (else None): saves an
    # iteration per Feature.
    whole: Callable[[], Awaitable[list[str]]] | None = None


def _bind(resource: FeatureType, values: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Column placeholders and parameters for `values`; JSONB columns are sent as JSON text."""
    placeholders, params = [], {}
    for column, value in values.items():
        if column in resource.jsonb_columns:
            placeholders.append(f"CAST(:{column} AS jsonb)")
            params[column] = json.dumps(value)
        else:
            placeholders.append(f":{column}")
            params[column] = value
    return placeholders, params


GEOM_FROM_WKB = "ST_GeomFromWKB(:geom, 4326)"


async def fetch(session: AsyncSession, resource: FeatureType, key: Any) -> str:
    sql = f"SELECT ({resource.feature})::text FROM {resource.source} WHERE t.{resource.key} = :key"
    feature = await read(session, sql, {"key": key}, one=True)
    if feature is None:
        raise resource.not_found(key)
    return feature


async def exists(session: AsyncSession, resource: FeatureType, key: Any) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM {resource.table} WHERE {resource.key} = :key)"
    return bool(await session.scalar(text(sql), {"key": key}))


async def insert(
    session: AsyncSession, resource: FeatureType, values: Mapping[str, Any], geom: bytes
) -> tuple[Any, str]:
    """Insert one row; return its key and the row as a Feature. The caller commits."""
    placeholders, params = _bind(resource, values)
    columns = ", ".join([*values, "geom"])
    sql = (
        f"WITH t AS (INSERT INTO {resource.table} ({columns}) "
        f"VALUES ({', '.join([*placeholders, GEOM_FROM_WKB])}) RETURNING *) "
        f"SELECT t.{resource.key}, ({resource.feature})::text FROM t"
    )
    key, feature = (await session.execute(text(sql), {**params, "geom": geom})).one()
    return key, feature


async def update(
    session: AsyncSession, resource: FeatureType, key: Any, values: Mapping[str, Any], geom: bytes | None
) -> str:
    """Change the given columns (and the geometry if given) and return the Feature. The caller commits."""
    placeholders, params = _bind(resource, values)
    sets = [f"{column} = {placeholder}" for column, placeholder in zip(values, placeholders, strict=True)]
    if geom is not None:
        sets.append(f"geom = {GEOM_FROM_WKB}")
        params["geom"] = geom
    sets.append("updated_at = now()")
    sql = (
        f"WITH t AS (UPDATE {resource.table} SET {', '.join(sets)} "
        f"WHERE {resource.key} = :key RETURNING *) SELECT ({resource.feature})::text FROM t"
    )
    feature = await session.scalar(text(sql), {**params, "key": key})
    if feature is None:
        raise resource.not_found(key)
    return feature


def _geometry(resource: FeatureType, geometry: Any, rules: GeometryRules, repair: bool) -> bytes:
    return to_wkb(normalise(geometry.model_dump(), resource.geometry_types, rules, repair=repair))


async def create(
    session: AsyncSession,
    resource: FeatureType,
    body: FeatureIn,
    rules: GeometryRules,
    *,
    repair: bool = False,
) -> tuple[Any, str]:
    """Store an incoming Feature after the geometry rules pass; commit. The database's own
    rules (overlaps, projects) refuse what they must."""
    geom = _geometry(resource, body.geometry, rules, repair)
    key, feature = await insert(session, resource, body.properties.model_dump(mode="json"), geom)
    await session.commit()
    return key, feature


async def check_version(
    session: AsyncSession, resource: FeatureType, key: Any, if_match: list[str] | None
) -> None:
    """412 unless `if_match` (when given) names the row's current version; the row stays locked."""
    await check_if_match(
        session,
        table=resource.table,
        key_column=resource.key,
        key=key,
        if_match=if_match,
        current=lambda: fetch(session, resource, key),
        not_found=resource.not_found(key),
    )


async def patch(
    session: AsyncSession,
    resource: FeatureType,
    key: Any,
    body: PatchIn,
    rules: GeometryRules,
    *,
    repair: bool = False,
    if_match: list[str] | None = None,
) -> str:
    """Apply a partial Feature: the properties it holds and its geometry, if any; commit.
    With `if_match`, only if it names the current version (else 412)."""
    geom = None
    if body.geometry is not None:
        geom = _geometry(resource, body.geometry, rules, repair)
    values = body.properties.model_dump(mode="json", exclude_unset=True)
    await check_version(session, resource, key, if_match)
    feature = await update(session, resource, key, values, geom)
    await session.commit()
    return feature


async def delete(
    session: AsyncSession, resource: FeatureType, key: Any, if_match: list[str] | None = None
) -> None:
    await check_version(session, resource, key, if_match)
    sql = f"DELETE FROM {resource.table} WHERE {resource.key} = :key RETURNING 1"
    if await session.scalar(text(sql), {"key": key}) is None:
        raise resource.not_found(key)
    await session.commit()


# Pages of up to this many features are fetched in one round trip; larger ones are streamed
# from a server-side cursor in batches, so a 10,000-feature page never sits whole in memory.
FETCH_ALL_UP_TO = 2_000
STREAM_BATCH = 1_000


async def pairs(session: AsyncSession, sql: str, params: Mapping[str, Any], expected: int) -> AsyncIterator:
    """The rows of `sql`, fetched at once or streamed in batches depending on `expected`."""
    if expected <= FETCH_ALL_UP_TO:
        for row in await read(session, sql, params):
            yield row
        return
    result = await session.stream(text(sql).execution_options(yield_per=STREAM_BATCH), params)
    try:
        async for row in result:
            yield row
    finally:
        await result.close()


async def rows(
    session: AsyncSession, sql: str, params: Mapping[str, Any], expected: int
) -> AsyncIterator[str]:
    """The first column of each row of `sql`."""
    async for row in pairs(session, sql, params, expected):
        yield row[0]


def page_of_rows(session: AsyncSession, sql: str, params: Mapping[str, Any], limit: int, **more: Any) -> Page:
    """A Page of the first column of `sql`'s rows (up to `limit` + 1 of them)."""

    async def whole() -> list[str]:
        return [row[0] for row in await read(session, sql, params)]

    small = limit + 1 <= FETCH_ALL_UP_TO
    return Page(rows(session, sql, params, limit + 1), limit, whole=whole if small else None, **more)


async def estimated(session: AsyncSession, source: str, condition: str, params: Mapping[str, Any]) -> int:
    """The planner's estimate of the rows matching: one EXPLAIN, nothing run."""
    explain = f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {source} WHERE {condition}"
    plan = await read(session, explain, params, one=True)
    return int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


async def count_matches(
    session: AsyncSession,
    source: str,
    condition: str,
    params: Mapping[str, Any],
    cap: int,
    estimate: int | None = None,
) -> tuple[int, bool]:
    """The number of rows matching: exact up to `cap`, beyond it the planner's estimate (never
    below `cap`), so that counting never costs much more than the page itself. When the planner
    already expects several times `cap` rows, its estimate is taken without counting."""
    if estimate is None:
        estimate = await estimated(session, source, condition, params)
    if estimate >= 3 * cap:
        return estimate, True
    capped = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {condition} LIMIT :count_cap) c"
    exact = await read(session, capped, {**params, "count_cap": cap}, one=True)
    if exact < cap:
        return exact, False
    return max(cap, estimate), True


def count_cap(limit: int, offset: int) -> int:
    return max(10_000, offset + 10 * limit)


@dataclass(frozen=True)
class Selection:
    """What a list answers, as SQL: rows `t` of `source` meeting `where`, in `order`."""

    layer: str
    source: str
    where: Sequence[str]
    params: dict[str, Any]
    properties: Mapping[str, str]  # name -> SQL over t
    order: str = "t.id"
    numbers: frozenset[str] = field(default_factory=frozenset)  # properties that are numbers
    geometry_type: str = "MultiPolygon"
    label: str = "code"  # the property that names a feature (a KML placemark's name)

    @property
    def fields(self) -> list[str]:
        """The properties a file's columns hold after its `id`."""
        return [name for name in self.properties if name != "id"]


async def page(
    session: AsyncSession,
    *,
    feature: str,
    source: str,
    where: list[str],
    params: Mapping[str, Any],
    order: str,
    limit: int,
    offset: int,
    count_in_query: bool = False,
) -> Page:
    """One page of Features from `source` (a FROM clause with alias `t`) in `order`: a unique key,
    or with `count_in_query` any ordering.

    With `count_in_query`, the matches are counted by a window in the page query itself: right
    for queries that must evaluate every match anyway (to sort by area or distance), wrong for
    those that can stop early by walking an index in order.
    """
    condition = " AND ".join(where) or "true"
    paged = {**params, "limit": limit + 1, "offset": offset}
    if not count_in_query:
        # `order` is a unique key here. The page's keys are found first and the Features built
        # for those rows only: built in one pass, PostgreSQL would render every row an OFFSET
        # skips (9.3 s rather than 0.15 s a million rows deep). Where the planner expects a
        # modest number of matches, the keys' query counts them too (it reads every match to
        # sort them anyway), instead of a second query counting them again.
        cap = count_cap(limit, offset)
        estimate = await estimated(session, source, condition, params)
        if estimate >= 3 * cap:
            sql = f"""
                SELECT ({feature})::text FROM {source}
                WHERE {condition} AND {order} = ANY(ARRAY(
                    SELECT {order} FROM {source} WHERE {condition}
                    ORDER BY {order} LIMIT :limit OFFSET :offset))
                ORDER BY {order}
            """

            async def guessed() -> tuple[int, bool]:
                return estimate, True

            return page_of_rows(session, sql, paged, limit, count=guessed)
        sql = counted_keys_sql(source, condition, order, f"({feature})::text", offset=True)
        return _counted_page(session, sql, paged, limit, offset, source, condition, params, estimate)
    sql = f"""
        SELECT t.matched, ({feature})::text FROM (
            SELECT t.*, count(*) OVER () AS matched FROM {source} WHERE {condition}
            ORDER BY {order} LIMIT :limit OFFSET :offset
        ) t
        ORDER BY {order}
    """
    return _counted_page(session, sql, paged, limit, offset, source, condition, params)


def counted_keys_sql(source: str, condition: str, order: str, columns: str, *, offset: bool) -> str:
    """SQL: `columns` (over t) of one page of `source` in `order` (a unique key), each row led by
    the number of all matches. The page's keys are found first, counting the matches as they
    are read (ordering reads every one anyway), and the columns built for those rows only.
    Parameters :limit (and :offset)."""
    return f"""
        WITH keys AS MATERIALIZED (
            SELECT {order} AS k, count(*) OVER () AS matched FROM {source} WHERE {condition}
            ORDER BY {order} LIMIT :limit{" OFFSET :offset" if offset else ""})
        SELECT (SELECT matched FROM keys LIMIT 1), {columns} FROM {source}
        WHERE {condition} AND {order} = ANY(ARRAY(SELECT k FROM keys))
        ORDER BY {order}"""


def _counted_page(
    session: AsyncSession,
    sql: str,
    paged: Mapping[str, Any],
    limit: int,
    offset: int,
    source: str,
    condition: str,
    params: Mapping[str, Any],
    estimate: int | None = None,
) -> Page:
    """A page whose query gives each row as (matches, Feature): the count comes with the rows, and
    is asked for apart only when the page is empty past its first."""
    matched: list[int] = []

    async def features_and_total() -> AsyncIterator[str]:
        async for total, value in pairs(session, sql, paged, limit + 1):
            if not matched:
                matched.append(total)
            yield value

    async def whole() -> list[str]:
        found = await read(session, sql, paged)
        if found:
            matched.append(found[0][0])
        return [row[1] for row in found]

    async def total() -> tuple[int, bool]:
        if matched:
            return matched[0], False
        if offset == 0:  # the query ran and matched nothing
            return 0, False
        return await count_matches(session, source, condition, params, count_cap(limit, offset), estimate)

    small = limit + 1 <= FETCH_ALL_UP_TO
    return Page(features=features_and_total(), limit=limit, count=total, whole=whole if small else None)


async def upsert(session: AsyncSession, resource: FeatureType, values: Mapping[str, Any], geom: bytes) -> str:
    """Insert, or update the row with the same key if anything differs. Returns
    'inserted', 'updated' or 'unchanged'. The caller commits."""
    placeholders, params = _bind(resource, values)
    columns = [*values, "geom"]
    changed = [c for c in columns if c != resource.key]
    mine = ", ".join(f"t.{c}" if c != "geom" else "ST_AsBinary(t.geom)" for c in changed)
    theirs = ", ".join(f"EXCLUDED.{c}" if c != "geom" else "ST_AsBinary(EXCLUDED.geom)" for c in changed)
    sql = (
        f"INSERT INTO {resource.table} AS t ({', '.join(columns)}) "
        f"VALUES ({', '.join([*placeholders, GEOM_FROM_WKB])}) "
        f"ON CONFLICT ({resource.key}) DO UPDATE SET "
        f"{', '.join(f'{c} = EXCLUDED.{c}' for c in changed)}, updated_at = now() "
        f"WHERE ({mine}) IS DISTINCT FROM ({theirs}) "
        f"RETURNING (xmax = 0) AS inserted"
    )
    inserted = await session.scalar(text(sql), {**params, "geom": geom})
    return "unchanged" if inserted is None else "inserted" if inserted else "updated"


async def page_of(
    session: AsyncSession, s: Selection, limit: int, offset: int, *, count_in_query: bool = False
) -> Page:
    """One page of a selection's Features (`page`); its export streams the same rows whole."""
    return await page(
        session,
        feature=feature_sql("t.id", s.properties),
        source=s.source,
        where=list(s.where),
        params=s.params,
        order=s.order,
        limit=limit,
        offset=offset,
        count_in_query=count_in_query,
    )


def intersects_bbox(geometry: str, bbox: BBox, params: dict[str, Any]) -> str:
    """SQL: `geometry` meets the lon/lat box, whose corners go into `params` (:x0 :y0 :x1 :y1)."""
    params.update(zip(("x0", "y0", "x1", "y1"), bbox, strict=True))
    return f"ST_Intersects({geometry}, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"


async def list_of(session: AsyncSession, ft: FeatureType, bbox: BBox | None, limit: int, offset: int) -> Page:
    """A page of any catalogue type's Features in key order, those meeting `bbox` if given."""
    where, params = [], {}
    if bbox is not None:
        where.append(intersects_bbox(ft.geometry, bbox, params))
    return await page(
        session,
        feature=ft.feature,
        source=ft.source,
        where=where,
        params=params,
        order=f"t.{ft.key}",
        limit=limit,
        offset=offset,
    )
