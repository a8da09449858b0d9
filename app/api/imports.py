"""Import jobs: POST a file, follow the job, download the rows it refused."""

import json
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from app.api.deps import Caller, SettingsDep, require
from app.db import SessionDep
from app.errors import BadRequest, ImportInvalid, NotFound
from app.importer import REFUSALS_IN_REPORT, Options, OptionsInvalid
from app.models import Role
from app.queries import imports
from app.schemas.common import ProblemOut
from app.schemas.imports import ImportJobList, ImportJobOut
from app.sources import SourceInvalid, format_of

# Import jobs hold the files' own properties (landholders' names among them): editors only.
EditorCaller = Annotated[Caller, Depends(require(Role.editor))]
router = APIRouter(prefix="/imports", tags=["imports"])
JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The import job's id.")]
CHUNK = 1024 * 1024
PROBLEMS = {401: {"model": ProblemOut}, 403: {"model": ProblemOut}, 404: {"model": ProblemOut}}


def _links(request: Request, job_id: int) -> list[dict]:
    base = str(request.url_for("get_import", job_id=job_id))
    return [
        {"rel": "self", "href": base, "type": "application/json"},
        {"rel": "refused", "href": f"{base}/refused", "type": "application/geo+json"},
    ]


def _out(request: Request, job: dict, refused: list[dict]) -> dict:
    return {**job, "refused_rows": refused, "links": _links(request, job["id"])}


@router.post(
    "",
    status_code=202,
    responses={
        202: {"model": ImportJobOut},
        400: {"model": ProblemOut},
        413: {"model": ProblemOut},
        **PROBLEMS,
    },
)
async def create_import(
    request: Request,
    who: EditorCaller,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="GeoJSON, GeoPackage, zipped Shapefile, FlatGeobuf, KML/KMZ or CSV.")
    ],
    layer: Annotated[
        str,
        Form(
            description="Where the features go: `parcels`, `zones`, `facilities`, or a constraint layer's "
            "name (its areas; admins only).",
            max_length=63,
        ),
    ] = "parcels",
    crs: Annotated[
        str | None, Form(description="The coordinates' CRS where the file names none (EPSG:23837).")
    ] = None,
    source_layer: Annotated[
        str | None, Form(description="The layer of a GeoPackage to read (default: the first).")
    ] = None,
    mapping: Annotated[
        str | None,
        Form(
            description='JSON object: the file\'s field -> ours, e.g. {"NIB": "code", "PEMILIK": "holder"}.'
        ),
    ] = None,
    dry_run: Annotated[bool, Form(description="Check everything, store nothing.")] = False,
    mode: Annotated[Literal["all_or_nothing", "skip_invalid"], Form()] = "all_or_nothing",
    upsert: Annotated[bool, Form(description="Update the parcels whose code exists.")] = False,
    repair: Annotated[
        bool, Form(description="Repair invalid geometry (ST_MakeValid) instead of refusing it.")
    ] = False,
    unknown_fields: Annotated[Literal["refuse", "attributes", "ignore"], Form()] = "refuse",
):
    """Start importing a file: 202 with the job, which runs in the background. Follow it at its
    `self` link; the rows it refused, with their reasons, are at its `refused` link."""
    try:
        fmt = format_of(file.filename or "")
    except SourceInvalid as exc:
        raise BadRequest(str(exc)) from None
    fields = _mapping(mapping)
    options = Options(
        layer=layer,
        crs=crs,
        source_layer=source_layer,
        mapping=fields,
        dry_run=dry_run,
        mode=mode,
        upsert=upsert,
        repair=repair,
        unknown_fields=unknown_fields,
    )
    suffix = FilePath(file.filename or "").suffix.lower()
    handle, name = tempfile.mkstemp(prefix="import-", suffix=suffix, dir=settings.import_dir)
    path = FilePath(name)
    try:
        with open(handle, "wb") as out:
            while chunk := await file.read(CHUNK):
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        job_id = await request.app.state.imports.submit(
            path, file.filename or f"upload{suffix}", options, who.name, who.may
        )
    except (SourceInvalid, OptionsInvalid) as exc:
        raise ImportInvalid(str(exc)) from None
    body = {"id": job_id, "state": "queued", "format": fmt, "links": _links(request, job_id)}
    return JSONResponse(body, status_code=202, headers={"Location": _links(request, job_id)[0]["href"]})


def _mapping(mapping: str | None) -> dict[str, str]:
    if mapping is None or not mapping.strip():
        return {}
    try:
        value = json.loads(mapping)
    except ValueError:
        raise BadRequest('mapping: not JSON; send an object such as {"NIB": "code"}.') from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest('mapping: an object of the file\'s field names to ours, such as {"NIB": "code"}.')
    return value


@router.get("", responses={200: {"model": ImportJobList}, **PROBLEMS})
async def list_imports(
    request: Request,
    who: EditorCaller,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Jobs older than this id.")] = None,
):
    """Import jobs, newest first."""
    jobs = await imports.jobs(session, limit, before)
    links = [{"rel": "self", "href": str(request.url), "type": "application/json"}]
    if len(jobs) == limit:
        links.append(
            {
                "rel": "next",
                "href": str(request.url.include_query_params(before=jobs[-1]["id"])),
                "type": "application/json",
            }
        )
    return {"imports": [{**j, "links": _links(request, j["id"])} for j in jobs], "links": links}


@router.get("/{job_id}", name="get_import", responses={200: {"model": ImportJobOut}, **PROBLEMS})
async def get_import(request: Request, job_id: JobId, who: EditorCaller, session: SessionDep):
    """A job's state, progress (rows read, checked, stored) and, at its end, its outcome: counts,
    warnings, and the first refused rows with their reasons."""
    job = await imports.job(session, job_id)
    if job is None:
        raise NotFound(f"No import job {job_id}.")
    refused = await imports.refusals(session, job_id, REFUSALS_IN_REPORT)
    return _out(request, job, refused)


@router.get(
    "/{job_id}/refused",
    responses={
        200: {"content": {"application/geo+json": {}}, "description": "A FeatureCollection."},
        **PROBLEMS,
    },
)
async def get_refused(job_id: JobId, who: EditorCaller, session: SessionDep):
    """The refused rows as GeoJSON, for QGIS: the file's own properties, `import_row` and
    `import_reasons`. Fix them and send the file again with the same options."""
    if await imports.job(session, job_id) is None:
        raise NotFound(f"No import job {job_id}.")
    body = await imports.refused_collection(session, job_id)
    return Response(
        body,
        media_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-refused.geojson"'},
    )
