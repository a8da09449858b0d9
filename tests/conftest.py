"""Tests run against a real, throwaway PostGIS named by TEST_DATABASE_URL (`make test` starts one).

The schema is built once per run by the real migrations (`alembic upgrade head`). Each test then
runs inside a transaction that is rolled back afterwards; the app's commits become savepoints,
so no test sees another's rows.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from app import seed
from app.config import Settings
from app.db import get_session, rollback_on_error
from app.main import create_app
from app.queries import admin, keys
from app.seed import load_reference

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-key-1"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SERVER_KEY = "server-key"

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
if not TEST_DATABASE_URL:
    pytest.exit(
        "TEST_DATABASE_URL is not set. Run the suite with `make test`, which starts a throwaway "
        "PostGIS, or point TEST_DATABASE_URL at an empty PostGIS database you can lose.",
        returncode=2,
    )


def run_cli(
    *args: str, database_url: str = TEST_DATABASE_URL, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a project command (alembic, app.cli) as a user would, against `database_url`."""
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_settings(database_url: str = TEST_DATABASE_URL) -> Settings:
    return Settings(database_url=database_url, api_keys=[API_KEY, "second-key"])


@pytest.fixture(scope="session")
def migrated() -> str:
    run_cli("alembic", "downgrade", "base")
    run_cli("alembic", "upgrade", "head")
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as session:
        yield session


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@asynccontextmanager
async def app_client(session: AsyncSession | None, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the whole app (middleware, routing, handlers), on `session`'s transaction
    (or on the app's own engine, committing, when `session` is None)."""
    app = create_app(settings)

    async def same_session() -> AsyncIterator[AsyncSession]:
        async with rollback_on_error(session):
            yield session

    if session is not None:
        app.dependency_overrides[get_session] = same_session
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client(session: AsyncSession, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the whole app on the test's transaction."""
    async with app_client(session, settings) as client:
        yield client


@pytest.fixture
async def keyed(session: AsyncSession) -> dict[str, dict[str, str]]:
    """A key of each role, made inside the test's transaction: role -> Authorization header.
    The keys are named after their roles (`reader`, `editor`, `admin`)."""
    made = {}
    for role in ("reader", "editor", "admin"):
        made[role] = {"Authorization": f"Bearer {await keys.create_key(session, role, role)}"}
    await session.commit()
    return made


@pytest.fixture
async def seeded(session: AsyncSession, settings: Settings) -> None:
    """The reference zones and facilities, inside the test's transaction."""
    await load_reference(session, settings)


@pytest.fixture
async def admin_areas(session: AsyncSession) -> None:
    """The seed's regencies, districts and villages only, inside the test's transaction."""
    for row in seed.admin_areas():
        await admin.upsert(session, row)


async def scalar(session: AsyncSession, sql: str, **params):
    return await session.scalar(text(sql), params)


async def _admin(url, *statements: str) -> None:
    conn = await asyncpg.connect(
        url.set(drivername="postgresql", database="postgres").render_as_string(False)
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def fresh_database(migrated: str):
    """Make empty databases on the test server (`await fresh_database(name)` -> URL); dropped at the end."""
    url = make_url(migrated)
    created: list[str] = []

    async def make(name: str) -> str:
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    await _admin(url, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in created))


async def prepared_database(fresh_database, name: str, cell_m: int = 400) -> str:
    """A database of its own, built the way a user would: migrate, seed, demo parcels."""
    url = await fresh_database(name)
    run_cli("alembic", "upgrade", "head", database_url=url)
    run_cli("app.cli", "seed", database_url=url)
    run_cli("app.cli", "demo-parcels", "--cell-m", str(cell_m), database_url=url)
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(
    database_url: str, api_keys: str = SERVER_KEY, access_log: Path | None = None, **settings: str
) -> Iterator[str]:
    """`uvicorn app.main:app` on a free port against `database_url`, with any other `settings`
    as environment variables (`query_timeout_s="1"`); yields its base URL once healthy.
    With `access_log` the server writes its log to that file, a line for every request among it,
    for the test to read while it runs. Afterwards the server's log must hold no error: an
    exception that escaped the app (and cost a client its answer) fails the test even when no
    test request saw it."""
    port = free_port()
    log = tempfile.TemporaryFile("w+") if access_log is None else access_log.open("w+")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "API_KEYS": api_keys,
        **{name.upper(): value for name, value in settings.items()},
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning" if access_log is None else "info",
            "--no-server-header",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, server_log(log)
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # e.g. still closing connections to a restarted database
            process.kill()
            process.wait(timeout=10)
    errors = [line for line in server_log(log).splitlines() if line.startswith(("ERROR", "Traceback"))]
    assert not errors, server_log(log)


def server_log(log) -> str:
    log.seek(0)
    return log.read()
