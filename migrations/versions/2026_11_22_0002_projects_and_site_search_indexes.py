"""Investment projects (IPRO) and their parcels; indexes for site search.

ix_parcel_land_status_area_ha serves status and area ranges and replaces the status-only index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 18:33:05.707898
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sector", sa.Text(), nullable=False),
        sa.Column("investment_value_usd", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("zone_id", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('offered', 'negotiating', 'committed', 'operating')", name=op.f("ck_project_status")
        ),
        sa.CheckConstraint(
            "investment_value_usd IS NULL OR investment_value_usd >= 0", name=op.f("ck_project_value")
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_project_zone_id_zone"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
    )
    op.create_index(op.f("ix_project_zone_id"), "project", ["zone_id"], unique=False)
    op.create_table(
        "project_parcel",
        sa.Column("project_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name=op.f("fk_project_parcel_parcel_id_parcel"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_project_parcel_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "parcel_id", name=op.f("pk_project_parcel")),
    )
    op.create_index(op.f("ix_project_parcel_parcel_id"), "project_parcel", ["parcel_id"], unique=False)
    op.drop_index(op.f("ix_parcel_land_status"), table_name="parcel")
    op.create_index("ix_parcel_land_status_area_ha", "parcel", ["land_status", "area_ha"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_parcel_land_status_area_ha", table_name="parcel")
    op.create_index(op.f("ix_parcel_land_status"), "parcel", ["land_status"], unique=False)
    op.drop_index(op.f("ix_project_parcel_parcel_id"), table_name="project_parcel")
    op.drop_table("project_parcel")
    op.drop_index(op.f("ix_project_zone_id"), table_name="project")
    op.drop_table("project")
