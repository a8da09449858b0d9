"""Command line: `python -m app.cli seed | demo-parcels`."""

import argparse
import asyncio
import sys

from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.queries.demo import tile_zones
from app.seed import load_reference


async def _run(args: argparse.Namespace) -> str:
    settings = get_settings()
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            if args.command == "seed":
                outcome = await load_reference(session, settings)
                return "; ".join(
                    f"{what}: " + ", ".join(f"{n} {how}" for how, n in sorted(counts.items()))
                    for what, counts in outcome.items()
                )
            if args.command == "demo-parcels":
                added = await tile_zones(session, args.cell_m)
                return f"demo parcels: {added} added (cells of {args.cell_m:g} m)"
    finally:
        await engine.dispose()
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed", help="load the reference zones and facilities (idempotent)")
    demo = commands.add_parser("demo-parcels", help="tile every zone with demo parcels (idempotent)")
    demo.add_argument("--cell-m", type=float, default=250.0, help="cell size in metres (default 250)")
    args = parser.parse_args(argv)
    if getattr(args, "cell_m", 1) <= 0:
        parser.error("--cell-m must be positive")
    print(asyncio.run(_run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
