"""The async engines (made once, in the app's lifespan) and the per-request session.

A request gets its connection from one of two pools: expensive reads (as the app's
`is_expensive` judges the request) from a small pool of their own, everything else from the
ordinary pool, so that expensive requests queue among themselves and cannot starve cheap ones.
Every query of a request runs under the pool's time budget (`statement_timeout`).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings

CONNECT_TIMEOUT_S = 10.0
CLIENT_MARGIN_S = 5.0


def make_engine(
    settings: Settings,
    *,
    pool_size: int | None = None,
    pool_timeout_s: float = 30.0,
    query_timeout_s: float | None = None,
    lock_timeout_s: float | None = None,
) -> AsyncEngine:
    """An engine on `settings.database_url`. With `query_timeout_s`, every statement on its
    connections is cancelled by PostgreSQL when it runs longer (and a transaction left idle
    for long is ended), so no request can hold a connection for ever. With `lock_timeout_s`, a
    wait for a lock another transaction holds ends with an error (55P03) after that long."""
    server_settings = {
        "application_name": "kaltim-land-api",
        # JIT compilation costs ~0.5 s on queries whose cost estimates are high because of PostGIS
        # calls, and gains nothing: their time is spent inside PostGIS's C functions.
        "jit": "off",
    }
    if query_timeout_s is not None:
        server_settings["statement_timeout"] = str(int(query_timeout_s * 1000))
        server_settings["idle_in_transaction_session_timeout"] = str(int(max(60, 4 * query_timeout_s) * 1000))
    if lock_timeout_s is not None:
        server_settings["lock_timeout"] = str(int(lock_timeout_s * 1000))
    # Client-side bounds too: a connection whose server vanished without closing it (a restarted
    # container behind a proxy, a dropped network) must not hang a request. PostgreSQL cancels a
    # query over budget first; the driver gives up CLIENT_MARGIN_S later.
    connect_args: dict = {"server_settings": server_settings, "timeout": CONNECT_TIMEOUT_S}
    if query_timeout_s is not None:
        connect_args["command_timeout"] = query_timeout_s + CLIENT_MARGIN_S
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class Pools:
    """The app's two engines and their sessions."""

    ordinary: AsyncEngine
    heavy: AsyncEngine

    @classmethod
    def open(cls, settings: Settings) -> "Pools":
        return cls(
            ordinary=make_engine(
                settings,
                pool_timeout_s=settings.db_pool_timeout_s,
                query_timeout_s=settings.query_timeout_s,
                lock_timeout_s=settings.lock_timeout_s,
            ),
            heavy=make_engine(
                settings,
                pool_size=settings.heavy_pool_size,
                pool_timeout_s=settings.heavy_wait_s,
                query_timeout_s=settings.heavy_query_timeout_s,
                lock_timeout_s=settings.lock_timeout_s,
            ),
        )

    def __post_init__(self) -> None:
        self.sessions = make_sessionmaker(self.ordinary)
        self.heavy_sessions = make_sessionmaker(self.heavy)

    async def close(self) -> None:
        await self.ordinary.dispose()
        await self.heavy.dispose()


@asynccontextmanager
async def rollback_on_error(session: AsyncSession) -> AsyncIterator[None]:
    """If the request fails, undo the session's uncommitted work before anything else runs."""
    try:
        yield
    except Exception:
        await session.rollback()
        raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    pools: Pools = request.app.state.pools
    expensive = request.app.state.is_expensive(request)
    sessions = pools.heavy_sessions if expensive else pools.sessions
    session = sessions()
    try:
        async with rollback_on_error(session):
            yield session
    finally:
        await close_quietly(session)


async def close_quietly(session: AsyncSession) -> None:
    """Close the session. If its connection has died meanwhile (the database restarted after the
    answer was sent), PostgreSQL has already ended the transaction: there is nothing left to undo,
    and the pool drops the dead connection."""
    try:
        await session.close()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session)]
