"""Constraint layers and administrative lookups."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models import ConstraintKind
from app.schemas.common import attributes_field, check_attributes, text_field

LAYER_NAME = r"^[a-z][a-z0-9]*([_-][a-z0-9]+)*$"


class LayerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = text_field(None, 200)
    source: str | None = text_field(None, 1000)
    licence: str | None = text_field(None, 500)
    description: str | None = text_field(None, 5000)
    attributes: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        for required in ("title", "source", "licence", "attributes"):
            if required in values and values[required] is None:
                raise ValueError(f"{required} cannot be cleared")
        if values.get("attributes") is not None:
            check_attributes(values["attributes"])
        return values


class LayerIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "hutan-lindung",
                    "title": "Protected forest (hutan lindung)",
                    "kind": "protected_forest",
                    "source": "KLHK forest area designation, SK.718/Menhut-II/2014",
                    "licence": "Government data, for reference",
                }
            ]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=LAYER_NAME,
        description="The layer's id: its OGC collection, tile layer and map layer. Lower case, digits, "
        "single `-` or `_`; no dots (QGIS cannot load collections whose ids have dots).",
    )
    title: str = text_field(max_length=200)
    kind: ConstraintKind
    source: str = text_field(max_length=1000)
    licence: str = text_field(max_length=500)
    description: str | None = text_field(None, 5000)
    attributes: dict[str, Any] = attributes_field()

    def values(self) -> dict[str, Any]:
        check_attributes(self.attributes)
        return self.model_dump(mode="json")


class LayerOut(BaseModel):
    name: str
    title: str
    kind: ConstraintKind
    source: str
    licence: str
    description: str | None
    attributes: dict[str, Any]
    features: int = Field(description="Areas in the layer.")
    area_ha: float = Field(description="Sum of their geodesic areas, hectares (overlaps counted twice).")
    created_at: datetime
    updated_at: datetime
    links: list[dict[str, str]]


class LayerList(BaseModel):
    layers: list[LayerOut]


class AdminUnit(BaseModel):
    code: str = Field(description="Kemendagri code.")
    name: str


class AdminLookup(BaseModel):
    lon: float
    lat: float
    province: AdminUnit
    regency: AdminUnit
    district: AdminUnit | None
    village: AdminUnit | None = Field(
        description="Null where the service holds no village polygon (only the villages around the "
        "zones, ports and IKN's zero point are loaded)."
    )
