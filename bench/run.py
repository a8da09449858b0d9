"""Benchmark the API on a million parcels, side by side with tipg on the same table, and against
the SQL floor of each request.

    python -m bench.run [--count 1000000] [--seconds 5] [--only NAME]

Needs BENCH_DATABASE_URL (a PostGIS database it may fill; `make bench` starts one) and wrk. It
migrates, seeds, generates the parcels if the database does not hold them yet, adds two
constraint layers (a grid of flood-hazard squares and a spatial plan) for the land-identification
questions, then starts the API (one uvicorn worker, and a second one with the tile cache off for
cold tiles) and tipg 1.6.1 (one worker), and measures each request:

- over real HTTP on loopback, by wrk (C, one thread; the same client for both services), for
  `--seconds` after a warm-up, at concurrency 1 and 16: p50, p95 and requests per second;
- the SQL floor: the very statements the API sends for that request, captured in process and
  replayed in order through asyncpg, one connection per client, at the same concurrency.

Writes bench/results/latest.md and latest.json.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BBOX = "116.78,-1.13,116.81,-1.10"  # 3 x 3 km in Kariangau: under 2,000 parcels
VIEWPORT = "116.75,-1.15,116.85,-1.05"  # 11 x 11 km, a map viewport: about 17,000 parcels
BIG_BBOX = "116.70,-1.20,116.90,-1.00"  # for the 10,000-feature pages
CONCURRENCY = (1, 16)
TIPG_ITEMS = "/collections/public.parcel/items"


def envelope_wkt(box: str) -> str:
    x0, y0, x1, y1 = box.split(",")
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def tile_of(lon: float, lat: float, z: int) -> str:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{z}/{x}/{y}"


@dataclass
class Scenario:
    name: str
    path: str  # ours
    tipg: str | None = None  # the same question asked of tipg, where it has one
    group: str = "page"  # page | point | analysis | tile
    statements: list[tuple[str, tuple]] = field(default_factory=list)


def scenarios(parcel_id: int, constrained_id: int, zone_wkt: str) -> list[Scenario]:
    cql = f"land_status = 'available' AND area_ha > 1 AND S_INTERSECTS(geometry, {envelope_wkt(VIEWPORT)})"
    tipg_cql = cql.replace("geometry", "geom")
    in_zone = f"S_WITHIN(geom, {zone_wkt})"
    tile14, tile12 = tile_of(116.795, -1.115, 14), tile_of(116.795, -1.115, 12)
    return [
        Scenario(
            "bbox page of 1,000, native",
            f"/parcels?bbox={BBOX}&limit=1000",
            f"{TIPG_ITEMS}?bbox={BBOX}&limit=1000",
        ),
        Scenario(
            "bbox page of 1,000, OGC",
            f"/ogc/collections/parcels/items?bbox={BBOX}&limit=1000",
            f"{TIPG_ITEMS}?bbox={BBOX}&limit=1000",
        ),
        Scenario(
            "viewport page of 1,000, native",
            f"/parcels?bbox={VIEWPORT}&limit=1000",
            f"{TIPG_ITEMS}?bbox={VIEWPORT}&limit=1000",
        ),
        Scenario(
            "viewport page of 1,000, OGC",
            f"/ogc/collections/parcels/items?bbox={VIEWPORT}&limit=1000",
            f"{TIPG_ITEMS}?bbox={VIEWPORT}&limit=1000",
        ),
        Scenario(
            "parcels in zone, page of 1,000",
            "/zones/kik-kariangau/parcels?limit=1000",
            f"{TIPG_ITEMS}?limit=1000&filter-lang=cql2-text&filter={quote(in_zone)}",
        ),
        Scenario(
            "CQL2 filter, page of 1,000",
            f"/ogc/collections/parcels/items?limit=1000&filter={quote(cql)}",
            f"{TIPG_ITEMS}?limit=1000&filter-lang=cql2-text&filter={quote(tipg_cql)}",
        ),
        Scenario("distances for one parcel", f"/parcels/{parcel_id}/distances", group="point"),
        Scenario(
            "nearest facilities to a point", "/facilities/nearest?lon=116.80&lat=-1.10&limit=5", group="point"
        ),
        Scenario("one parcel", f"/parcels/{parcel_id}", f"{TIPG_ITEMS}/{parcel_id}", group="point"),
        Scenario("a parcel's constraints", f"/parcels/{constrained_id}/constraints", group="point"),
        Scenario(
            "site search, top 100, two distance criteria",
            "/parcels/search?max_distance_to_port_m=5000&max_distance_to_capital_m=40000&min_area_ha=1&limit=100",
            group="analysis",
        ),
        Scenario(
            "site search by layers and plan, top 100",
            "/parcels/search?zone=kik-kariangau&exclude=bench-flood&conforms_to_plan=industry&limit=100",
            group="analysis",
        ),
        Scenario("zone summary, with constraint layers", "/zones/kib-buluminung/summary", group="analysis"),
        Scenario(
            "tile z14, warm (cached)",
            f"/tiles/parcels/{tile14}.mvt",
            f"/collections/public.parcel/tiles/WebMercatorQuad/{tile14}",
            group="tile",
        ),
        Scenario(
            "tile z14, cold (rendered)",
            f"/tiles/parcels/{tile14}.mvt",
            f"/collections/public.parcel/tiles/WebMercatorQuad/{tile14}",
            group="cold tile",
        ),
        Scenario(
            "tile z12, cold (rendered)",
            f"/tiles/parcels/{tile12}.mvt",
            f"/collections/public.parcel/tiles/WebMercatorQuad/{tile12}",
            group="cold tile",
        ),
    ]


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cli(*args: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


# Two constraint layers over the zones, for the land-identification questions: flood-hazard
# squares of 300 m on a 600 m grid, and a spatial plan cutting each zone in an industrial half and
# a green half. Invented shapes (benchmark data only).
LAYERS = """
INSERT INTO constraint_layer (name, title, kind, source, licence)
VALUES ('bench-flood', 'Benchmark flood squares', 'flood_hazard', 'generated by bench.run', 'CC0'),
       ('bench-plan', 'Benchmark spatial plan', 'spatial_plan', 'generated by bench.run', 'CC0')
ON CONFLICT (name) DO NOTHING;
INSERT INTO constraint_feature (layer_id, code, geom)
SELECT l.id, format('F-%s-%s-%s', z.code, g.i, g.j),
       ST_Multi(ST_Transform(ST_Expand(ST_Centroid(g.geom), 150), 4326))
FROM constraint_layer l, zone z,
     LATERAL ST_SquareGrid(600, ST_Transform(ST_Expand(z.geom, 0.02), 32750)) g
WHERE l.name = 'bench-flood' AND NOT EXISTS (SELECT 1 FROM constraint_feature f WHERE f.layer_id = l.id);
INSERT INTO constraint_feature (layer_id, code, allowed_uses, geom)
SELECT l.id, format('P-%s-%s', z.code, h.half), h.uses,
       ST_Multi(ST_Intersection(ST_Expand(z.geom, 0.02), h.box))
FROM constraint_layer l, zone z,
     LATERAL (VALUES
       (1, ARRAY['industry', 'logistics'], ST_MakeEnvelope(ST_XMin(z.geom) - 0.02, ST_YMin(z.geom) - 0.02,
            (ST_XMin(z.geom) + ST_XMax(z.geom)) / 2, ST_YMax(z.geom) + 0.02, 4326)),
       (2, ARRAY['green_open_space'], ST_MakeEnvelope((ST_XMin(z.geom) + ST_XMax(z.geom)) / 2,
            ST_YMin(z.geom) - 0.02, ST_XMax(z.geom) + 0.02, ST_YMax(z.geom) + 0.02, 4326))) h(half, uses, box)
WHERE l.name = 'bench-plan' AND NOT EXISTS (SELECT 1 FROM constraint_feature f WHERE f.layer_id = l.id);
ANALYZE constraint_feature;
"""


async def prepare(url: str, count: int) -> tuple[int, int]:
    """Schema, reference data, `count` generated parcels and the constraint layers; returns a
    parcel id mid-table and a parcel a flood square covers in part."""
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
        await conn.execute(LAYERS)
        parcel_id = await conn.fetchval("SELECT id FROM parcel ORDER BY id OFFSET $1 LIMIT 1", count // 2)
        constrained = await conn.fetchval(
            """SELECT p.id FROM parcel p JOIN constraint_feature f ON f.geom && p.geom
               JOIN constraint_layer l ON l.id = f.layer_id AND l.name = 'bench-flood'
               WHERE ST_Relate(f.geom, p.geom, '2********') AND NOT ST_Covers(f.geom, p.geom)
               ORDER BY p.id LIMIT 1"""
        )
        return parcel_id, constrained
    finally:
        await conn.close()


async def capture(url: str, scenario: Scenario) -> None:
    """The statements the API sends for the scenario's request, captured in process: for a warm
    tile, those of the second request (the cache's lookup); for a cold one, with no cache."""
    os.environ["DATABASE_URL"] = url
    from app.config import Settings
    from app.main import create_app

    cold = scenario.group == "cold tile"
    app = create_app(Settings(database_url=url, tile_cache_tiles=0 if cold else 50_000))
    async with app.router.lifespan_context(app):
        engines = [app.state.pools.ordinary.sync_engine, app.state.pools.heavy.sync_engine]

        def keep(conn, cursor, statement, parameters, context, executemany):
            if statement.split(None, 1)[0].upper() in ("SELECT", "WITH", "EXPLAIN", "INSERT"):
                scenario.statements.append((statement, tuple(parameters or ())))

        for engine in engines:
            event.listen(engine, "before_cursor_execute", keep)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            if scenario.group == "tile":
                await client.get(scenario.path)
                scenario.statements.clear()
            response = await client.get(scenario.path)
            assert response.status_code in (200, 204), (scenario.path, response.text)
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


def rss_mb(pid: int, field_name: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Start a new peak-memory measurement of the process (Linux: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Run:
    p50_ms: float
    p95_ms: float
    per_s: float
    count: int


# wrk prints its summary as JSON from this script: percentiles in microseconds.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format('{"p50": %d, "p95": %d, "requests": %d, "seconds": %f, "errors": %d}\\n',
    latency:percentile(50), latency:percentile(95), summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def wrk(url: str, concurrency: int, seconds: float) -> Run:
    """`concurrency` connections of one wrk thread for `seconds`, after a one-second warm-up."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        subprocess.run(["wrk", "-t1", f"-c{concurrency}", "-d1s", url], capture_output=True, check=True)
        done = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "60s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["errors"]:
        raise SystemExit(f"{url}: {summary['errors']} failed requests\n{done.stdout}")
    return Run(
        summary["p50"] / 1000,
        summary["p95"] / 1000,
        summary["requests"] / summary["seconds"],
        summary["requests"],
    )


def summarise(latencies: list[float], wall: float) -> Run:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return Run(statistics.median(ordered) * 1000, p95 * 1000, len(ordered) / wall, len(ordered))


async def sql_load(dsn: str, statements: list[tuple[str, tuple]], concurrency: int, seconds: float) -> Run:
    """The API's statements for one request, in order, on one connection each: the floor."""
    from app.db import PLANNER_SETTINGS  # the API's own

    connections = [await asyncpg.connect(dsn, server_settings=PLANNER_SETTINGS) for _ in range(concurrency)]
    latencies: list[float] = []
    try:

        async def replay(conn) -> None:
            for statement, params in statements:
                await conn.fetch(statement, *params)

        await replay(connections[0])  # warm up
        stop = time.perf_counter() + seconds

        async def worker(conn) -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                await replay(conn)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in connections))
        return summarise(latencies, time.perf_counter() - began)
    finally:
        for conn in connections:
            await conn.close()


async def timed_get(url: str) -> tuple[float, int]:
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.perf_counter()
        size = 0
        async with client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                size += len(chunk)
        return time.perf_counter() - started, size


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


def row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument(
        "--tipg", default=str(ROOT / ".venv-tipg/bin/python"), help="Python with tipg installed"
    )
    parser.add_argument("--only", default="", help="run only the requests whose name contains this")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or sys.exit("set BENCH_DATABASE_URL")
    dsn = asyncpg_dsn(url)

    parcel_id, constrained_id = await prepare(url, args.count)
    async with asyncpg.create_pool(dsn, min_size=1, max_size=1) as pool:
        postgres = await pool.fetchval("SELECT version()")
        postgis = await pool.fetchval("SELECT postgis_lib_version()")
        parcels = await pool.fetchval("SELECT count(*) FROM parcel")
        zone_wkt = await pool.fetchval("SELECT ST_AsText(geom) FROM zone WHERE code = 'kik-kariangau'")
        await pool.execute("DELETE FROM tile_cache")
    plan = [s for s in scenarios(parcel_id, constrained_id, zone_wkt) if args.only in s.name]
    for scenario in plan:
        await capture(url, scenario)

    env = {**os.environ, "DATABASE_URL": url, "API_KEYS": "bench"}
    argv = [sys.executable, "-m", "uvicorn", "app.main:app", "--no-server-header"]
    api, api_base = start(argv, env, "/health")
    cold, cold_base = start(argv, {**env, "TILE_CACHE_TILES": "0"}, "/health")
    tipg_env = {**os.environ, "DATABASE_URL": dsn, "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    tipg, tipg_base = start([args.tipg, "-m", "uvicorn", "tipg.main:app"], tipg_env, "/collections")
    results: dict = {}
    lines: list[str] = []
    try:
        for scenario in plan:
            ours_base = cold_base if scenario.group == "cold tile" else api_base
            for c in CONCURRENCY:
                ours = wrk(ours_base + scenario.path, c, args.seconds)
                sql = await sql_load(dsn, scenario.statements, c, args.seconds)
                theirs = wrk(tipg_base + scenario.tipg, c, args.seconds) if scenario.tipg else None
                results[f"{scenario.name} @ {c}"] = {
                    "group": scenario.group,
                    "ours": vars(ours),
                    "sql": vars(sql),
                    "tipg": vars(theirs) if theirs else None,
                    "statements": len(scenario.statements),
                }
                lines.append(
                    row(
                        [
                            scenario.name,
                            c,
                            f"{ours.p50_ms:.2f}",
                            f"{ours.p95_ms:.1f}",
                            f"{ours.per_s:.1f}",
                            f"{sql.p50_ms:.2f}",
                            f"{ours.p50_ms / sql.p50_ms:.2f}",
                            f"{ours.p50_ms - sql.p50_ms:.2f}",
                            f"{theirs.p50_ms:.2f}" if theirs else "—",
                            f"{theirs.per_s:.1f}" if theirs else "—",
                            f"{ours.per_s / theirs.per_s:.2f}" if theirs and theirs.per_s else "—",
                        ]
                    )
                )
                print(lines[-1], flush=True)

        # The biggest pages and export streams: time and the API process's peak memory.
        big = []
        for name, path in (
            ("native page of 10,000", f"/parcels?bbox={BIG_BBOX}&limit=10000"),
            ("OGC page of 10,000", f"/ogc/collections/parcels/items?bbox={BIG_BBOX}&limit=10000"),
            ("export, GeoJSON, one zone", "/zones/kib-buluminung/parcels/export?format=geojson"),
            ("export, GeoPackage, one zone", "/zones/kib-buluminung/parcels/export?format=gpkg"),
            ("export, GeoJSON, 11 km viewport", f"/parcels/export?format=geojson&bbox={VIEWPORT}"),
        ):
            if args.only and args.only not in name:
                continue
            reset_peak(api.pid)
            seconds = []
            for _ in range(3):
                took, size = await timed_get(api_base + path)
                seconds.append(took)
            big.append(
                row(
                    [
                        name,
                        f"{statistics.median(seconds) * 1000:.0f}",
                        f"{size / 1e6:.1f}",
                        f"{rss_mb(api.pid):.0f}",
                    ]
                )
            )
            print(big[-1], flush=True)
        sixteen = wrk(api_base + f"/parcels?bbox={BIG_BBOX}&limit=10000", 16, args.seconds)
        big.append(
            row(
                [
                    "native page of 10,000 at concurrency 16",
                    f"{sixteen.p50_ms:.0f}",
                    "",
                    f"{rss_mb(api.pid):.0f}",
                ]
            )
        )
        peak = rss_mb(api.pid)
    finally:
        for process in (api, cold, tipg):
            process.terminate()
            process.wait(timeout=20)

    report = "\n".join(
        [
            f"Machine: {machine()}; {postgres.split(',')[0]}, PostGIS {postgis}; {parcels:,} parcels; "
            f"{time.strftime('%Y-%m-%d %H:%M')}.",
            f"Each figure: wrk for {args.seconds:g} s after a 1 s warm-up; API = one uvicorn worker; "
            "tipg 1.6.1 = one uvicorn worker on the same table; SQL = the statements the API sends for "
            "that request, replayed through asyncpg.",
            "",
            "| request | c | API p50 ms | API p95 ms | API req/s | SQL p50 ms | API/SQL | API − SQL ms "
            "| tipg p50 ms | tipg req/s | ours/tipg req/s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *lines,
            "",
            "The biggest pages and export streams (median of 3, one client; peak resident memory of the API "
            "process since the row began):",
            "",
            "| request | ms | MB sent | peak RSS MB |",
            "| --- | ---: | ---: | ---: |",
            *big,
            "",
            f"Peak resident memory of the API process over the whole run: {peak:.0f} MB.",
        ]
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(report + "\n")
    (RESULTS / "latest.json").write_text(
        json.dumps({"machine": machine(), "parcels": parcels, "peak_rss_mb": peak, "runs": results}, indent=1)
    )
    print("\n" + report)


if __name__ == "__main__":
    asyncio.run(main())
