"""API keys (hashed), and the history of every change to zones, parcels, facilities and projects.

`api_key` keeps the SHA-256 of each key, never the key. `change` is written by triggers, so the
API, the command line, imports and direct SQL are all recorded. The actor is the transaction-local
setting `kaltim.actor` (the API sets it to the key's name), else the database user. Rows that
existed before this revision have no history: the API treats them as unchanged since created_at.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the column that names a row in URLs
RECORDED = {"zone": "code", "parcel": "id", "facility": "code", "project": "id"}

FUNCTIONS = """
CREATE FUNCTION change_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('kaltim.actor', true), ''), current_user::text)
$$;

-- Row trigger: the row before and after (geometry as EWKB hex), who and when. clock_timestamp(),
-- not now(): changes within one transaction keep their order. An update that changes nothing is
-- not recorded. kaltim.last_change remembers this transaction's latest change.
CREATE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    changed bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF old_row = new_row THEN RETURN NULL; END IF;
    INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
    VALUES (TG_TABLE_NAME, (coalesce(new_row, old_row) ->> 'id')::bigint,
            coalesce(new_row, old_row) ->> TG_ARGV[0], lower(TG_OP), change_actor(), clock_timestamp(),
            old_row, new_row)
    RETURNING id INTO changed;
    PERFORM set_config('kaltim.last_change', changed::text, true);
    RETURN NULL;
END $$;

-- A project's parcel list changed: record {"parcel_ids": [...]} before and after. Consecutive
-- changes to one project's list within a transaction, with no other change between them, are one
-- change (replacing a list is a delete and an insert); a list that ends as it began records nothing.
CREATE FUNCTION note_project_parcels(pid bigint, added bigint[], removed bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    now_ids bigint[] := ARRAY(SELECT parcel_id FROM project_parcel WHERE project_id = pid ORDER BY 1);
    was_ids bigint[] := ARRAY(SELECT x FROM unnest(now_ids) x WHERE x <> ALL(added)
                              UNION SELECT unnest(removed) ORDER BY 1);
    last_id bigint := nullif(current_setting('kaltim.last_change', true), '')::bigint;
    changed bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM change
               WHERE id = last_id AND table_name = 'project_parcel' AND row_id = pid) THEN
        UPDATE change SET after = jsonb_build_object('parcel_ids', to_jsonb(now_ids)) WHERE id = last_id;
        DELETE FROM change WHERE id = last_id AND before = after;
        RETURN;
    END IF;
    IF was_ids = now_ids THEN RETURN; END IF;
    INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
    VALUES ('project_parcel', pid, pid::text, 'update', change_actor(), clock_timestamp(),
            jsonb_build_object('parcel_ids', to_jsonb(was_ids)),
            jsonb_build_object('parcel_ids', to_jsonb(now_ids)))
    RETURNING id INTO changed;
    PERFORM set_config('kaltim.last_change', changed::text, true);
END $$;

-- Statement trigger on project_parcel: one note per project the statement touched.
CREATE FUNCTION record_project_parcels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT project_id, array_agg(parcel_id) AS ids FROM new_rows GROUP BY 1 ORDER BY 1 LOOP
            PERFORM note_project_parcels(r.project_id, r.ids, '{}');
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR r IN SELECT project_id, array_agg(parcel_id) AS ids FROM old_rows GROUP BY 1 ORDER BY 1 LOOP
            PERFORM note_project_parcels(r.project_id, '{}', r.ids);
        END LOOP;
    ELSE
        FOR r IN
            SELECT project_id,
                   coalesce(array_agg(parcel_id) FILTER (WHERE added), '{}') AS added,
                   coalesce(array_agg(parcel_id) FILTER (WHERE NOT added), '{}') AS removed
            FROM (SELECT project_id, parcel_id, true AS added FROM new_rows
                  UNION ALL SELECT project_id, parcel_id, false FROM old_rows) s
            GROUP BY 1 ORDER BY 1
        LOOP
            PERFORM note_project_parcels(r.project_id, r.added, r.removed);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('reader', 'editor', 'admin')", name=op.f("ck_api_key_role")),
        sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'", name=op.f("ck_api_key_name_slug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("name", name=op.f("uq_api_key_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_table(
        "change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("operation IN ('insert', 'update', 'delete')", name=op.f("ck_change_operation")),
        sa.CheckConstraint(
            "table_name IN ('zone', 'parcel', 'facility', 'project', 'project_parcel')",
            name=op.f("ck_change_table_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change")),
    )
    op.create_index(
        "ix_change_table_name_row_id_changed_at", "change", ["table_name", "row_id", "changed_at"]
    )
    op.create_index("ix_change_table_name_changed_at", "change", ["table_name", "changed_at"])
    op.create_index("ix_change_table_name_row_key", "change", ["table_name", "row_key"])
    for function in FUNCTIONS.split("$$;")[:-1]:  # one statement at a time (asyncpg)
        op.execute(function + "$$;")
    for table, key in RECORDED.items():
        op.execute(
            f"CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION record_change('{key}')"
        )
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER record_change_{event.lower()} AFTER {event} ON project_parcel "
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION record_project_parcels()"
        )


def downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER record_change_{event} ON project_parcel")
    for table in RECORDED:
        op.execute(f"DROP TRIGGER record_change ON {table}")
    op.execute("DROP FUNCTION record_project_parcels()")
    op.execute("DROP FUNCTION note_project_parcels(bigint, bigint[], bigint[])")
    op.execute("DROP FUNCTION record_change()")
    op.execute("DROP FUNCTION change_actor()")
    op.drop_index("ix_change_table_name_row_key", table_name="change")
    op.drop_index("ix_change_table_name_changed_at", table_name="change")
    op.drop_index("ix_change_table_name_row_id_changed_at", table_name="change")
    op.drop_table("change")
    op.drop_table("api_key")
