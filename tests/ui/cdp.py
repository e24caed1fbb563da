"""A tiny Chrome DevTools Protocol driver: headless Chromium driven over its debugging websocket.

Why not Chromium's --screenshot flag: it captures the page before Streamlit's scripts have drawn
anything (ENVIRONMENT.md). Over the protocol the test can type, click, wait until the page says
something, and only then take the screenshot.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait until `url` answers 200 while `process` (the server behind it) keeps running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s")


class Browser:
    """One headless Chromium with one page, driven through Runtime/Page/Input commands."""

    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1600) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._id = 0
        self.ws = websocket.create_connection(self._page_socket(), timeout=60, suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def _page_socket(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as resp:
                    pages = [t for t in json.load(resp) if t.get("type") == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("Chromium did not open its debugging port")
            time.sleep(0.2)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._id += 1
        wanted = self._id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params or {}}))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == wanted:  # events (no id) are skipped
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result") or {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def wait_text(self, *needles: str, timeout: float = 120.0) -> str:
        """Wait until the page's visible text holds every needle; return that text."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
        raise AssertionError(f"the page never showed {needles!r}; it shows:\n{text[-3000:]}")

    def wait_js(self, expression: str, timeout: float = 60.0) -> None:
        """Wait until a JavaScript expression is true (e.g. a lazily drawn chart has its SVG)."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise AssertionError(f"never true: {expression}")
            time.sleep(0.3)

    def type_chat(self, message: str) -> None:
        """Type into Streamlit's chat input like a person (React sees input events) and press Enter."""
        deadline = time.monotonic() + 30
        while not self.evaluate('!!document.querySelector(\'textarea[data-testid="stChatInputTextArea"]\')'):
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
        found = self.evaluate(f"""(() => {{
            const box = document.querySelector('textarea[data-testid="stChatInputTextArea"]');
            if (!box) return false;
            const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
            box.focus();
            setter.call(box, {json.dumps(message)});
            box.dispatchEvent(new Event('input', {{bubbles: true}}));
            return true;
        }})()""")
        if not found:
            raise AssertionError("no chat input on the page")
        time.sleep(0.3)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13,
                                                 **({"text": "\r"} if kind == "keyDown" else {})})

    def fill(self, aria_label: str, value: str) -> None:
        """Set a text input or text area found by its label."""
        ok = self.evaluate(f"""(() => {{
            const el = document.querySelector('[aria-label={json.dumps(aria_label)}]');
            if (!el) return false;
            const proto = el.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
            Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, {json.dumps(value)});
            el.dispatchEvent(new Event('input', {{bubbles: true}}));
            el.dispatchEvent(new Event('change', {{bubbles: true}}));
            return true;
        }})()""")
        if not ok:
            raise AssertionError(f"no field labelled {aria_label!r}")

    def click(self, label: str, timeout: float = 30.0) -> None:
        """Click the first visible button whose text contains `label`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            clicked = self.evaluate(f"""(() => {{
                const b = [...document.querySelectorAll('button')]
                    .find(b => b.innerText.includes({json.dumps(label)}) && b.offsetParent !== null && !b.disabled);
                if (!b) return false;
                b.scrollIntoView({{block: 'center'}});
                b.click();
                return true;
            }})()""")
            if clicked:
                return
            time.sleep(0.3)
        raise AssertionError(f"no button {label!r} on the page:\n{self.text()[-2000:]}")

    def click_label(self, text: str, timeout: float = 30.0) -> None:
        """Click the first visible label (a checkbox or toggle) whose text contains `text`, with the mouse.

        A real press (Input.dispatchMouseEvent at the label's centre): Streamlit's toggles listen to
        pointer events (React Aria), which a scripted `label.click()` does not send."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            box = self.evaluate(f"""(() => {{
                const l = [...document.querySelectorAll('label')]
                    .find(l => l.innerText.includes({json.dumps(text)}) && l.offsetParent !== null);
                if (!l) return null;
                l.scrollIntoView({{block: 'center'}});
                const r = l.getBoundingClientRect();
                return [r.left + Math.min(r.width / 2, 20), r.top + r.height / 2];
            }})()""")
            if box:
                for kind in ("mousePressed", "mouseReleased"):
                    self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                           "button": "left", "clickCount": 1})
                return
            time.sleep(0.3)
        raise AssertionError(f"no label {text!r} on the page:\n{self.text()[-2000:]}")

    def scroll_to(self, needle: str) -> None:
        """Scroll so that the first element whose own text contains `needle` is at the top."""
        self.evaluate(f"""(() => {{
            const all = [...document.querySelectorAll('p, h1, h2, h3, h4, span, div')];
            const el = all.find(e => e.children.length === 0 && e.innerText && e.innerText.includes({json.dumps(needle)}));
            if (el) el.scrollIntoView({{block: 'start'}});
        }})()""")
        time.sleep(0.5)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
