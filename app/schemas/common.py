"""Shapes shared by every resource: GeoJSON geometry and features, collections, problems."""

import json
from datetime import datetime
from typing import Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.fields import FieldInfo

GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"
]

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"


def code_field(default: Any = ...) -> Any:
    return Field(
        default,
        min_length=1,
        max_length=64,
        pattern=SLUG,
        description="Lower-case slug: letters, digits and single hyphens.",
    )


def text_field(default: Any = ..., max_length: int = 500) -> Any:
    return Field(default, min_length=1, max_length=max_length)


EXAMPLE_RING = [[116.70, -1.15], [116.703, -1.15], [116.703, -1.147], [116.70, -1.147], [116.70, -1.15]]


def example_feature(geometry: dict, properties: dict) -> ConfigDict:
    """OpenAPI example of an incoming Feature, shown in /docs."""
    return ConfigDict(
        json_schema_extra={"examples": [{"type": "Feature", "geometry": geometry, "properties": properties}]}
    )


# Bounds on free-form `attributes`: JSON nested at most this deep, and at most this long.
MAX_ATTRIBUTES_DEPTH = 8
MAX_ATTRIBUTES_BYTES = 64 * 1024


def attributes_field() -> Any:
    return Field(
        default_factory=dict,
        description=f"Free-form properties, stored as JSONB: nested at most {MAX_ATTRIBUTES_DEPTH} deep, "
        f"at most {MAX_ATTRIBUTES_BYTES // 1024} KiB as JSON.",
    )


def check_attributes(value: Any) -> None:
    """Refuse attributes nested too deep or too long (ValueError), without recursing."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_ATTRIBUTES_DEPTH:
                raise ValueError(f"attributes are nested more than {MAX_ATTRIBUTES_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes are larger than {MAX_ATTRIBUTES_BYTES // 1024} KiB as JSON")


class GeometryIn(BaseModel):
    """A GeoJSON geometry (RFC 7946). Its coordinates are checked by the geometry rules."""

    model_config = ConfigDict(extra="ignore")

    type: GeometryType
    coordinates: Any = Field(description="Positions are [longitude, latitude] in WGS 84.")


class AdminOut(BaseModel):
    """Where a feature lies, computed from the Kemendagri boundaries at its point on surface."""

    regency: str | None = Field(None, description="Regency (kabupaten/kota) holding the feature (computed).")
    regency_code: str | None = Field(None, description="Its Kemendagri code, e.g. 64.71 (computed).")
    district: str | None = Field(None, description="District (kecamatan) holding the feature (computed).")
    district_code: str | None = Field(None, description="Its Kemendagri code, e.g. 64.71.02 (computed).")


class Geometry(BaseModel):
    type: GeometryType
    coordinates: Any


class PropertiesIn(BaseModel):
    """Properties a client sends. Read-only ones are dropped, any other unknown one is refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # Computed by the service: dropped when sent back (a feature read and sent again is accepted).
    read_only: ClassVar[frozenset[str]] = frozenset(
        {"area_ha", "created_at", "updated_at", "regency", "regency_code", "district", "district_code"}
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "attributes" in data:
                check_attributes(data["attributes"])
            return {k: v for k, v in data.items() if k not in cls.read_only}
        return data


class FeatureIn(BaseModel):
    """Shared shape of an incoming Feature; `id` and foreign members are ignored."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["Feature"]


class PatchIn(FeatureIn):
    """A partial Feature: only the members present change; `type` may be left out."""

    type: Literal["Feature"] = "Feature"
    geometry: GeometryIn | None = None

    @model_validator(mode="after")
    def _geometry_not_null(self) -> "PatchIn":
        if "geometry" in self.model_fields_set and self.geometry is None:
            raise ValueError("geometry cannot be null")
        return self


def refuse_nulls(model: BaseModel, *fields: str) -> None:
    """In a patch, these properties may be left out but not cleared."""
    cleared = [f for f in fields if f in model.model_fields_set and getattr(model, f) is None]
    if cleared:
        raise ValueError(f"{', '.join(cleared)} cannot be null")


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class TimestampsOut(BaseModel):
    created_at: datetime
    updated_at: datetime


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    numberMatched: int
    numberReturned: int
    links: list[Link]
    features: list[Any]


class ProblemOut(BaseModel):
    """RFC 9457 problem details; extension members vary by `type`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str


def patch_of(model: type[PropertiesIn]) -> type[PropertiesIn]:
    """The properties of `model`, each optional, for PATCH. A property that may not be null in
    `model` may be left out of a patch but not set to null."""
    fields: dict[str, Any] = {}
    not_null: list[str] = []
    for name, info in model.model_fields.items():
        if not _nullable(info.annotation):
            not_null.append(name)
        optional = FieldInfo.merge_field_infos(info, default=None)
        optional.default_factory = None
        fields[name] = (info.annotation | None, optional)

    def _keep_required(self: BaseModel) -> BaseModel:
        refuse_nulls(self, *not_null)
        return self

    return create_model(
        model.__name__.replace("PropertiesIn", "PatchProperties"),
        __base__=model,
        __validators__={"_keep_required": model_validator(mode="after")(_keep_required)},
        **fields,
    )


def _nullable(annotation: Any) -> bool:
    return type(None) in get_args(annotation)
