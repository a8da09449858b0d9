"""Import jobs as the API reports them."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import ImportState


class Link(BaseModel):
    rel: str
    href: str
    type: str


class RefusedRow(BaseModel):
    row_number: int = Field(description="The row's place in the file, from 1.")
    code: str | None
    reasons: list[str]


class Outcome(BaseModel):
    read: int
    refused: int
    inserted: int
    updated: int
    repaired: int = Field(description="Rows stored after their geometry was repaired (repair=true).")
    flattened: int = Field(description="Rows whose Z or M coordinates were dropped.")
    would_store: int | None = Field(description="In a dry run, the rows that would have been stored.")
    fields: dict[str, str] = Field(description="The file's fields and the properties they filled.")
    warnings: list[str]


class ImportJobOut(BaseModel):
    id: int
    layer: str
    state: ImportState
    filename: str
    format: str | None
    crs: str | None = Field(description="The CRS the coordinates were read in.")
    options: dict[str, Any]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    rows_checked: int
    rows_stored: int
    outcome: Outcome | None
    error: str | None = Field(description="Why the job failed, when it did.")
    refused_rows: list[RefusedRow] = Field(
        description="The first 100 refused rows; all are at the refused link."
    )
    links: list[Link]


class ImportJobList(BaseModel):
    imports: list[dict[str, Any]]
    links: list[Link]
