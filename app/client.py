"""`kaltim-land`: the planners' command line. It talks to a running service over HTTP, so it
works against a remote one as well as a local one.

    kaltim-land zones
    kaltim-land parcels --zone kik-kariangau --status available --csv
    kaltim-land distance --parcel 120            kaltim-land distance --lonlat 116.80,-1.15
    kaltim-land search --zone kik-kariangau --min-area-ha 5 --max-distance-to-port-m 20000
    kaltim-land summary kik-kariangau            kaltim-land connectivity
    kaltim-land import persil.zip --map NIB=code --map STATUS=land_status
    kaltim-land export --zone kik-kariangau --format gpkg --crs EPSG:23837 -o kariangau.gpkg
    kaltim-land history --parcel 120

`--url` and `--key` (or KALTIM_LAND_URL, KALTIM_LAND_KEY) name the service and the API key.
Output is a table; `--json`, `--csv` or `--geojson` instead. Errors are the service's problem
details, printed plainly, with exit code 1 (2 when the service cannot be reached).
"""

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class Failed(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Service:
    def __init__(self, url: str, key: str | None, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.url = url

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        try:
            problem = response.json()
            detail = problem.get("detail") or problem.get("title")
            kind = problem.get("type", "").rsplit("/", 1)[-1]
        except ValueError:
            detail, kind = response.text.strip()[:300] or response.reason_phrase, ""
        label = f"{response.status_code} {kind}".strip()
        raise Failed(f"{label}: {detail}")

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self._check(self.http.request(method, path, **kwargs))
        except httpx.TransportError as exc:
            raise Failed(f"cannot reach {self.url}: {exc}", code=2) from None

    def get(self, path: str, **params) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=params).json()


# --- output ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:g}"
    if isinstance(value, list | dict):
        return (
            ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value, ensure_ascii=False)
        )
    return str(value)


def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def emit(args: argparse.Namespace, raw: Any, rows: list[dict], columns: list[str]) -> None:
    if args.output == "json":
        print(json.dumps(raw, indent=2, ensure_ascii=False))
    elif args.output == "geojson":
        if not (isinstance(raw, dict) and raw.get("type") == "FeatureCollection"):
            raise Failed("--geojson is for lists of features (zones, parcels, search)")
        print(json.dumps(raw, ensure_ascii=False))
    elif args.output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([[_cell(r.get(c)) for c in columns] for r in rows])
    else:
        print(table(rows, columns))


def features(collection: dict) -> list[dict]:
    return [{"id": f.get("id"), **f["properties"]} for f in collection.get("features", [])]


# --- commands -------------------------------------------------------------------------------


def cmd_zones(s: Service, args) -> None:
    raw = s.get("/zones", limit=args.limit)
    emit(args, raw, features(raw), ["code", "name", "kind", "status", "regency", "area_ha"])


def cmd_parcels(s: Service, args) -> None:
    params = {"limit": args.limit, "bbox": args.bbox, "land_status": args.status}
    if args.zone:
        raw = s.get(f"/zones/{args.zone}/parcels", relation=args.relation, **params)
    else:
        raw = s.get("/parcels", **params)
    columns = ["id", "code", "land_status", "land_rights", "area_ha", "zones"]
    emit(args, raw, features(raw), columns + (["share_in_zone"] if args.relation == "intersects" else []))


def _nearest_rows(nearest: dict) -> list[dict]:
    return [{"kind": kind, **facility} for kind, facility in nearest.items() if facility]


def cmd_distance(s: Service, args) -> None:
    if args.parcel is not None:
        raw = s.get(f"/parcels/{args.parcel}/distances")
        rows = _nearest_rows(raw["nearest"])
    else:
        lon, lat = _lonlat(args.lonlat)
        raw = {}
        for kind in args.kind.split(","):
            found = s.get("/facilities/nearest", lon=lon, lat=lat, kind=kind, limit=1)["features"]
            raw[kind] = (
                {k: found[0]["properties"][k] for k in ("code", "name", "distance_m")} if found else None
            )
        rows = _nearest_rows(raw)
    emit(args, raw, rows, ["kind", "code", "name", "distance_m"])


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise Failed("--lonlat is LON,LAT, e.g. 116.80,-1.15") from None
    return lon, lat


SEARCH_OPTIONS = (
    "zone",
    "land_status",
    "min_area_ha",
    "max_area_ha",
    "sector",
    "max_distance_to_port_m",
    "max_distance_to_capital_m",
    "near",
    "within_m",
    "sort",
)


def cmd_search(s: Service, args) -> None:
    raw = s.get("/parcels/search", limit=args.limit, **{o: getattr(args, o) for o in SEARCH_OPTIONS})
    columns = [
        "id",
        "code",
        "land_status",
        "area_ha",
        "sector",
        "distance_to_port_m",
        "distance_to_capital_m",
    ]
    emit(args, raw, features(raw), columns + (["distance_to_point_m"] if args.near else []))


def cmd_summary(s: Service, args) -> None:
    raw = s.get(f"/zones/{args.zone}/summary")
    rows = [{"what": "zone", "count": None, "area_ha": raw["area_ha"]}]
    rows += [
        {"what": f"parcels {status}", **numbers}
        for status, numbers in raw["parcels"]["by_land_status"].items()
    ]
    rows.append(
        {"what": "parcels, all", "count": raw["parcels"]["count"], "area_ha": raw["parcels"]["area_ha"]}
    )
    rows.append({"what": "available", "count": None, "area_ha": raw["available_area_ha"]})
    rows += [
        {"what": f"nearest {kind}: {f['code']}", "count": None, "distance_m": f["distance_m"]}
        for kind, f in raw.get("nearest", {}).items()
        if f
    ]
    emit(args, raw, rows, ["what", "count", "area_ha", "distance_m"])


def cmd_connectivity(s: Service, args) -> None:
    raw = s.get("/zones/connectivity")
    rows = []
    for z in raw["zones"]:
        row = {"zone": z["code"]}
        for kind, f in z["nearest"].items():
            row[kind] = f["code"] if f else None
            row[f"{kind}_m"] = f["distance_m"] if f else None
        rows.append(row)
    emit(args, raw, rows, ["zone", "port", "port_m", "airport", "airport_m", "capital", "capital_m"])


def progress(job: dict, started: float) -> None:
    line = (
        f"\rimport {job['id']}: {job['state']:<9} read {job['rows_read']:>9,}"
        f"  checked {job['rows_checked']:>9,}  stored {job['rows_stored']:>9,}"
        f"  {time.monotonic() - started:6.1f} s"
    )
    print(line, end="", file=sys.stderr, flush=True)


def cmd_import(s: Service, args) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise Failed(f"no file {args.file}")
    data = {
        "layer": args.layer,
        "mode": args.mode,
        "unknown_fields": args.unknown_fields,
        "dry_run": str(args.dry_run).lower(),
        "upsert": str(args.upsert).lower(),
        "repair": str(args.repair).lower(),
    }
    if args.map:
        data["mapping"] = json.dumps(dict(args.map))
    data.update({k: v for k, v in (("crs", args.crs), ("source_layer", args.source_layer)) if v})
    with path.open("rb") as f:
        started = s.request("POST", "/imports", files={"file": (path.name, f)}, data=data).json()
    begun = time.monotonic()
    job = s.get(f"/imports/{started['id']}")
    while job["state"] in ("queued", "running"):
        if not args.quiet:
            progress(job, begun)
        time.sleep(0.5)
        job = s.get(f"/imports/{started['id']}")
    if not args.quiet:
        progress(job, begun)
        print(file=sys.stderr)
    if job["state"] == "failed":
        raise Failed(f"import {job['id']} failed: {job['error']}")
    outcome = job["outcome"]
    counts = [
        {"outcome": k, "rows": outcome[k]}
        for k in ("read", "refused", "inserted", "updated", "repaired", "flattened")
    ]
    if outcome.get("would_store") is not None:
        counts.append({"outcome": "would store (dry run)", "rows": outcome["would_store"]})
    refused = [
        {"row": r["row_number"], "code": r["code"], "reasons": "; ".join(r["reasons"])}
        for r in job["refused_rows"]
    ]
    if args.output == "json":
        print(json.dumps(job, indent=2, ensure_ascii=False))
    else:
        emit(args, job, counts, ["outcome", "rows"])
        for warning in outcome["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        if refused:
            print()
            emit(args, job, refused, ["row", "code", "reasons"])
            more = outcome["refused"] - len(refused)
            tail = f" ({more} more)" if more > 0 else ""
            print(f"\nrefused rows with reasons{tail}: {job['links'][1]['href']}", file=sys.stderr)
    if job["state"] == "refused":
        print(
            "nothing stored: all or nothing, and rows were refused (--mode skip_invalid stores the rest)",
            file=sys.stderr,
        )
    if outcome["refused"]:
        raise Failed("", code=1)  # the rows and reasons are printed above


def cmd_export(s: Service, args) -> None:
    path = f"/zones/{args.zone}/parcels/export" if args.zone else "/parcels/export"
    params = {"format": args.format, "crs": args.crs, "bbox": args.bbox, "land_status": args.status}
    params = {k: v for k, v in params.items() if v is not None}
    out = Path(args.output_file or f"parcels{'.zip' if args.format == 'shp' else '.' + args.format}")
    try:
        with s.http.stream("GET", path, params=params) as response:
            if response.status_code >= 400:
                response.read()
                s._check(response)
            with out.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)
    except httpx.TransportError as exc:
        raise Failed(f"cannot reach {s.url}: {exc}", code=2) from None
    print(f"wrote {out} ({out.stat().st_size:,} bytes)", file=sys.stderr)


def cmd_history(s: Service, args) -> None:
    for what in ("parcel", "zone", "facility", "project"):
        key = getattr(args, what)
        if key is not None:
            raw = s.get(
                f"/{what}s/{key}/history" if what != "facility" else f"/facilities/{key}/history",
                limit=args.limit,
            )
            break
    else:
        raise Failed("history of what? --parcel ID, --zone CODE, --facility CODE or --project ID")
    rows = [{**c, "changed": ", ".join(sorted(_changed(c)))} for c in raw["changes"]]
    emit(args, raw, rows, ["changed_at", "operation", "actor", "changed"])


def _changed(change: dict) -> Iterable[str]:
    before, after = change.get("before") or {}, change.get("after") or {}
    before, after = before.get("properties", before), after.get("properties", after)
    return [k for k in set(before) | set(after) if before.get(k) != after.get(k) and k not in ("updated_at",)]


# --- the parser -----------------------------------------------------------------------------


def field_pair(text: str) -> tuple[str, str]:
    field, sep, ours = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError("FIELD=PROPERTY, e.g. NIB=code (PROPERTY empty to leave it out)")
    return field, ours


def _common(top: bool) -> argparse.ArgumentParser:
    """--url, --key and the output options, before or after the command: the command's copy
    leaves the value given before it alone unless given again."""
    common = argparse.ArgumentParser(add_help=False)
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    common.add_argument(
        "--url", default=default(os.environ.get("KALTIM_LAND_URL", DEFAULT_URL)), help="the service"
    )
    common.add_argument("--key", default=default(os.environ.get("KALTIM_LAND_KEY")), help="an API key")
    shape = common.add_mutually_exclusive_group()
    for name in ("json", "csv", "geojson"):
        shape.add_argument(
            f"--{name}",
            dest="output",
            action="store_const",
            const=name,
            default=default("table"),
            help=f"output as {name}",
        )
    return common


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kaltim-land",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(True)],
    )
    commands = p.add_subparsers(dest="command", required=True)
    common = _common(False)

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    zones = command("zones", cmd_zones, "the industrial zones")
    zones.add_argument("--limit", type=int, default=100)
    parcels = command("parcels", cmd_parcels, "parcels, in a zone, by bbox, by land status")
    parcels.add_argument("--zone")
    parcels.add_argument("--bbox", help="min_lon,min_lat,max_lon,max_lat")
    parcels.add_argument("--status", help="comma-separated land statuses")
    parcels.add_argument("--relation", choices=["within", "intersects"], default=None)
    parcels.add_argument("--limit", type=int, default=100)
    distance = command(
        "distance", cmd_distance, "a parcel's or a point's distances to the nearest port, IKN, airport"
    )
    where = distance.add_mutually_exclusive_group(required=True)
    where.add_argument("--parcel", type=int)
    where.add_argument("--lonlat", help="LON,LAT")
    distance.add_argument("--kind", default="port,capital,airport", help="for --lonlat: kinds of facility")
    search = command("search", cmd_search, "site search: parcels that fit a project")
    for option in SEARCH_OPTIONS:
        search.add_argument(f"--{option.replace('_', '-')}", dest=option)
    search.add_argument("--limit", type=int, default=50)
    summary = command("summary", cmd_summary, "a zone's land by status, available area, nearest facilities")
    summary.add_argument("zone")
    command("connectivity", cmd_connectivity, "each zone's nearest port, airport and IKN")
    imp = command("import", cmd_import, "import a file (parcels, zones, facilities) and print its report")
    imp.add_argument("file")
    imp.add_argument(
        "--layer", default="parcels", help="parcels (default), zones, facilities or a constraint layer's name"
    )
    imp.add_argument("--crs")
    imp.add_argument("--source-layer")
    imp.add_argument("--map", type=field_pair, action="append", default=[], metavar="FIELD=PROPERTY")
    imp.add_argument("--dry-run", action="store_true")
    imp.add_argument("--mode", choices=["all_or_nothing", "skip_invalid"], default="all_or_nothing")
    imp.add_argument("--upsert", action="store_true")
    imp.add_argument("--repair", action="store_true")
    imp.add_argument("--unknown-fields", choices=["refuse", "attributes", "ignore"], default="refuse")
    imp.add_argument("--quiet", action="store_true", help="no progress line")
    exp = command("export", cmd_export, "export parcels (all, a zone's, by bbox or status) to a file")
    exp.add_argument("--zone")
    exp.add_argument("--bbox")
    exp.add_argument("--status")
    exp.add_argument(
        "--format", choices=["geojson", "geojsonseq", "csv", "kml", "gpkg", "fgb", "shp"], default="gpkg"
    )
    exp.add_argument("--crs", default="EPSG:4326")
    exp.add_argument("-o", "--output-file")
    history = command("history", cmd_history, "the recorded changes of a parcel, zone, facility or project")
    history.add_argument("--parcel", type=int)
    history.add_argument("--zone")
    history.add_argument("--facility")
    history.add_argument("--project", type=int)
    history.add_argument("--limit", type=int, default=50)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    service = Service(args.url, args.key)
    try:
        args.run(service, args)
    except Failed as exc:
        if str(exc):
            print(f"kaltim-land: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
