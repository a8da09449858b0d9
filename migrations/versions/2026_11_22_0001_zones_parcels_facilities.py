"""Zones, parcels and facilities, with GiST indexes and the checks that keep them valid.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 18:14:14.319041
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "facility",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_facility_code_slug")),
        sa.CheckConstraint(
            "kind IN ('port', 'airport', 'capital', 'city', 'power', 'other')", name=op.f("ck_facility_kind")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_facility_geom_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility")),
        sa.UniqueConstraint("code", name=op.f("uq_facility_code")),
    )
    op.create_geospatial_index(
        "idx_facility_geom", "facility", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_facility_kind"), "facility", ["kind"], unique=False)
    op.create_geospatial_table(
        "parcel",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("land_status", sa.Text(), nullable=False),
        sa.Column("land_rights", sa.Text(), server_default="unknown", nullable=False),
        sa.Column("land_use", sa.Text(), nullable=True),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("sector", sa.Text(), nullable=True),
        sa.Column("price_idr_per_m2", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "area_ha",
            sa.Double(),
            sa.Computed("ST_Area(geom::geography, true) / 10000.0", persisted=True),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "land_rights IN ('HPL', 'HGB', 'HGU', 'hak_milik', 'state_land', 'unknown')",
            name=op.f("ck_parcel_land_rights"),
        ),
        sa.CheckConstraint(
            "land_status IN ('available', 'reserved', 'allocated', 'occupied')",
            name=op.f("ck_parcel_land_status"),
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_parcel_geom_valid")),
        sa.CheckConstraint("price_idr_per_m2 IS NULL OR price_idr_per_m2 >= 0", name=op.f("ck_parcel_price")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel")),
        sa.UniqueConstraint("code", name=op.f("uq_parcel_code")),
    )
    op.create_geospatial_index(
        "idx_parcel_geom", "parcel", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_parcel_land_status"), "parcel", ["land_status"], unique=False)
    op.create_geospatial_table(
        "zone",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("regency", sa.Text(), nullable=True),
        sa.Column("sectors", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "area_ha",
            sa.Double(),
            sa.Computed("ST_Area(geom::geography, true) / 10000.0", persisted=True),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_zone_code_slug")),
        sa.CheckConstraint(
            "kind IN ('industrial_estate', 'special_economic_zone')", name=op.f("ck_zone_kind")
        ),
        sa.CheckConstraint("status IN ('planned', 'developing', 'operating')", name=op.f("ck_zone_status")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_zone_geom_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("code", name=op.f("uq_zone_code")),
    )
    op.create_geospatial_index(
        "idx_zone_geom", "zone", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )


def downgrade() -> None:
    op.drop_geospatial_index("idx_zone_geom", table_name="zone", postgresql_using="gist", column_name="geom")
    op.drop_geospatial_table("zone")
    op.drop_index(op.f("ix_parcel_land_status"), table_name="parcel")
    op.drop_geospatial_index(
        "idx_parcel_geom", table_name="parcel", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("parcel")
    op.drop_index(op.f("ix_facility_kind"), table_name="facility")
    op.drop_geospatial_index(
        "idx_facility_geom", table_name="facility", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("facility")
