"""The browser part of `consent scan`: three fresh Chromium profiles visit the site.

1. Before any choice: the start page, then same-origin links, breadth first, up to a
   number of pages and a time limit.
2. After "Reject all" and 3. after "Accept all" (side by side, each in its own profile):
   the start page, a click on the control, then the pages of step 1 again.

Each profile records its cookie jar, its storage keys, the requests to other hosts and
the scripts that ran. "Who set" a cookie comes from two sources: the Set-Cookie headers of
the responses (as the network layer saw them), and a wrapper around `document.cookie` and
`cookieStore.set` installed before any page script, which reports the calling script.

Playwright is imported here only, so the rest of `consent` works without it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from consent.i18n import UI_STRINGS, strings
from consent.scan.model import (
    Inventory,
    Phase,
    ScanResult,
    SeenCookie,
    SeenRequest,
    SeenScript,
    SeenStorage,
    SetBy,
    host_of,
)

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Locator, Page, Request, Response

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
_STACK_URL = re.compile(r"(https?://[^\s()]+?)(?::\d+){1,2}\)?$", re.MULTILINE)
# Seconds without a request in flight after which a page has settled (a quarter of the
# --settle limit when that is shorter).
_QUIET_FOR = 0.5
_BINDING = "__consentScanCookie"
# Runs in every frame before the page's own scripts. It reports and then does what was
# asked; a page can still tell that document.cookie was wrapped (a limit, see docs/scan.md).
_INIT_SCRIPT = """
(() => {
  const report = (kind, text) => {
    try {
      const notify = globalThis.__consentScanCookie;
      if (notify) notify(kind, String(text), String(new Error().stack || ""), location.href);
    } catch (e) {}
  };
  const own = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  if (own && own.set) {
    Object.defineProperty(Document.prototype, "cookie", {
      configurable: true,
      enumerable: own.enumerable,
      get() { return own.get.call(this); },
      set(value) { report("document.cookie", value); own.set.call(this, value); },
    });
  }
  if (globalThis.CookieStore && CookieStore.prototype.set) {
    const set = CookieStore.prototype.set;
    CookieStore.prototype.set = function (first, ...rest) {
      report("cookieStore", typeof first === "object" && first ? first.name : first);
      return set.call(this, first, ...rest);
    };
  }
})();
"""
_STORAGE_SCRIPT = """() => {
  try {
    return { origin: location.origin,
             local: Object.keys(localStorage), session: Object.keys(sessionStorage) };
  } catch (e) { return null; }
}"""
_INLINE_SCRIPTS = """() => {
  const JS_TYPE = /^$|^module$|^(text|application)\\/(x-)?(java|ecma)script$/i;
  return Array.from(document.scripts)
  .filter((s) => !s.src && JS_TYPE.test(s.type))
  .map((s) => s.text);
}"""


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


def _cookie_name(text: str) -> str:
    return text.split(";", 1)[0].split("=", 1)[0].strip()


def _domain_matches(host: str, domain: str) -> bool:
    bare = domain.lstrip(".").lower()
    return host == bare or host.endswith("." + bare)


def _script_url(stack: str, fallback: str) -> str:
    """The first web address in a JavaScript stack: the script that set the cookie (a page
    address for an inline script)."""
    for line in stack.splitlines()[1:]:
        match = _STACK_URL.search(line.strip())
        if match:
            return match.group(1)
    return fallback


@dataclass
class _Setter:
    name: str
    host: str
    kind: SetBy
    source: str


@dataclass
class _Recorder:
    """One profile's observations. Sightings count only while `recording` (for a choice:
    after the click); who set what is tracked throughout."""

    phase: Phase
    site_host: str
    recording: bool = False
    page_url: str = ""
    in_flight: int = 0
    setters: list[_Setter] = field(default_factory=list)
    cookies: dict[tuple[str, str, str], SeenCookie] = field(default_factory=dict)
    storage: dict[tuple[str, str, str], SeenStorage] = field(default_factory=dict)
    requests: dict[str, SeenRequest] = field(default_factory=dict)
    scripts: dict[str, SeenScript] = field(default_factory=dict)
    jar_before: set[tuple[str, str, str, str]] = field(default_factory=set)
    storage_before: set[tuple[str, str, str]] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", self._on_request)
        context.on("requestfinished", self._on_done)
        context.on("requestfailed", self._on_done)
        context.on("response", self._on_response)

    def _on_request(self, request: Request) -> None:
        self.in_flight += 1
        if not self.recording or not request.url.startswith(("http:", "https:")):
            return
        kind = request.resource_type
        if kind == "script" and request.url not in self.scripts:
            self.scripts[request.url] = SeenScript(self.page_url, url=request.url)
        if host_of(request.url) != self.site_host:
            seen = self.requests.get(request.url)
            self.requests[request.url] = (
                replace(seen, count=seen.count + 1)
                if seen
                else SeenRequest(request.url, kind, self.page_url)
            )

    def _on_done(self, request: Request) -> None:
        self.in_flight = max(0, self.in_flight - 1)

    def _on_response(self, response: Response) -> None:
        if self.recording and response.status >= 400 and response.request.is_navigation_request():
            self.notes.append(f"{response.url} answered HTTP {response.status}")
        # Reading all headers (Set-Cookie included) is asynchronous: a task, awaited when
        # the page settles.
        task = asyncio.get_running_loop().create_task(self._read_set_cookie(response))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read_set_cookie(self, response: Response) -> None:
        try:
            values = await response.header_values("set-cookie")
        except Exception:  # the page or the context closed meanwhile
            return
        host = host_of(response.url)
        for header in values:
            for line in header.split("\n"):  # some layers join repeated headers with newlines
                if "=" in line:
                    self.setters.append(_Setter(_cookie_name(line), host, "http", response.url))

    def on_script_cookie(self, source: Any, kind: str, text: str, stack: str, href: str) -> None:
        name = _cookie_name(text) if kind == "document.cookie" else text.strip()
        if name:
            self.setters.append(
                _Setter(name, host_of(href), "javascript", _script_url(stack, href))
            )

    def _who(self, name: str, domain: str) -> tuple[SetBy, str]:
        for setter in reversed(self.setters):
            if setter.name == name and _domain_matches(setter.host, domain):
                return setter.kind, setter.source
        return "unknown", ""

    async def settle(self, page: Page, limit: float) -> None:
        """Wait for the load event, then until no request has been in flight for a moment
        (at most `limit` seconds), then for the header readers."""
        end = time.monotonic() + limit
        try:
            await page.wait_for_load_state("load", timeout=max(limit, 0.1) * 1000)
        except Exception:
            pass
        quiet_since: float | None = None
        quiet_for = min(_QUIET_FOR, limit / 4)
        while time.monotonic() < end:
            now = time.monotonic()
            if self.in_flight == 0:
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet_for:
                    break
            else:
                quiet_since = None
            await asyncio.sleep(0.05)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=2)

    async def jar(self, context: BrowserContext) -> list[dict[str, Any]]:
        return [dict(c) for c in await context.cookies()]

    async def storage_keys(self, page: Page) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        for frame in page.frames:
            try:
                data = await frame.evaluate(_STORAGE_SCRIPT)
            except Exception:  # a frame that went away, or an opaque origin
                continue
            if not data:
                continue
            found += [("localStorage", data["origin"], k) for k in data["local"]]
            found += [("sessionStorage", data["origin"], k) for k in data["session"]]
        return found

    async def remember_before_click(self, context: BrowserContext, page: Page) -> None:
        self.jar_before = {
            (c["name"], c["domain"], c["path"], c["value"]) for c in await self.jar(context)
        }
        self.storage_before = set(await self.storage_keys(page))

    async def snapshot(self, context: BrowserContext, page: Page) -> None:
        """Record the jar, the storage keys and the inline scripts as they are now."""
        for c in await self.jar(context):
            key = (c["name"], c["domain"], c["path"])
            set_by, source = self._who(c["name"], c["domain"])
            expires = c.get("expires", -1)
            previous = self.cookies.get(key)
            self.cookies[key] = SeenCookie(
                name=c["name"],
                domain=c["domain"],
                path=c["path"],
                expires=None if expires is None or expires < 0 else float(expires),
                http_only=bool(c.get("httpOnly")),
                secure=bool(c.get("secure")),
                same_site=str(c.get("sameSite", "")),
                set_by=set_by,
                source=source,
                page=previous.page if previous else self.page_url,
                survived=(*key, c["value"]) in self.jar_before,
            )
        for found in await self.storage_keys(page):
            if found not in self.storage:
                area, origin, name = found
                self.storage[found] = SeenStorage(
                    "localStorage" if area == "localStorage" else "sessionStorage",
                    origin,
                    name,
                    self.page_url,
                    survived=found in self.storage_before,
                )
        try:
            texts: list[str] = await page.main_frame.evaluate(_INLINE_SCRIPTS)
        except Exception:
            texts = []
        for text in texts:
            digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
            if digest not in self.scripts:
                snippet = " ".join(text.split())[:80]
                self.scripts[digest] = SeenScript(self.page_url, sha256=digest, snippet=snippet)

    def inventory(self, pages: list[str], control: str | None, notes: list[str]) -> Inventory:
        return Inventory(
            phase=self.phase,
            pages=pages,
            cookies=sorted(self.cookies.values(), key=lambda c: (c.domain, c.name, c.path)),
            storage=sorted(self.storage.values(), key=lambda s: (s.origin, s.area, s.key)),
            # The site's host is known for sure only once its first page has loaded (it may
            # redirect to another one): requests to it are dropped here.
            requests=sorted(
                (r for r in self.requests.values() if r.host != self.site_host),
                key=lambda r: (r.host, r.url),
            ),
            scripts=list(self.scripts.values()),
            control=control,
            notes=[*self.notes, *notes],
        )


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

    async def profile(self, recorder: _Recorder) -> tuple[BrowserContext, Page]:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
        if self.options.locale:
            options["locale"] = self.options.locale
        context = await self.browser.new_context(**options)
        await context.expose_binding(_BINDING, recorder.on_script_cookie)
        await context.add_init_script(script=_INIT_SCRIPT)
        recorder.attach(context)
        return context, await context.new_page()

    async def visit(self, recorder: _Recorder, page: Page, url: str, share: float) -> int | None:
        """Open `url` and let it settle; the HTTP status, None without a response."""
        recorder.page_url = url
        timeout = max(1.0, min(self.left(share), 30.0))
        response = await page.goto(url, wait_until="load", timeout=timeout * 1000)
        recorder.page_url = page.url
        await recorder.settle(page, min(self.options.settle, max(self.left(share), 0.5)))
        return response.status if response else None

    async def before(self) -> Inventory:
        recorder = _Recorder("before", self.site_host, recording=True)
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
        recorder = _Recorder(phase, self.site_host)
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
            found = await _control(page, phase, selector)
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
                return _Recorder(phase, self.site_host).inventory([], "", notes)
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
                text = " ".join((await item.inner_text()).split())
                return item, how or f'button "{text}"'
    return None


async def scan(options: ScanOptions) -> ScanResult:
    """Run the three phases in Chromium; ScanError when the scan cannot run at all."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise ScanError(f"consent scan needs Playwright: {INSTALL_HINT}") from None
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
    """`scan` on a new event loop (the command line's entry)."""
    return asyncio.run(scan(options))
