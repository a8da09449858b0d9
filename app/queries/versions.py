"""Optimistic concurrency: a write with `If-Match` goes ahead only on the version the client saw.

The row is locked first (FOR UPDATE), so between the comparison and the write nobody else can
change it; a concurrent writer holding the same ETag waits, then sees the new version and gets
412. Tags are compared strongly (RFC 9110 §13.1.1): a weak tag never matches.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app import etag
from app.errors import NotFound, PreconditionFailed


async def check_if_match(
    session: AsyncSession,
    *,
    table: str,
    key_column: str,
    key: Any,
    if_match: list[str] | None,
    current: Callable[[], Awaitable[str]],
    not_found: NotFound,
) -> None:
    """Lock the row and refuse (412) unless `if_match` holds `*` or the current representation's
    strong ETag. Without `if_match`, nothing is checked."""
    if if_match is None:
        return
    sql = f"SELECT true FROM {table} WHERE {key_column} = :key FOR UPDATE"
    if await session.scalar(text(sql), {"key": key}) is None:
        raise not_found
    if "*" in if_match:
        return
    tag = etag.strong(await current())
    if tag not in if_match:
        raise PreconditionFailed(
            f"If-Match {', '.join(if_match)} does not name the current version, {tag}: the resource "
            "changed since it was read. Read it again and reapply the change.",
            current_etag=tag,
        )
