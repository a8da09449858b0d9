"""Benchmark the API on a million parcels: latency and throughput over real HTTP, against the
same SQL run directly through asyncpg, and against tipg on the same bbox page.

    python -m bench.run [--count 1000000] [--seconds 6] [--tipg .venv-tipg/bin/python]

Needs BENCH_DATABASE_URL (a PostGIS database it may fill; `make bench` starts one). It migrates,
seeds, generates the parcels if the database does not hold them yet, starts the API (one uvicorn
worker) and tipg, and prints one table (also written to bench/results/latest.md and .json).
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BBOX = "116.78,-1.13,116.81,-1.10"  # 3 x 3 km in Kariangau: under 2,000 parcels
VIEWPORT = "116.75,-1.15,116.85,-1.05"  # 11 x 11 km, a map viewport: about 17,000 parcels
BIG_BBOX = "116.70,-1.20,116.90,-1.00"  # for the 10,000-feature page
CONCURRENCY = (1, 16)


@dataclass
class Scenario:
    name: str
    path: str
    statements: list[tuple[str, tuple]] = field(default_factory=list)


def scenarios(parcel_id: int) -> list[Scenario]:
    return [
        Scenario("parcels in zone, page of 1,000", "/zones/kik-kariangau/parcels?limit=1000"),
        Scenario("bbox page of 1,000", f"/parcels?bbox={BBOX}&limit=1000"),
        Scenario("distances for one parcel", f"/parcels/{parcel_id}/distances"),
        Scenario("nearest facilities to a point", "/facilities/nearest?lon=116.80&lat=-1.10&limit=5"),
        Scenario(
            "site search, top 100, two distance criteria",
            "/parcels/search?max_distance_to_port_m=5000&max_distance_to_capital_m=40000"
            "&min_area_ha=1&limit=100",
        ),
        Scenario("zone summary", "/zones/kib-buluminung/summary"),
    ]


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cli(*args: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


async def prepare(url: str, count: int) -> int:
    """Schema, reference data and `count` generated parcels; returns a parcel id mid-table."""
    env = {**os.environ, "DATABASE_URL": url}
    cli("alembic", "upgrade", "head", env=env)
    cli("app.cli", "seed", env=env)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        have = await conn.fetchval("SELECT count(*) FROM parcel WHERE attributes @> '{\"generated\": true}'")
        if have != count:
            print(f"generating {count:,} parcels ...", flush=True)
            print(cli("app.cli", "generate-parcels", "--count", str(count), "--replace", env=env), flush=True)
            await conn.execute("VACUUM ANALYZE parcel")
        return await conn.fetchval("SELECT id FROM parcel ORDER BY id OFFSET $1 LIMIT 1", count // 2)
    finally:
        await conn.close()


async def capture(url: str, scenario: Scenario) -> None:
    """The statements the API sends for the scenario's request, captured in process."""
    os.environ["DATABASE_URL"] = url
    from app.config import Settings
    from app.main import create_app

    app = create_app(Settings(database_url=url))
    async with app.router.lifespan_context(app):
        engines = [app.state.pools.ordinary.sync_engine, app.state.pools.heavy.sync_engine]

        def keep(conn, cursor, statement, parameters, context, executemany):
            scenario.statements.append((statement, tuple(parameters or ())))

        for engine in engines:
            event.listen(engine, "before_cursor_execute", keep)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            response = await client.get(scenario.path)
            assert response.status_code == 200, response.text
        for engine in engines:
            event.remove(engine, "before_cursor_execute", keep)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict, health: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [*argv, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + health, timeout=5).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.3)
        if process.poll() is not None:
            raise SystemExit(f"{argv} exited:\n{process.stderr.read()}")
    raise SystemExit(f"{argv} did not start")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Run:
    p50_ms: float
    p95_ms: float
    per_s: float
    count: int


def summarise(latencies: list[float], wall: float) -> Run:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return Run(statistics.median(ordered) * 1000, p95 * 1000, len(ordered) / wall, len(ordered))


async def load(work, concurrency: int, seconds: float) -> Run:
    """Call `work()` from `concurrency` workers for about `seconds`; latencies of each call."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await work(i)
            latencies.append(time.perf_counter() - started)

    await work(0)  # warm up
    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return summarise(latencies, time.perf_counter() - began)


async def http_load(base: str, path: str, concurrency: int, seconds: float) -> Run:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # Uncompressed, from both services alike: the benchmark measures queries, not gzip.
    headers = {"Accept-Encoding": "identity"}
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits, headers=headers) as client:

        async def get(_: int) -> None:
            response = await client.get(path)
            response.raise_for_status()
            await response.aread()

        return await load(get, concurrency, seconds)


async def sql_load(dsn: str, statements: list[tuple[str, tuple]], concurrency: int, seconds: float) -> Run:
    """The API's statements for one request, in order, on one connection: the floor."""
    connections = [await asyncpg.connect(dsn, server_settings={"jit": "off"}) for _ in range(concurrency)]
    try:

        async def replay(i: int) -> None:
            async with connections[i].transaction():
                for statement, params in statements:
                    await connections[i].fetch(statement, *params)

        return await load(replay, concurrency, seconds)
    finally:
        for conn in connections:
            await conn.close()


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = (
        int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        / 1024
        / 1024
    )
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=6.0, help="per measurement")
    parser.add_argument(
        "--tipg", default=str(ROOT / ".venv-tipg/bin/python"), help="Python with tipg installed"
    )
    parser.add_argument("--only", default="", help="run only the queries whose name contains this")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or sys.exit("set BENCH_DATABASE_URL")
    dsn = asyncpg_dsn(url)

    parcel_id = await prepare(url, args.count)
    plan = [s for s in scenarios(parcel_id) if args.only in s.name]
    for scenario in plan:
        await capture(url, scenario)
    async with asyncpg.create_pool(dsn, min_size=1, max_size=1) as pool:
        postgres = await pool.fetchval("SELECT version()")
        postgis = await pool.fetchval("SELECT postgis_lib_version()")
        parcels = await pool.fetchval("SELECT count(*) FROM parcel")

    env = {**os.environ, "DATABASE_URL": url, "API_KEYS": "bench"}
    api, api_base = start(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--no-server-header"], env, "/health"
    )
    tipg_env = {**os.environ, "DATABASE_URL": dsn, "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    tipg, tipg_base = start([args.tipg, "-m", "uvicorn", "tipg.main:app"], tipg_env, "/collections")
    rows, results = [], {}
    try:
        for scenario in plan:
            for c in CONCURRENCY:
                http = await http_load(api_base, scenario.path, c, args.seconds)
                sql = await sql_load(dsn, scenario.statements, c, args.seconds)
                results[(scenario.name, c)] = (http, sql)
                rows.append(
                    f"| {scenario.name} | {c} | {http.p50_ms:.1f} | {http.p95_ms:.1f} | {http.per_s:.1f} "
                    f"| {sql.p50_ms:.1f} | {sql.p95_ms:.1f} | {sql.per_s:.1f} "
                    f"| {http.p50_ms / sql.p50_ms:.2f} |"
                )
                print(rows[-1], flush=True)
        tipg_rows = []
        for box in (BBOX, VIEWPORT) if not args.only or "bbox" in args.only else ():
            for c in CONCURRENCY:
                ours = await http_load(api_base, f"/parcels?bbox={box}&limit=1000", c, args.seconds)
                theirs = await http_load(
                    tipg_base, f"/collections/public.parcel/items?bbox={box}&limit=1000", c, args.seconds
                )
                tipg_rows.append(
                    f"| `{box}` | {c} | {ours.p50_ms:.1f} | {ours.per_s:.1f} | {theirs.p50_ms:.1f} "
                    f"| {theirs.per_s:.1f} | {ours.per_s / theirs.per_s:.2f} |"
                )
                print(tipg_rows[-1], flush=True)
        big = await http_load(api_base, f"/parcels?bbox={BIG_BBOX}&limit=10000", 16, args.seconds)
        peak = peak_rss_mb(api.pid)
    finally:
        for process in (api, tipg):
            process.terminate()
            process.wait(timeout=20)

    report = "\n".join(
        [
            f"Machine: {machine()}; {postgres.split(',')[0]}, PostGIS {postgis}; {parcels:,} parcels.",
            f"Each figure: {args.seconds:g} s of requests after one warm-up; API = one uvicorn worker "
            "over HTTP on loopback; SQL = the same statements the API sends for that request, replayed "
            "through asyncpg.",
            "",
            "| query | concurrency | API p50 ms | API p95 ms | API req/s "
            "| SQL p50 ms | SQL p95 ms | SQL req/s | API/SQL p50 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            "bbox pages of 1,000: ours (`/parcels?bbox=`) against tipg 1.6.1 "
            "(`/collections/public.parcel/items?bbox=`) on the same table, measured back to back:",
            "",
            "| bbox | concurrency | ours p50 ms | ours req/s | tipg p50 ms | tipg req/s | ours/tipg req/s |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *tipg_rows,
            "",
            f"10,000-feature pages (`bbox={BIG_BBOX}&limit=10000`) at concurrency 16: "
            f"p50 {big.p50_ms:.0f} ms, {big.per_s:.1f} req/s. "
            f"Peak resident memory of the API process over the whole run: {peak:.0f} MB.",
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(report + "\n")
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "parcels": parcels,
                "peak_rss_mb": peak,
                "runs": {
                    f"{name} @ {c}": {"api": vars(h), "sql": vars(s)} for (name, c), (h, s) in results.items()
                },
            },
            indent=1,
        )
    )
    print("\n" + report)


if __name__ == "__main__":
    asyncio.run(main())
