"""The async engines (made once, in the app's lifespan) and the per-request session.

A request gets its connection from one of two pools: expensive reads (as the app's
`is_expensive` judges the request) from a small pool of their own, everything else from the
ordinary pool, so that expensive requests queue among themselves and cannot starve cheap ones.
Every query of a request runs under the pool's time budget (`statement_timeout`).
"""

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config import Settings
from app.replicas import Router, Standby

CONNECT_TIMEOUT_S = 10.0
# How the API's connections plan their queries.
PLANNER_SETTINGS = {
    # JIT compilation costs ~0.5 s on queries whose cost estimates are high because of PostGIS
    # calls, and gains nothing: their time is spent inside PostGIS's C functions.
    "jit": "off",
    # A request's query runs in one backend: starting parallel workers costs milliseconds (more
    # than the page queries themselves save), and concurrent requests already share the cores.
    "max_parallel_workers_per_gather": "0",
}
CLIENT_MARGIN_S = 5.0


def make_engine(
    settings: Settings,
    *,
    url: str | None = None,
    pool_size: int | None = None,
    pool_timeout_s: float = 30.0,
    query_timeout_s: float | None = None,
    lock_timeout_s: float | None = None,
) -> AsyncEngine:
    """An engine on `settings.database_url`. With `query_timeout_s`, every statement on its
    connections is cancelled by PostgreSQL when it runs longer (and a transaction left idle
    for long is ended), so no request can hold a connection for ever. With `lock_timeout_s`, a
    wait for a lock another transaction holds ends with an error (55P03) after that long."""
    server_settings = {"application_name": "kaltim-land-api", **PLANNER_SETTINGS}
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
        url or settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout_s,
        # No ping before each checkout (a round trip per request): a connection the server closed
        # fails its first statement, which is a 503 problem, and SQLAlchemy then discards every
        # connection of the pool older than that failure, so one request per server pays for a
        # database restart.
        pool_pre_ping=False,
        connect_args=connect_args,
    )


class Session(AsyncSession):
    """A request's session. Where standbys serve reads, a commit also notes the primary's WAL
    position after it on the request (`write_lsn`), for the caller's later reads."""

    async def commit(self) -> None:
        await super().commit()
        request = self.info.get("request")
        if request is not None and self.info.get("note_writes"):
            request.state.write_lsn = await self.scalar(text("SELECT pg_current_wal_lsn()::text"))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=Session, expire_on_commit=False)


def _engines(settings: Settings, url: str | None = None) -> tuple[AsyncEngine, AsyncEngine]:
    """The ordinary and the expensive reads' engines on `url` (default: the primary)."""
    ordinary = make_engine(
        settings,
        url=url,
        pool_timeout_s=settings.db_pool_timeout_s,
        query_timeout_s=settings.query_timeout_s,
        lock_timeout_s=settings.lock_timeout_s,
    )
    heavy = make_engine(
        settings,
        url=url,
        pool_size=settings.heavy_pool_size,
        pool_timeout_s=settings.heavy_wait_s,
        query_timeout_s=settings.heavy_query_timeout_s,
        lock_timeout_s=settings.lock_timeout_s,
    )
    return ordinary, heavy


@dataclass
class Pools:
    """The app's two engines and their sessions, and the standbys' (app.replicas)."""

    ordinary: AsyncEngine
    heavy: AsyncEngine
    router: Router | None = None

    @classmethod
    def open(cls, settings: Settings) -> "Pools":
        router = None
        if settings.database_replica_url:
            standbys = [Standby(url, *_engines(settings, url)) for url in settings.database_replica_url]
            router = Router(standbys, settings.replica_max_lag_s)
        return cls(*_engines(settings), router=router)

    def __post_init__(self) -> None:
        self.sessions = make_sessionmaker(self.ordinary)
        self.heavy_sessions = make_sessionmaker(self.heavy)
        for standby in self.router.standbys if self.router else ():
            standby.sessions = make_sessionmaker(standby.ordinary)
            standby.heavy_sessions = make_sessionmaker(standby.heavy)

    def sessions_for(self, request: Request, expensive: bool) -> async_sessionmaker[AsyncSession]:
        """The primary's sessions, or a standby's for a read one may serve (app.replicas)."""
        standby = self.router.choose(request) if self.router else None
        request.state.read_from = "primary" if standby is None else "replica"
        source = self if standby is None else standby
        return source.heavy_sessions if expensive else source.sessions

    async def close(self) -> None:
        await self.ordinary.dispose()
        await self.heavy.dispose()
        for standby in self.router.standbys if self.router else ():
            await standby.ordinary.dispose()
            await standby.heavy.dispose()


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
    sessions = pools.sessions_for(request, request.app.state.is_expensive(request))
    session = sessions(info={"request": request, "note_writes": pools.router is not None})
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


# --- reads straight through the driver ------------------------------------------------------

# SQLAlchemy's own rule for `:name` parameters in text(), so that SQL written for text() reads the
# same here.
_PARAMETER = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")


@lru_cache(maxsize=2048)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`... :a ... :b ... :a` -> (`... $1 ... $2 ... $1`, ('a', 'b'))."""
    names: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return _PARAMETER.sub(number, sql), tuple(names)


async def read(
    session: AsyncSession, sql: str, params: Mapping[str, Any] | None = None, *, one: bool = False
) -> Any:
    """Run a read on the session's connection through asyncpg itself: the rows (asyncpg Records,
    indexed by position or name), or with `one` the first column of the first row (or None).

    For the hot reads (pages of Features, single Features, point questions, counts): SQLAlchemy's
    statement machinery costs about as much as the query itself there. The statement runs in the
    session's transaction if one has begun, else on its own; listeners of `before_cursor_execute`
    still see it (the tests and the benchmark capture statements so), and errors become
    SQLAlchemy's, so the problem handlers and the pool's handling of lost connections apply."""
    statement, names = positional(sql)
    args = tuple((params or {})[name] for name in names)
    connection = await session.connection()
    sync = connection.sync_connection
    fairy = await connection.get_raw_connection()
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, statement, args, None, False)
    driver = fairy.driver_connection
    try:
        return await (driver.fetchval(statement, *args) if one else driver.fetch(statement, *args))
    except Exception as error:  # noqa: BLE001 - every driver error is translated below
        try:
            fairy.dbapi_connection._handle_exception(error)  # raises the DBAPI error for it
        except Exception as dbapi_error:  # noqa: BLE001
            sync._handle_dbapi_exception(dbapi_error, statement, args, None, None)
        raise
