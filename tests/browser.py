"""Pages in a real browser: headless Chromium (Debian's), driven by Playwright, reaching nothing
but the service."""

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


async def wait_until(page: Any, expression: str, timeout: float = 60_000) -> None:
    """Until the JavaScript `expression` (or function) is true in the page, polled with one
    page.evaluate at a time. (page.wait_for_function polls by eval inside the page, which our
    Content-Security-Policy refuses at times: it allows no 'unsafe-eval'.)"""
    deadline = time.monotonic() + timeout / 1000
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:.0f} ms: {expression}")
        await asyncio.sleep(0.1)


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; .ci/run installs it")


@dataclass
class Visit:
    page: Any
    outside: list[str] = field(default_factory=list)  # requests to other hosts, refused
    refused: list[str] = field(default_factory=list)  # what the Content-Security-Policy refused
    errors: list[str] = field(default_factory=list)  # uncaught script errors


@asynccontextmanager
async def offline_page(base: str, width: int = 1200, height: int = 800) -> AsyncIterator[Visit]:
    """A browser page that may reach only the service at `base`: every request to any other host
    is aborted (as it would fail offline) and recorded, as are the policy's refusals and the
    page's uncaught errors."""
    playwright = pytest.importorskip("playwright.async_api", reason="Playwright is not installed")
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            visit = Visit(page)

            async def only_the_service(route) -> None:
                if route.request.url.startswith(base + "/"):
                    await route.continue_()
                else:
                    visit.outside.append(route.request.url)
                    await route.abort("internetdisconnected")

            await context.route("**/*", only_the_service)
            page.on(
                "console",
                lambda message: (
                    visit.refused.append(message.text) if "Content Security Policy" in message.text else None
                ),
            )
            page.on("pageerror", lambda error: visit.errors.append(str(error)))
            yield visit
        finally:
            await browser.close()
