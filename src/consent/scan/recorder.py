"""One browser profile's observations: cookies (and who set them), storage keys, requests
to other hosts and the scripts that ran.

"Who set" a cookie comes from two sources: the Set-Cookie headers of the responses (as
the network layer saw them), and a wrapper around `document.cookie` and `cookieStore.set`,
installed before any page script, which reports the calling script. Playwright's types
are used for annotations only; `crawl` imports Playwright itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from consent.cookies import parse_set_cookie
from consent.scan.model import (
    Inventory,
    Phase,
    SeenCookie,
    SeenRequest,
    SeenScript,
    SeenStorage,
    SetBy,
    host_of,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Request, Response

__all__ = ["BINDING", "INIT_SCRIPT", "Recorder", "script_url"]

_STACK_URL = re.compile(r"(https?://[^\s()]+?)(?::\d+){1,2}\)?$", re.MULTILINE)
# Seconds without a request in flight after which a page has settled (a quarter of the
# --settle limit when that is shorter).
_QUIET_FOR = 0.5
BINDING = "__consentScanCookie"
# Runs in every frame before the page's own scripts. It reports and then does what was
# asked; a page can still tell that document.cookie was wrapped (a limit, see docs/scan.md).
INIT_SCRIPT = """
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


def _cookie_name(text: str) -> str:
    return parse_set_cookie(text).name


def _domain_matches(host: str, domain: str) -> bool:
    bare = domain.lstrip(".").lower()
    return host == bare or host.endswith("." + bare)


def script_url(stack: str, fallback: str) -> str:
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
class Recorder:
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
            self.setters.append(_Setter(name, host_of(href), "javascript", script_url(stack, href)))

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
