"""The HTML gate without its fast path, kept as the reference.

`tests/test_gating.py` feeds random HTML, cut at random places, through both this gate and
`consent.gating.HTMLGate` and requires byte-identical output: the fast path (`NEXT` and
`plain_until`, which jump over the bytes that cannot matter) may only make the gate faster,
never change what it writes. This gate reads every tag with the start-tag grammar, the slow
and obviously faithful way, and rewrites tags with its own code. Do not optimise this file.
"""

from __future__ import annotations

import html
import re

from consent.gating import Allows, HostLookup, Mode, host_matcher
from consent.gating import HTMLGate as FastGate
from consent.gating.lexer import attribute
from consent.gating.modes import Stop, Then
from consent.gating.scanner import SKIP

__all__ = ["HTMLGate", "host_matcher", "srcset_urls"]

_Entry = tuple[bytes, str, bytes] | None
# One attribute: group 1 its name, group 2, 3 or 4 its value (double, single, no quotes).
_ATTR_PARTS = re.compile(attribute(b"("))


class HTMLGate(FastGate):
    """The gate reading tag by tag (`SKIP`, then one token at a time), never jumping."""

    def __init__(self, allows: Allows, hosts: HostLookup | None = None) -> None:
        super().__init__(allows, hosts)
        # The <video>, <audio> and <picture> elements open, each with (its name, its id, its
        # data-consent value as written) if it has an id.
        self._containers: list[tuple[bytes, _Entry]] = []
        self._last_container: _Entry = None
        self._frozen_containers = False

    def _data_step(self, data: bytes, pos: int, out: list[bytes], final: bool) -> Stop:
        skip = SKIP.match(data, pos)
        if skip is not None and skip.end() > pos:
            out.append(data[pos : skip.end()])
            return Stop(skip.end(), Then.GO_ON)
        return Stop(pos, Then.TOKEN)

    def _repeated_run(self, data: bytes, pos: int) -> re.Match[bytes] | None:
        return None  # every tag read on its own

    def _container_end(self, name: bytes) -> None:
        if not self._frozen_containers:
            names = [n for n, _ in self._containers]
            if name in names:
                del self._containers[len(names) - 1 - names[::-1].index(name) :]

    def _start_tag(self, tag: re.Match[bytes]) -> bytes:
        name = tag.group(1).lower()
        if name not in _LOADS and name not in (b"base", b"picture"):
            return tag.group(0)
        attrs = [(m.group(1).lower(), m) for m in _ATTR_PARTS.finditer(tag.group(2))]
        values: dict[bytes, str] = {}
        for attr, match in attrs:
            values.setdefault(attr, _value(match))  # the first of duplicates wins, as in browsers
        consent_id = values.get(b"data-consent")
        if name == b"base":
            writer = self._writer
            if b"href" in values and not writer.base_fixed and self._hosts is not None:
                service = self._hosts(values[b"href"].strip())
                if not (self._mode is Mode.PARANOID or self._context.active or writer.template):
                    writer.base_fixed, writer.base = True, service
                elif service is not None and (writer.base is None or self._allows(writer.base)):
                    writer.base = service
            return tag.group(0)
        if name == b"template":
            self._writer.template = True
        # What a <video>, <audio> or <picture> with an id passes on to its children: open
        # from its start tag to its end tag, and also to the next such start tag (or a
        # picture's first <img> that loads anything).
        inherited = None
        if name in (b"video", b"audio", b"picture"):
            entry = None
            if consent_id is not None:
                written = next(m for attr, m in attrs if attr == b"data-consent")
                raw_value = written.group(0)[len(b"data-consent") :].lstrip(b"\t\n\f\r ")
                raw_value = raw_value[1:].lstrip(b"\t\n\f\r ") if raw_value else b""
                entry = (name, consent_id, raw_value or b'""')
            self._last_container = entry
            if len(self._containers) < 64:
                self._containers.append((name, entry))
            else:
                self._frozen_containers = True
        elif name in (b"source", b"track", b"img", b"image"):
            for held in [self._last_container, *[e for _, e in reversed(self._containers)]]:
                if held is None or (name in (b"img", b"image") and held[0] != b"picture"):
                    continue
                if not self._allows(held[1].strip("\t\n\f\r ")):
                    inherited = held
                    break
        urls: list[str] = []
        if name == b"script":
            src = values.get(b"src")
            if src is None:  # an SVG script loads its href
                src = values.get(b"href") or values.get(b"xlink:href")
            src = (src or "").strip()
            if src:
                urls.append(src)
            loads = consent_id is not None or bool(src)
            moved = [b"type"]
        else:
            if name == b"link" and not _loading(values.get(b"rel")):
                return tag.group(0)
            moved = list(_LOADS.get(name, ()))
            loads = False
            for attr in moved:
                value = values.get(attr)
                if value is None:
                    continue
                if attr in (b"srcdoc", b"shadowrootmode"):
                    loads = True
                elif attr in (b"srcset", b"imagesrcset"):
                    found = srcset_urls(value)
                    urls += found
                    loads = loads or bool(found)
                elif value.strip():
                    urls.append(value.strip())
                    loads = True
        if not loads:
            return tag.group(0)
        held = self._last_container
        paranoid = self._mode is Mode.PARANOID
        if name in (b"img", b"image") and not paranoid and held and held[0] == b"picture":
            self._last_container = None
        if consent_id is not None:
            inherited = None
        added = b""
        if consent_id is None and inherited is not None:
            if not self._allows(inherited[1].strip("\t\n\f\r ")):
                consent_id = inherited[1]
                added = b" data-consent=" + inherited[2]
        if consent_id is None and self._hosts is not None:
            for url in urls:
                service = self._hosts(url)
                base = self._writer.base
                if service is None and base is not None and _from_base(url):
                    service = base
                if service is not None and not self._allows(service):
                    consent_id = service
                    added = b' data-consent="' + service.encode() + b'"'
                    break
        if consent_id is None and name == b"iframe" and b"srcdoc" in values and self._depth < 8:
            # The document in the srcdoc, read by a gate of its own: the first id it gates.
            inner = HTMLGate(self._allows, self._hosts)
            inner._writer.base, inner._depth = self._writer.base, self._depth + 1
            inner.feed(values[b"srcdoc"].encode("utf-8", "xmlcharrefreplace"))
            inner.close()
            if inner.first_refused is not None:
                consent_id = inner.first_refused.strip("\t\n\f\r ")
                escaped = html.escape(consent_id).encode("ascii", "xmlcharrefreplace")
                added = b' data-consent="' + escaped + b'"'
        if consent_id is None or self._allows(consent_id.strip("\t\n\f\r ")):
            return tag.group(0)
        if name == b"script":
            kind = values.get(b"type")
            if kind is not None and kind.strip().lower() == "text/plain":
                return tag.group(0)  # written inert already
            added += b' type="text/plain"'
        # The new attributes first; the page's own keep their bytes and separators, with
        # each moved attribute renamed to "data-consent-<name>" and any such attribute it
        # already had left out.
        dropped = [b"data-consent-" + attr for attr in moved]
        text = tag.group(2)
        parts = []
        last = 0
        for attr, match in attrs:
            if attr in moved:
                parts.append(text[last : match.start()] + b"data-consent-" + attr)
                last = match.start() + len(attr)
            elif attr in dropped:
                parts.append(text[last : match.start()])
                last = match.end()
        parts.append(text[last:])
        self._writer.changed = True
        if self._writer.first_refused is None:
            self._writer.first_refused = consent_id
        return b"<" + tag.group(1) + added + b"".join(parts) + b">"


# What each element loads (a script: its src, or in SVG href).
_LOADS: dict[bytes, tuple[bytes, ...]] = {
    b"script": (b"src", b"href", b"xlink:href"),
    b"iframe": (b"src", b"srcdoc"),
    b"img": (b"src", b"srcset"),
    b"image": (b"src", b"srcset", b"href", b"xlink:href"),
    b"source": (b"src", b"srcset"),
    b"track": (b"src",),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"embed": (b"src",),
    b"object": (b"data",),
    b"input": (b"src",),
    b"link": (b"href", b"imagesrcset"),
    b"template": (b"shadowrootmode",),
}
_FETCHING = "stylesheet preload prefetch preconnect dns-prefetch modulepreload prerender icon "
_FETCHING += "apple-touch-icon manifest compression-dictionary"


def _loading(rel: str | None) -> bool:
    if rel is None:
        return False
    for token in re.split("[\t\n\f\r ]", rel):
        if token.isascii() and token.lower() in _FETCHING.split():
            return True
    return False


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset, step by step as the HTML standard's parsing algorithm reads it."""
    blanks = "\t\n\f\r "
    urls: list[str] = []
    pos = 0
    while True:
        while pos < len(value) and value[pos] in blanks + ",":
            pos += 1
        if pos == len(value):
            return urls
        start = pos
        while pos < len(value) and value[pos] not in blanks:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            urls.append(url.rstrip(","))
            continue
        urls.append(url)
        state = "descriptor"
        while pos < len(value):
            char = value[pos]
            pos += 1
            if state == "parens":
                if char == ")":
                    state = "descriptor"
            elif char == "(":
                state = "parens"
            elif char == ",":
                break


def _from_base(url: str) -> bool:
    """Whether `url` goes to the host of the base URL."""
    url = url.strip("".join(map(chr, range(0x21)))).replace("\t", "").replace("\n", "")
    url = url.replace("\r", "")
    scheme = re.match("[a-zA-Z][a-zA-Z0-9+.-]*:", url)
    rest = url[scheme.end() :] if scheme else url
    if re.match(r"[/\\]{2}", rest):
        return False  # a host of its own
    return scheme is None or scheme.group().lower() in ("http:", "https:")


def _value(match: re.Match[bytes]) -> str:
    for group in (2, 3, 4):
        value = match.group(group)
        if value is not None:
            return html.unescape(value.decode("latin-1"))
    return ""
