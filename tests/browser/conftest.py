"""Browser tests: Debian's chromium driven by Playwright against a real server process.

Screenshots go to ``$MAKHZAN_TEST_ARTIFACTS`` (default ``tests/artifacts/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.browser.helpers import CHROMIUM, LAUNCH_ARGS
from tests.support import ROOT, ServerProcess, Shop, new_shop

playwright_api = pytest.importorskip("playwright.sync_api")
T = TypeVar("T")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("MAKHZAN_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Package scope: Playwright's sync API keeps an asyncio loop running on the main thread while it
# is open, which would break the later tests that start their own loop (asyncio.run).
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def off_the_loop(work: Callable[..., T], *args: Any) -> T:
    """Run code that starts its own asyncio loop (the shop's set-up): Playwright's sync API keeps
    a loop running on this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args).result()


@pytest.fixture
def shop(server: ServerProcess, app_database: str) -> Shop:
    return off_the_loop(new_shop, server.url, app_database)


@pytest.fixture
def context(browser: object) -> Iterator[object]:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: object) -> object:
    return context.new_page()  # type: ignore[attr-defined]
