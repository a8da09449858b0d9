from typing import Any, Literal

from pydantic import BaseModel, Field

from app.models import FacilityKind
from app.schemas.common import (
    FeatureIn,
    Geometry,
    GeometryIn,
    PatchIn,
    PropertiesIn,
    TimestampsOut,
    attributes_field,
    code_field,
    example_feature,
    patch_of,
    text_field,
)


class FacilityPropertiesIn(PropertiesIn):
    code: str = code_field()
    name: str = text_field()
    kind: FacilityKind
    source: str | None = text_field(None, 5000)
    attributes: dict[str, Any] = attributes_field()


class FacilityCreate(FeatureIn):
    model_config = example_feature(
        {"type": "Point", "coordinates": [116.806208, -1.272053]},
        {"code": "new-jetty", "name": "New jetty", "kind": "port", "source": "survey 2026"},
    )

    geometry: GeometryIn = Field(description="Usually a Point; any simple geometry type is accepted.")
    properties: FacilityPropertiesIn


FacilityPatchProperties = patch_of(FacilityPropertiesIn)


class FacilityPatch(PatchIn):
    properties: FacilityPatchProperties = Field(default_factory=FacilityPatchProperties)


class FacilityProperties(TimestampsOut):
    code: str
    name: str
    kind: FacilityKind
    source: str | None
    attributes: dict[str, Any]
    distance_m: float | None = Field(None, description="Only in answers to /facilities/nearest.")


class FacilityFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str = Field(description="The facility's code.")
    geometry: Geometry
    properties: FacilityProperties
