"""Abuse a real server on loopback and watch it hold: abandoned expensive requests are cancelled
in PostgreSQL, expensive reads cannot take the connections cheap reads need.

Every loop here is bounded in requests and in time, and talks to 127.0.0.1 only.
"""

import asyncio
import statistics
import time

import asyncpg
import httpx
import pytest

from tests.conftest import run_cli, serve

PARCELS = 100_000
EXPENSIVE = "/parcels/conflicts?limit=10"  # compares every parcel with its neighbours
FLOOD = "/parcels/conflicts?limit=10&zone=kib-buluminung"  # the same in one zone: about 1 s


@pytest.fixture(scope="module")
async def crowded(fresh_database) -> str:
    """A database of its own with the reference data and 100,000 generated parcels."""
    url = await fresh_database("kaltim_load")
    run_cli("alembic", "upgrade", "head", database_url=url)
    run_cli("app.cli", "seed", database_url=url)
    run_cli("app.cli", "generate-parcels", "--count", str(PARCELS), database_url=url)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("VACUUM ANALYZE parcel")
    finally:
        await conn.close()
    return url


async def busy_backends(url: str) -> list[str]:
    """Queries the API's connections are running now."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT query FROM pg_stat_activity WHERE application_name = 'kaltim-land-api' "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [row["query"] for row in rows]


async def wait_until_idle(url: str, seconds: float) -> float | None:
    """Seconds until no API query runs any more, or None if one still runs after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not await busy_backends(url):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    return None


async def abandon(http: httpx.AsyncClient, path: str, after_s: float) -> None:
    """Send a request and hang up after `after_s` seconds, as an impatient client does."""
    try:
        await http.get(path, timeout=after_s)
    except httpx.TimeoutException:
        return
    raise AssertionError(f"{path} answered within {after_s} s: it is not expensive enough to test with")


async def timed_get(http: httpx.AsyncClient, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = await http.get(path, timeout=300)
    return response.status_code, time.perf_counter() - started


async def test_an_abandoned_request_stops_its_query(crowded):
    with serve(crowded) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            # How long the expensive request takes when its client waits for it.
            status, full = await timed_get(http, EXPENSIVE)
            assert status == 200
            # Abandoned after 0.3 s: its query must end long before it would have finished.
            await abandon(http, EXPENSIVE, 0.3)
            gone_after = await wait_until_idle(crowded, full)
            assert gone_after is not None, await busy_backends(crowded)
            assert gone_after < full / 2, (gone_after, full)
            assert (await http.get("/health")).status_code == 200


async def test_expensive_reads_cannot_starve_cheap_ones(crowded):
    cheap = ["/zones/kik-kariangau", "/parcels/1000", "/facilities/ikn", "/parcels?limit=10"]
    with serve(crowded, heavy_wait_s="60") as base:
        async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=64)) as http:
            for path in cheap:  # warm up
                assert (await http.get(path)).status_code == 200
            quiet = [(await timed_get(http, path))[1] for path in cheap * 10]

            # Twenty expensive requests in flight at once, queueing for their own pool.
            flood = [asyncio.create_task(timed_get(http, FLOOD)) for _ in range(20)]
            await asyncio.sleep(1.0)
            assert len(await busy_backends(crowded)) >= 2  # the expensive queries are running
            busy = []
            for path in cheap * 10:
                status, seconds = await timed_get(http, path)
                assert status == 200
                busy.append(seconds)
            in_flight = sum(not task.done() for task in flood)
            results = await asyncio.gather(*flood)
    assert in_flight >= 10, "the expensive requests were not in flight while cheap ones were timed"
    assert {status for status, _ in results} == {200}
    quiet_p50, busy_p50 = statistics.median(quiet), statistics.median(busy)
    print(f"cheap reads p50: {quiet_p50 * 1000:.1f} ms quiet, {busy_p50 * 1000:.1f} ms under the flood")
    # Without a pool of their own the cheap reads would queue behind seconds-long queries.
    assert busy_p50 < max(10 * quiet_p50, 0.25), (quiet_p50, busy_p50)
