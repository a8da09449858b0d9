from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import Operation
from app.schemas.common import Link


class ChangeOut(BaseModel):
    """One recorded insert, update or delete."""

    id: int
    table: str = Field(
        description="`zone`, `parcel`, `facility`, `project`, or `project_parcel` (a project's parcel list)."
    )
    key: str = Field(description="The row's code or id.")
    operation: Operation
    actor: str = Field(
        description="The API key's name, or the database user for changes made outside the API."
    )
    changed_at: datetime
    before: dict[str, Any] | None = Field(
        description="The row's columns before the change (`geom` as GeoJSON); null for an insert."
    )
    after: dict[str, Any] | None = Field(description="The row's columns after the change; null for a delete.")


class ChangeList(BaseModel):
    changes: list[ChangeOut] = Field(description="Newest first.")
    numberMatched: int
    numberReturned: int
    links: list[Link]
