"""Zones. Their area is derived by PostgreSQL from the geometry."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ValidationProblem
from app.queries import features
from app.queries.catalogue import ZONES
from app.queries.features import Page

ZONE = ZONES


async def list_zones(session: AsyncSession, limit: int, offset: int) -> Page:
    return await features.page(
        session,
        feature=ZONE.feature,
        source="zone t",
        where=[],
        params={},
        order="t.code",
        limit=limit,
        offset=offset,
    )


async def zone_exists(session: AsyncSession, code: str) -> bool:
    return await features.exists(session, ZONE, code)


async def check_zone_filter(session: AsyncSession, code: str | None) -> None:
    """A `zone` parameter that names no zone is a bad parameter (422), not an empty answer."""
    if code is not None and not await zone_exists(session, code):
        raise ValidationProblem(f"zone: no zone with code {code!r}.")
