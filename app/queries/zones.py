"""Zones: CRUD. Their area is derived by PostgreSQL from the geometry."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.geometry import POLYGONAL, normalise, to_wkb
from app.queries import features
from app.queries.features import Page, Resource
from app.schemas.zones import ZoneCreate, ZonePatch

ZONE = Resource(
    label="zone",
    table="zone",
    key="code",
    properties={
        "code": "t.code",
        "name": "t.name",
        "kind": "t.kind",
        "regency": "t.regency",
        "sectors": "t.sectors",
        "status": "t.status",
        "description": "t.description",
        "source": "t.source",
        "attributes": "t.attributes",
        "area_ha": "round(t.area_ha::numeric, 4)",
        "created_at": "t.created_at",
        "updated_at": "t.updated_at",
    },
    jsonb_columns=frozenset({"attributes"}),
)


async def list_zones(session: AsyncSession, limit: int, offset: int) -> Page:
    return await features.page(
        session, feature=ZONE.feature, source="zone t", where=[], params={},
        order="t.code", limit=limit, offset=offset,
    )


async def get_zone(session: AsyncSession, code: str) -> str:
    return await features.fetch(session, ZONE, code)


async def create_zone(session: AsyncSession, body: ZoneCreate, settings: Settings, repair: bool) -> tuple[Any, str]:
    geom = normalise(body.geometry.model_dump(), POLYGONAL, settings.area_of_interest, repair=repair)
    key, feature = await features.insert(session, ZONE, body.properties.model_dump(mode="json"), to_wkb(geom))
    await session.commit()
    return key, feature


async def update_zone(
    session: AsyncSession, code: str, body: ZonePatch, settings: Settings, repair: bool
) -> str:
    geom = None
    if body.geometry is not None:
        geom = to_wkb(normalise(body.geometry.model_dump(), POLYGONAL, settings.area_of_interest, repair=repair))
    values: dict[str, Any] = body.properties.model_dump(mode="json", exclude_unset=True)
    feature = await features.update(session, ZONE, code, values, geom)
    await session.commit()
    return feature


async def delete_zone(session: AsyncSession, code: str) -> None:
    await features.delete(session, ZONE, code)


async def zone_exists(session: AsyncSession, code: str) -> bool:
    return await features.exists(session, ZONE, code)
