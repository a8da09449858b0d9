"""What routes share: settings, who calls and what their key may do, list parameters, GeoJSON
responses. Paging, bboxes and FeatureCollections are in app.api.lists."""

import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app import etag
from app.config import Settings
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized, ValidationProblem
from app.models import Role
from app.queries import keys

GEOJSON = "application/geo+json"


async def app_settings(request: Request) -> Settings:
    """The settings the app was made with. (Not a dependency override: FastAPI analyses every
    dependency again on every request while any override is set.)"""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A key made by `python -m app.cli keys create`, or one of the API_KEYS setting (admin).",
)
RANK = {Role.reader: 1, Role.editor: 2, Role.admin: 3}


@dataclass(frozen=True)
class Caller:
    """Who sends the request: the key's name and role, or no one (no key)."""

    name: str | None = None
    role: Role | None = None

    @property
    def keyed(self) -> bool:
        return self.role is not None

    def may(self, role: Role) -> bool:
        return self.role is not None and RANK[self.role] >= RANK[role]


ANONYMOUS = Caller()


class KeyCache:
    """Live keys looked up in the last `seconds`, by hash, so that a busy client costs one lookup
    every few seconds rather than one per request. A revoked key is refused once its entry is
    older than `seconds`. Unknown keys are not remembered."""

    def __init__(self, seconds: float, size: int = 1000) -> None:
        self.seconds, self.size = seconds, size
        self.entries: dict[str, tuple[float, Caller]] = {}

    def get(self, key_hash: str) -> Caller | None:
        entry = self.entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, caller: Caller) -> None:
        if self.seconds <= 0:
            return
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[key_hash] = (time.monotonic() + self.seconds, caller)


async def caller(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller: anonymous without a bearer key; 401 for a key that is unknown or revoked.
    The API_KEYS setting's keys are admins named env-key-1, env-key-2 ... in their order."""
    if credentials is None:
        return ANONYMOUS
    given = credentials.credentials
    for number, key in enumerate(settings.api_keys, start=1):
        if secrets.compare_digest(given.encode(), key.encode()):
            return Caller(keys.ENV_KEY_NAME.format(number), Role.admin)
    key_hash = keys.hash_key(given)
    cache: KeyCache = request.app.state.key_cache
    found = cache.get(key_hash)
    if found is None:
        stored = await keys.find_key(session, key_hash)
        if stored is None:
            raise Unauthorized("The API key is not valid, or it has been revoked.")
        found = Caller(stored[0], Role(stored[1]))
        cache.put(key_hash, found)
    return found


CallerDep = Annotated[Caller, Depends(caller)]


def require(role: Role):
    """A dependency: the caller's key must have `role` or a higher one (401 without a key, 403
    with a lower one). For writes it names the key as the actor the history records."""

    async def check(who: CallerDep, session: SessionDep) -> Caller:
        if not who.keyed:
            raise Unauthorized(
                f"This request needs a key with role {role} or higher: send `Authorization: Bearer <key>`."
            )
        if not who.may(role):
            raise Forbidden(
                f"The key {who.name!r} has role {who.role}; this request needs {role}.",
                required_role=role.value,
            )
        if role is not Role.reader:
            await keys.set_actor(session, who.name)
        return who

    return check


EditorKey = Depends(require(Role.editor))
AdminKey = Depends(require(Role.admin))
WriteKey = EditorKey


async def read_access(who: CallerDep, settings: SettingsDep) -> Caller:
    """Reads are open unless the require_read_key setting asks for a key (any role)."""
    if settings.require_read_key and not who.keyed:
        raise Unauthorized("Reads need a key on this server: send `Authorization: Bearer <key>`.")
    return who


# Every data router carries it: a key sent must be valid, and reads may need one.
ReadAccess = Depends(read_access)


async def sees_holder(who: CallerDep, settings: SettingsDep) -> bool:
    """Parcels' `holder` is personal data: callers with a key see it, others only if expose_holder."""
    return settings.expose_holder or who.keyed


HolderDep = Annotated[bool, Depends(sees_holder)]


async def as_of_param(
    as_of: Annotated[
        str | None,
        Query(
            description="An RFC 3339 time with its offset: answer as the data stood then (from history).",
            examples=["2026-12-01T08:00:00Z"],
        ),
    ] = None,
) -> datetime | None:
    if as_of is None:
        return None
    try:
        when = datetime.fromisoformat(as_of)
        when = when.astimezone(UTC) if when.tzinfo is not None else None
    except (ValueError, OverflowError):
        when = None
    if when is None:
        raise ValidationProblem(
            "as_of: expected an RFC 3339 time with its offset, e.g. 2026-12-01T08:00:00Z."
        )
    if when > datetime.now(UTC):
        raise ValidationProblem("as_of: the time is in the future; history knows only the past.")
    return when


AsOfDep = Annotated[datetime | None, Depends(as_of_param)]


class GeoJSONResponse(Response):
    media_type = GEOJSON


async def if_match(
    header: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="Change only the version with this strong ETag (from a GET); 412 if it is "
            "no longer current. `*`: only if it exists.",
        ),
    ] = None,
) -> list[str] | None:
    return None if header is None else etag.parse_list(header)


IfMatchDep = Annotated[list[str] | None, Depends(if_match)]


def versioned(body: str, media_type: str = GEOJSON, status_code: int = 200, **headers: str) -> Response:
    """A single resource with its strong ETag, the one a later `If-Match` must name."""
    return Response(
        body, status_code=status_code, media_type=media_type, headers={"ETag": etag.strong(body), **headers}
    )


def csv_enum(name: str, text: str | None, enum: type[StrEnum]) -> list[str] | None:
    """`a,b` -> ['a', 'b'], each checked against `enum`; None when absent."""
    if text is None:
        return None
    values = [part.strip() for part in text.split(",") if part.strip()]
    allowed = [member.value for member in enum]
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValidationProblem(
            f"{name}: unknown value {', '.join(map(repr, unknown)) or 'none given'}; "
            f"allowed: {', '.join(allowed)}."
        )
    return list(dict.fromkeys(values))


def csv_list(text: str | None) -> list[str] | None:
    """`a, b` -> ['a', 'b']; None when absent."""
    if text is None:
        return None
    values = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    return values or None


def point_param(
    name: str, text: str | None, radius: float | None, radius_name: str
) -> tuple[float, float] | None:
    """`lon,lat` -> (lon, lat), which must come with its radius; None when absent."""
    if text is None and radius is None:
        return None
    if text is None or radius is None:
        raise ValidationProblem(f"{name} and {radius_name} go together: give both or neither.")
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        raise ValidationProblem(f"{name}: expected lon,lat, e.g. 116.80,-1.12.") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationProblem(f"{name}: longitude must lie within ±180 and latitude within ±90.")
    return lon, lat
