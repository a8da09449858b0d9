from typing import Any, Literal

from pydantic import BaseModel, Field

from app.models import ZoneKind, ZoneStatus
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
    code_field,
    example_feature,
    patch_of,
    text_field,
)


class ZonePropertiesIn(PropertiesIn):
    code: str = code_field()
    name: str = text_field()
    kind: ZoneKind
    sectors: list[str] = Field(default_factory=list, max_length=50)
    status: ZoneStatus
    description: str | None = text_field(None, 5000)
    source: str | None = text_field(None, 5000)
    attributes: dict[str, Any] = attributes_field()


class ZoneCreate(FeatureIn):
    model_config = example_feature(
        {"type": "Polygon", "coordinates": [EXAMPLE_RING]},
        {
            "code": "kik-extension",
            "name": "Kariangau extension",
            "kind": "industrial_estate",
            "sectors": ["logistics"],
            "status": "planned",
        },
    )

    geometry: GeometryIn = Field(description="Polygon or MultiPolygon.")
    properties: ZonePropertiesIn


ZonePatchProperties = patch_of(ZonePropertiesIn)


class ZonePatch(PatchIn):
    properties: ZonePatchProperties = Field(default_factory=ZonePatchProperties)


class ZoneProperties(TimestampsOut, AdminOut):
    code: str
    name: str
    kind: ZoneKind
    sectors: list[str]
    status: ZoneStatus
    description: str | None
    source: str | None
    attributes: dict[str, Any]
    area_ha: float = Field(description="Geodesic area on the WGS84 spheroid, hectares.")


class ZoneFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str = Field(description="The zone's code.")
    geometry: Geometry
    properties: ZoneProperties


class Nearest(BaseModel):
    code: str
    name: str
    distance_m: float = Field(description="Geodesic distance on the WGS84 spheroid from the zone's edge.")


class StatusTally(BaseModel):
    count: int
    area_ha: float


class ParcelTally(BaseModel):
    count: int
    area_ha: float
    by_land_status: dict[str, StatusTally]


class Straddling(BaseModel):
    count: int
    area_inside_ha: float


class ProjectBrief(BaseModel):
    id: int
    name: str
    sector: str
    status: str
    investment_value_usd: float | None


class ZoneConstraint(BaseModel):
    layer: str
    title: str
    kind: str
    area_ha: float = Field(description="Geodesic area of the layer inside the zone, hectares.")
    share_of_zone: float | None
    available_area_ha: float = Field(description="Of that, the part on available parcels, hectares.")


class ZoneSummary(BaseModel):
    zone: str
    name: str
    area_ha: float
    parcels: ParcelTally = Field(description="Parcels the zone covers.")
    straddling: Straddling = Field(description="Parcels across the zone's edge, with their part inside.")
    parcelled_area_ha: float
    parcelled_share: float | None = Field(description="Parcelled area / zone area, 0-1.")
    available_area_ha: float
    constraints: list[ZoneConstraint] = Field(
        description="Per constraint layer (spatial plans aside), what it covers of the zone and of its "
        "available parcels; a layer's overlapping areas count once."
    )
    unconstrained_available_area_ha: float = Field(
        description="Area of the available parcels that no constraint layer covers, hectares."
    )
    nearest: dict[str, Nearest | None] = Field(description="Nearest port and IKN (`capital`).")
    projects: list[ProjectBrief]


class ZoneLinks(BaseModel):
    code: str
    name: str
    nearest: dict[str, Nearest | None] = Field(description="Nearest port, airport and IKN (`capital`).")


class ZonePair(BaseModel):
    from_: str = Field(alias="from")
    to: str
    distance_m: float = Field(description="Geodesic distance between the zones' edges.")


class Connectivity(BaseModel):
    zones: list[ZoneLinks]
    pairs: list[ZonePair]
