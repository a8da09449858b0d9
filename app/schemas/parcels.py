from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from app.models import LandRights, LandStatus
from app.schemas.common import (
    EXAMPLE_RING,
    AdminOut,
    FeatureIn,
    Geometry,
    GeometryIn,
    PatchIn,
    PropertiesIn,
    TimestampsOut,
    attributes_field,
    example_feature,
    patch_of,
    text_field,
)

PARCEL_CODE = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"


def parcel_code_field(default: Any = ...) -> Any:
    return Field(
        default,
        min_length=1,
        max_length=100,
        pattern=PARCEL_CODE,
        description="The parcel's code, e.g. a certificate or survey number.",
    )


def price_field() -> Any:
    return Field(None, ge=0, le=10**12, description="Asking price, IDR per m².")


class ParcelPropertiesIn(PropertiesIn):
    read_only: ClassVar[frozenset[str]] = PropertiesIn.read_only | {"zones", "id"}

    code: str = parcel_code_field()
    land_status: LandStatus
    land_rights: LandRights = LandRights.unknown
    land_use: str | None = text_field(None)
    holder: str | None = text_field(None)
    sector: str | None = text_field(None)
    price_idr_per_m2: Decimal | None = price_field()
    attributes: dict[str, Any] = attributes_field()


class ParcelCreate(FeatureIn):
    model_config = example_feature(
        {"type": "Polygon", "coordinates": [EXAMPLE_RING]},
        {
            "code": "HGB-00123",
            "land_status": "available",
            "land_rights": "HGB",
            "sector": "logistics",
            "price_idr_per_m2": 950000,
            "attributes": {"survey": "2026-10"},
        },
    )

    geometry: GeometryIn = Field(description="Polygon or MultiPolygon.")
    properties: ParcelPropertiesIn


ParcelPatchProperties = patch_of(ParcelPropertiesIn)


class ParcelPatch(PatchIn):
    properties: ParcelPatchProperties = Field(default_factory=ParcelPatchProperties)


class ParcelProperties(TimestampsOut, AdminOut):
    id: int = Field(
        description="The parcel's id, as the feature's id (GDAL and geopandas take that as their FID)."
    )
    code: str
    land_status: LandStatus
    land_rights: LandRights
    land_use: str | None
    holder: str | None
    sector: str | None
    price_idr_per_m2: float | None
    attributes: dict[str, Any]
    area_ha: float = Field(description="Geodesic area on the WGS84 spheroid, hectares.")
    zones: list[str] = Field(description="Codes of the zones that cover the parcel (computed spatially).")


class ParcelFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int
    geometry: Geometry
    properties: ParcelProperties


class NearestFacility(BaseModel):
    code: str
    name: str
    distance_m: float = Field(description="Geodesic distance on the WGS84 spheroid; 0 when inside.")


class ParcelDistances(BaseModel):
    parcel_id: int
    nearest: dict[str, NearestFacility | None] = Field(
        description="For each kind asked for, the nearest facility, or null when there is none."
    )


class ConstraintArea(BaseModel):
    id: int = Field(description="The area's id in its layer (/layers/{layer}/features/{id}).")
    code: str | None
    name: str | None
    allowed_uses: list[str] = Field(description="In a spatial plan, the uses it allows; else empty.")
    overlap_m2: float = Field(description="Area of its overlap with the parcel, m², geodesic.")
    share: float = Field(description="That area's share of the parcel's area, 0 to 1.")


class LayerConstraint(BaseModel):
    layer: str
    title: str
    kind: str
    overlap_m2: float = Field(
        description="The layer's overlap with the parcel (of the union of its areas), m², geodesic."
    )
    share: float
    features: list[ConstraintArea]


class ParcelConstraints(BaseModel):
    parcel_id: int
    code: str
    area_m2: float = Field(description="The parcel's area, m², geodesic.")
    constraints: list[LayerConstraint]
