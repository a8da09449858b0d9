"""Import jobs: a file read with GDAL in bounded batches, COPYed into a staging table, checked
set-wise in SQL, and the rows that pass stored in one transaction, under the database's rules.

The API starts a job and runs it in the background (`Runner`); the command line runs one to
its end (`run_job`). Both go through `run_job`, on a connection of its own.
"""

import asyncio
import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
from sqlalchemy.engine import make_url

from app.config import Settings
from app.errors import Forbidden
from app.exports import shapefile_names
from app.geometry import GeometryRules
from app.models import ImportState, Role
from app.queries import imports
from app.schemas.common import check_attributes
from app.sources import Source, SourceInvalid, batches, open_source

log = logging.getLogger("app.importer")

BATCH = 10_000
# Fields left out without a word: the reasons written on refused rows sent back to be fixed, and
# what the service computes itself (its own exports carry them).
IGNORED_FIELDS = {"import_row", "import_reasons", "id", "area_ha", "zones", "created_at", "updated_at"}
IGNORED_FIELDS |= {"share_in_zone", "distance_to_port_m", "distance_to_capital_m", "distance_to_point_m"}
IGNORED_FIELDS |= {"regency", "regency_code", "district", "district_code", "constraints"}
IGNORED_FIELDS |= {name[:10] for name in IGNORED_FIELDS}  # as a Shapefile export shortens them
REFUSALS_IN_REPORT = 100
# One encoder for every row's own properties (json.dumps with options makes one per call).
ORIGINAL_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode


class OptionsInvalid(ValueError):
    """Options that do not fit the file (a mapping from a field it lacks, say)."""


@dataclass(frozen=True)
class Options:
    layer: str = "parcels"
    crs: str | None = None
    source_layer: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # the file's field -> ours ("" drops it)
    dry_run: bool = False
    mode: Literal["all_or_nothing", "skip_invalid"] = "all_or_nothing"
    upsert: bool = False
    repair: bool = False
    unknown_fields: Literal["refuse", "attributes", "ignore"] = "refuse"

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Plan:
    """Which of the file's fields fill which of ours, and which go into the extra column."""

    ours: dict[str, str]  # the file's field -> our column
    extra: tuple[str, ...]  # the file's fields kept in the extra JSONB column
    present: tuple[str, ...]  # our columns the file gives values for


def plan(source: Source, target: imports.Target, options: Options) -> Plan:
    columns = {c.name for c in target.columns}
    names = columns | ({target.extra} if target.extra else set())
    fields = [f for f in source.fields if f not in IGNORED_FIELDS or f in options.mapping]
    missing = sorted(set(options.mapping) - set(fields))
    if missing:
        raise OptionsInvalid(f"the mapping names fields the file lacks: {', '.join(missing)}.")
    wrong = sorted({v for v in options.mapping.values() if v and v not in names})
    if wrong:
        raise OptionsInvalid(
            f"the mapping maps to properties {target.layer} do not have: {', '.join(wrong)}; "
            f"they have {', '.join(sorted(names))}."
        )
    ours: dict[str, str] = {}
    unknown: list[str] = []
    by_lower = {n.lower(): n for n in names}
    # Our own Shapefile exports shorten names to 10 characters (land_status -> land_statu).
    by_lower |= {short.lower(): n for n, short in shapefile_names(sorted(names)).items()}
    for f in fields:
        if f in options.mapping:
            if options.mapping[f]:
                ours[f] = options.mapping[f]
        elif f.lower() in by_lower and by_lower[f.lower()] not in options.mapping.values():
            ours[f] = by_lower[f.lower()]
        else:
            unknown.append(f)
    doubled = sorted({v for v in ours.values() if list(ours.values()).count(v) > 1})
    if doubled:
        raise OptionsInvalid(f"more than one of the file's fields fills {', '.join(doubled)}.")
    if unknown and options.unknown_fields == "refuse":
        raise OptionsInvalid(
            f"the file has fields {target.layer} do not have: {', '.join(unknown[:20])}. Map them with "
            'mapping (a field to one of ours, or to "" to leave it out), or send unknown_fields=attributes '
            "to keep them in attributes, or unknown_fields=ignore."
        )
    extra = tuple(unknown) if options.unknown_fields == "attributes" and target.extra else ()
    return Plan(ours=ours, extra=extra, present=tuple(sorted(set(ours.values()) - {target.extra})))


async def prepare(
    conn: asyncpg.Connection,
    path: Path,
    filename: str,
    options: Options,
    may: Callable[[Role], bool] = lambda role: True,
) -> tuple[Source, imports.Target, Plan]:
    """Open the file (without reading its features) and fit the options to it; SourceInvalid or
    OptionsInvalid say why it cannot be imported."""
    target = await target_of(conn, options.layer)
    if not may(target.writer):
        raise Forbidden(
            f"Importing into {options.layer} needs a key with role {target.writer}.",
            required_role=target.writer.value,
        )
    source = await asyncio.to_thread(open_source, path, filename, options.crs, options.source_layer)
    if not await imports.srid_known(conn, source.srid):
        raise SourceInvalid(f"PostGIS does not know {source.crs}; name another CRS in crs.")
    return source, target, plan(source, target, options)


async def target_of(conn: asyncpg.Connection, layer: str) -> imports.Target:
    """Where `layer` says the rows go; OptionsInvalid if it names nothing."""
    target = await imports.target_of(conn, layer)
    if target is None:
        raise OptionsInvalid(
            f"layer: no layer {layer!r}; import into {', '.join(imports.TARGETS)} or a constraint layer "
            "(GET /layers lists them)."
        )
    return target


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list):  # a list of words (a zone's sectors)
        return ", ".join(str(v) for v in value) or None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value).strip()
    return text or None


def _records(
    rows: list[tuple[bytes | None, dict]], first: int, target: imports.Target, p: Plan
) -> list[tuple]:
    columns = [c.name for c in target.columns]
    records = []
    for offset, (wkb, values) in enumerate(rows):
        reasons: list[str] = []
        ours = {column: None for column in columns}
        attributes: dict[str, Any] | None = None
        for name, column in p.ours.items():
            if column == target.extra:
                given = values.get(name)
                if isinstance(given, str) and given.strip():
                    try:
                        given = json.loads(given)
                    except ValueError:
                        reasons.append(f"bad {column}: not JSON")
                        given = None
                if given is not None and not isinstance(given, dict):
                    reasons.append(f"bad {column}: a JSON object is needed")
                elif given:
                    attributes = dict(given)
            else:
                ours[column] = _text(values.get(name))
        if p.extra:
            attributes = {**(attributes or {}), **{f: values.get(f) for f in p.extra}}
        if attributes is not None:
            try:
                check_attributes(attributes)
            except ValueError as exc:
                reasons.append(f"bad {target.extra}: {exc}")
                attributes = None
        original = {k: v for k, v in values.items() if k not in IGNORED_FIELDS}
        record = (first + offset, ORIGINAL_JSON(original), wkb, reasons)
        record += tuple(ours[c] for c in columns)
        if target.extra:
            record += (None if attributes is None else json.dumps(attributes, ensure_ascii=False),)
        records.append(record)
    return records


def _staged(source: Source, target: imports.Target, p: Plan) -> Iterator[list[tuple]]:
    """The file's rows as staging records, one batch at a time."""
    first = 1
    for rows in batches(source, BATCH):
        yield _records(rows, first, target, p)
        first += len(rows)


def dsn(settings: Settings) -> str:
    return make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(settings: Settings) -> asyncpg.Connection:
    """The job's own connection: no statement budget of a request, the lock timeout of writes."""
    return await asyncpg.connect(
        dsn(settings),
        server_settings={
            "application_name": "kaltim-land-import",
            "statement_timeout": str(int(settings.import_timeout_s * 1000)),
            "lock_timeout": str(int(settings.lock_timeout_s * 1000)),
        },
    )


async def run_job(
    conn: asyncpg.Connection,
    job_id: int,
    path: Path,
    filename: str,
    options: Options,
    actor: str,
    rules: GeometryRules,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the job to its end on `conn` (whose session holds the job's advisory lock); returns
    its outcome. Its state and counts are kept in its row as it goes."""
    say = on_progress or (lambda _: None)
    try:
        source, target, the_plan = await prepare(conn, path, filename, options)
        await imports.start(conn, job_id, source.format, source.crs)
        await imports.drop_stage(conn)
        await imports.create_stage(conn, target)
        read = 0
        stream = _staged(source, target, the_plan)
        # The next batch is read (in a thread) while this one is copied.
        upcoming = asyncio.ensure_future(asyncio.to_thread(next, stream, None))
        try:
            while (records := await upcoming) is not None:
                upcoming = asyncio.ensure_future(asyncio.to_thread(next, stream, None))
                await imports.copy_rows(conn, target, records)
                read += len(records)
                await imports.progress(conn, job_id, rows_read=read)
                say(f"read {read}")
        finally:
            if not upcoming.done():  # a failure stopped the copy: let the reader end its batch
                await asyncio.wait([upcoming])
            if not upcoming.cancelled():
                upcoming.exception()  # seen: the failure raised is the one that stopped us
        if read == 0:
            raise SourceInvalid("the file holds no features.")
        await imports.check(
            conn,
            target,
            the_plan.present,
            source.srid,
            rules,
            repair=options.repair,
            upsert=options.upsert,
        )
        counts = await imports.counts(conn)
        await imports.progress(conn, job_id, rows_checked=counts["read"])
        say(f"checked {counts['read']}")
        refusing = options.mode == "all_or_nothing" and counts["refused"] > 0
        stored_rows: tuple[int, int] | None = None
        if target.overlaps:
            # Overlaps are checked once where that can be: by the database's own rule on the
            # store, set-wise. Only when it refuses (or nothing will be stored) are the staged
            # rows checked, so that each overlap is named.
            if not refusing:
                try:
                    stored_rows = await _store(conn, target, the_plan, options, actor)
                except asyncpg.PostgresError as exc:
                    if getattr(exc, "sqlstate", "") != "KL001":
                        raise
            if stored_rows is None:
                await imports.check_overlaps(conn, upsert=options.upsert)
                counts = await imports.counts(conn)
                refusing = options.mode == "all_or_nothing" and counts["refused"] > 0
        if stored_rows is None and not refusing:
            stored_rows = await _store(conn, target, the_plan, options, actor)
        await imports.save_refusals(conn, job_id)
        inserted, updated = stored_rows or (0, 0)
        stored = 0 if options.dry_run else inserted + updated
        await imports.progress(conn, job_id, rows_stored=stored)
        say(f"stored {stored}")
        warnings = list(source.warnings)
        if counts["flattened"]:
            warnings.append(f"{counts['flattened']} rows had Z or M coordinates; they were flattened to 2D")
        if the_plan.extra:
            warnings.append(f"fields kept in {target.extra}: {', '.join(the_plan.extra)}")
        outcome = {
            "read": counts["read"],
            "refused": counts["refused"],
            "inserted": 0 if options.dry_run else inserted,
            "updated": 0 if options.dry_run else updated,
            "repaired": counts["repaired"],
            "flattened": counts["flattened"],
            "would_store": inserted + updated if options.dry_run else None,
            "fields": the_plan.ours,
            "warnings": warnings,
        }
        state = ImportState.refused if refusing else ImportState.succeeded
        await imports.finish(conn, job_id, state, outcome)
        return outcome
    except (SourceInvalid, OptionsInvalid) as exc:
        await imports.finish(conn, job_id, ImportState.failed, error=str(exc))
        return {"error": str(exc)}
    except asyncpg.PostgresError as exc:
        message = _database_message(exc)
        log.warning("import %s failed: %s", job_id, exc)
        await imports.finish(conn, job_id, ImportState.failed, error=message)
        return {"error": message}
    finally:
        try:
            await imports.drop_stage(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # the connection is gone, and its temporary table with it


async def _store(
    conn: asyncpg.Connection, target: imports.Target, the_plan: Plan, options: Options, actor: str
) -> tuple[int, int]:
    """Store the rows without a reason in one transaction (rolled back for a dry run); returns
    (inserted, updated). A rule of the database that refuses a row raises, and nothing is kept."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute("SELECT set_config('kaltim.actor', $1, true)", actor)
        stored = await imports.store(conn, target, the_plan.present, upsert=options.upsert)
    except BaseException:
        await transaction.rollback()
        raise
    if options.dry_run:
        await transaction.rollback()
    else:
        await transaction.commit()
    return stored


def _database_message(exc: asyncpg.PostgresError) -> str:
    code = getattr(exc, "sqlstate", "")
    if code == "KL001":
        return f"a parcel written while the import ran overlaps one of its rows ({exc}); nothing was stored."
    if code == "KL002":
        return f"the import would leave a project's parcels outside its zone ({exc}); nothing was stored."
    if code in ("55P03", "40001", "40P01"):
        return "other writes held the parcels this import needed; nothing was stored; send it again."
    if code == "57014":
        return "the import took longer than IMPORT_TIMEOUT_S; nothing was stored."
    return f"the database refused the import: {str(exc).splitlines()[0]}; nothing was stored."


class Runner:
    """The API's background jobs, one task each; cancelled (and marked failed) at shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tasks: set[asyncio.Task] = set()

    async def submit(
        self,
        path: Path,
        filename: str,
        options: Options,
        actor: str,
        may: Callable[[Role], bool] = lambda role: True,
    ) -> int:
        """Check that the file can be imported with these options (SourceInvalid, OptionsInvalid
        if not), record the job and start it; returns its id. The job owns `path` from here."""
        conn = await connect(self.settings)
        try:
            await prepare(conn, path, filename, options, may)
            job_id = await imports.create_job(conn, options.layer, filename, options.as_json(), actor)
        except BaseException:
            await conn.close()
            path.unlink(missing_ok=True)
            raise
        task = asyncio.create_task(self._run(conn, job_id, path, filename, options, actor))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return job_id

    async def _run(
        self, conn: asyncpg.Connection, job_id: int, path: Path, filename: str, options: Options, actor: str
    ) -> None:
        try:
            await run_job(conn, job_id, path, filename, options, actor, self.settings.geometry_rules)
        except asyncio.CancelledError:
            await asyncio.shield(
                imports.finish(
                    conn, job_id, ImportState.failed, error="the service stopped during the import"
                )
            )
            raise
        except Exception:
            log.exception("import %s failed", job_id)
            await imports.finish(conn, job_id, ImportState.failed, error="the import failed unexpectedly")
        finally:
            path.unlink(missing_ok=True)
            await conn.close()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
