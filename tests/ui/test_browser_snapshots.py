"""The snapshot side of restore, in a real browser: the real Streamlit server (`streamlit run ui/app.py`, as
`aiop up` starts it) in headless Chromium over the DevTools protocol, against the sandbox API server with the
real external-snapshotter CRDs and the real controller (tests/ui/conftest.py's loop; the AI backend is scripted
at the `Backend` seam). The sandbox's simulated cluster plays the CSI snapshot controller and the driver.

A person grows a volume through the page; the page says how long its VolumeSnapshot stays and offers to keep
it; the keep toggle writes `spec.keepSnapshots` (read back with kubectl, not with our client); the restore
confirmation names the claim and the snapshot it comes back from; while restoring the page shows that
snapshot's step, first while the click follows the controller, then (the follow given up after
AIOP_UI_ANSWER_TIMEOUT) through the page's own polling, which also shows the end. To see a step for sure, the
test holds the changed claim's deletion with a finalizer of its own (as any controller with a finalizer on a
claim would) and lets it go once the page showed the step.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.tools import bootstrap
from controller.tools.up import ui_command, ui_environment
from tests.engine.conftest import Loop
from tests.snapshots import objects as o
from tests.snapshots.test_csi_restore import plan, ready
from tests.ui.cdp import Browser, free_port, wait_http

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
HOLD = "test.aiop.dev/hold"
FOLLOW_SECONDS = 20


@pytest.fixture(scope="module")
def page(loop: Loop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chat UI served by Streamlit on a free port, acting (sandbox picker) as alice; yields its URL."""
    port = free_port()
    env = {**ui_environment(loop.settings, sandbox=True), "AIOP_UI_SANDBOX_USERS": "alice@example.com",
           "AIOP_UI_NAMESPACES": "shop", "AIOP_UI_POLL_SECONDS": "0.5", "PYTHONPATH": str(ROOT),
           # a click follows the controller this long, then the page polls on its own: the restore is held
           # longer, so both show its steps
           "AIOP_UI_ANSWER_TIMEOUT": str(FOLLOW_SECONDS)}
    log_path = tmp_path_factory.mktemp("streamlit") / "ui.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(ui_command(port, "127.0.0.1"), env=env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/_stcore/health", process, timeout=120)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def kubectl(loop: Loop, *args: str) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(loop.server.kubeconfig_path), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def conversation_asking(loop: Loop, text: str) -> dict[str, Any]:
    """The AIConversation whose first turn is `text`, as kubectl sees it."""
    items = json.loads(kubectl(loop, "get", "aiconversations", "-n", "shop", "-o", "json"))["items"]
    found = [c for c in items if (c["spec"].get("turns") or [{}])[0].get("text") == text]
    assert len(found) == 1, [c["metadata"]["name"] for c in items]
    return found[0]  # type: ignore[no-any-return]


def finalizers(loop: Loop, claim: str) -> list[str]:
    obj = json.loads(kubectl(loop, "get", "pvc", claim, "-n", "shop", "-o", "json"))
    return list(obj["metadata"].get("finalizers") or [])


def set_finalizers(loop: Loop, claim: str, names: list[str]) -> None:
    kubectl(loop, "patch", "pvc", claim, "-n", "shop", "--type", "merge",
            "-p", json.dumps({"metadata": {"finalizers": names}}))


def wait_until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"never happened: {what}")


def test_keep_toggle_restore_confirmation_and_progress_per_snapshot(loop: Loop, page: str, browser: Browser) -> None:
    for obj in (o.claim("vault", size="1Gi"), o.writer("vault", "vault", "v1")):
        bootstrap.create_object(loop.kube, obj)
    ready(loop, "Deployment", "vault")
    loop.backend.enqueue(plan("expand-pvc", name="vault", namespace="shop", size="2Gi"))

    browser.goto(page)
    browser.wait_text("Talk to the operator", "Signed in as alice@example.com", timeout=90)
    browser.type_chat("grow vault to 2Gi")
    browser.wait_text("Approve revision 1", "snapshot PVC shop/vault (1Gi, VolumeSnapshotClass csi-hostpath)",
                      timeout=120)
    browser.click("Approve revision 1")
    text = browser.wait_text("AwaitingRating", "Snapshots taken before the change (1)",
                             "Keep these snapshots after the thread closes", timeout=180)
    assert "The 1 snapshot taken before the change stays while a restore is possible, and is deleted 168 hours " \
           "after the thread closes" in text
    thread = conversation_asking(loop, "grow vault to 2Gi")
    name = thread["metadata"]["name"]
    [snap] = thread["status"]["execution"]["snapshots"]
    assert snap["state"] == "Ready" and "keepSnapshots" not in thread["spec"]

    browser.click_label("Keep these snapshots after the thread closes")
    browser.wait_text("Kept: the 1 snapshot taken before the change stays after the thread closes", timeout=60)
    assert kubectl(loop, "get", "aiconversation", name, "-n", "shop", "-o", "jsonpath={.spec.keepSnapshots}") == "true"

    browser.click("Restore to the state before this chat")
    text = browser.wait_text("1. Data, from the snapshots taken before the change", timeout=60)
    assert f"PVC shop/vault ← VolumeSnapshot {snap['name']} (csi-hostpath, 1Gi, ready " in text
    assert "2. The commit: a revert commit on branch" in text and "As things stand this restore will fail" not in text

    set_finalizers(loop, "vault", [*finalizers(loop, "vault"), HOLD])  # the changed claim's deletion waits for us
    browser.click("Yes, restore")
    step = "PVC shop/vault: removing the changed claim — deleting the changed claim(s) vault"
    text = browser.wait_text(step, "Restoring the state before this chat", timeout=FOLLOW_SECONDS)  # followed
    deleting = json.loads(kubectl(loop, "get", "pvc", "vault", "-n", "shop", "-o", "json"))
    assert deleting["metadata"].get("deletionTimestamp")  # the page showed the step the claim really is in
    # the click's follow gives up and the page goes on polling on its own; the step stays on the page
    browser.wait_text("The operator is working; this page updates as it goes.", step, timeout=FOLLOW_SECONDS + 30)

    set_finalizers(loop, "vault", [f for f in finalizers(loop, "vault") if f != HOLD])
    # only the page's own polling can show this now
    text = browser.wait_text("Restored to the state before this chat", "PVC shop/vault: back", timeout=180)
    restored = wait_until(lambda: json.loads(kubectl(loop, "get", "pvc", "vault", "-n", "shop", "-o", "json")),
                          "claim vault re-created")
    assert restored["spec"]["dataSource"]["name"] == snap["name"]
    assert restored["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "Kept: the 1 snapshot taken before the change stays" in text  # restored and closed, but kept
