"""History records an insert without a copy of the row: who inserted which row, and when.

A recorded insert held the whole new row (`after`, with its geometry) although the row itself, or
the `before` of its next change, holds the same state: a bulk load wrote every parcel twice.
Now an insert's `before` and `after` are empty, and readers take its `after` from the next change
of the row (its `before`) or, if there is none, from the row as it stands; `as_of` never needed
it (the state at a time is the `before` of the first change after it, else the row). Changes
recorded earlier keep their copies; updates and deletes still record theirs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# TG_ARGV[0] is the column that names the row in URLs (migration 0004); the transition table is
# seen by this function's own statements, so the column is read in one dynamic statement here.
RECORD_INSERTS = """
CREATE OR REPLACE FUNCTION record_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    EXECUTE format(
        'WITH added AS (
             INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at)
             SELECT %L, n.id, n.%I::text, ''insert'', change_actor(), clock_timestamp()
             FROM new_rows n ORDER BY n.id
             RETURNING id)
         SELECT max(id) FROM added', TG_TABLE_NAME, TG_ARGV[0]) INTO changed;
    IF changed IS NOT NULL THEN
        PERFORM set_config('kaltim.last_change', changed::text, true);
    END IF;
    RETURN NULL;
END $$;
"""

# Migration 0009's, which recorded the row (derived columns left out).
PREVIOUS = """
CREATE OR REPLACE FUNCTION record_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    WITH added AS (
        INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
        SELECT TG_TABLE_NAME, n.id, r.j ->> TG_ARGV[0], 'insert', change_actor(),
               clock_timestamp(), NULL, r.j
        FROM new_rows n, LATERAL (SELECT to_jsonb(n) - ARRAY['zone_codes', 'regency_code', 'regency',
            'district_code', 'district'] AS j OFFSET 0) r
        ORDER BY n.id
        RETURNING id)
    SELECT max(id) INTO changed FROM added;
    IF changed IS NOT NULL THEN
        PERFORM set_config('kaltim.last_change', changed::text, true);
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(RECORD_INSERTS)


def downgrade() -> None:
    # Inserts recorded without a copy get one from the row as it stands (or its next change).
    op.execute(
        """UPDATE change c SET after = coalesce(
               (SELECT n.before FROM change n WHERE n.table_name = c.table_name AND n.row_id = c.row_id
                  AND (n.changed_at, n.id) > (c.changed_at, c.id) ORDER BY n.changed_at, n.id LIMIT 1),
               CASE c.table_name
                   WHEN 'parcel' THEN (SELECT to_jsonb(r) - ARRAY['zone_codes', 'regency_code', 'regency',
                                       'district_code', 'district'] FROM parcel r WHERE r.id = c.row_id)
                   WHEN 'zone' THEN (SELECT to_jsonb(r) - ARRAY['regency_code', 'regency', 'district_code',
                                     'district'] FROM zone r WHERE r.id = c.row_id)
                   WHEN 'facility' THEN (SELECT to_jsonb(r) FROM facility r WHERE r.id = c.row_id)
                   WHEN 'project' THEN (SELECT to_jsonb(r) FROM project r WHERE r.id = c.row_id)
               END)
           WHERE c.operation = 'insert' AND c.after IS NULL AND c.table_name <> 'project_parcel'"""
    )
    op.execute(PREVIOUS)
