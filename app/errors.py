"""Domain errors and their RFC 9457 problem responses, mapped in one place."""

import asyncio
import json
import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"
# Where OGC API - Features is served: it answers an invalid parameter with 400, not 422.
OGC_ROOT = "/ogc"
PROBLEM_BASE = "/problems/"

# slug -> (title, what it means); served at /problems/{slug} so every `type` resolves.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "bad-request": ("Bad request", "The request could not be read, e.g. malformed JSON."),
    "validation": ("Invalid request", "A parameter or a property failed validation; see `errors`."),
    "geometry-invalid": (
        "Invalid geometry",
        "The geometry is not valid GeoJSON for this resource: wrong type, unclosed or short ring, "
        "self-intersection, or coordinates outside the world or the area of interest. "
        "`detail` says which; `hint` says how to fix it where a fix is obvious.",
    ),
    "not-found": ("Not found", "No resource with that identifier."),
    "duplicate": ("Duplicate", "A resource with that code already exists."),
    "parcel-overlap": (
        "Parcel overlaps",
        "The parcel's interior overlaps other parcels, listed in `overlapping_parcel_ids`. "
        "Send `allow_overlap=true` to store it anyway (the overlap is then recorded as allowed).",
    ),
    "project-rule": (
        "Project rule",
        "The change would put a project's parcel outside the project's zone, or give a parcel to a "
        "second active project. `project_id`, `project`, `zone` and `parcel_ids` name what conflicts.",
    ),
    "conflict-retry": (
        "Concurrent write",
        "A concurrent write touched the same ground (or the same rows) and this one was stopped "
        "before it changed anything; send it again.",
    ),
    "in-use": (
        "In use",
        "Another resource still refers to this one: a parcel that belongs to an investment project, or a "
        "zone that has projects. Take it out of the project, or delete or move the projects, first.",
    ),
    "unauthorized": (
        "Unauthorized",
        "The request needs `Authorization: Bearer <key>` with a valid key, or the key sent is unknown "
        "or revoked.",
    ),
    "forbidden": (
        "Forbidden",
        "The key is valid, but its role may not do this; `required_role` says which may.",
    ),
    "method-not-allowed": ("Method not allowed", "The resource does not support that method."),
    "too-large": (
        "Request too large",
        "The request body is larger than the service accepts (setting MAX_BODY_BYTES; for files sent "
        "to POST /imports, IMPORT_MAX_BYTES).",
    ),
    "precondition-failed": (
        "Precondition failed",
        "`If-Match` named a version of the resource that is no longer current: someone changed it "
        "since you read it. Read it again (its `ETag`), reapply your change and send it with the new ETag.",
    ),
    "unavailable": (
        "Service unavailable",
        "The database cannot be reached just now, or every connection is busy. Nothing was changed; "
        "retry after the number of seconds in `Retry-After`.",
    ),
    "busy": (
        "Busy",
        "Another write held the ground or the rows this one needed for longer than the lock timeout "
        "(setting LOCK_TIMEOUT_S); nothing was changed. Retry after `Retry-After` seconds.",
    ),
    "timeout": (
        "Query over its time budget",
        "The request needed more time in the database than its budget allows and was stopped; nothing "
        "was changed. Narrow it (a smaller bbox or page, a simpler filter), or retry later.",
    ),
    "import-invalid": (
        "File cannot be imported",
        "The file is not one the import can read as it is (an unsupported or corrupt format, an empty "
        "file, a zip without a .shp, a CRS PostGIS does not know), or the options do not fit it (a "
        "mapping from a field it lacks, fields we do not have). `detail` says which; nothing was stored.",
    ),
    "internal": ("Internal error", "An unexpected error; it has been logged."),
}


# Foreign keys that can refuse a delete, and what to tell the caller.
IN_USE = {
    "fk_project_parcel_parcel_id_parcel": "The parcel belongs to an investment project; "
    "take it out of the project first.",
    "fk_project_zone_id_zone": "The zone has investment projects; "
    "delete them or move them to another zone first.",
}


class Problem(Exception):
    """An error that becomes a problem response. Subclasses fix status and type."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class BadRequest(Problem):
    """A request the server cannot read; OGC API - Features also answers invalid parameters so."""

    status = 400
    slug = "bad-request"


class ValidationProblem(Problem):
    status = 422
    slug = "validation"


class GeometryInvalid(Problem):
    status = 422
    slug = "geometry-invalid"

    def __init__(self, reason: str, hint: str | None = None, **extensions: Any) -> None:
        if hint:
            extensions["hint"] = hint
        super().__init__(reason, **extensions)


class ImportInvalid(Problem):
    status = 422
    slug = "import-invalid"


class NotFound(Problem):
    status = 404
    slug = "not-found"


class ParcelOverlap(Problem):
    status = 409
    slug = "parcel-overlap"

    def __init__(self, ids: list[int]) -> None:
        shown = ", ".join(str(i) for i in ids)
        super().__init__(f"The parcel overlaps existing parcels: {shown}.", overlapping_parcel_ids=ids)


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"


class Forbidden(Problem):
    status = 403
    slug = "forbidden"


class PreconditionFailed(Problem):
    status = 412
    slug = "precondition-failed"


class Unavailable(Problem):
    """The database is down or busy: worth retrying after `retry_after` seconds."""

    status = 503
    slug = "unavailable"
    retry_after = 5


class OverBudget(Unavailable):
    slug = "timeout"
    retry_after = 10


class Busy(Unavailable):
    """A lock wait ran past lock_timeout (55P03)."""

    slug = "busy"
    retry_after = 2


class ProjectRule(Problem):
    status = 409
    slug = "project-rule"


class ConflictRetry(Problem):
    """Serialization failure (40001) or deadlock (40P01): the write lost a race; send it again."""

    status = 409
    slug = "conflict-retry"


# A 503's Retry-After header: how many seconds a client should wait before it tries again.
def _retry_headers(status: int, retry_after: int | None) -> dict | None:
    return {"Retry-After": str(retry_after)} if status == 503 and retry_after else None


def problem_response(
    status: int, slug: str, detail: str, request: Request, headers: dict | None = None, **extensions: Any
) -> JSONResponse:
    title = PROBLEM_TYPES.get(slug, (slug, ""))[0]
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(errors: list[dict]) -> list[dict]:
    """Pydantic's errors without echoing the (possibly huge) input or internal context objects."""
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}
        for error in errors
    ]


def _location(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
    return ".".join(loc) or "request"


# SQLSTATE classes: 22 data exception, 23 integrity constraint violation.
def _sqlstate(exc: DBAPIError) -> tuple[str, str | None]:
    orig = getattr(exc.orig, "__cause__", None) or exc.orig
    return getattr(orig, "sqlstate", "") or "", getattr(orig, "constraint_name", None)


def _detail(exc: DBAPIError) -> Any:
    """The JSON the database's rule triggers put in DETAIL (None if there is none)."""
    orig = getattr(exc.orig, "__cause__", None) or exc.orig
    try:
        return json.loads(getattr(orig, "detail", None) or "null")
    except ValueError:
        return None


def _message(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "__cause__", None) or exc.orig).splitlines()[0]


def rule_problem(exc: BaseException) -> Problem | None:
    """The problem for a refusal by one of the database's rules (triggers, the one-active-project
    index) or a lost race between writers, else None."""
    if not isinstance(exc, DBAPIError):
        return None
    sqlstate, constraint = _sqlstate(exc)
    if sqlstate == "KL001":
        return ParcelOverlap([int(i) for i in _detail(exc) or []])
    if sqlstate == "KL002":
        found = _detail(exc) or {}
        return ProjectRule(_message(exc) + ".", **{k: v for k, v in found.items() if k != "rule"})
    if sqlstate == "23505" and constraint == "ux_project_parcel_active_parcel_id":
        return ProjectRule("A parcel can serve only one active project; it is already used by another.")
    if sqlstate in ("40001", "40P01"):
        return ConflictRetry("A concurrent write touched the same ground; retry.")
    return None


# 08: connection exceptions; 57P01-57P03: the server shuts down, crashed or is starting;
# 53300: too many connections.
UNREACHABLE = ("08", "57P01", "57P02", "57P03", "53300")
# Errors of the driver and the OS when the server is not there at all.
CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.exceptions.InterfaceError, InterfaceError)


def unavailable(exc: BaseException) -> Unavailable | None:
    """The problem for an error that means "the database cannot serve this now", else None."""
    if isinstance(exc, PoolTimeout):
        return Unavailable("Every database connection is busy; retry shortly.")
    if isinstance(exc, DBAPIError):
        sqlstate, _ = _sqlstate(exc)
        if sqlstate == "57014":
            return OverBudget("The query took longer than its time budget and was stopped.")
        if sqlstate == "55P03":
            return Busy("Another write held what this one needed for longer than the lock timeout.")
        if sqlstate.startswith(UNREACHABLE):
            return Unavailable("The database is not available just now; retry shortly.")
        if not sqlstate and (exc.connection_invalidated or isinstance(exc.orig, CONNECTION_ERRORS)):
            return Unavailable("The database connection was lost; retry shortly.")
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, CONNECTION_ERRORS) or isinstance(cause, CONNECTION_ERRORS):
        return Unavailable("The database cannot be reached just now; retry shortly.")
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        headers = headers or _retry_headers(exc.status, getattr(exc, "retry_after", None))
        return problem_response(exc.status, exc.slug, exc.detail, request, headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            msg = errors[0].get("ctx", {}).get("error", "") if errors else ""
            return problem_response(400, "bad-request", f"The body is not valid JSON: {msg}", request)
        detail = "; ".join(f"{_location(e)}: {e.get('msg', '')}" for e in errors[:5])
        # OGC API - Features asks for 400 on an invalid parameter; the rest of the API says 422.
        path = request.url.path
        status = 400 if path == OGC_ROOT or path.startswith(OGC_ROOT + "/") else 422
        return problem_response(status, "validation", detail, request, errors=_validation_errors(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 413: "too-large"}.get(
            exc.status_code, "bad-request"
        )
        detail = str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):  # FastAPI could not parse the body
            detail = "The body's JSON is nested too deeply to be read."
        return problem_response(exc.status_code, slug, detail, request, exc.headers)

    def _unavailable(request: Request, problem: Unavailable) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, problem.detail)
        headers = _retry_headers(problem.status, problem.retry_after)
        return problem_response(problem.status, problem.slug, problem.detail, request, headers)

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, exc: PoolTimeout) -> JSONResponse:
        return _unavailable(request, unavailable(exc))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        problem = unavailable(exc)
        if problem is not None:
            return _unavailable(request, problem)
        refused = rule_problem(exc)
        if refused is not None:
            return problem_response(
                refused.status, refused.slug, refused.detail, request, **refused.extensions
            )
        sqlstate, constraint = _sqlstate(exc)
        if sqlstate == "23505":
            return problem_response(
                409, "duplicate", "A resource with that code already exists.", request, constraint=constraint
            )
        if sqlstate == "23503":
            detail = IN_USE.get(constraint, "Another resource refers to it.")
            return problem_response(409, "in-use", detail, request, constraint=constraint)
        if sqlstate.startswith(("22", "23")):
            message = _message(exc)
            return problem_response(
                422, "validation", f"The database refused a value: {message}", request, constraint=constraint
            )
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal", "An unexpected database error occurred.", request)

    # Connection failures raised outside SQLAlchemy's wrapping (a refused or reset connect while
    # the database restarts) get handlers of their own: a handler for Exception alone answers,
    # but Starlette then re-raises the error to the server, which logs it and drops the connection.
    @app.exception_handler(OSError)
    @app.exception_handler(asyncpg.exceptions.InterfaceError)
    async def _connection(request: Request, exc: Exception) -> JSONResponse:
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        problem = unavailable(exc)
        if problem is not None:
            return _unavailable(request, problem)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "internal", "An unexpected error occurred.", request)
