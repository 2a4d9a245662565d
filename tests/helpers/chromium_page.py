"""Drive headless Chromium over its DevTools pipe (``--remote-debugging-pipe``): open a
page, evaluate JavaScript in it, click at a point, take a screenshot.

No client library: the protocol is JSON messages separated by NUL bytes on file
descriptors 3 (commands to the browser) and 4 (replies and events). Every wait has a
deadline, so a browser that hangs fails the test instead of stalling it.

Also a tool: ``python tests/helpers/chromium_page.py PAGE.html OUT.png [SELECTOR]``
writes a screenshot of a page, after clicking SELECTOR when given (docs/report.png:
``archcalc report resnet50 --out r.html`` then the tool with
``'#graph g.node[data-row="5"]'``).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

BINARIES = ("chromium", "chromium-browser", "google-chrome")


class BrowserUnavailable(Exception):
    """Chromium is not installed or could not start here (the reason is the message)."""


def find_binary() -> str | None:
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _high(pair):
    """Both descriptors moved to 10 or above, so that putting them at 3 and 4 in the
    child cannot overwrite one with the other (a test runner may leave 3 and 4 free)."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in pair)
    for fd in pair:
        os.close(fd)
    return moved


class Page:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 1000, timeout: float = 30.0):
        self.width, self.height, self.timeout = width, height, timeout
        self.process = None
        self.next_id = 0
        self.buffer = b""
        self.events: list[dict] = []
        self.session = None

    def __enter__(self) -> Page:
        binary = find_binary()
        if binary is None:
            raise BrowserUnavailable("no chromium binary on PATH (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="archcalc-chromium-")
        to_browser, self.commands = _high(os.pipe())
        self.replies, from_browser = _high(os.pipe())
        self.log = tempfile.TemporaryFile()  # Chromium's stderr: a pipe nobody reads fills
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--remote-debugging-pipe", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", f"--user-data-dir={self.profile}",
                 f"--window-size={self.width},{self.height}", "about:blank"]

        def at_3_and_4():  # where Chromium reads commands (3) and writes replies (4)
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        try:
            # close_fds=False: closing runs after preexec_fn and would close 3 and 4; the
            # other descriptors Python opens are not inheritable anyway (PEP 446)
            self.process = subprocess.Popen([binary, *flags], preexec_fn=at_3_and_4,
                                            close_fds=False, stdout=subprocess.DEVNULL,
                                            stderr=self.log)
        except OSError as exc:
            raise BrowserUnavailable(f"{binary} could not start: {exc}") from None
        finally:
            os.close(to_browser)
            os.close(from_browser)
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                       "mobile": False})
        except BrowserUnavailable:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.log.close()
        for fd in (self.commands, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-400:].strip()

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.replies], [], [], max(0.0, left))
            if not ready:
                raise BrowserUnavailable("Chromium did not answer within the deadline")
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise BrowserUnavailable(f"Chromium closed its pipe: {self._log_tail()}")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        try:
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise BrowserUnavailable(f"cannot talk to Chromium ({exc}): {self._log_tail()}") \
                from None
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.events.append(self._message(deadline))

    def open(self, path) -> None:
        """Load a local file and wait for its load event."""
        self.events.clear()
        self.call("Page.navigate", {"url": "file://" + os.path.abspath(path)})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (press and release)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y,
                                                   "button": "left", "clickCount": 1})

    def click_selector(self, selector: str) -> None:
        """Scroll the first element matching ``selector`` into view and click its centre."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center', inline: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        self.click(*box)

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))


def main(argv) -> None:
    page_file, image = argv[1], argv[2]
    with Page() as page:
        page.open(page_file)
        if len(argv) > 3:
            page.click_selector(argv[3])
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(image)
    print(f"wrote {image}")


if __name__ == "__main__":
    import sys

    main(sys.argv)
