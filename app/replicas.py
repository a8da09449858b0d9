"""Reads from hot standbys (DATABASE_REPLICA_URL), with read-your-own-writes.

PostgreSQL's own streaming replication keeps the standbys; the service only decides where each
request goes:

- Writes, and reads that write or must see the very latest (vector tiles, whose cache is on the
  primary; import jobs; /health), go to the primary.
- Other reads go to a standby, in turn, if it is reachable and not lagging: it has replayed the
  WAL the primary had written REPLICA_MAX_LAG_S ago (checked every REPLICA_POLL_S).
- Read-your-own-writes: every write answer carries the primary's WAL position after its commit
  (`X-Write-LSN`, and a cookie `kaltim_lsn`), and the server remembers it per key. A read that
  names a position (the `X-Min-LSN` header, the cookie, or its key's last write) goes to a standby
  only if the standby has replayed at least that far, else to the primary.

Every answer says where it was read (`X-Read-From: primary` or `replica`).
"""

import asyncio
import hashlib
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("app.replicas")

COOKIE = "kaltim_lsn"
HEADER = "x-min-lsn"
# Paths whose reads stay on the primary: the tile cache is written by reads and lives there (an
# unlogged table, which standbys cannot read); import jobs are written as they run; /health
# reports the primary.
PRIMARY_PATHS = re.compile(r"^/(tiles/|imports|health)")
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


def lsn_value(text_lsn: str | None) -> int | None:
    """`16/B374D848` -> an integer that orders like the WAL; None if it is not an LSN."""
    if not text_lsn or not _LSN.match(text_lsn.strip()):
        return None
    high, low = text_lsn.strip().split("/")
    return (int(high, 16) << 32) + int(low, 16)


def caller_key(request: Request) -> str | None:
    """Who writes, as remembered for their later reads: a digest of the Authorization header."""
    auth = request.headers.get("authorization")
    return None if auth is None else hashlib.sha256(auth.encode()).hexdigest()


@dataclass
class Standby:
    url: str
    ordinary: AsyncEngine
    heavy: AsyncEngine
    replayed: int = 0  # the WAL position it had replayed at the last poll
    healthy: bool = False


@dataclass
class Router:
    """Where each request reads, from what the poll last saw."""

    standbys: list[Standby]
    max_lag_s: float
    turn: int = 0
    # (monotonic time, primary WAL position) seen by the poll, newest last
    primary_seen: deque = field(default_factory=lambda: deque(maxlen=256))
    last_write: dict[str, int] = field(default_factory=dict)  # caller_key -> WAL position

    def required_position(self, request: Request) -> int:
        """The WAL position this read must see: the caller's own latest write, as far as known."""
        named = [
            lsn_value(request.headers.get(HEADER)),
            lsn_value(request.cookies.get(COOKIE)),
            self.last_write.get(caller_key(request) or ""),
        ]
        return max((n for n in named if n is not None), default=0)

    def _fresh_enough(self) -> int:
        """The primary's position REPLICA_MAX_LAG_S ago: a standby behind it lags too much."""
        horizon = time.monotonic() - self.max_lag_s
        older = [lsn for at, lsn in self.primary_seen if at <= horizon]
        return older[-1] if older else 0

    def choose(self, request: Request) -> Standby | None:
        """A standby for this read, or None: the primary."""
        if request.method not in ("GET", "HEAD") or PRIMARY_PATHS.match(request.url.path):
            return None
        needed = max(self.required_position(request), self._fresh_enough())
        usable = [s for s in self.standbys if s.healthy and s.replayed >= needed]
        if not usable:
            return None
        self.turn += 1
        return usable[self.turn % len(usable)]

    def wrote(self, request: Request, position: int) -> None:
        key = caller_key(request)
        if key is not None:
            if len(self.last_write) > 10_000:
                self.last_write.clear()
            self.last_write[key] = max(position, self.last_write.get(key, 0))

    async def poll(self, primary: AsyncEngine, every_s: float) -> None:
        """Forever: the primary's WAL position, and each standby's replay position and health."""
        while True:
            try:
                async with primary.connect() as conn:
                    position = lsn_value(await conn.scalar(text("SELECT pg_current_wal_lsn()::text")))
                self.primary_seen.append((time.monotonic(), position or 0))
            except Exception as exc:  # noqa: BLE001 - a poll must survive anything the database does
                log.warning("replica poll: the primary did not answer: %s", exc)
            for standby in self.standbys:
                try:
                    async with standby.ordinary.connect() as conn:
                        replayed = await conn.scalar(text("SELECT pg_last_wal_replay_lsn()::text"))
                    standby.replayed = lsn_value(replayed) or 0
                    standby.healthy = replayed is not None  # None: not a standby at all
                except Exception as exc:  # noqa: BLE001
                    if standby.healthy:
                        log.warning("replica %s is unreachable: %s", standby.url, exc)
                    standby.healthy = False
            await asyncio.sleep(every_s)


class Headers:
    """ASGI middleware: `X-Read-From` on every answer that read the database; on a write's answer,
    the primary's WAL position after it (`X-Write-LSN`, the `kaltim_lsn` cookie), remembered for
    the caller's key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state", {})
                headers = MutableHeaders(scope=message)
                if "read_from" in state:
                    headers["X-Read-From"] = state["read_from"]
                lsn = state.get("write_lsn")
                if lsn and 200 <= message["status"] < 300:
                    headers["X-Write-LSN"] = lsn
                    headers.append(
                        "Set-Cookie", f"{COOKIE}={lsn}; Path=/; Max-Age=600; SameSite=Lax; HttpOnly"
                    )
                    router = scope["app"].state.pools.router
                    if router is not None:
                        router.wrote(Request(scope), lsn_value(lsn) or 0)
            await send(message)

        await self.app(scope, receive, noted)
