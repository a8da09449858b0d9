"""Inserts keep the overlap rule and the history statement by statement, not row by row.

A statement that inserts many parcels (an import, COPY, the generator) took each row's ground
cells and searched each row's overlaps in a trigger of its own, and wrote its history row by
row. Now one statement trigger per insert (transition table `new_rows`) takes the ground cells
of all the new rows at once, in ascending order, then looks for every overlap in one query,
and records every insert in one statement. The rule is the same: under READ COMMITTED the
search after the cells are taken sees the writers it waited for; under REPEATABLE READ and
SERIALIZABLE a concurrent writer of the same cells is a serialization failure. Taking all the
cells in one ascending sweep also keeps two many-row inserts from deadlocking each other.
Moves (UPDATE OF geom), updates and deletes keep their row triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDED = {"zone": "code", "parcel": "id", "facility": "code", "project": "id"}

FUNCTIONS = """
CREATE FUNCTION parcel_rules_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reason text := nullif(current_setting('kaltim.allow_overlap', true), '');
    bad record;
BEGIN
    INSERT INTO parcel_cell AS c (cell, version)
    SELECT DISTINCT k, 1 FROM (SELECT parcel_cells(n.geom) AS k FROM new_rows n) s ORDER BY k
    ON CONFLICT (cell) DO UPDATE SET version = c.version + 1
    WHERE c.xmin::text <> (pg_current_xact_id()::text::bigint % 4294967296)::text;

    IF reason IS NOT NULL THEN
        INSERT INTO parcel_overlap_allowed (parcel_id, other_id, reason)
        SELECT DISTINCT least(n.id, p.id), greatest(n.id, p.id), reason
        FROM new_rows n JOIN parcel p
          ON p.geom && n.geom AND p.id <> n.id AND ST_Relate(p.geom, n.geom, '2********')
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;

    SELECT n.id, n.code, array_agg(p.id ORDER BY p.id) AS others INTO bad
    FROM new_rows n JOIN parcel p
      ON p.geom && n.geom AND p.id <> n.id AND ST_Relate(p.geom, n.geom, '2********')
    WHERE NOT EXISTS (
        SELECT 1 FROM parcel_overlap_allowed a
        WHERE a.parcel_id = least(n.id, p.id) AND a.other_id = greatest(n.id, p.id))
    GROUP BY n.id, n.code ORDER BY n.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parcel % (%) overlaps parcels %', bad.id, bad.code, bad.others
            USING ERRCODE = 'KL001', DETAIL = to_json(bad.others[1:100])::text,
                  HINT = 'set kaltim.allow_overlap to a reason to record the overlap as allowed';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION record_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    WITH added AS (
        INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
        SELECT TG_TABLE_NAME, n.id, to_jsonb(n) ->> TG_ARGV[0], 'insert', change_actor(),
               clock_timestamp(), NULL, to_jsonb(n)
        FROM new_rows n ORDER BY n.id
        RETURNING id)
    SELECT max(id) INTO changed FROM added;
    IF changed IS NOT NULL THEN
        PERFORM set_config('kaltim.last_change', changed::text, true);
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    for function in FUNCTIONS.split("$$;")[:-1]:  # one statement at a time (asyncpg)
        op.execute(function + "$$;")
    op.execute("DROP TRIGGER parcel_rules ON parcel")
    op.execute(
        "CREATE TRIGGER parcel_rules AFTER UPDATE OF geom ON parcel "
        "FOR EACH ROW EXECUTE FUNCTION parcel_rules()"
    )
    op.execute(
        "CREATE TRIGGER parcel_rules_inserted AFTER INSERT ON parcel REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION parcel_rules_inserted()"
    )
    for table, key in RECORDED.items():
        op.execute(f"DROP TRIGGER record_change ON {table}")
        op.execute(
            f"CREATE TRIGGER record_change AFTER UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{key}')"
        )
        # Named after parcel_rules_inserted: statement triggers fire in name order, rules first.
        op.execute(
            f"CREATE TRIGGER record_inserts AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION record_inserts('{key}')"
        )


def downgrade() -> None:
    for table, key in RECORDED.items():
        op.execute(f"DROP TRIGGER record_inserts ON {table}")
        op.execute(f"DROP TRIGGER record_change ON {table}")
        op.execute(
            f"CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{key}')"
        )
    op.execute("DROP TRIGGER parcel_rules_inserted ON parcel")
    op.execute("DROP TRIGGER parcel_rules ON parcel")
    op.execute(
        "CREATE TRIGGER parcel_rules AFTER INSERT OR UPDATE OF geom ON parcel "
        "FOR EACH ROW EXECUTE FUNCTION parcel_rules()"
    )
    op.execute("DROP FUNCTION record_inserts()")
    op.execute("DROP FUNCTION parcel_rules_inserted()")
