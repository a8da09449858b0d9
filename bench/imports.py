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
from sqlalchemy.engine import make_url

from bench.run import RESULTS, ROOT, asyncpg_dsn, cli, prepare

DATA = ROOT / "bench" / "data"
SOURCE = """SELECT code, land_status, land_rights, land_use, sector, price_idr_per_m2, geom FROM parcel p
            WHERE attributes @> '{"generated": true}' AND NOT EXISTS (
                SELECT 1 FROM parcel_overlap_allowed a WHERE a.parcel_id = p.id OR a.other_id = p.id)"""


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
        ]
    )
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "imports.md").write_text(report + "\n")


if __name__ == "__main__":
    asyncio.run(main())
