"""Tables. The schema itself changes only through the Alembic revisions in migrations/."""

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ZoneKind(StrEnum):
    industrial_estate = "industrial_estate"
    special_economic_zone = "special_economic_zone"


class ZoneStatus(StrEnum):
    planned = "planned"
    developing = "developing"
    operating = "operating"


class LandStatus(StrEnum):
    available = "available"
    reserved = "reserved"
    allocated = "allocated"
    occupied = "occupied"


class LandRights(StrEnum):
    HPL = "HPL"
    HGB = "HGB"
    HGU = "HGU"
    hak_milik = "hak_milik"
    state_land = "state_land"
    unknown = "unknown"


class ProjectStatus(StrEnum):
    offered = "offered"
    negotiating = "negotiating"
    committed = "committed"
    operating = "operating"
    withdrawn = "withdrawn"  # inactive: its parcels are free for another project


class ConflictType(StrEnum):
    overlap = "overlap"
    straddle = "straddle"


class Role(StrEnum):
    """What an API key may do; each role may do everything the ones before it may."""

    reader = "reader"
    editor = "editor"
    admin = "admin"


class Operation(StrEnum):
    insert = "insert"
    update = "update"
    delete = "delete"


# Tables whose every change the database records in `change` (project_parcel: a project's parcel list).
RECORDED_TABLES = ("zone", "parcel", "facility", "project", "project_parcel")


class FacilityKind(StrEnum):
    port = "port"
    airport = "airport"
    capital = "capital"
    city = "city"
    power = "power"
    other = "other"


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Geodesic area on the WGS84 spheroid, in hectares; derived by PostgreSQL, never written.
AREA_HA = "ST_Area(geom::geography, true) / 10000.0"


def one_of(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Zone(Timestamps, Base):
    __tablename__ = "zone"
    __table_args__ = (
        CheckConstraint(one_of("kind", ZoneKind), name="kind"),
        CheckConstraint(one_of("status", ZoneStatus), name="status"),
        CheckConstraint("code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="code_slug"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    sectors: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}", nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_ha: Mapped[float] = mapped_column(Double, Computed(AREA_HA, persisted=True))
    # Derived spatial facts, written by the database's triggers (migration 0009), never by clients.
    regency_code: Mapped[str | None] = mapped_column(Text)
    regency: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(Text)


class Parcel(Timestamps, Base):
    __tablename__ = "parcel"
    __table_args__ = (
        CheckConstraint(one_of("land_status", LandStatus), name="land_status"),
        CheckConstraint(one_of("land_rights", LandRights), name="land_rights"),
        CheckConstraint("price_idr_per_m2 IS NULL OR price_idr_per_m2 >= 0", name="price"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        # Site search: status first, then area ranges.
        Index("ix_parcel_land_status_area_ha", "land_status", "area_ha"),
        Index("ix_parcel_zone_codes", "zone_codes", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    land_status: Mapped[str] = mapped_column(Text, nullable=False)
    land_rights: Mapped[str] = mapped_column(Text, server_default="unknown", nullable=False)
    land_use: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(Text)
    sector: Mapped[str | None] = mapped_column(Text)
    price_idr_per_m2: Mapped[float | None] = mapped_column(Numeric(18, 2))
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_ha: Mapped[float] = mapped_column(Double, Computed(AREA_HA, persisted=True))
    zone_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}", nullable=False)
    # Derived spatial facts, written by the database's triggers (migration 0009), never by clients.
    regency_code: Mapped[str | None] = mapped_column(Text)
    regency: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(Text)


class Facility(Timestamps, Base):
    __tablename__ = "facility"
    __table_args__ = (
        CheckConstraint(one_of("kind", FacilityKind), name="kind"),
        CheckConstraint("code ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="code_slug"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    source: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=True), nullable=False)


project_parcel = Table(
    "project_parcel",
    Base.metadata,
    Column("project_id", BigInteger, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    # A parcel in use by a project cannot be deleted until the project lets it go.
    Column(
        "parcel_id", BigInteger, ForeignKey("parcel.id", ondelete="RESTRICT"), primary_key=True, index=True
    ),
    # The project's `active`, copied by the foreign key below (set on insert by a trigger).
    Column("active", Boolean, server_default="true", nullable=False),
    ForeignKeyConstraint(
        ["project_id", "active"],
        ["project.id", "project.active"],
        name="fk_project_parcel_project_id_active_project",
        onupdate="CASCADE",
        ondelete="CASCADE",
    ),
    # A parcel serves at most one active project.
    Index("ux_project_parcel_active_parcel_id", "parcel_id", unique=True, postgresql_where=text("active")),
)


class ParcelCell(Base):
    """Ground cells of 0.01 degree: writers change the rows of the cells their geometry touches
    before they check the rules there (see migration 0003)."""

    __tablename__ = "parcel_cell"

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, server_default="1", nullable=False)


class ParcelOverlapAllowed(Base):
    """Pairs of parcels (parcel_id < other_id) whose interiors may overlap, and why."""

    __tablename__ = "parcel_overlap_allowed"
    __table_args__ = (CheckConstraint("parcel_id < other_id", name="canonical"),)

    parcel_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True
    )
    other_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("parcel.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Project(Timestamps, Base):
    """An investment project ready to offer (IPRO). Its geometry is the union of its parcels."""

    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(one_of("status", ProjectStatus), name="status"),
        CheckConstraint("investment_value_usd IS NULL OR investment_value_usd >= 0", name="value"),
        UniqueConstraint("id", "active", name="uq_project_id_active"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    sector: Mapped[str] = mapped_column(Text, nullable=False)
    investment_value_usd: Mapped[float | None] = mapped_column(Numeric(18, 2))
    status: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, Computed("status <> 'withdrawn'", persisted=True))
    zone_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("zone.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)


class ApiKey(Base):
    """A key for `Authorization: Bearer`. Only its SHA-256 is stored, and a short prefix to recognise it."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'", name="name_slug"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Change(Base):
    """One insert, update or delete of a recorded row, written by triggers (migration 0004)."""

    __tablename__ = "change"
    __table_args__ = (
        CheckConstraint(one_of("operation", Operation), name="operation"),
        CheckConstraint(
            "table_name IN (" + ", ".join(f"'{t}'" for t in RECORDED_TABLES) + ")", name="table_name"
        ),
        # A row's history, newest first; a row's state at a time.
        Index("ix_change_table_name_row_id_changed_at", "table_name", "row_id", "changed_at"),
        # What changed in a table since a time (lists as of a time).
        Index("ix_change_table_name_changed_at", "table_name", "changed_at"),
        # The row a zone or facility code named, once the row is gone.
        Index("ix_change_table_name_row_key", "table_name", "row_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    table_name: Mapped[str] = mapped_column(Text, nullable=False)
    row_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    row_key: Mapped[str] = mapped_column(Text, nullable=False)
    operation: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


class ImportState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"  # read to the end; the rows that passed are stored (none in a dry run)
    refused = "refused"  # all or nothing, and some rows were refused: nothing stored
    failed = "failed"  # the file could not be read, or the job stopped


class ImportJob(Base):
    """An import of a file into a layer (migration 0005): its options, progress and outcome."""

    __tablename__ = "import_job"
    __table_args__ = (CheckConstraint(one_of("state", ImportState), name="state"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    format: Mapped[str | None] = mapped_column(Text)
    crs: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    rows_checked: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    rows_stored: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    outcome: Mapped[dict | None] = mapped_column(JSONB)  # counts by outcome, warnings
    error: Mapped[str | None] = mapped_column(Text)


class ImportRefusal(Base):
    """A row of an import that was refused, with its reasons and the file's own properties."""

    __tablename__ = "import_refusal"

    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("import_job.id", ondelete="CASCADE"), primary_key=True
    )
    row_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    properties: Mapped[dict] = mapped_column(JSONB, nullable=False)
    geom = mapped_column(Geometry(srid=4326, spatial_index=False))


class AdminLevel(StrEnum):
    regency = "regency"  # kabupaten / kota
    district = "district"  # kecamatan
    village = "village"  # desa / kelurahan


class AdminArea(Base):
    """A Kemendagri administrative unit of the province (migration 0008), loaded by the seed."""

    __tablename__ = "admin_area"
    __table_args__ = (
        CheckConstraint(one_of("level", AdminLevel), name="level"),
        CheckConstraint(r"code ~ '^[0-9]{2}\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?$'", name="code"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    level: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(Text, ForeignKey("admin_area.code"))
    source: Mapped[str] = mapped_column(Text, nullable=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_ha: Mapped[float] = mapped_column(Double, Computed(AREA_HA, persisted=True))


class ConstraintKind(StrEnum):
    protected_forest = "protected_forest"
    peatland = "peatland"
    flood_hazard = "flood_hazard"
    mining_concession = "mining_concession"
    plantation_permit = "plantation_permit"
    customary_land = "customary_land"
    spatial_plan = "spatial_plan"  # its features carry the uses they allow
    other = "other"


class ConstraintLayer(Timestamps, Base):
    """A layer of land constraints created at run time (migration 0008)."""

    __tablename__ = "constraint_layer"
    __table_args__ = (CheckConstraint(one_of("kind", ConstraintKind), name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    licence: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)


class ConstraintFeature(Timestamps, Base):
    """One area of a constraint layer."""

    __tablename__ = "constraint_feature"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        UniqueConstraint("layer_id", "code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    layer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("constraint_layer.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    allowed_uses: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}", nullable=False)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}", nullable=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_ha: Mapped[float] = mapped_column(Double, Computed(AREA_HA, persisted=True))
