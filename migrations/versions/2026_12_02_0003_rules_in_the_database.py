"""Rules in the database: no overlapping parcels unless recorded, project parcels in their zone,
one active project per parcel.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 11:00:00

Every path that writes (the API, COPY, the command line, plain SQL) goes through these triggers,
and they hold under READ COMMITTED, REPEATABLE READ and SERIALIZABLE alike.

Ground cells (parcel_cell). The ground is cut into cells of 0.01 degree (about 1.1 km), keyed
by floor(lon / 0.01) and floor(lat / 0.01). A write whose rule depends on some ground first
upserts the cell rows its bounding box touches (INSERT ... ON CONFLICT DO UPDATE SET version =
version + 1), in ascending key order so that two writers never deadlock over cells, and only
then reads what it must check. Two writes whose geometries could break a rule together have
intersecting bounding boxes, so they share at least one cell row:

- READ COMMITTED: the second writer's upsert waits until the first commits or rolls back; the
  trigger's next statement takes a fresh snapshot and sees the first writer's row.
- REPEATABLE READ and SERIALIZABLE: the upsert finds a cell row changed by a transaction that
  committed after our snapshot and fails with serialization_failure (40001); the client retries.
  This is why the cell row is changed (its version bumped) and not merely locked: a lock alone
  raises nothing under REPEATABLE READ.

A row already changed by this very transaction is left alone (the ON CONFLICT ... WHERE skips
it but keeps it locked), so a bulk COPY touches each cell row once instead of building a long
chain of row versions. Writes more than a cell apart never wait for each other; waits are
bounded by lock_timeout (the API sets it). One fine level is used throughout: coarser cells
would need every fine writer to change the coarse rows too (a lock alone does not conflict
under REPEATABLE READ), which would serialise all writers of a coarse cell. A bounding box
costs one row per cell (a 10 km parcel about 100 rows); boxes of more than 250,000 cells
(25 square degrees) are refused.

Overlaps. parcel_overlap_allowed records pairs (parcel_id < other_id) whose interiors may
overlap. The AFTER INSERT OR UPDATE OF geom trigger on parcel takes the cells of the new
geometry (and of the old one, on an update, for the project rule below), then looks for parcels
whose interiors overlap it (ST_Relate '2********', served by the GiST index through &&). Pairs
not recorded are refused with SQLSTATE KL001 and the ids as a JSON list in DETAIL, unless the
transaction-local setting kaltim.allow_overlap holds a reason: then every overlap found is
recorded with that reason. An allowance is for a pair only, so moving an allowed parcel onto a
new neighbour needs a new one. Overlaps already stored at upgrade are recorded as allowed.

Projects. A project's parcels lie in its zone (ST_Covers(zone, parcel)); checked when a parcel
joins a project, when a parcel of a project moves, when a zone's geometry changes and when a
project changes zone. Each of these first takes the cells of the ground involved (the parcel's
box, old and new; the zone's old box), which serialises it against the others. A project
joining parcels also locks its project row (FOR SHARE) against a concurrent change of zone,
and a change of zone takes the cells of the old zone, which hold every parcel already in it.
Refusals use SQLSTATE KL002 with a JSON object in DETAIL (project, zone, parcel ids).

One active project per parcel: project status `withdrawn` is inactive, every other status is
active. project.active is generated from the status; project_parcel.active copies it through a
foreign key (project_id, active) -> project (id, active) ON UPDATE CASCADE, so PostgreSQL's own
referential triggers keep it right under every isolation level, and the partial unique index
ux_project_parcel_active_parcel_id lets a parcel have at most one active row.

Downgrade removes all of it; withdrawn projects become `offered`, as the older schema knows no
inactive status.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = """
CREATE FUNCTION parcel_cells(g geometry) RETURNS SETOF bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    x0 integer := floor(ST_XMin(g) / 0.01);
    x1 integer := floor(ST_XMax(g) / 0.01);
    y0 integer := floor(ST_YMin(g) / 0.01);
    y1 integer := floor(ST_YMax(g) / 0.01);
BEGIN
    IF (x1 - x0 + 1)::bigint * (y1 - y0 + 1) > 250000 THEN
        RAISE EXCEPTION 'the geometry''s bounding box spans more than 25 square degrees'
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT (i + 20000)::bigint * 100000 + (j + 10000)
        FROM generate_series(x0, x1) i, generate_series(y0, y1) j;
END $$;

-- Take the cells of `g` (and `h`, if given): change each cell row not yet changed by this
-- transaction, in ascending order. See the migration's notes for why this suffices.
CREATE FUNCTION take_cells(g geometry, h geometry DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO parcel_cell AS c (cell, version)
    SELECT DISTINCT k, 1 FROM (
        SELECT parcel_cells(g) AS k UNION ALL SELECT parcel_cells(h)
    ) s ORDER BY k
    ON CONFLICT (cell) DO UPDATE SET version = c.version + 1
    WHERE c.xmin::text <> (pg_current_xact_id()::text::bigint % 4294967296)::text;
END $$;

CREATE FUNCTION parcel_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    reason text := nullif(current_setting('kaltim.allow_overlap', true), '');
    hits bigint[];
    refused bigint[];
    bad record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM take_cells(NEW.geom, OLD.geom);
    ELSE
        PERFORM take_cells(NEW.geom);
    END IF;

    SELECT array_agg(p.id ORDER BY p.id) INTO hits FROM parcel p
    WHERE p.geom && NEW.geom AND p.id <> NEW.id AND ST_Relate(p.geom, NEW.geom, '2********');
    IF hits IS NOT NULL THEN
        IF reason IS NOT NULL THEN
            INSERT INTO parcel_overlap_allowed (parcel_id, other_id, reason)
            SELECT least(NEW.id, o), greatest(NEW.id, o), reason FROM unnest(hits) o
            ON CONFLICT DO NOTHING;
        ELSE
            SELECT array_agg(o ORDER BY o) INTO refused FROM unnest(hits) o
            WHERE NOT EXISTS (
                SELECT 1 FROM parcel_overlap_allowed a
                WHERE a.parcel_id = least(NEW.id, o) AND a.other_id = greatest(NEW.id, o));
            IF refused IS NOT NULL THEN
                RAISE EXCEPTION 'parcel % (%) overlaps parcels %', NEW.id, NEW.code, refused
                    USING ERRCODE = 'KL001', DETAIL = to_json(refused[1:100])::text,
                          HINT = 'set kaltim.allow_overlap to a reason to record the overlap as allowed';
            END IF;
        END IF;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        SELECT pr.id, pr.name, z.code AS zone INTO bad
        FROM project_parcel pp JOIN project pr ON pr.id = pp.project_id JOIN zone z ON z.id = pr.zone_id
        WHERE pp.parcel_id = NEW.id AND NOT ST_Covers(z.geom, NEW.geom)
        ORDER BY pr.id LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'parcel % would leave zone % of project % (%)', NEW.id, bad.zone, bad.id, bad.name
                USING ERRCODE = 'KL002', DETAIL = json_build_object(
                    'rule', 'parcel-in-zone', 'project_id', bad.id, 'project', bad.name,
                    'zone', bad.zone, 'parcel_ids', json_build_array(NEW.id))::text;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION project_parcel_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A project that does not exist is left to the foreign keys to refuse.
    NEW.active := coalesce((SELECT active FROM project WHERE id = NEW.project_id), true);
    RETURN NEW;
END $$;

CREATE FUNCTION project_parcel_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pr record;
    g geometry;
    inside boolean;
BEGIN
    -- Locked against a concurrent change of the project's zone.
    SELECT p.id, p.name, p.zone_id INTO pr FROM project p WHERE p.id = NEW.project_id FOR SHARE;
    SELECT geom INTO g FROM parcel WHERE id = NEW.parcel_id;
    IF g IS NULL THEN
        RETURN NULL;  -- the foreign key refuses it
    END IF;
    PERFORM take_cells(g);
    SELECT ST_Covers(z.geom, p.geom) INTO inside FROM zone z, parcel p
    WHERE z.id = pr.zone_id AND p.id = NEW.parcel_id;
    IF NOT inside THEN
        RAISE EXCEPTION 'parcel % does not lie in zone % of project % (%)',
            NEW.parcel_id, (SELECT code FROM zone WHERE id = pr.zone_id), pr.id, pr.name
            USING ERRCODE = 'KL002', DETAIL = json_build_object(
                'rule', 'parcel-in-zone', 'project_id', pr.id, 'project', pr.name,
                'zone', (SELECT code FROM zone WHERE id = pr.zone_id),
                'parcel_ids', json_build_array(NEW.parcel_id))::text;
    END IF;
    RETURN NULL;
END $$;

-- Shared by a zone's new geometry and a project's new zone: refuse if any parcel of the
-- projects `project_ids` (or of every project in the zone) is not covered by zone `zone_id`.
CREATE FUNCTION check_projects_in_zone(zone_id bigint, project_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT pr.id, pr.name, z.code AS zone, array_agg(p.id ORDER BY p.id) AS ids INTO bad
    FROM project pr JOIN zone z ON z.id = check_projects_in_zone.zone_id
    JOIN project_parcel pp ON pp.project_id = pr.id JOIN parcel p ON p.id = pp.parcel_id
    WHERE (CASE WHEN project_ids IS NULL THEN pr.zone_id = z.id ELSE pr.id = ANY(project_ids) END)
      AND NOT ST_Covers(z.geom, p.geom)
    GROUP BY pr.id, pr.name, z.code ORDER BY pr.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parcels % of project % (%) would lie outside zone %',
            bad.ids, bad.id, bad.name, bad.zone
            USING ERRCODE = 'KL002', DETAIL = json_build_object(
                'rule', 'parcel-in-zone', 'project_id', bad.id, 'project', bad.name,
                'zone', bad.zone, 'parcel_ids', to_json(bad.ids))::text;
    END IF;
END $$;

CREATE FUNCTION zone_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM take_cells(OLD.geom);
    PERFORM check_projects_in_zone(NEW.id, NULL);
    RETURN NULL;
END $$;

CREATE FUNCTION project_zone_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM take_cells((SELECT geom FROM zone WHERE id = OLD.zone_id));
    PERFORM take_cells(p.geom) FROM project_parcel pp JOIN parcel p ON p.id = pp.parcel_id
        WHERE pp.project_id = NEW.id;
    PERFORM check_projects_in_zone(NEW.zone_id, ARRAY[NEW.id]);
    RETURN NULL;
END $$;

CREATE TRIGGER parcel_rules AFTER INSERT OR UPDATE OF geom ON parcel
    FOR EACH ROW EXECUTE FUNCTION parcel_rules();
CREATE TRIGGER project_parcel_active BEFORE INSERT OR UPDATE OF project_id ON project_parcel
    FOR EACH ROW EXECUTE FUNCTION project_parcel_active();
CREATE TRIGGER project_parcel_rules AFTER INSERT OR UPDATE OF project_id, parcel_id ON project_parcel
    FOR EACH ROW EXECUTE FUNCTION project_parcel_rules();
CREATE TRIGGER zone_rules AFTER UPDATE OF geom ON zone
    FOR EACH ROW WHEN (OLD.geom IS DISTINCT FROM NEW.geom) EXECUTE FUNCTION zone_rules();
CREATE TRIGGER project_zone_rules AFTER UPDATE OF zone_id ON project
    FOR EACH ROW WHEN (OLD.zone_id IS DISTINCT FROM NEW.zone_id) EXECUTE FUNCTION project_zone_rules();
"""

DROP_FUNCTIONS = """
DROP TRIGGER project_zone_rules ON project;
DROP TRIGGER zone_rules ON zone;
DROP TRIGGER project_parcel_rules ON project_parcel;
DROP TRIGGER project_parcel_active ON project_parcel;
DROP TRIGGER parcel_rules ON parcel;
DROP FUNCTION project_zone_rules();
DROP FUNCTION zone_rules();
DROP FUNCTION check_projects_in_zone(bigint, bigint[]);
DROP FUNCTION project_parcel_rules();
DROP FUNCTION project_parcel_active();
DROP FUNCTION parcel_rules();
DROP FUNCTION take_cells(geometry, geometry);
DROP FUNCTION parcel_cells(geometry);
"""


def upgrade() -> None:
    op.create_table(
        "parcel_cell",
        sa.Column("cell", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("cell", name=op.f("pk_parcel_cell")),
    )
    op.create_table(
        "parcel_overlap_allowed",
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.Column("other_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("parcel_id < other_id", name=op.f("ck_parcel_overlap_allowed_canonical")),
        sa.ForeignKeyConstraint(
            ["parcel_id"],
            ["parcel.id"],
            name=op.f("fk_parcel_overlap_allowed_parcel_id_parcel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["parcel.id"], name="fk_parcel_overlap_allowed_other_id_parcel", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("parcel_id", "other_id", name=op.f("pk_parcel_overlap_allowed")),
    )
    op.create_index(
        op.f("ix_parcel_overlap_allowed_other_id"), "parcel_overlap_allowed", ["other_id"], unique=False
    )
    op.execute("""
        INSERT INTO parcel_overlap_allowed (parcel_id, other_id, reason)
        SELECT a.id, b.id, 'stored before the overlap rule moved into the database'
        FROM parcel a JOIN parcel b ON a.id < b.id AND a.geom && b.geom
        WHERE ST_Relate(a.geom, b.geom, '2********')
    """)

    op.drop_constraint(op.f("ck_project_status"), "project", type_="check")
    op.create_check_constraint(
        op.f("ck_project_status"),
        "project",
        "status IN ('offered', 'negotiating', 'committed', 'operating', 'withdrawn')",
    )
    op.add_column(
        "project",
        sa.Column(
            "active", sa.Boolean(), sa.Computed("status <> 'withdrawn'", persisted=True), nullable=False
        ),
    )
    op.create_unique_constraint(op.f("uq_project_id_active"), "project", ["id", "active"])
    op.add_column("project_parcel", sa.Column("active", sa.Boolean(), server_default="true", nullable=False))
    op.execute("UPDATE project_parcel pp SET active = p.active FROM project p WHERE p.id = pp.project_id")
    op.create_foreign_key(
        "fk_project_parcel_project_id_active_project",
        "project_parcel",
        "project",
        ["project_id", "active"],
        ["id", "active"],
        onupdate="CASCADE",
        ondelete="CASCADE",
    )
    op.create_index(
        "ux_project_parcel_active_parcel_id",
        "project_parcel",
        ["parcel_id"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    for statement in re.split(r"\n(?=CREATE )", FUNCTIONS.strip()):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_FUNCTIONS.strip().splitlines():
        op.execute(statement)
    op.drop_index("ux_project_parcel_active_parcel_id", table_name="project_parcel")
    op.drop_constraint("fk_project_parcel_project_id_active_project", "project_parcel", type_="foreignkey")
    op.drop_column("project_parcel", "active")
    op.drop_constraint(op.f("uq_project_id_active"), "project", type_="unique")
    op.drop_column("project", "active")
    op.execute("UPDATE project SET status = 'offered' WHERE status = 'withdrawn'")
    op.drop_constraint(op.f("ck_project_status"), "project", type_="check")
    op.create_check_constraint(
        op.f("ck_project_status"), "project", "status IN ('offered', 'negotiating', 'committed', 'operating')"
    )
    op.drop_index(op.f("ix_parcel_overlap_allowed_other_id"), table_name="parcel_overlap_allowed")
    op.drop_table("parcel_overlap_allowed")
    op.drop_table("parcel_cell")
