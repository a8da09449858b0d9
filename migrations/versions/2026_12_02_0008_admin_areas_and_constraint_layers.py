"""Administrative areas (regencies, districts, villages) and constraint layers.

admin_area holds Kemendagri's units of the province (codes such as 64.71 Kota Balikpapan, 64.71.05
a district of it, 64.71.05.1004 a village), loaded by the seed; parcels and zones report the ones
they lie in, computed from these polygons, never typed in (so zone.regency, typed in before, goes).

constraint_layer describes a layer created at run time by an admin (protected forest, peatland,
a spatial plan ...); its features, filled through import jobs, live in constraint_feature. A
spatial plan's features carry the uses they allow. Layer names are collection ids, tile layer
names and map layer ids at once: lower case, no dots, none of the built-in collections' names.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:30:00
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AREA_HA = "ST_Area(geom::geography, true) / 10000.0"
LEVELS = ("regency", "district", "village")
KINDS = (
    "protected_forest",
    "peatland",
    "flood_hazard",
    "mining_concession",
    "plantation_permit",
    "customary_land",
    "spatial_plan",
    "other",
)
RESERVED = ("zones", "parcels", "facilities", "projects", "regencies", "districts", "villages", "layers")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "admin_area",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "geom", geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
        ),
        sa.Column("area_ha", sa.Double(), sa.Computed(AREA_HA, persisted=True), nullable=False),
        sa.CheckConstraint(_in("level", LEVELS), name=op.f("ck_admin_area_level")),
        sa.CheckConstraint(
            r"code ~ '^[0-9]{2}\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?$'", name=op.f("ck_admin_area_code")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_area_geom_valid")),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["admin_area.code"], name=op.f("fk_admin_area_parent_code_admin_area")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_admin_area")),
    )
    op.create_index("idx_admin_area_geom", "admin_area", ["geom"], postgresql_using="gist")
    op.create_index("ix_admin_area_level", "admin_area", ["level"])

    op.drop_column("zone", "regency")

    op.create_table(
        "constraint_layer",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        *_timestamps(),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f("ck_constraint_layer_kind")),
        sa.CheckConstraint(
            "name ~ '^[a-z][a-z0-9]*([_-][a-z0-9]+)*$' AND length(name) <= 63 AND NOT "
            + _in("name", RESERVED),
            name=op.f("ck_constraint_layer_name"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constraint_layer")),
        sa.UniqueConstraint("name", name=op.f("uq_constraint_layer_name")),
    )
    op.create_table(
        "constraint_feature",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("layer_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("allowed_uses", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom", geoalchemy2.Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False
        ),
        sa.Column("area_ha", sa.Double(), sa.Computed(AREA_HA, persisted=True), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_constraint_feature_geom_valid")),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["constraint_layer.id"],
            name=op.f("fk_constraint_feature_layer_id_constraint_layer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constraint_feature")),
        sa.UniqueConstraint("layer_id", "code", name=op.f("uq_constraint_feature_layer_id")),
    )
    op.create_index("idx_constraint_feature_geom", "constraint_feature", ["geom"], postgresql_using="gist")
    op.create_index("ix_constraint_feature_layer_id", "constraint_feature", ["layer_id"])


def downgrade() -> None:
    op.drop_table("constraint_feature")
    op.drop_table("constraint_layer")
    op.add_column("zone", sa.Column("regency", sa.Text(), nullable=True))
    # The regency each zone's boundary lies in, as it was typed before (the name), where known.
    op.execute(
        """UPDATE zone z SET regency = a.name FROM admin_area a
           WHERE a.level = 'regency' AND ST_Intersects(a.geom, ST_PointOnSurface(z.geom))"""
    )
    op.drop_table("admin_area")
