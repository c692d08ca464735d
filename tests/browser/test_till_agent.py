"""The till served by the terminal agent keeps selling while the central server is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import off_the_loop
from tests.browser.helpers import cashier_key, scale_label, scan, stocked_product, weighed_product
from tests.support import ServerProcess, free_port, new_shop

# Short timers so that the agent notices a dead link within a second or two.
AGENT_ENV = {"MAKHZAN_AGENT_POLL_SECONDS": "0.2", "MAKHZAN_AGENT_BACKOFF_BASE": "0.1",
             "MAKHZAN_AGENT_BACKOFF_MAX": "0.5", "MAKHZAN_AGENT_FORWARD_TIMEOUT": "2",
             "MAKHZAN_AGENT_OFFLINE_GRACE": "0.5", "MAKHZAN_AGENT_STOCK_SECONDS": "0.5"}


class Agent:
    """``makhzan agent`` in its own process on a loopback port."""

    def __init__(self, central_url: str, key: str, data_dir: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = Path(tempfile.mkstemp(prefix="makhzan-agent-", suffix=".log")[1])
        command = [sys.executable, "-c", "from makhzan.cli import main; main()", "agent", "--central", central_url,
                   "--key", key, "--port", self.url.rsplit(":", 1)[1], "--data", str(data_dir)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, env={**os.environ, **AGENT_ENV}, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.url}/agent/status", timeout=5).json()
        return result

    def wait_until_synced(self, products: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited:\n{self.log.read_text()[-3000:]}")
            try:
                status = self.status()
                if status["online"] and status["products"] >= products and status["location_id"]:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"agent never synced:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def central(app_database: str) -> Iterator[ServerProcess]:
    """A central server of this test's own, so that killing it touches no other test."""
    process = ServerProcess(app_database).start()
    yield process
    process.kill()


def test_a_till_on_the_agent_keeps_selling_while_central_is_down(page: Any, central: ServerProcess,
                                                                 app_database: str, tmp_path: Path,
                                                                 artifacts: Path) -> None:
    shop = off_the_loop(new_shop, central.url, app_database)
    water = stocked_product(shop, stock="10", price="0.500", name="Water 1.5L", name_ar="مياه ١٫٥ لتر")
    cheese, code = weighed_product(shop, stock="4", price="9.000", name="Akkawi cheese", name_ar="جبنة عكاوي")
    agent = Agent(central.url, cashier_key(shop), tmp_path / "agent")
    try:
        agent.wait_until_synced(products=2)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{agent.url}/till")  # no sign-in at the terminal
        expect(page.locator("#banner")).to_have_attribute("data-online", "true")
        expect(page.locator("#rate")).to_contain_text("89,500")

        scan(page, water["barcodes"][0]["barcode"])
        page.click("#complete")
        expect(page.locator("#message")).to_contain_text("Sale complete")
        assert shop.level(water["id"]) == Decimal("9")

        central.kill()  # SIGKILL: the link is gone
        expect(page.locator("#banner")).to_have_attribute("data-online", "false", timeout=15_000)
        expect(page.locator("#banner")).to_contain_text("selling on this terminal")

        scan(page, water["barcodes"][0]["barcode"])
        scan(page, water["barcodes"][0]["barcode"])
        scan(page, scale_label(code, 1500))
        expect(page.locator(f'#line-rows tr[data-product-id="{cheese["id"]}"]')).to_contain_text("× 1.5 kg")
        expect(page.locator("#total")).to_have_text("$14.50")
        page.click("#complete")
        expect(page.locator("#message")).to_contain_text("Sale recorded on this terminal (offline)")
        expect(page.locator("#pending")).to_have_attribute("data-count", "1")
        expect(page.locator("#pending")).to_contain_text("waiting to sync: 1")
        page.screenshot(path=str(artifacts / "till-agent-offline.png"))

        status = agent.status()
        assert status["online"] is False and status["pending_sales"] == 1
        # Every asset and call of the page came from the terminal itself: no CDN, no central.
        assert any(url.endswith("/static/till.js") for url in requested)
        assert [url for url in requested if not url.startswith(agent.url + "/")] == []

        # The terminal's screen in Arabic, offline too (every asset is local).
        page.click("a.lang-switch")
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("#banner")).to_contain_text("غير متصل")

        # Central comes back at the same address: the sale syncs and the banner clears.
        revived = ServerProcess(app_database)
        revived.port, revived.url = central.port, central.url
        revived.start()
        try:
            expect(page.locator("#banner")).to_have_attribute("data-online", "true", timeout=30_000)
            expect(page.locator("#pending")).to_have_attribute("data-count", "0", timeout=30_000)
            assert shop.level(water["id"]) == Decimal("7")
            assert shop.level(cheese["id"]) == Decimal("2.500")
        finally:
            revived.kill()
    finally:
        agent.kill()
