"""Fuzz the `next` check (`consent.origin.safe_next`): no open redirect, whatever the value.

Properties (an `AssertionError` names the one that broke):

* the result is `/` or the value itself, a path starting with `/` and not `//` or `/\\`,
  without control characters, spaces or backslashes;
* a browser on `https://site.example/page` that follows it stays on the site: checked with
  `urllib.parse.urljoin` and with a model of the WHATWG URL parser (tabs and newlines
  removed, `\\` read as `/`, percent-decoded and IDNA-mapped hosts);
* the same holds for the `Location` header that the 303 answer actually carries (Starlette
  percent-encodes it), which must also be a valid header value.

Run: `.venv/bin/python -m fuzz.fuzz_next [libFuzzer options] [corpus dirs]`.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from starlette.responses import RedirectResponse

from consent.origin import safe_next
from fuzz._common import BASE_HOST, Reader, run_fuzzer, stays_on_site

__all__ = ["check", "main"]

BASE = f"https://{BASE_HOST}/page"
_FORBIDDEN = frozenset(map(chr, range(0x21))) | {"\\", "\x7f"}


def check_target(target: str, value: str) -> None:
    """`target`, where a redirect for `value` points, stays on the site."""
    assert target.startswith("/"), f"{value!r} -> {target!r}: not a path"
    assert target[1:2] not in ("/", "\\"), f"{value!r} -> {target!r}: another host"
    assert not _FORBIDDEN & set(target), f"{value!r} -> {target!r}: controls or backslash"
    joined = urlsplit(urljoin(BASE, target))
    assert (joined.scheme, joined.netloc) == ("https", BASE_HOST), f"{value!r}: urljoin {joined}"
    assert stays_on_site(target), f"{value!r} -> {target!r}: a browser leaves the site"


def check(data: bytes) -> None:
    reader = Reader(data)
    how = reader.byte() % 3
    raw = reader.rest()
    if how == 0:
        value = raw.decode("utf-8", "replace")
    elif how == 1:
        value = raw.decode("latin-1")
    else:  # after a leading slash, as most same-site paths (and most tricks) start
        value = "/" + raw.decode("utf-8", "replace")
    result = safe_next(value)
    assert result in ("/", value), f"{value!r} was rewritten to {result!r}"
    check_target(result, value)
    location = RedirectResponse(result, status_code=303).headers["location"]
    location.encode("latin-1")  # a header value: would raise on anything else
    check_target(location, value)


def main() -> None:
    run_fuzzer("fuzz.fuzz_next")


if __name__ == "__main__":
    main()
