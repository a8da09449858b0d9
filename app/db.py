"""The async engine (made once, in the app's lifespan) and the per-request session."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_pre_ping=True,
        # JIT compilation costs ~0.5 s on queries whose cost estimates are high because of PostGIS
        # calls, and gains nothing: their time is spent inside PostGIS's C functions.
        connect_args={"server_settings": {"application_name": "kaltim-land-api", "jit": "off"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def rollback_on_error(session: AsyncSession) -> AsyncIterator[None]:
    """If the request fails, undo the session's uncommitted work before anything else runs."""
    try:
        yield
    except Exception:
        await session.rollback()
        raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session, rollback_on_error(session):
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
