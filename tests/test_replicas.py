"""Reads from a real hot standby (DATABASE_REPLICA_URL): a streaming replica made with
pg_basebackup from the test cluster (or, when the tests run against a container, from a local
cluster of their own), and the routing the service does over it: reads to the standby, writes
to the primary, read-your-own-writes while the standby lags, and no reads from a standby that
lags too far or cannot be reached."""

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from tests.conftest import API_KEY, AUTH, ROOT, app_client, free_port, run_cli
from tests.geo import parcel, rectangle

POSTGIS = str(ROOT / "scripts" / "postgis.sh")
SPOT = (116.7003, -1.1497)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def cluster(migrated):
    """(primary URL of a migrated, seeded database, standby URL of the same database, standby DSN)."""
    folders: list[str] = []
    test_url = make_url(migrated)
    if os.environ.get("TEST_DB") == "local":
        primary_port = test_url.port
    else:  # a container: pg_basebackup needs a cluster it may replicate from, so a local one
        folders.append(tempfile.mkdtemp(prefix="kaltim-primary-"))
        primary_port = free_port()
        subprocess.run([POSTGIS, "start", folders[-1], str(primary_port)], check=True)
    url = subprocess.run(
        [POSTGIS, "url", folders[0] if folders else "-", str(primary_port), "kaltim_replicas"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    run_cli("alembic", "upgrade", "head", database_url=url)
    run_cli("app.cli", "seed", database_url=url)
    folders.append(tempfile.mkdtemp(prefix="kaltim-standby-"))
    standby_port = free_port()
    subprocess.run([POSTGIS, "standby", str(primary_port), folders[-1], str(standby_port)], check=True)
    standby_url = make_url(url).set(port=standby_port).render_as_string(hide_password=False)
    try:
        yield url, standby_url
    finally:
        for folder in reversed(folders):
            subprocess.run([POSTGIS, "stop", folder], check=False)
            shutil.rmtree(folder, ignore_errors=True)
        if not folders[:-1]:  # the test cluster's own database
            asyncio.run(_drop(migrated, "kaltim_replicas"))


async def _drop(url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(make_url(url).set(database="postgres").render_as_string(False)))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _standby_sql(standby_url: str, sql: str):
    conn = await asyncpg.connect(_dsn(standby_url))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _until(check, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def _settings(primary: str, replicas: list[str], **more) -> Settings:
    return Settings(
        database_url=primary,
        database_replica_url=replicas,
        api_keys=[API_KEY],
        replica_poll_s=0.1,
        **more,
    )


async def _served(client, replicas_expected: bool = True) -> None:
    """Wait until the service has polled its standby (reads then go there)."""

    async def polled() -> bool:
        response = await client.get("/zones")
        return response.headers.get("x-read-from") == ("replica" if replicas_expected else "primary")

    await _until(polled)


@contextlib.asynccontextmanager
async def replay_paused(standby: str) -> AsyncIterator[None]:
    """The standby's replay paused for the block (it falls behind the primary), resumed after."""
    await _standby_sql(standby, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        await _standby_sql(standby, "SELECT pg_wal_replay_resume()")


async def test_a_real_standby(cluster):
    _, standby = cluster
    assert await _standby_sql(standby, "SELECT pg_is_in_recovery()") is True
    assert await _standby_sql(standby, "SELECT count(*) FROM zone") == 3


async def test_reads_go_to_the_standby_writes_to_the_primary(cluster):
    primary, standby = cluster
    async with app_client(None, _settings(primary, [standby], replica_max_lag_s=60)) as client:
        await _served(client)
        zones = await client.get("/zones")
        assert zones.headers["x-read-from"] == "replica" and zones.json()["numberMatched"] == 3
        created = await client.post("/parcels", json=parcel(rectangle(*SPOT, 40, 40), "RP-1"), headers=AUTH)
        assert created.status_code == 201, created.text
        assert created.headers["x-read-from"] == "primary" and created.headers["x-write-lsn"]
        # Tiles (their cache is on the primary) and import jobs read the primary.
        assert (await client.get("/tiles/zones/0/0/0.mvt")).headers["x-read-from"] == "primary"
        assert (await client.get("/imports")).headers["x-read-from"] == "primary"
        await client.delete(f"/parcels/{created.json()['id']}", headers=AUTH)


async def test_read_your_own_writes_while_the_standby_is_behind(cluster):
    primary, standby = cluster
    async with app_client(None, _settings(primary, [standby], replica_max_lag_s=60)) as client:
        await _served(client)
        async with replay_paused(standby):
            created = await client.post(
                "/parcels", json=parcel(rectangle(*SPOT, 40, 40), "RP-2"), headers=AUTH
            )
            assert created.status_code == 201, created.text
            pid, lsn = created.json()["id"], created.headers["x-write-lsn"]
            # The writer's key: its own write, from the primary.
            mine = await client.get(f"/parcels/{pid}", headers=AUTH)
            assert mine.status_code == 200 and mine.headers["x-read-from"] == "primary"
            # Anyone naming the write's position (header, or the cookie a browser keeps) too.
            kept = client.cookies.get("kaltim_lsn")
            assert kept == lsn  # as a browser keeps it
            client.cookies.clear()
            named = await client.get(f"/parcels/{pid}", headers={"X-Min-LSN": lsn})
            assert named.status_code == 200 and named.headers["x-read-from"] == "primary"
            client.cookies.set("kaltim_lsn", kept)
            with_cookie = await client.get(f"/parcels/{pid}")
            assert with_cookie.status_code == 200 and with_cookie.headers["x-read-from"] == "primary"
            # Others read the standby, which has not replayed the write yet: it is a replica.
            client.cookies.clear()
            others = await client.get(f"/parcels/{pid}")
            assert others.headers["x-read-from"] == "replica" and others.status_code == 404

        async def caught_up() -> bool:
            response = await client.get(f"/parcels/{pid}", headers=AUTH)
            return response.headers["x-read-from"] == "replica" and response.status_code == 200

        await _until(caught_up)
        await client.delete(f"/parcels/{pid}", headers=AUTH)


async def test_a_standby_too_far_behind_serves_no_reads(cluster):
    primary, standby = cluster
    async with app_client(None, _settings(primary, [standby], replica_max_lag_s=0.5)) as client:
        await _served(client)
        async with replay_paused(standby):
            created = await client.post(
                "/parcels", json=parcel(rectangle(*SPOT, 40, 40), "RP-3"), headers=AUTH
            )
            client.cookies.clear()
            await _served(client, replicas_expected=False)  # after REPLICA_MAX_LAG_S
            anyone = await client.get(f"/parcels/{created.json()['id']}")
            assert anyone.status_code == 200 and anyone.headers["x-read-from"] == "primary"
        await client.delete(f"/parcels/{created.json()['id']}", headers=AUTH)


async def test_an_unreachable_standby_serves_no_reads(cluster):
    primary, _ = cluster
    gone = make_url(primary).set(port=free_port()).render_as_string(hide_password=False)
    async with app_client(None, _settings(primary, [gone])) as client:
        await asyncio.sleep(0.5)
        for _ in range(5):
            response = await client.get("/zones")
            assert response.status_code == 200 and response.headers["x-read-from"] == "primary"
