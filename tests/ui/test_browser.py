"""End to end: `aiop up` (sandbox, controller with the offline planner, the real Streamlit server)
driven in headless Chromium over the DevTools protocol, as a person would use it.

Type a request, see the proposal, approve it, rate it 100, see the pull request. The page text is
checked at each step and screenshots are saved (to docs/screenshots/, which the README shows, when
AIOP_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.cdp import Browser, free_port, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder; `AIOP_UPDATE_SCREENSHOTS=1` refreshes the README's copies.
SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("AIOP_UPDATE_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "aiop-screenshots")


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`aiop up` on free ports with a fresh home; yields the chat UI's URL."""
    home = tmp_path_factory.mktemp("aiop-up-home")
    ui_port = free_port()
    log = (home / "up.log").open("wb")
    process = subprocess.Popen(
        # the checkout under test (not whatever `aiop` the venv points at)
        [sys.executable, "-c", "from controller.cli import main; main()", "up", "--home", str(home), "--api-port", str(free_port()), "--ui-port", str(ui_port),
         "--metrics-port", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "AIOP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health", process, timeout=180)
        yield f"http://127.0.0.1:{ui_port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_type_see_proposal_approve_rate_100_see_pull_request(product: str, browser: Browser) -> None:
    browser.goto(product)
    browser.wait_text("Talk to the operator", "Signed in as demo@example.com", timeout=60)
    browser.screenshot(SHOTS / "01-start.png")

    browser.type_chat("scale web in shop to 3")
    browser.wait_text("Plan revision 1", "Approve revision 1", timeout=180)
    text = browser.wait_text("replicas: 3", timeout=60)  # the diff's code block is drawn lazily
    browser.wait_js("!!document.querySelector('[data-testid=\"stGraphVizChart\"] svg')")
    for expected in ("scale web in shop to 3", "Scale Deployment shop/web from 2 to 3 replicas", "risk low",
                     "patch deployments", "Backup:", "Restore:", "replicas: 3", "Workflow graph",
                     "Nothing runs until you approve"):
        assert expected in text, expected
    time.sleep(1.0)
    browser.scroll_to("The proposal")
    browser.screenshot(SHOTS / "02-proposal.png")

    browser.click("Approve revision 1")
    text = browser.wait_text("AwaitingRating", "How well did it go?", "Restore to the state before this chat",
                             timeout=180)
    assert "Approved revision" in text
    browser.scroll_to("How well did it go?")
    browser.screenshot(SHOTS / "03-applied-rate.png")

    browser.fill("Comment", "exactly what I asked for")
    time.sleep(0.5)
    browser.click("Rate")
    text = browser.wait_text("Completed", "Rated 100: the change is promoted", "#1 on ops", timeout=180)
    assert "100/100" in text and "ops.git#pull/1" in text
    browser.scroll_to("Rated 100")
    browser.screenshot(SHOTS / "04-completed-pull-request.png")
