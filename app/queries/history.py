"""History: the changes that the triggers of migration 0004 record in `change`, and rows as they
stood at a time, rebuilt from them.

A change holds the whole row before it (`to_jsonb` of the row; geometry as EWKB hex) and, for an
update, after it; an insert records no copy of the new row (migration 0011), whose state is the
`before` of the row's next change, or the row as it stands. So the state of a row at time T is
exact: the `before` of its first change after T (none, if that change is its insert), else (no
change since) the row itself; in each case only if its created_at is not after T. Rows older than
the history table are taken to have existed, as they were before their first recorded change,
since their created_at. `changed_at` is clock_timestamp(): it orders the changes within one
transaction too. Times are those of the writing statements, not of their commits.
"""

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.queries import features
from app.queries.catalogue import PRECISION
from app.queries.features import Page

# Resource -> the tables whose changes make its history (a project's includes its parcel list).
TABLES = {
    "zone": ("zone",),
    "parcel": ("parcel",),
    "facility": ("facility",),
    "project": ("project", "project_parcel"),
}


# Rows rebuilt from history get their derived columns (migration 0009) computed afresh, against
# today's zones and administrative areas: history does not record them.
DERIVE = {"parcel": "parcel_with_derived", "zone": "zone_with_derived"}


def _rebuilt(table: str, record: str) -> str:
    """SQL: FROM items giving `table`'s row of JSON `record` as alias `was`."""
    populate = f"jsonb_populate_record(NULL::{table}, {record})"
    if table not in DERIVE:
        return f"LATERAL {populate} was"
    return f"LATERAL {populate} was0, LATERAL {DERIVE[table]}(was0) was"


def state_as_of(table: str) -> str:
    """SQL: a FROM clause (row alias t, parameter :as_of) of `table`'s rows as they stood at :as_of.

    Rows unchanged since then are read from the table itself, so a filter on them is served by
    the table's indexes (each candidate costs one probe of the change index); rows changed since
    are rebuilt from the `before` of their first change after :as_of, which costs a scan of the
    table's changes since then (ix_change_table_name_changed_at). Rows created since drop out;
    rows deleted since come back. `table` is one of TABLES' fixed names, never the request's.
    """
    assert table in TABLES
    return f"""(
        SELECT r.* FROM {table} r
        WHERE r.created_at <= :as_of AND NOT EXISTS (
            SELECT 1 FROM change c
            WHERE c.table_name = '{table}' AND c.row_id = r.id AND c.changed_at > :as_of)
        UNION ALL
        SELECT was.* FROM (
            SELECT DISTINCT ON (c.row_id) c.before FROM change c
            WHERE c.table_name = '{table}' AND c.changed_at > :as_of
            ORDER BY c.row_id, c.changed_at, c.id
        ) s, {_rebuilt(table, "s.before")}
        WHERE s.before IS NOT NULL AND was.created_at <= :as_of
    ) t"""


def row_as_of(table: str) -> str:
    """SQL: a FROM clause (alias t; parameters :id, :as_of) with row :id of `table` as it stood
    at :as_of, or no row if it did not exist then. Two index lookups."""
    assert table in TABLES
    return f"""(
        SELECT s.state FROM (
            (SELECT c.before AS state, 1 AS rank FROM change c
             WHERE c.table_name = '{table}' AND c.row_id = :id AND c.changed_at > :as_of
             ORDER BY c.changed_at, c.id LIMIT 1)
            UNION ALL
            (SELECT to_jsonb(r), 2 FROM {table} r WHERE r.id = :id AND r.created_at <= :as_of)
        ) s ORDER BY s.rank LIMIT 1
    ) found, LATERAL (SELECT was.* FROM {_rebuilt(table, "found.state")}
                      WHERE found.state IS NOT NULL AND was.created_at <= :as_of) t"""


def _row(column: str, show_holder: bool) -> str:
    """SQL: a recorded row as JSON, its geometry as GeoJSON, `holder` null unless shown."""
    value = f"t.{column}"
    if not show_holder:
        value = f"CASE WHEN {value} ? 'holder' THEN jsonb_set({value}, '{{holder}}', 'null') ELSE {value} END"
    geometry = f"ST_AsGeoJSON((t.{column} ->> 'geom')::geometry, {PRECISION})::jsonb"
    with_geometry = f"({value}) || jsonb_build_object('geom', {geometry})"
    return f"CASE WHEN t.{column} ? 'geom' THEN {with_geometry} ELSE {value} END"


# The row as it stands, as history records rows (derived columns left out), by table_name and row_id
# of a change `c`.
CURRENT_ROW = (
    "CASE c.table_name "
    "WHEN 'parcel' THEN (SELECT to_jsonb(r) - ARRAY['zone_codes', 'regency_code', 'regency', "
    "'district_code', 'district'] FROM parcel r WHERE r.id = c.row_id) "
    "WHEN 'zone' THEN (SELECT to_jsonb(r) - ARRAY['regency_code', 'regency', 'district_code', 'district'] "
    "FROM zone r WHERE r.id = c.row_id) "
    "WHEN 'facility' THEN (SELECT to_jsonb(r) FROM facility r WHERE r.id = c.row_id) "
    "WHEN 'project' THEN (SELECT to_jsonb(r) FROM project r WHERE r.id = c.row_id) END"
)

# The changes with each insert's `after` filled in: the `before` of the row's next change, or the
# row as it stands (app.queries.history's notes; migration 0011).
CHANGES = f"""(
    SELECT c.id, c.table_name, c.row_id, c.row_key, c.operation, c.actor, c.changed_at, c.before,
           CASE WHEN c.after IS NULL AND c.operation = 'insert' AND c.table_name <> 'project_parcel'
                THEN coalesce(lead(c.before) OVER (PARTITION BY c.table_name, c.row_id
                                                   ORDER BY c.changed_at, c.id), {CURRENT_ROW})
                ELSE c.after END AS after
    FROM change c WHERE c.table_name = ANY(:tables) AND c.row_id = :row_id
) t"""


def entry(show_holder: bool) -> str:
    return (
        "json_build_object('id', t.id, 'table', t.table_name, 'key', t.row_key, "
        "'operation', t.operation, 'actor', t.actor, 'changed_at', t.changed_at, "
        f"'before', {_row('before', show_holder)}, 'after', {_row('after', show_holder)})"
    )


async def row_id(session: AsyncSession, table: str, key_column: str, key: str | int) -> int | None:
    """The id of the row that `key` names now or, once it is gone (or renamed), the last row
    history knew by that key; None if there never was one."""
    assert table in TABLES and key_column in ("id", "code")
    sql = f"""SELECT coalesce(
        (SELECT id FROM {table} WHERE {key_column} = :key),
        (SELECT row_id FROM change WHERE table_name = '{table}' AND row_key = :key_text
         ORDER BY changed_at DESC, id DESC LIMIT 1))"""
    return await session.scalar(text(sql), {"key": key, "key_text": str(key)})


async def changes_of(
    session: AsyncSession,
    table: str,
    key_column: str,
    key: str | int,
    not_found: Callable[[], Exception],
    *,
    show_holder: bool,
    limit: int,
    offset: int,
) -> Page:
    """The changes of the row `key` names (`row_id`), newest first; `not_found()` is raised
    if history never knew one."""
    row = await row_id(session, table, key_column, key)
    if row is None:
        raise not_found()
    return await changes(session, table, row, show_holder=show_holder, limit=limit, offset=offset)


async def changes(
    session: AsyncSession, resource: str, row: int, *, show_holder: bool, limit: int, offset: int
) -> Page:
    """The changes of one row (and, for a project, of its parcel list), newest first."""
    return await features.page(
        session,
        feature=entry(show_holder),
        source=CHANGES,
        where=[],
        params={"tables": list(TABLES[resource]), "row_id": row},
        order="t.changed_at DESC, t.id DESC",
        limit=limit,
        offset=offset,
        count_in_query=True,
    )
