"""Benchmark the import: a GeoPackage of generated parcels in DGN95 / Indonesia TM-3 zone 50.1
(EPSG:23837) imported by `python -m app.cli import` (every check, the database's rules and
history), against `ogr2ogr -f PostgreSQL` of the same file into a plain table (reprojected to
EPSG:4326 too, no checks), on the same machine in the same run. Reports wall time and the peak
memory (maximum resident set) of each importing process.

    python -m bench.imports [--count 1000000]

Needs BENCH_DATABASE_URL (`make bench` starts one). The parcels come from `app.cli
generate-parcels` in that database (the ones it laid over each other on purpose are left out,
so every row must pass); the GeoPackage is written once by ogr2ogr and kept in bench/data.
Each run imports into a new, empty database beside it. Writes bench/results/imports.md.

Beside them, what no import of this file into the parcel table can go under: reading the file
with pyogrio alone, and inserting the same rows, already staged and reprojected, into the parcel
table with its indexes and checks (its triggers off), then with its rules' triggers on.
"""

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import time

import asyncpg
import pyogrio.raw
from sqlalchemy.engine import make_url

from bench.run import RESULTS, ROOT, asyncpg_dsn, cli, prepare

DATA = ROOT / "bench" / "data"
SOURCE = """SELECT code, land_status, land_rights, land_use, sector, price_idr_per_m2, geom FROM parcel p
            WHERE attributes @> '{"generated": true}' AND NOT EXISTS (
                SELECT 1 FROM parcel_overlap_allowed a WHERE a.parcel_id = p.id OR a.other_id = p.id)"""


STORED = "code, land_status, land_rights, land_use, sector, price_idr_per_m2, attributes, geom"


def read_alone(gpkg) -> float:
    """Seconds to read every feature of the file with pyogrio (Arrow batches), nothing else."""
    started = time.perf_counter()
    with pyogrio.raw.open_arrow(str(gpkg), batch_size=10_000, use_pyarrow=True) as (_, reader):
        for _ in reader:
            pass
    return time.perf_counter() - started


async def insert_alone(url: str, triggers: bool) -> float:
    """Seconds to insert the imported parcels again, from a staged copy, into the emptied parcel
    table (all rolled back): with its indexes and checks only, or with its triggers too."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(f"CREATE TEMP TABLE staged ON COMMIT DROP AS SELECT {STORED} FROM parcel")
        await conn.execute("TRUNCATE parcel CASCADE")
        if not triggers:
            await conn.execute("ALTER TABLE parcel DISABLE TRIGGER USER")
        started = time.perf_counter()
        await conn.execute(f"INSERT INTO parcel ({STORED}) SELECT {STORED} FROM staged")
        return time.perf_counter() - started
    finally:
        await transaction.rollback()
        await conn.close()


def pg(url: str) -> str:
    u = make_url(url)
    return f"PG:host={u.host} port={u.port or 5432} dbname={u.database} user={u.username}" + (
        f" password={u.password}" if u.password else ""
    )


def measured(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a command; (seconds, peak resident memory in MiB, its output)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


async def fresh(url: str, name: str) -> str:
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    url = os.environ["BENCH_DATABASE_URL"]
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        raise SystemExit("ogr2ogr (gdal-bin) is needed")
    await prepare(url, args.count)
    DATA.mkdir(parents=True, exist_ok=True)
    gpkg = DATA / f"parcels-{args.count}-tm3.gpkg"
    if not gpkg.exists():
        print(f"writing {gpkg.name} ...", flush=True)
        subprocess.run(
            [
                ogr2ogr,
                "-f",
                "GPKG",
                "-t_srs",
                "EPSG:23837",
                "-nln",
                "persil",
                str(gpkg),
                pg(url),
                "-sql",
                SOURCE,
            ],
            check=True,
        )
    rows = int(
        subprocess.run(["ogrinfo", "-so", str(gpkg), "persil"], capture_output=True, text=True)
        .stdout.split("Feature Count: ")[1]
        .split()[0]
    )

    plain = await fresh(url, "kaltim_bench_ogr2ogr")
    conn = await asyncpg.connect(asyncpg_dsn(plain))
    await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    await conn.close()
    print(f"ogr2ogr -f PostgreSQL, {rows:,} parcels ...", flush=True)
    gdal_s, gdal_mib, _ = measured(
        [
            ogr2ogr,
            "-f",
            "PostgreSQL",
            pg(plain),
            str(gpkg),
            "-nln",
            "parcel",
            "-t_srs",
            "EPSG:4326",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-nlt",
            "MULTIPOLYGON",
        ]  # fmt: skip
    )

    target = await fresh(url, "kaltim_bench_import")
    env = {**os.environ, "DATABASE_URL": target}
    cli("alembic", "upgrade", "head", env=env)
    cli("app.cli", "seed", env=env)
    print(f"python -m app.cli import, {rows:,} parcels ...", flush=True)
    ours_s, ours_mib, output = measured(
        [sys.executable, "-m", "app.cli", "import", str(gpkg), "--unknown-fields", "ignore"], env=env
    )
    conn = await asyncpg.connect(asyncpg_dsn(target))
    stored = await conn.fetchval("SELECT count(*) FROM parcel")
    await conn.close()
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    print("the floors: reading alone, inserting alone ...", flush=True)
    read_s = read_alone(gpkg)
    bare_s = await insert_alone(target, triggers=False)
    ruled_s = await insert_alone(target, triggers=True)
    report = "\n".join(
        [
            f"# Import of {rows:,} parcels from a GeoPackage in EPSG:23837",
            "",
            f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}; one run, "
            f"{time.strftime('%Y-%m-%d %H:%M')}.",
            "",
            "| | seconds | parcels/s | peak memory (MiB) | stored |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| ogr2ogr -f PostgreSQL (plain table, no checks) | {gdal_s:.1f} | {rows / gdal_s:,.0f} | "
            f"{gdal_mib:.0f} | {rows:,} |",
            f"| python -m app.cli import (every check, rules, history) | {ours_s:.1f} | "
            f"{rows / ours_s:,.0f} | {ours_mib:.0f} | {stored:,} |",
            "",
            f"Ratio: {ours_s / gdal_s:.2f}x ogr2ogr's time (target: within 2x). Import said: {summary}",
            "Peak memory is the importing process's (its PostgreSQL backend is not counted).",
            "",
            "What no import into the parcel table goes under (the same rows):",
            "",
            "| | seconds | x ogr2ogr |",
            "| --- | ---: | ---: |",
            f"| reading the file with pyogrio, nothing else | {read_s:.1f} | {read_s / gdal_s:.2f} |",
            f"| INSERT of the staged rows into parcel: indexes and checks, triggers off | {bare_s:.1f} | "
            f"{bare_s / gdal_s:.2f} |",
            f"| the same INSERT with the rules' triggers (derived facts, overlaps, history, tiles) | "
            f"{ruled_s:.1f} | {ruled_s / gdal_s:.2f} |",
        ]
    )
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "imports.md").write_text(report + "\n")


if __name__ == "__main__":
    asyncio.run(main())
