"""OGC API - Features: the collections, and pages of items walked by keyset.

Each collection is a table whose rows PostgreSQL renders as GeoJSON Features. Pages are keyset
pages on the collection's key: `after` (or `before`) a key, in key order, so paging never
repeats or skips a feature while the data is unchanged and stays fast deep into a million rows.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import read
from app.geometry import BBox
from app.queries.catalogue import FeatureType
from app.queries.features import (
    FETCH_ALL_UP_TO,
    Page,
    count_cap,
    count_matches,
    counted_keys_sql,
    estimated,
    pairs,
)


@dataclass(frozen=True)
class Crs:
    """A coordinate reference system features can be asked in (OGC API - Features, Part 2)."""

    uri: str
    srid: int
    lat_lon: bool  # positions are (latitude, longitude), as EPSG:4326 defines them
    precision: int  # decimals in output coordinates: about 1 mm either way
    # minx, miny, maxx, maxy a bbox in this CRS may span (projected CRSs only): beyond them the
    # projection's formulas break down.
    bounds: tuple[float, float, float, float] | None = None

    @property
    def geographic(self) -> bool:
        return self.srid == 4326

    def geometry(self, expr: str) -> str:
        """SQL: `expr` (stored in CRS84) in this CRS, axes in its order."""
        if self.srid != 4326:
            return f"ST_Transform({expr}, {self.srid})"
        return f"ST_FlipCoordinates({expr})" if self.lat_lon else expr

    def envelope(self) -> str:
        """SQL: the bbox parameters :x0 :y0 :x1 :y1 (lon/lat order or projected) as a CRS84 polygon."""
        box = f"ST_MakeEnvelope(:x0, :y0, :x1, :y1, {self.srid})"
        return box if self.srid == 4326 else f"ST_Transform({box}, 4326)"


CRS84 = Crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, 8)
CRSS = {
    crs.uri: crs
    for crs in (
        CRS84,
        Crs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 8),
        # WGS 84 / UTM zone 50S, over its zone and well beyond it (north of the equator too, where
        # Maloy lies): its eastings and northings are meaningful there.
        Crs("http://www.opengis.net/def/crs/EPSG/0/32750", 32750, False, 3, (-1e6, -1e6, 2e6, 12e6)),
    )
}


# A collection is a catalogue type (app.queries.catalogue): a built-in one, or a constraint layer
# (app.queries.layers.feature_type).
Collection = FeatureType


async def extent(session: AsyncSession, collection: Collection) -> list[float] | None:
    """The collection's bounding box: PostGIS's estimate for tables over 100,000 rows, else exact."""
    box = f"(SELECT ST_Extent({collection.geometry}) FROM {collection.source})"
    if collection.table is not None:
        box = (
            f"coalesce(CASE WHEN (SELECT reltuples FROM pg_class WHERE oid = '{collection.table}'::regclass)"
            f" > 100000 THEN ST_EstimatedExtent('{collection.table}', 'geom')::box2d END, {box})"
        )
    sql = (
        f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT {box} AS b) e "
        "WHERE b IS NOT NULL"
    )
    row = (await session.execute(text(sql))).one_or_none()
    return None if row is None else [round(v, 6) for v in row]


# OGC's `datetime`: an instant (start = end) or an interval whose open ends are None.
Interval = tuple[datetime | None, datetime | None]


def _conditions(
    collection: Collection,
    bbox: tuple[BBox, Crs] | None,
    filters: dict[str, Any],
    cql: tuple[str, dict] | None,
    when: Interval | None = None,
) -> tuple[list[str], dict]:
    where, params = [], {}
    column = collection.temporal_column
    if when is not None and column is not None:
        for name, op, bound in (("datetime_start", ">=", when[0]), ("datetime_end", "<=", when[1])):
            if bound is not None:
                where.append(f"{column} {op} :{name}")
                params[name] = bound
    if cql is not None:
        where.append(f"({cql[0]})")
        params.update(cql[1])
    if bbox is not None:
        box, crs = bbox
        where.append(f"ST_Intersects({collection.geometry}, {crs.envelope()})")
        params.update(zip(("x0", "y0", "x1", "y1"), box, strict=True))
    for i, (name, value) in enumerate(sorted(filters.items())):
        where.append(f"{collection.column(name)} = :q{i}")
        params[f"q{i}"] = value
    return where, params


@dataclass
class ItemsPage:
    """A keyset page: its Features (`page`, streamed), and what its links need once it is written:
    the keys of the rows read, whether a page comes before it and whether the page walks back."""

    page: Page
    keys: list[Any]
    has_prev: bool
    backwards: bool

    def ends(self, more: bool) -> tuple[Any, Any, bool, bool]:
        """(first key, last key, has next, has prev) of the page written; `more`: the writer found
        a row beyond it."""
        shown = self.keys[: self.page.limit]
        first, last = (shown[0], shown[-1]) if shown else (None, None)
        if self.backwards:
            return first, last, True, self.has_prev
        return first, last, more, self.has_prev


async def items(
    session: AsyncSession,
    collection: Collection,
    *,
    bbox: tuple[BBox, Crs] | None,
    filters: dict[str, Any],
    limit: int,
    after: Any = None,
    before: Any = None,
    cql: tuple[str, dict] | None = None,
    when: Interval | None = None,
    crs: Crs = CRS84,
) -> ItemsPage:
    """A keyset page: the `limit` items after `after` (or before `before`) in key order, matching
    the bbox, the property filters, the CQL2 filter (as `cql2` made it) and `when` (on the
    collection's temporal property, if it has one). Forward pages stream from the query; a page
    walked back is read whole (its rows come newest first)."""
    where, params = _conditions(collection, bbox, filters, cql, when)
    key = f"t.{collection.key}"
    condition = " AND ".join(where) or "true"
    backwards = before is not None
    cursor = before if backwards else after
    paged = [*where, f"{key} {'<' if backwards else '>'} :cursor"] if cursor is not None else where
    sql = f"""SELECT {key} AS key, ({collection.feature_in(crs)})::text FROM {collection.source}
              WHERE {" AND ".join(paged) or "true"}
              ORDER BY {key} {"DESC" if backwards else ""} LIMIT :limit"""
    query = {**params, "cursor": cursor, "limit": limit + 1}
    cap = count_cap(limit, 0)
    has_prev, counted = False, False
    fetched: list | None = None
    if backwards:
        fetched = await read(session, sql, query)
        has_prev = len(fetched) > limit
        fetched = fetched[:limit][::-1]
    elif after is not None:  # a matching row at or before `after` is on an earlier page
        earlier = f"SELECT EXISTS (SELECT 1 FROM {collection.source} WHERE {condition} AND {key} <= :c)"
        has_prev = bool(await read(session, earlier, {**params, "c": after}, one=True))
    elif await estimated(session, collection.source, condition, params) < 3 * cap:
        # The first page of a modest number of matches: its keys' query counts them too (it
        # reads every match to order them anyway), instead of a second query counting them again.
        counted = True
        columns = f"{key}, ({collection.feature_in(crs)})::text"
        sql = counted_keys_sql(collection.source, condition, key, columns, offset=False)
    keys: list[Any] = []
    matched: list[int] = []

    def seen(row: Any) -> str:
        if counted:  # (matches, key, Feature)
            if not matched:
                matched.append(row[0])
            row = row[1:]
        keys.append(row[0])
        return row[1]

    async def features() -> AsyncIterator[str]:
        if fetched is not None:
            for row in fetched:
                yield seen(row)
            return
        async for row in pairs(session, sql, query, limit + 1):
            yield seen(row)

    async def whole() -> list[str]:
        return [seen(row) for row in (fetched if fetched is not None else await read(session, sql, query))]

    async def count() -> tuple[int, bool]:
        if counted:
            return (matched[0] if matched else 0), False
        return await count_matches(session, collection.source, condition, params, cap)

    page = Page(
        features=features(),
        limit=limit,
        count=count,
        whole=whole if fetched is not None or limit + 1 <= FETCH_ALL_UP_TO else None,
    )
    return ItemsPage(page, keys, has_prev, backwards)


async def item(
    session: AsyncSession, collection: Collection, feature_id: Any, crs: Crs = CRS84
) -> str | None:
    sql = (
        f"SELECT ({collection.feature_in(crs)})::text FROM {collection.source} WHERE t.{collection.key} = :id"
    )
    return await read(session, sql, {"id": feature_id}, one=True)
