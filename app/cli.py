"""Command line: `python -m app.cli wait-db | seed | demo-parcels | generate-parcels --count N |
import FILE | keys ...`."""

import argparse
import asyncio
import getpass
import re
import sys
import time
from pathlib import Path

from sqlalchemy import text

from app import importer
from app.client import field_pair
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.models import Role
from app.queries import bulk, keys
from app.queries.demo import attach_demo_parcels, overlap_neighbours, straddle_zone_edges, tile_zones
from app.queries.demo_layers import add_demo_layers
from app.seed import generate, load_reference


async def _wait_for_database(engine, timeout: float) -> str:
    """Until the database answers over the network with PostGIS in place, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with engine.connect() as conn:
                version = await conn.scalar(text("SELECT postgis_lib_version()"))
            return f"database ready (PostGIS {version})"
        except Exception as exc:  # refused, still starting up, PostGIS not yet created, ...
            if time.monotonic() >= deadline:
                raise SystemExit(f"the database did not answer within {timeout:g} s: {exc}") from None
            await asyncio.sleep(0.5)


async def _run(args: argparse.Namespace) -> str:
    settings = get_settings()
    engine = make_engine(settings)
    try:
        if args.command == "wait-db":
            return await _wait_for_database(engine, args.timeout)
        if args.command == "import":
            return await _import(settings, args)
        async with make_sessionmaker(engine)() as session:
            if args.command == "seed":
                outcome = await load_reference(session, settings)
                return "; ".join(
                    f"{what}: " + ", ".join(f"{n} {how}" for how, n in sorted(counts.items()))
                    for what, counts in outcome.items()
                )
            if args.command == "demo-parcels":
                return await _demo(session, args.cell_m)
            if args.command == "generate-parcels":
                return await _generate(session, args)
            if args.command == "keys":
                return await _keys(session, args)
    finally:
        await engine.dispose()
    raise AssertionError(args.command)


async def _demo(session, cell_m: float) -> str:
    """Demo parcels tiling the zones; illustrative ones across the zones' edges and overlapping
    their neighbours; illustrative constraint layers; parcels for the illustrative projects."""
    added = await tile_zones(session, cell_m)
    edges = await straddle_zone_edges(session)
    overlapping, pairs = await overlap_neighbours(session)
    layers_made, areas = await add_demo_layers(session)
    given = await attach_demo_parcels(session)
    return (
        f"demo parcels: {added} added (cells of {cell_m:g} m); illustrative: {edges} across a zone's edge, "
        f"{overlapping} overlapping {pairs} others; demo layers: {layers_made} made, {areas} areas added; "
        f"{given} given to projects"
    )


async def _generate(session, args: argparse.Namespace) -> str:
    zones = [generate.ZoneCentre(*row) for row in await bulk.zone_centres(session)]
    if not zones:
        raise SystemExit("no zones: run `python -m app.cli seed` first")
    removed = await bulk.delete_generated_parcels(session) if args.replace else 0
    started = time.perf_counter()
    batch = f"{args.seed:x}{int(time.time()) % 100000:05d}"
    loaded = await bulk.copy_parcels(
        session,
        generate.COLUMNS,
        generate.rows(zones, args.count, args.seed, batch),
        allow_overlap=generate.OVERLAP_REASON,
    )
    seconds = time.perf_counter() - started
    gone = f"{removed} generated parcels removed; " if args.replace else ""
    return f"{gone}{loaded} parcels generated around {len(zones)} zones in {seconds:.1f} s"


async def _import(settings, args: argparse.Namespace) -> str:
    """Run an import job here, to its end: the same job, checks and report as POST /imports."""
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"no file {args.file}")
    options = importer.Options(
        layer=args.layer,
        crs=args.crs,
        source_layer=args.source_layer,
        mapping=dict(args.map),
        dry_run=args.dry_run,
        mode=args.mode,
        upsert=args.upsert,
        repair=args.repair,
        unknown_fields=args.unknown_fields,
    )
    actor = f"cli:{getpass.getuser()}"
    started = time.perf_counter()
    conn = await importer.connect(settings)
    try:
        job_id = await importer.imports.create_job(conn, options.layer, path.name, options.as_json(), actor)
        outcome = await importer.run_job(
            conn,
            job_id,
            path,
            path.name,
            options,
            actor,
            settings.geometry_rules,
            on_progress=lambda line: print(
                f"import {job_id}: {line} ({time.perf_counter() - started:.1f} s)", file=sys.stderr
            ),
        )
        refused = await importer.imports.first_refusals(conn, job_id, 50)
    finally:
        await conn.close()
    if "error" in outcome:
        raise SystemExit(f"import {job_id} failed: {outcome['error']}")
    lines = [f"import {job_id}: " + ", ".join(f"{k} {v}" for k, v in outcome.items() if isinstance(v, int))]
    lines += [f"warning: {w}" for w in outcome["warnings"]]
    lines += [f"row {r['row_number']} ({r['code'] or '-'}): {'; '.join(r['reasons'])}" for r in refused]
    if outcome["refused"] and options.mode == "all_or_nothing":
        lines.append(
            "nothing stored: all or nothing, and rows were refused (--mode skip_invalid stores the rest)"
        )
    if outcome["refused"]:
        args.exit_code = 1  # some rows were refused: scripts can tell
    print("\n".join(lines))
    return (
        "dry run: nothing stored" if options.dry_run else f"{outcome['inserted'] + outcome['updated']} stored"
    )


async def _keys(session, args: argparse.Namespace) -> str:
    """`keys create --name NAME --role ROLE` prints a new key, the only time it is shown; `keys
    list` shows names, roles and prefixes (never a key); `keys revoke NAME` stops a key working.
    Keys are managed here only, never over HTTP."""
    if args.action == "create":
        key = await keys.create_key(session, args.name, args.role)
        await session.commit()
        if key is None:
            raise SystemExit(f"a key named {args.name!r} exists already (revoked keys keep their names)")
        print(f"key {args.name!r} ({args.role}) created; it is shown only this once:", file=sys.stderr)
        return key
    if args.action == "revoke":
        revoked = await keys.revoke_key(session, args.name)
        await session.commit()
        if revoked is None:
            raise SystemExit(f"no key named {args.name!r}")
        return f"key {args.name!r} revoked at {revoked.isoformat(timespec='seconds')}"
    rows = [("name", "role", "prefix", "created", "revoked")] + [
        (
            k.name,
            k.role,
            k.prefix + "...",
            k.created_at.isoformat(timespec="seconds"),
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-",
        )
        for k in await keys.list_keys(session)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def key_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", text):
        raise argparse.ArgumentTypeError("lower-case letters, digits, '.', '_' and '-', at most 63")
    if re.fullmatch(r"env-key-\d+", text):
        raise argparse.ArgumentTypeError("env-key-N names the keys of the API_KEYS setting")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait-db", help="wait until the database answers (for container starts)")
    wait.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    commands.add_parser("seed", help="load the reference zones and facilities (idempotent)")
    demo = commands.add_parser(
        "demo-parcels",
        help="tile every zone with demo parcels, add illustrative conflicts and constraint layers "
        "(idempotent)",
    )
    demo.add_argument("--cell-m", type=float, default=250.0, help="cell size in metres (default 250)")
    gen = commands.add_parser(
        "generate-parcels", help="lay out N synthetic parcels in and around the zones (COPY)"
    )
    gen.add_argument("--count", type=int, required=True, help="how many parcels")
    gen.add_argument("--seed", type=int, default=1, help="random seed (default 1): same seed, same parcels")
    gen.add_argument("--replace", action="store_true", help="remove previously generated parcels first")
    imp = commands.add_parser("import", help="import a file into parcels, with every check of POST /imports")
    imp.add_argument("file", help="GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf, KML/KMZ or CSV")
    imp.add_argument(
        "--layer", default="parcels", help="parcels (default), zones, facilities or a constraint layer's name"
    )
    imp.add_argument("--crs", help="the coordinates' CRS where the file names none, e.g. EPSG:23837")
    imp.add_argument("--source-layer", help="the layer of a GeoPackage to read (default: the first)")
    imp.add_argument("--map", type=field_pair, action="append", default=[], metavar="FIELD=PROPERTY")
    imp.add_argument("--dry-run", action="store_true", help="check everything, store nothing")
    imp.add_argument("--mode", choices=["all_or_nothing", "skip_invalid"], default="all_or_nothing")
    imp.add_argument("--upsert", action="store_true", help="update the parcels whose code exists")
    imp.add_argument("--repair", action="store_true", help="repair invalid geometry instead of refusing it")
    imp.add_argument("--unknown-fields", choices=["refuse", "attributes", "ignore"], default="refuse")
    keys_command = commands.add_parser("keys", help="API keys: create, list, revoke")
    actions = keys_command.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key and print it (shown only once)")
    create.add_argument("--name", type=key_name, required=True, help="a name for the key, e.g. planner-ana")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    actions.add_parser("list", help="names, roles, prefixes, when created and revoked")
    revoke = actions.add_parser("revoke", help="stop a key working (within seconds on running servers)")
    revoke.add_argument("name")
    args = parser.parse_args(argv)
    if getattr(args, "cell_m", 1) <= 0:
        parser.error("--cell-m must be positive")
    if getattr(args, "count", 1) <= 0:
        parser.error("--count must be positive")
    print(asyncio.run(_run(args)))
    return getattr(args, "exit_code", 0)


if __name__ == "__main__":
    sys.exit(main())
