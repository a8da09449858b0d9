"""API keys: made here, shown once, stored as their SHA-256; and the actor the history triggers record.

A key is `klk_` and 43 characters of base64url (256 random bits), so a plain SHA-256 is enough
to store it: there is nothing to guess, and no salt or slow hash is needed. The first 12
characters are kept as its prefix, to recognise a key in `keys list` without revealing it.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import read

KEY_PREFIX = "klk_"
PREFIX_LENGTH = 12
# Names the API_KEYS setting's keys take; a stored key may not take one.
ENV_KEY_NAME = "env-key-{}"


@dataclass(frozen=True)
class StoredKey:
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(session: AsyncSession, name: str, role: str) -> str | None:
    """Store a new key under `name` and return it: the only time it is seen. None if the name is
    taken (revoked keys keep theirs). The caller commits."""
    key = new_key()
    sql = """INSERT INTO api_key (name, role, key_hash, prefix) VALUES (:name, :role, :hash, :prefix)
             ON CONFLICT (name) DO NOTHING RETURNING id"""
    params = {"name": name, "role": role, "hash": hash_key(key), "prefix": key[:PREFIX_LENGTH]}
    return key if await session.scalar(text(sql), params) is not None else None


async def list_keys(session: AsyncSession) -> list[StoredKey]:
    sql = "SELECT name, role, prefix, created_at, revoked_at FROM api_key ORDER BY name"
    return [StoredKey(*row) for row in (await session.execute(text(sql))).all()]


async def revoke_key(session: AsyncSession, name: str) -> datetime | None:
    """Revoke the key named `name`; its revocation time (the earlier one if it was revoked
    already), or None if there is no such key. The caller commits."""
    sql = """UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE name = :name
             RETURNING revoked_at"""
    return await session.scalar(text(sql), {"name": name})


async def find_key(session: AsyncSession, key_hash: str) -> tuple[str, str] | None:
    """(name, role) of the live key with this hash, or None: one lookup on the unique index."""
    sql = "SELECT name, role FROM api_key WHERE key_hash = :hash AND revoked_at IS NULL"
    rows = await read(session, sql, {"hash": key_hash})
    return (rows[0]["name"], rows[0]["role"]) if rows else None


async def set_actor(session: AsyncSession, name: str) -> None:
    """Name who writes in this transaction, for the history triggers (`kaltim.actor`)."""
    await session.execute(text("SELECT set_config('kaltim.actor', :name, true)"), {"name": name})
