"""The browser part of `consent scan`: three fresh Chromium profiles visit the site.

1. Before any choice: the start page, then same-origin links, breadth first, up to a
   number of pages and a time limit.
2. After "Reject all" and 3. after "Accept all" (side by side, each in its own profile):
   the start page, a click on the control, then the pages of step 1 again.

Each profile's observations are kept by a `consent.scan.recorder.Recorder`.

Playwright is imported here only, so the rest of `consent` works without it.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from consent.i18n import UI_STRINGS, strings
from consent.scan.model import Inventory, Phase, ScanResult, host_of
from consent.scan.recorder import BINDING, INIT_SCRIPT, Recorder

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Locator, Page

__all__ = ["CHROMIUM", "QUIET_ARGS", "ScanError", "ScanOptions", "run_scan", "scan"]

CHROMIUM = "/usr/bin/chromium"
# Chromium's own traffic (updates, sync, safe browsing, metrics) would leave the machine
# and mix with the site's requests: all of it is switched off.
QUIET_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
)
INSTALL_HINT = "pip install 'asgi-consent[scan]'"
# Links to files a browser would download rather than show.
_SKIPPED = re.compile(
    r"\.(?:pdf|zip|gz|tgz|bz2|xz|7z|rar|exe|dmg|msi|apk|iso|docx?|xlsx?|pptx?|odt|ods|csv|"
    r"png|jpe?g|gif|webp|avif|svg|ico|mp3|mp4|m4a|webm|ogg|wav|mov|avi)$",
    re.IGNORECASE,
)


class ScanError(Exception):
    """The scan cannot run: no Playwright, no browser, or the start page does not open."""


@dataclass(frozen=True)
class ScanOptions:
    """What `consent scan` was asked to do. `time_limit` bounds the whole scan (seconds);
    `settle` bounds the wait for each page's requests to finish."""

    url: str
    pages: int = 10
    time_limit: float = 120.0
    settle: float = 3.0
    browser: str = CHROMIUM
    browser_args: tuple[str, ...] = ()
    reject_selector: str | None = None
    accept_selector: str | None = None
    locale: str | None = None
    policy: str | None = None


def _same_origin(url: str, origin: tuple[str, str]) -> bool:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower()) == origin


class _Scan:
    def __init__(self, options: ScanOptions, browser: Browser) -> None:
        self.options = options
        self.browser = browser
        self.start = time.monotonic()
        self.site_host = host_of(options.url)

    def left(self, share: float = 1.0) -> float:
        return self.start + self.options.time_limit * share - time.monotonic()

    async def profile(self, recorder: Recorder) -> tuple[BrowserContext, Page]:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
        if self.options.locale:
            options["locale"] = self.options.locale
        context = await self.browser.new_context(**options)
        await context.expose_binding(BINDING, recorder.on_script_cookie)
        await context.add_init_script(script=INIT_SCRIPT)
        recorder.attach(context)
        return context, await context.new_page()

    async def visit(self, recorder: Recorder, page: Page, url: str, share: float) -> int | None:
        """Open `url` and let it settle; the HTTP status, None without a response."""
        recorder.page_url = url
        timeout = max(1.0, min(self.left(share), 30.0))
        response = await page.goto(url, wait_until="load", timeout=timeout * 1000)
        recorder.page_url = page.url
        await recorder.settle(page, min(self.options.settle, max(self.left(share), 0.5)))
        return response.status if response else None

    async def before(self) -> Inventory:
        recorder = Recorder("before", self.site_host, recording=True)
        context, page = await self.profile(recorder)
        pages: list[str] = []
        notes: list[str] = []
        try:
            queue, queued = [self.options.url], {urldefrag(self.options.url).url}
            origin: tuple[str, str] | None = None
            while queue and len(pages) < self.options.pages:
                if pages and self.left(0.5) <= 0:
                    notes.append(f"time limit reached after {len(pages)} page(s)")
                    break
                url = queue.pop(0)
                try:
                    status = await self.visit(recorder, page, url, 0.5)
                except Exception as exc:
                    if not pages:
                        raise ScanError(f"cannot open {url}: {_first_line(exc)}") from None
                    notes.append(f"{url}: {_first_line(exc)}")
                    continue
                if not pages and (status is None or status >= 400):
                    raise ScanError(f"{url} answered HTTP {status}: nothing to scan")
                if origin is None:
                    parts = urlsplit(page.url)
                    origin = (parts.scheme, parts.netloc.lower())
                    self.site_host = recorder.site_host = host_of(page.url)
                pages.append(page.url)
                queued.add(urldefrag(page.url).url)
                await recorder.snapshot(context, page)
                links: list[str] = await page.eval_on_selector_all(
                    "a[href]", "(links) => links.map((a) => a.href)"
                )
                for link in links:
                    link = urldefrag(link).url
                    path = urlsplit(link).path
                    if (
                        link not in queued
                        and _same_origin(link, origin)
                        and not _SKIPPED.search(path)
                    ):
                        queued.add(link)
                        queue.append(link)
        finally:
            await context.close()
        return recorder.inventory(pages, None, notes)

    async def choice(self, phase: Phase, pages: list[str]) -> Inventory:
        recorder = Recorder(phase, self.site_host)
        context, page = await self.profile(recorder)
        notes: list[str] = []
        try:
            try:
                await self.visit(recorder, page, pages[0], 1.0)
            except Exception as exc:
                notes.append(f"{pages[0]}: {_first_line(exc)}")
                return recorder.inventory([], "", notes)
            selector = (
                self.options.reject_selector if phase == "reject" else self.options.accept_selector
            )
            try:
                found = await _control(page, phase, selector)
            except Exception as exc:  # a selector Playwright cannot parse
                notes.append(f"the selector {selector!r} failed: {_first_line(exc)}")
                return recorder.inventory([], "", notes)
            if found is None:
                how = (
                    f"selector {selector!r}"
                    if selector
                    else "a button named in the page's language"
                )
                notes.append(f"looked for {how} on {page.url}")
                return recorder.inventory([], "", notes)
            control, description = found
            await recorder.remember_before_click(context, page)
            recorder.recording = True
            try:
                await control.click(timeout=5000)
            except Exception as exc:
                notes.append(f"clicking {description} failed: {_first_line(exc)}")
                return Recorder(phase, self.site_host).inventory([], "", notes)
            # A form post navigates, a script's fetch does not: give either time to start.
            await asyncio.sleep(0.3)
            await recorder.settle(page, self.options.settle)
            visited = [page.url]
            await recorder.snapshot(context, page)
            for url in pages:
                if self.left() <= 0:
                    notes.append(
                        f"time limit reached after {len(visited) - 1} of {len(pages)} page(s)"
                    )
                    break
                try:
                    await self.visit(recorder, page, url, 1.0)
                except Exception as exc:
                    notes.append(f"{url}: {_first_line(exc)}")
                    continue
                visited.append(page.url)
                await recorder.snapshot(context, page)
        finally:
            await context.close()
        return recorder.inventory(visited, description, notes)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _control(page: Page, phase: Phase, selector: str | None) -> tuple[Locator, str] | None:
    """The visible control that makes the choice, and how it was found.

    asgi-consent's banner labels its buttons in the page's language: that label first,
    then the label of any language we know.
    """
    if selector:
        candidates = [(page.locator(selector), f"selector {selector}")]
    else:
        key = "reject_all" if phase == "reject" else "accept_all"
        try:
            lang = str(await page.evaluate("document.documentElement.lang || 'en'"))
        except Exception:
            lang = "en"
        own = str(strings(lang)[key])
        labels = sorted({str(s[key]) for s in UI_STRINGS.values()} - {own})
        anywhere = re.compile("^(?:" + "|".join(map(re.escape, labels)) + ")$")
        candidates = [
            (page.get_by_role("button", name=own, exact=True), ""),
            (page.get_by_role("button", name=anywhere), ""),
        ]
    for locator, how in candidates:
        for i in range(await locator.count()):
            item = locator.nth(i)
            if await item.is_visible():
                text = await item.inner_text() or await item.get_attribute("value") or ""
                return item, how or f'button "{" ".join(text.split())}"'
    return None


async def scan(options: ScanOptions) -> ScanResult:
    """Run the three phases in Chromium; ScanError when the scan cannot run at all."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise ScanError(f"Playwright is not installed: {INSTALL_HINT}") from None
    started = datetime.now(UTC)
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=options.browser,
                args=[*QUIET_ARGS, *options.browser_args],
                timeout=30_000,
            )
        except Exception as exc:
            raise ScanError(
                f"cannot start the browser {options.browser}: {_first_line(exc)} "
                "(install Chromium, or give --browser PATH)"
            ) from None
        try:
            run = _Scan(options, browser)
            before = await run.before()
            reject, accept = await asyncio.gather(
                run.choice("reject", before.pages), run.choice("accept", before.pages)
            )
            version = f"Chromium {browser.version}"
        finally:
            await browser.close()
    return ScanResult(
        url=options.url,
        started=started,
        seconds=round(time.monotonic() - run.start, 1),
        browser=version,
        policy=options.policy,
        phases={"before": before, "reject": reject, "accept": accept},
    )


def run_scan(options: ScanOptions) -> ScanResult:
    """`scan` on an event loop of its own (the command line's entry).

    Called from code that already runs a loop in this thread (a notebook, Playwright's
    sync API), the scan runs in a worker thread instead of failing.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(scan(options))
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(scan(options))).result()
