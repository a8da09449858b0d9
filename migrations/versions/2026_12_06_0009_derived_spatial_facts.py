"""Derived spatial facts kept by the database: a parcel's zones, and a parcel's and a zone's
regency and district, stored beside the row and maintained by triggers when either side changes,
so reads take them as they are instead of recomputing them for every row.

- parcel.zone_codes: the codes of the zones that cover the parcel (ST_Covers(zone, parcel)), in
  code order. parcel.regency_code, regency, district_code, district (and the same on zone): the
  district holding the row's point on surface (the first by code, should two), and its regency.
- A BEFORE INSERT OR UPDATE OF geom row trigger on parcel and on zone computes them from the
  zones and administrative areas its statement sees; a value a client writes is overwritten, so
  they cannot be typed in.
- A change of a zone (insert, delete, new geometry or code) refreshes the zone_codes of the
  parcels within its old and new bounding boxes; a change of an administrative area refreshes the
  parcels and zones whose point on surface lies in its old or new bounding box. Those refreshes
  change only derived columns: history does not record them and updated_at stays.

Never stale. A zone or administrative-area change first locks parcel (and zone) in SHARE ROW
EXCLUSIVE mode: it waits for every parcel writer in flight to commit and holds new ones back
until it commits (and such changes wait for each other), so under READ COMMITTED its refresh sees
every parcel committed before it, and every parcel written after it sees the new zones when its
trigger reads them. Under REPEATABLE READ and SERIALIZABLE a snapshot can predate the other
side's commit: there a zone change also takes the ground cells (migration 0003) of its old and
new geometry, as a parcel write takes those of its own, so the later of two overlapping writers
fails with a serialization failure (40001) and is retried, as with the overlap rule. Changes of
administrative areas (the seed's, spanning the province, too wide for cells) are refused outside
READ COMMITTED.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMIN_COLUMNS = ("regency_code", "regency", "district_code", "district")
DERIVED = ("zone_codes", *ADMIN_COLUMNS)

FUNCTIONS = """
-- The codes of the zones covering g, in code order. ST_Covers(zone, g) with the zone first lets
-- PostGIS reuse the zone's prepared geometry. (Plain SQL: PostgreSQL inlines it into a query.)
CREATE FUNCTION zones_covering(g geometry) RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(z.code ORDER BY z.code), '{}') FROM zone z
    WHERE z.geom && g AND ST_Covers(z.geom, g)
$$;

-- The code of the district holding g's point on surface (the first by code, should two).
CREATE FUNCTION district_at(g geometry) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.code FROM admin_area d
    WHERE d.level = 'district' AND ST_Intersects(d.geom, ST_PointOnSurface(g))
    ORDER BY d.code LIMIT 1
$$;

-- A row with its derived columns computed: the triggers' rows, and history's rows as they were.
-- (SELECT INTO sets its targets to null when no district holds the point.)
CREATE FUNCTION parcel_with_derived(r parcel) RETURNS parcel LANGUAGE plpgsql STABLE AS $$
BEGIN
    r.zone_codes := zones_covering(r.geom);
    r.district_code := district_at(r.geom);
    SELECT d.name, d.parent_code, p.name INTO r.district, r.regency_code, r.regency
    FROM admin_area d LEFT JOIN admin_area p ON p.code = d.parent_code WHERE d.code = r.district_code;
    RETURN r;
END $$;

CREATE FUNCTION zone_with_derived(r zone) RETURNS zone LANGUAGE plpgsql STABLE AS $$
BEGIN
    r.district_code := district_at(r.geom);
    SELECT d.name, d.parent_code, p.name INTO r.district, r.regency_code, r.regency
    FROM admin_area d LEFT JOIN admin_area p ON p.code = d.parent_code WHERE d.code = r.district_code;
    RETURN r;
END $$;

CREATE FUNCTION parcel_derived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN parcel_with_derived(NEW);
END $$;

CREATE FUNCTION zone_derived() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN zone_with_derived(NEW);
END $$;

-- Derived columns of the rows in `box`, recomputed; only rows whose values differ are written.
CREATE FUNCTION refresh_parcel_zones(box geometry) RETURNS void LANGUAGE sql AS $$
    UPDATE parcel p SET zone_codes = f.codes
    FROM (SELECT id, zones_covering(geom) AS codes FROM parcel WHERE geom && box) f
    WHERE p.id = f.id AND p.zone_codes IS DISTINCT FROM f.codes
$$;

CREATE FUNCTION refresh_admin(box geometry) RETURNS void LANGUAGE sql AS $$
    UPDATE parcel t SET regency_code = d.parent_code, regency = r.name, district_code = d.code,
                        district = d.name
    FROM (SELECT id, district_at(geom) AS code FROM parcel WHERE geom && box) f
    LEFT JOIN admin_area d ON d.code = f.code LEFT JOIN admin_area r ON r.code = d.parent_code
    WHERE t.id = f.id AND (t.regency_code, t.regency, t.district_code, t.district)
          IS DISTINCT FROM (d.parent_code, r.name, d.code, d.name);
    UPDATE zone t SET regency_code = d.parent_code, regency = r.name, district_code = d.code,
                      district = d.name
    FROM (SELECT id, district_at(geom) AS code FROM zone WHERE geom && box) f
    LEFT JOIN admin_area d ON d.code = f.code LEFT JOIN admin_area r ON r.code = d.parent_code
    WHERE t.id = f.id AND (t.regency_code, t.regency, t.district_code, t.district)
          IS DISTINCT FROM (d.parent_code, r.name, d.code, d.name);
$$;

-- A zone changed: its parcels' zones, after every parcel writer in flight has committed.
CREATE FUNCTION zone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_geom geometry := CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END;
    new_geom geometry := CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END;
BEGIN
    LOCK TABLE parcel IN SHARE ROW EXCLUSIVE MODE;
    PERFORM take_cells(old_geom, new_geom);
    PERFORM refresh_parcel_zones(ST_Envelope(ST_Collect(old_geom, new_geom)));
    RETURN NULL;
END $$;

-- Administrative areas changed (statement trigger): the parcels' and zones' units.
CREATE FUNCTION admin_area_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    box geometry;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT ST_Envelope(ST_Collect(geom)) INTO box FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT ST_Envelope(ST_Collect(geom)) INTO box FROM old_rows;
    ELSE
        SELECT ST_Envelope(ST_Collect(g)) INTO box
        FROM (SELECT geom AS g FROM new_rows UNION ALL SELECT geom FROM old_rows) s;
    END IF;
    IF box IS NULL THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'administrative areas change under READ COMMITTED only'
            USING ERRCODE = '0A000',
                  HINT = 'a snapshot older than the lock could miss parcels written meanwhile';
    END IF;
    LOCK TABLE parcel, zone IN SHARE ROW EXCLUSIVE MODE;
    PERFORM refresh_admin(box);
    RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER parcel_derived BEFORE INSERT OR UPDATE OF geom ON parcel
    FOR EACH ROW EXECUTE FUNCTION parcel_derived();
CREATE TRIGGER zone_derived BEFORE INSERT OR UPDATE OF geom ON zone
    FOR EACH ROW EXECUTE FUNCTION zone_derived();
CREATE TRIGGER zone_changed AFTER INSERT OR DELETE OR UPDATE OF geom, code ON zone
    FOR EACH ROW EXECUTE FUNCTION zone_changed();
CREATE TRIGGER admin_area_inserted AFTER INSERT ON admin_area REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION admin_area_changed();
CREATE TRIGGER admin_area_updated AFTER UPDATE ON admin_area
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION admin_area_changed();
CREATE TRIGGER admin_area_deleted AFTER DELETE ON admin_area REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION admin_area_changed();
"""

# History leaves the derived columns out (migrations 0004 and 0007's functions, with `- DERIVED`):
# they are facts about other tables, and a refresh of them alone is no change of the row.
HISTORY = f"""
CREATE OR REPLACE FUNCTION record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    changed bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD) - {list(DERIVED)!r}::text[]; END IF;
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW) - {list(DERIVED)!r}::text[]; END IF;
    IF old_row = new_row THEN RETURN NULL; END IF;
    INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
    VALUES (TG_TABLE_NAME, (coalesce(new_row, old_row) ->> 'id')::bigint,
            coalesce(new_row, old_row) ->> TG_ARGV[0], lower(TG_OP), change_actor(), clock_timestamp(),
            old_row, new_row)
    RETURNING id INTO changed;
    PERFORM set_config('kaltim.last_change', changed::text, true);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION record_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    WITH added AS (
        INSERT INTO change (table_name, row_id, row_key, operation, actor, changed_at, before, after)
        SELECT TG_TABLE_NAME, n.id, r.j ->> TG_ARGV[0], 'insert', change_actor(),
               clock_timestamp(), NULL, r.j
        FROM new_rows n, LATERAL (SELECT to_jsonb(n) - {list(DERIVED)!r}::text[] AS j OFFSET 0) r
        ORDER BY n.id
        RETURNING id)
    SELECT max(id) INTO changed FROM added;
    IF changed IS NOT NULL THEN
        PERFORM set_config('kaltim.last_change', changed::text, true);
    END IF;
    RETURN NULL;
END $$;
""".replace("['", "ARRAY['").replace("::text[]", "")


def _functions(sql: str) -> list[str]:
    """One function at a time (asyncpg)."""
    return [f.strip() + "$$;" for f in sql.split("$$;")[:-1]]


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def _admin_columns(table: str) -> None:
    for name in ADMIN_COLUMNS:
        op.add_column(table, sa.Column(name, sa.Text(), nullable=True))


def upgrade() -> None:
    op.add_column(
        "parcel",
        sa.Column("zone_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
    )
    _admin_columns("parcel")
    _admin_columns("zone")
    for statement in _functions(FUNCTIONS) + _statements(TRIGGERS) + _functions(HISTORY):
        op.execute(statement)
    # Existing rows; history ignores derived columns, so it records nothing.
    op.execute("UPDATE parcel SET zone_codes = zones_covering(geom) WHERE zone_codes <> zones_covering(geom)")
    op.execute("SELECT refresh_admin(ST_MakeEnvelope(-180, -90, 180, 90, 4326))")
    op.create_index("ix_parcel_zone_codes", "parcel", ["zone_codes"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_parcel_zone_codes", table_name="parcel")
    for trigger, table in (
        ("admin_area_deleted", "admin_area"),
        ("admin_area_updated", "admin_area"),
        ("admin_area_inserted", "admin_area"),
        ("zone_changed", "zone"),
        ("zone_derived", "zone"),
        ("parcel_derived", "parcel"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "admin_area_changed()",
        "zone_changed()",
        "refresh_admin(geometry)",
        "refresh_parcel_zones(geometry)",
        "zone_derived()",
        "parcel_derived()",
        "zone_with_derived(zone)",
        "parcel_with_derived(parcel)",
        "district_at(geometry)",
        "zones_covering(geometry)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    # Back to migration 0007's history functions, which knew no derived columns.
    for statement in _functions(HISTORY.replace(f" - ARRAY{list(DERIVED)!r}", "")):
        op.execute(statement)
    for name in DERIVED:
        op.drop_column("parcel", name)
    for name in ADMIN_COLUMNS:
        op.drop_column("zone", name)
