"""What the harnesses share: a policy, an input reader, an ASGI driver, a browser URL model
and the atheris entry point."""

from __future__ import annotations

import importlib
import re
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message

from consent import Policy
from tests import asgi

__all__ = [
    "BASE_HOST",
    "KEY",
    "NOW",
    "OLD_KEY",
    "POLICY",
    "Reader",
    "browser_target",
    "call_asgi",
    "run_fuzzer",
]

KEY = "fuzz-secret-key-0123456789abcdef-0123456789"
OLD_KEY = "fuzz-older-key-fedcba9876543210-fedcba98765"
"""A rotated-out key: it still verifies, it never signs."""
NOW = 1_750_000_000.0
BASE_HOST = "site.example"

POLICY = Policy.model_validate(
    {
        "revision": 3,
        "max_age_days": 180,
        "categories": [
            {"id": "essential", "title": "Essential", "description": "Needed.", "required": True},
            {"id": "analytics", "title": "Analytics", "description": "Visit counts."},
            {"id": "marketing", "title": "Marketing", "description": "Ads and videos."},
        ],
        "services": [
            {
                "id": "php-session",
                "category": "essential",
                "title": "PHP session",
                "cookies": [{"name": "PHPSESSID", "purpose": "Session.", "duration": "session"}],
            },
            {
                "id": "matomo",
                "category": "analytics",
                "title": "Matomo",
                "cookies": [{"name": "_pk_id.*", "purpose": "Visitor.", "duration": "13 months"}],
            },
            {
                "id": "google-analytics",
                "category": "analytics",
                "title": "Google Analytics",
                "cookies": [{"name": "_ga", "purpose": "Client id.", "duration": "13 months"}],
            },
            {
                "id": "youtube",
                "category": "marketing",
                "title": "YouTube",
                "cookies": [{"name": "YSC", "purpose": "Views.", "duration": "session"}],
            },
        ],
    }
)


class Reader:
    """Takes decisions from the front of the fuzzer's bytes (zeros once they run out), so
    that every input, even an empty one, is a valid test case."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        return self.byte() << 8 | self.byte()

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def rest(self) -> bytes:
        return self.take(len(self.data))


# --- an ASGI driver without an event loop ------------------------------------------------


def _drive(call: Awaitable[None]) -> None:
    # Without a log store nothing on these paths waits on I/O, so the whole call completes
    # on its first step: no event loop per input (that would cost more than the call).
    steps = call.__await__()
    try:
        next(steps)
    except StopIteration:
        return
    steps.close()
    raise RuntimeError("the ASGI call suspended; the fuzz driver has no event loop")


def call_asgi(
    app: ASGIApp,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
) -> list[Message]:
    """One request into `app` in-process; the messages it sent, in order."""
    scope, receive, send, sent = asgi.request(
        method, path, headers, list(chunks) or [b""], scheme="https", host=BASE_HOST
    )
    _drive(app(scope, receive, send))
    return sent


def response_headers(messages: list[Message], name: bytes) -> list[bytes]:
    """Values of header `name` in the response start message."""
    start = next(m for m in messages if m["type"] == "http.response.start")
    return [v for k, v in start.get("headers", []) if k.lower() == name]


# --- where a browser goes ----------------------------------------------------------------

_SPECIAL = frozenset({"http", "https", "ws", "wss", "ftp", "file"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def browser_target(url: str) -> tuple[str, str | None]:
    """(scheme, host) that a browser resolves `url` to, on a page at
    `https://site.example/page`; host None for schemes without one (javascript:, data:).

    A model of the WHATWG URL parser's steps that decide the origin: leading and trailing
    C0 controls and spaces are stripped, tabs and newlines removed anywhere, `\\` counts as
    `/` for special schemes, `https:x` stays relative on an https page, the host is
    percent-decoded and mapped like IDNA (NFKC, case folding, ideographic full stops).
    A trailing dot is dropped: `example.com.` is the same server.
    """
    url = url.strip(_C0_AND_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _SCHEME.match(url)
    if scheme is not None:
        name = scheme[0][:-1].lower()
        rest = url[scheme.end() :]
        if name not in _SPECIAL:
            return name, None
        if name == "https" and not (rest[:1] in ("/", "\\") and rest[1:2] in ("/", "\\")):
            return "https", BASE_HOST  # "https:/path" and "https:path" are relative
    elif url[:1] in ("/", "\\") and url[1:2] in ("/", "\\"):
        name, rest = "https", url
    else:
        return "https", BASE_HOST
    rest = rest.lstrip("/\\")
    authority = re.split(r"[/\\?#]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    host = host[: host.index("]") + 1] if host.startswith("[") and "]" in host else host
    host = host.split(":", 1)[0] if not host.startswith("[") else host
    if not host.startswith("[") and _FORBIDDEN_HOST.search(host):
        return name, None  # not a valid URL: the browser loads nothing
    decoded = unquote_to_bytes(host).decode("utf-8", "replace")
    if _FORBIDDEN_DOMAIN.search(decoded):
        return name, None
    mapped = unicodedata.normalize("NFKC", decoded.translate(_DOTS)).casefold()
    # U+FFFD (bytes that were not UTF-8) is disallowed by IDNA, and a label over 63
    # characters cannot be looked up: the browser contacts no such host.
    if "\ufffd" in mapped or any(len(label) > 63 for label in mapped.split(".")):
        return name, None
    return name, mapped.rstrip(".")


# The URL standard's forbidden host code points, and for a domain after percent-decoding
# also C0 controls, "%" and U+007F: a host holding one makes the URL invalid.
_FORBIDDEN_HOST = re.compile(r"[\x00\t\n\r #/:<>?@\[\\\]^|]")
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")


def stays_on_site(url: str) -> bool:
    """Whether a browser on https://site.example/page following `url` stays on the site."""
    return browser_target(url) == ("https", BASE_HOST)


# --- the atheris entry point -------------------------------------------------------------


def run_fuzzer(harness: str, argv: list[str] | None = None) -> None:
    """Run `harness`'s check under libFuzzer, with `consent` instrumented for coverage.

    The harness ran as `__main__` and so imported `consent` before atheris could hook the
    imports: those modules are dropped, with the harnesses and the test helpers that hold
    on to them, and the harness is imported afresh under its own name, inside
    `instrument_imports`, so that the check calls instrumented code.
    """
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    for name in list(sys.modules):
        if name.split(".")[0] == "consent" or name.startswith(("fuzz.", "tests.")):
            del sys.modules[name]
    # Comparison feedback for str.startswith / endswith. (Not the "RegEx" hook: its pattern
    # proxy lacks the `pos` argument of match/fullmatch, which signing.py and gating.py use.)
    atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=["consent"]):
        module = importlib.import_module(harness)
    check: Callable[[bytes], None] = module.check
    atheris.Setup(sys.argv if argv is None else argv, check)
    atheris.Fuzz()
