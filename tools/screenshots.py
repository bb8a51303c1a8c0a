"""Save screenshots of the example site's banner and settings dialog into docs/img.

Run with `make screenshots` (needs Debian's chromium at /usr/bin/chromium).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.app:app", "--port", str(port)],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1000, "height": 620})
            page.goto(f"http://127.0.0.1:{port}/articles/india-japan-vision")
            page.screenshot(path=OUT / "banner.png")
            page.locator("[data-consent-banner] [data-consent-open]").click()
            page.locator("dialog[data-consent-dialog] details").first.evaluate("d => d.open = true")
            page.screenshot(path=OUT / "dialog.png")
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print(f"wrote {OUT / 'banner.png'} and {OUT / 'dialog.png'}")


if __name__ == "__main__":
    main()
