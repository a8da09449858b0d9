"""Bounds on every request that no client may take away from the others.

- BodyLimit: a body larger than `max_body_bytes` gets 413 before it is read or parsed, and
  before the key is checked: at once when Content-Length says so, as soon as the limit is passed
  for a body sent in chunks.
- CancelOnDisconnect: when the client goes away before its answer is complete, the request's
  task is cancelled, and with it its query (asyncpg asks PostgreSQL to cancel the statement), so
  an abandoned request gives its connection back at once instead of running to its time budget.
  A request that has not begun to answer after `request_deadline_s` (a connection stuck on a
  database that vanished, say) is cancelled too and answered 503 with Retry-After.
"""

import asyncio
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import problem_response


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes, the most this service accepts."


UPLOADS = ("POST", "/imports")  # the one request whose body is a file: its own bound, no deadline


def _upload(scope: Scope) -> bool:
    return (scope.get("method"), scope.get("path")) == UPLOADS


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.body_bytes = max_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_bytes if _upload(scope) else self.body_bytes
        await self._limited(scope, receive, send, limit)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            status, detail = None, ""
            if not declared.strip().isdigit():
                status, detail = 400, "The Content-Length header is not a number."
            elif int(declared) > max_bytes:
                status, detail = 413, _too_large(max_bytes)
            if status is not None:
                slug = "too-large" if status == 413 else "bad-request"
                response = problem_response(status, slug, detail, Request(scope), {"Connection": "close"})
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise HTTPException(413, _too_large(max_bytes), {"Connection": "close"})
            return message

        await self.app(scope, limited, send)


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp, deadline_s: float) -> None:
        self.app = app
        self.deadline_s = deadline_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Until the app has read the body, it calls `receive` itself; from then on (at once for a
        # request without a body) a watcher does, hands the app what it hears, and cancels the
        # app's task when the client hangs up before the response is complete.
        headers = Headers(scope=scope)
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        body_read = asyncio.Event()
        if not has_body:
            body_read.set()
        heard: asyncio.Queue[Message] = asyncio.Queue()
        disconnected: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        complete = False

        async def app_receive() -> Message:
            if not body_read.is_set():
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    body_read.set()
                if message["type"] == "http.disconnect" and not disconnected.done():
                    disconnected.set_result(message)
                return message
            if not heard.empty():
                return heard.get_nowait()
            next_message = asyncio.ensure_future(heard.get())
            try:
                await asyncio.wait({next_message, disconnected}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # a streaming response stops listening (cancels us) once it has sent all
                if not next_message.done():
                    next_message.cancel()
            if next_message.done() and not next_message.cancelled():
                return next_message.result()
            return disconnected.result()

        started = False

        async def app_send(message: Message) -> None:
            nonlocal complete, started
            if message["type"] == "http.response.start":
                started = True
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        task = asyncio.create_task(self.app(scope, app_receive, app_send))

        async def watch() -> None:
            await body_read.wait()
            while not disconnected.done():
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set_result(message)
                else:
                    heard.put_nowait(message)
            if not complete:
                task.cancel()

        watcher = asyncio.create_task(watch())
        try:
            done, _ = await asyncio.wait({task}, timeout=None if _upload(scope) else self.deadline_s)
            if not done and not started:  # stuck before answering: give up, say so, free its connection
                task.cancel()
                detail = f"The request found no answer within {self.deadline_s:g} s; retry shortly."
                response = problem_response(503, "unavailable", detail, Request(scope), {"Retry-After": "5"})
                await response(scope, receive, send)
                return
            await task
        except asyncio.CancelledError:
            if not (watcher.done() and not watcher.cancelled()):
                raise  # cancelled from outside (shutdown), not by the client going away
        finally:
            watcher.cancel()
            if not disconnected.done():
                disconnected.cancel()


def install(app: Any, settings: Settings) -> None:
    """Inside CORS and compression (app/http.py): the body bound first, then cancellation."""
    app.add_middleware(CancelOnDisconnect, deadline_s=settings.request_deadline_s)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.import_max_bytes)
