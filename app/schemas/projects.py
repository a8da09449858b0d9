from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models import ProjectStatus
from app.schemas.common import SLUG, Geometry, PropertiesIn, attributes_field, patch_of, text_field


class ProjectIn(PropertiesIn):
    """An investment project ready to offer (IPRO). Its geometry is derived from its parcels."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Oleochemical plant",
                    "sector": "oleochemicals",
                    "investment_value_usd": 150_000_000,
                    "status": "offered",
                    "zone": "kek-mbtk",
                    "parcel_ids": [],
                    "attributes": {"contact": "DPMPTSP Kaltim"},
                }
            ]
        }
    )
    read_only: ClassVar[frozenset[str]] = PropertiesIn.read_only | {"id", "geometry"}

    name: str = text_field()
    sector: str = text_field()
    investment_value_usd: Decimal | None = Field(None, ge=0, le=10**15)
    status: ProjectStatus = ProjectStatus.offered
    zone: str = Field(min_length=1, max_length=64, pattern=SLUG, description="Code of the zone it lies in.")
    parcel_ids: list[int] = Field(
        default_factory=list, max_length=10_000, description="Parcels it uses; each must lie in the zone."
    )
    description: str | None = text_field(None, 5000)
    attributes: dict[str, Any] = attributes_field()

    @field_validator("parcel_ids")
    @classmethod
    def _distinct(cls, ids: list[int] | None) -> list[int] | None:
        if ids is not None and (len(set(ids)) != len(ids) or any(i < 1 or i >= 2**63 for i in ids)):
            raise ValueError("parcel ids must be distinct positive integers")
        return ids


ProjectPatch = patch_of(ProjectIn)


class ProjectOut(BaseModel):
    id: int
    name: str
    sector: str
    investment_value_usd: float | None
    status: ProjectStatus
    zone: str
    parcel_ids: list[int]
    area_ha: float | None = Field(description="Geodesic area of the union of its parcels, hectares.")
    geometry: Geometry | None = Field(description="Union of its parcels (GeoJSON), null without parcels.")
    description: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ProjectList(BaseModel):
    projects: list[ProjectOut]
    numberMatched: int
    numberReturned: int
    links: list[dict]
