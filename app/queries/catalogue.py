"""The catalogue: every feature type the service serves, declared once.

A `FeatureType` says where its rows come from (a FROM clause, row alias `t`), what identifies a
row, each property with its SQL, its JSON Schema and whether it is a queryable, carried in
vector tiles or personal, its geometry type, its tile zoom range and who may write it. The
native routes (app.queries.features), the OGC API collections and their queryables
(app.queries.ogc), the vector tiles (app.queries.tiles), the map's layer list and the OpenAPI
descriptions all read these declarations. A read-only layer is one declaration here (and its
table's migration); constraint layers created at run time are declared by rows of
`constraint_layer` and built by `constraint_type` from the same parts.

Column and table names in here are fixed text, never a request's.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol

from app.errors import NotFound
from app.geometry import ANY_SIMPLE, POLYGONAL
from app.models import FacilityKind, LandRights, LandStatus, ProjectStatus, Role, ZoneKind, ZoneStatus

# GeoJSON output precision: 8 decimals of a degree is about 1 mm.
PRECISION = 8


class OutputCrs(Protocol):
    precision: int

    def geometry(self, expr: str) -> str: ...


def feature_sql(
    id_expr: str, properties: Mapping[str, str], geometry: str = "t.geom", precision: int = PRECISION
) -> str:
    """A `json_build_object` that renders a row as a GeoJSON Feature."""
    props = ", ".join(f"'{name}', {expr}" for name, expr in properties.items())
    return (
        f"json_build_object('type', 'Feature', 'id', {id_expr}, "
        f"'geometry', ST_AsGeoJSON({geometry}, {precision}, 0)::json, "
        f"'properties', json_build_object({props}))"
    )


@dataclass(frozen=True)
class Queryable:
    column: str  # SQL over alias t
    schema: dict[str, Any]  # JSON Schema of its values

    @property
    def kind(self) -> str:
        """string, number or timestamp: how filters compare it."""
        return "timestamp" if self.schema.get("format") == "date-time" else self.schema["type"]

    def value(self, text: str) -> Any:
        """A query parameter's text as a value of this queryable; ValueError if it is not one."""
        if self.kind == "number":
            try:
                number = Decimal(text)
            except ArithmeticError:
                raise ValueError(text) from None
            if not number.is_finite():
                raise ValueError(text)
            return number
        if self.kind == "timestamp":
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return text


@dataclass(frozen=True)
class Property:
    name: str
    sql: str  # its value, over the row alias t
    schema: dict[str, Any]  # JSON Schema of its values (with a title)
    filter: str | None = None  # the SQL filters compare, where not `sql` (an unrounded column)
    queryable: bool = False
    tile: bool = False  # carried in vector tiles
    personal: bool = False  # null, and not a queryable, for callers who may not see personal data

    @property
    def tile_type(self) -> str:
        return "Number" if self.schema.get("type") in ("number", "integer") else "String"


def text(name: str, title: str, sql: str | None = None, **flags: bool) -> Property:
    return Property(name, sql or f"t.{name}", {"type": "string", "title": title}, **flags)


def enum(name: str, title: str, values: type[StrEnum], **flags: bool) -> Property:
    schema = {"type": "string", "title": title, "enum": [m.value for m in values]}
    return Property(name, f"t.{name}", schema, **flags)


def number(name: str, title: str, sql: str | None = None, **flags: bool) -> Property:
    return Property(name, sql or f"t.{name}", {"type": "number", "title": title}, **flags)


def integer(name: str, title: str, sql: str | None = None, **flags: bool) -> Property:
    return Property(name, sql or f"t.{name}", {"type": "integer", "title": title}, **flags)


def timestamp(name: str, title: str, **flags: bool) -> Property:
    schema = {"type": "string", "format": "date-time", "title": title}
    return Property(name, f"t.{name}", schema, **flags)


def json_value(name: str, title: str, sql: str | None = None) -> Property:
    return Property(name, sql or f"t.{name}", {"title": title})


def area_ha(digits: int = 4) -> Property:
    rounded = f"round(t.area_ha::numeric, {digits})"
    return replace(number("area_ha", "Area (ha)", rounded, queryable=True, tile=True), filter="t.area_ha")


RECORDED = (
    timestamp("created_at", "Recorded at", queryable=True),
    timestamp("updated_at", "Last changed at", queryable=True),
)


@dataclass(frozen=True)
class FeatureType:
    id: str  # the OGC collection id, the tile layer's name and the map's layer id: no dots
    label: str  # one feature, in messages: "parcel"
    title: str
    description: str
    source: str  # FROM clause, row alias t
    key: str  # the column that identifies a row in URLs and as the feature id
    properties_of: tuple[Property, ...]
    geometry_type: str  # GeoJSON type of every feature served
    geometry: str = "t.geom"  # the geometry expression (EPSG:4326) bbox filters and tiles use
    table: str | None = None  # the table rows live in, where the source is one table
    key_is_int: bool = False
    accepts: tuple[str, ...] = ()  # GeoJSON geometry types accepted on input
    jsonb_columns: frozenset[str] = field(default_factory=frozenset)
    zooms: tuple[int, int] | None = None  # the vector tiles' zoom range; None: no tiles
    writer: Role | None = None  # the role that may write; None: read-only
    group: str = "reference"  # how the map groups its layers: core, admin, constraint, reference
    # The timestamp property OGC's `datetime` parameter selects on; None: `datetime` selects
    # every feature, as the standard asks of features without a time.
    temporal: str | None = None

    # --- the native resource (app.queries.features) ---

    @cached_property
    def properties(self) -> dict[str, str]:
        """Output property name -> SQL over t."""
        return {p.name: p.sql for p in self.properties_of}

    @property
    def feature(self) -> str:
        return feature_sql(f"t.{self.key}", self.properties)

    @property
    def geometry_types(self) -> tuple[str, ...]:
        return self.accepts

    def not_found(self, key: Any) -> NotFound:
        return NotFound(f"No {self.label} with {self.key} {key!r}.")

    # --- the OGC API collection (app.queries.ogc) ---

    def feature_in(self, crs: OutputCrs) -> str:
        """SQL rendering row t as a GeoJSON Feature, its geometry in `crs`."""
        return feature_sql(f"t.{self.key}", self.properties, crs.geometry(self.geometry), crs.precision)

    @cached_property
    def queryables(self) -> dict[str, Queryable]:
        return {p.name: Queryable(p.filter or p.sql, p.schema) for p in self.properties_of if p.queryable}

    def column(self, name: str) -> str:
        return self.queryables[name].column

    @property
    def temporal_column(self) -> str | None:
        """SQL of the `temporal` property, over t."""
        found = [p.filter or p.sql for p in self.properties_of if p.name == self.temporal]
        return found[0] if found else None

    # --- the vector tiles (app.queries.tiles) ---

    @property
    def tiled(self) -> bool:
        return self.zooms is not None

    @cached_property
    def tile_fields(self) -> dict[str, str]:
        return {p.name: p.sql for p in self.properties_of if p.tile}

    @cached_property
    def tile_field_types(self) -> dict[str, str]:
        return {p.name: p.tile_type for p in self.properties_of if p.tile}

    @property
    def minzoom(self) -> int:
        assert self.zooms is not None
        return self.zooms[0]

    @property
    def maxzoom(self) -> int:
        assert self.zooms is not None
        return self.zooms[1]

    # --- callers ---

    @cached_property
    def public(self) -> "FeatureType":
        """This type as a caller who may not see personal data sees it."""
        if not any(p.personal for p in self.properties_of):
            return self
        hidden = tuple(
            replace(p, sql=f"NULL::{'text' if p.schema.get('type') == 'string' else 'json'}", queryable=False)
            if p.personal
            else p
            for p in self.properties_of
        )
        return replace(self, properties_of=hidden)

    def for_caller(self, show_personal: bool) -> "FeatureType":
        return self if show_personal else self.public

    def without(self, *names: str) -> "FeatureType":
        return replace(self, properties_of=tuple(p for p in self.properties_of if p.name not in names))


# --- the types declared here ----------------------------------------------------------------

# Derived spatial facts, kept by the database (migration 0009): the district holding a feature's
# point on surface and its regency, and the zones covering a parcel. Triggers write them when
# either side changes, so reads take them as they are.
ADMIN_OF_FEATURE = (
    text("regency", "Regency (computed)", queryable=True),
    text("regency_code", "Regency code, Kemendagri (computed)", queryable=True),
    text("district", "District (computed)", queryable=True),
    text("district_code", "District code, Kemendagri (computed)", queryable=True),
)
ZONES_OF_PARCEL = "to_json(t.zone_codes)"

ZONES = FeatureType(
    id="zones",
    label="zone",
    title="Industrial zones",
    description="Kaltim's priority industrial zones (approximate boundaries, see each zone's source).",
    source="zone t",
    table="zone",
    key="code",
    properties_of=(
        text("code", "Code", queryable=True, tile=True),
        text("name", "Name", queryable=True, tile=True),
        enum("kind", "Kind", ZoneKind, queryable=True, tile=True),
        *ADMIN_OF_FEATURE,
        json_value("sectors", "Sectors"),
        enum("status", "Status", ZoneStatus, queryable=True, tile=True),
        text("description", "Description"),
        text("source", "Source"),
        json_value("attributes", "Attributes"),
        area_ha(),
        *RECORDED,
    ),
    geometry_type="MultiPolygon",
    accepts=POLYGONAL,
    jsonb_columns=frozenset({"attributes"}),
    zooms=(0, 22),
    writer=Role.editor,
    group="core",
    temporal="updated_at",
)

PARCELS = FeatureType(
    id="parcels",
    label="parcel",
    title="Land parcels",
    description="Land parcels in and around the zones, with their land status.",
    source="parcel t",
    table="parcel",
    key="id",
    key_is_int=True,
    properties_of=(
        # Also among the properties: GDAL and geopandas take an integer feature id as their FID
        # and drop it from the attributes.
        integer("id", "Parcel id", tile=True),
        text("code", "Code", queryable=True, tile=True),
        enum("land_status", "Land status", LandStatus, queryable=True, tile=True),
        enum("land_rights", "Land rights", LandRights, queryable=True, tile=True),
        text("land_use", "Land use", queryable=True),
        text("holder", "Holder", queryable=True, personal=True),
        text("sector", "Sector", queryable=True, tile=True),
        number("price_idr_per_m2", "Price (IDR per m²)", queryable=True),
        json_value("attributes", "Attributes"),
        area_ha(),
        json_value("zones", "Zones the parcel lies in", ZONES_OF_PARCEL),
        *ADMIN_OF_FEATURE,
        *RECORDED,
    ),
    geometry_type="MultiPolygon",
    accepts=POLYGONAL,
    jsonb_columns=frozenset({"attributes"}),
    zooms=(10, 22),
    writer=Role.editor,
    group="core",
    temporal="updated_at",
)

FACILITIES = FeatureType(
    id="facilities",
    label="facility",
    title="Facilities",
    description="Ports, airports, IKN Nusantara and cities.",
    source="facility t",
    table="facility",
    key="code",
    properties_of=(
        text("code", "Code", queryable=True, tile=True),
        text("name", "Name", queryable=True, tile=True),
        enum("kind", "Kind", FacilityKind, queryable=True, tile=True),
        text("source", "Source"),
        json_value("attributes", "Attributes"),
        timestamp("created_at", "Recorded at"),
        timestamp("updated_at", "Last changed at"),
    ),
    geometry_type="Geometry",
    accepts=ANY_SIMPLE,
    jsonb_columns=frozenset({"attributes"}),
    zooms=(0, 22),
    writer=Role.editor,
    group="core",
    temporal="updated_at",
)

# Each project row `t` with its zone `z` and the union `u` of its parcels.
PROJECT_SOURCE = """project t JOIN zone z ON z.id = t.zone_id
    LEFT JOIN LATERAL (
        SELECT ST_Multi(ST_Union(p.geom)) AS geom, array_agg(p.id ORDER BY p.id) AS ids
        FROM project_parcel pp JOIN parcel p ON p.id = pp.parcel_id WHERE pp.project_id = t.id
    ) u ON true"""

PROJECTS = FeatureType(
    id="projects",
    label="project",
    title="Investment projects",
    description="Investment projects ready to offer (IPRO); the geometry is the union of their parcels.",
    source=PROJECT_SOURCE,
    key="id",
    key_is_int=True,
    properties_of=(
        integer("id", "Project id"),
        text("name", "Name", queryable=True),
        text("sector", "Sector", queryable=True),
        number("investment_value_usd", "Investment value (USD)", queryable=True),
        enum("status", "Status", ProjectStatus, queryable=True),
        text("zone", "Zone code", "z.code", queryable=True),
        json_value("parcel_ids", "Parcel ids", "coalesce(to_json(u.ids), '[]'::json)"),
        number("area_ha", "Area (ha)", "round((ST_Area(u.geom::geography, true) / 10000.0)::numeric, 4)"),
        text("description", "Description"),
        json_value("attributes", "Attributes"),
    ),
    geometry_type="MultiPolygon",
    geometry="u.geom",
    writer=Role.editor,
    group="core",
)

ADMIN_SOURCE = "(SELECT * FROM admin_area WHERE level = '{level}') t"


def _admin(
    id: str, label: str, title: str, level: str, parent: str | None, zooms: tuple[int, int]
) -> FeatureType:
    parent_code: tuple[Property, ...] = ()
    if parent is not None:
        parent_code = (
            text(f"{parent}_code", f"{parent.title()} code", "t.parent_code", queryable=True, tile=True),
        )
    return FeatureType(
        id=id,
        label=label,
        title=title,
        description=f"Kalimantan Timur's {id} (Kemendagri codes and boundaries, Kepmendagri "
        "300.2.2-2430/2025, via cahyadsn/wilayah_boundaries, MIT); simplified, indicative.",
        source=ADMIN_SOURCE.format(level=level),
        table="admin_area",
        key="code",
        properties_of=(
            text("code", "Kemendagri code", queryable=True, tile=True),
            text("name", "Name", queryable=True, tile=True),
            *parent_code,
            area_ha(2),
            text("source", "Source"),
        ),
        geometry_type="MultiPolygon",
        zooms=zooms,
        group="admin",
    )


REGENCIES = _admin("regencies", "regency", "Regencies (kabupaten/kota)", "regency", None, (0, 22))
DISTRICTS = _admin("districts", "district", "Districts (kecamatan)", "district", "regency", (6, 22))
VILLAGES = _admin(
    "villages", "village", "Villages (desa/kelurahan) around the zones", "village", "district", (8, 22)
)

STATIC: dict[str, FeatureType] = {
    t.id: t for t in (ZONES, PARCELS, FACILITIES, PROJECTS, REGENCIES, DISTRICTS, VILLAGES)
}
