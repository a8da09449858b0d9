from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.deps import IfMatchDep, ReadAccess, WriteKey, csv_enum, versioned
from app.api.lists import PagingDep, collection
from app.db import SessionDep
from app.models import ProjectStatus
from app.queries import history, projects
from app.schemas.common import ProblemOut
from app.schemas.history import ChangeList
from app.schemas.projects import ProjectIn, ProjectList, ProjectOut, ProjectPatch

router = APIRouter(prefix="/projects", tags=["projects"], dependencies=[ReadAccess])

JSON = "application/json"
ONE = {200: {"model": ProjectOut}, 404: {"model": ProblemOut}}
WRITE = {401: {"model": ProblemOut}, 403: {"model": ProblemOut}, 422: {"model": ProblemOut}}
ProjectId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The project's id.")]
Status = Annotated[str | None, Query(description="Comma-separated statuses.")]
Sector = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("", responses={200: {"model": ProjectList}})
async def list_projects(
    request: Request, session: SessionDep, paging: PagingDep, status: Status = None, sector: Sector = None
):
    """Investment projects ready to offer (IPRO), ordered by id."""
    page = await projects.list_projects(
        session,
        zone=None,
        status=csv_enum("status", status, ProjectStatus),
        sector=sector,
        limit=paging.limit,
        offset=paging.offset,
    )
    return await collection(page, request, paging, member="projects")


@router.post("", status_code=201, dependencies=[WriteKey], responses={201: {"model": ProjectOut}, **WRITE})
async def create_project(body: ProjectIn, session: SessionDep):
    """Create a project. Its parcels must exist and lie in its zone; its geometry is their union."""
    project_id, project = await projects.create_project(session, body)
    return versioned(project, JSON, status_code=201, Location=f"/projects/{project_id}")


@router.get("/{project_id}", responses=ONE)
async def get_project(project_id: ProjectId, session: SessionDep):
    return versioned(await projects.get_project(session, project_id), JSON)


@router.patch("/{project_id}", dependencies=[WriteKey], responses={**ONE, **WRITE})
async def update_project(
    project_id: ProjectId, body: ProjectPatch, session: SessionDep, if_match: IfMatchDep
):
    """Change the fields sent; `parcel_ids`, when sent, replaces the project's parcels. With
    `If-Match`, only if the project is still the version of that ETag (412 otherwise)."""
    return versioned(await projects.update_project(session, project_id, body, if_match), JSON)


@router.delete(
    "/{project_id}", status_code=204, dependencies=[WriteKey], responses={404: {"model": ProblemOut}}
)
async def delete_project(project_id: ProjectId, session: SessionDep, if_match: IfMatchDep):
    await projects.delete_project(session, project_id, if_match)
    return Response(status_code=204)


@router.get("/{project_id}/history", responses={200: {"model": ChangeList}, 404: {"model": ProblemOut}})
async def project_history(project_id: ProjectId, request: Request, session: SessionDep, paging: PagingDep):
    """Every recorded change of the project and of its parcel list (table `project_parcel`,
    `{"parcel_ids": [...]}` before and after), newest first, also once it is deleted."""
    page = await history.changes_of(
        session,
        "project",
        "id",
        project_id,
        lambda: projects.not_found(project_id),
        show_holder=True,
        limit=paging.limit,
        offset=paging.offset,
    )
    return await collection(page, request, paging, member="changes")
