"""The plan of a start tag: how it is gated, whoever the visitor.

`plan_of` reads a candidate start tag once (its data-consent id, the URLs it loads, where
the gate's attributes go and the rest of the tag with what it loads moved aside); the gate
then applies only the visitor's consent to that `Plan` (see `rewriter`).
"""

from __future__ import annotations

import html
import re
from enum import IntEnum
from typing import NamedTuple

from consent._links import LOADING_RELS
from consent.gating.hosts import browser_host
from consent.gating.lexer import ATTRS
from consent.gating.scanner import CONTAINER_NAMES

__all__ = ["AS_IS", "Plan", "Role", "plan_of", "srcset_urls"]


class Role(IntEnum):
    """What a start tag is to the tags after it."""

    PLAIN = 0
    """Nothing."""
    BASE = 1
    """The <base> whose href relative URLs resolve against."""
    MEDIA = 2
    """A <video> or <audio>, whose <source> and <track> children wait with it."""
    PICTURE = 3
    """A <picture>, whose <source> children and <img> wait with it."""
    CHILD = 4
    """A <source> or <track>."""
    IMG = 5
    """An <img> (or <image>)."""
    TEMPLATE = 6
    """A <template>: a <base> after it may be in its content."""


class Plan(NamedTuple):
    """How a start tag the gate reads is gated, whoever the visitor."""

    consent_id: str | None
    """Its data-consent id, or None."""
    urls: tuple[str, ...]
    """What it loads, when it has no data-consent (a srcset gives each candidate's URL),
    for the hosts of declared services; for a <base>, its href."""
    cut: int
    """Where the attributes the gate adds go: after the tag name."""
    inserted: bytes
    """The attribute the gate adds to any gated tag: `type="text/plain"` to a script."""
    renamed: bytes | None
    """The rest of the tag after them, what it loads moved aside; None: as it is."""
    role: Role = Role.PLAIN
    """What it is to the tags after it."""
    written_id: bytes = b""
    """A container's data-consent value as the page wrote it, for its children."""
    container: bytes = b""
    """A container's name (video, audio, picture), to match its end tag."""
    quiet: bool = False
    """Whether it is gated only through a <base> or a container: no data-consent, and only
    URLs without a host (the site's own, unless a <base> says otherwise)."""
    srcdoc: str | None = None
    """An iframe's srcdoc when it has no data-consent: the document that it loads."""


AS_IS = Plan(None, (), 0, b"", None)
"""The plan of a tag that no consent changes: no data-consent or URL, or inert already."""

# The attributes whose values each element loads, in the order their URLs are matched with
# hosts; the gate moves each to "data-consent-<name>" (a script's `type` is changed instead).
_LOADS: dict[bytes, tuple[bytes, ...]] = {
    b"iframe": (b"src", b"srcdoc"),
    b"img": (b"src", b"srcset"),
    # <image> is an <img> in HTML (the tree builder renames it) and an image in SVG.
    b"image": (b"src", b"srcset", b"href", b"xlink:href"),
    b"source": (b"src", b"srcset"),
    b"track": (b"src",),
    b"video": (b"src", b"poster"),
    b"audio": (b"src",),
    b"embed": (b"src",),
    b"object": (b"data",),
    # Only <input type=image> loads its src; moving it aside from any other type is harmless,
    # and a script may change the type.
    b"input": (b"src",),
    b"link": (b"href", b"imagesrcset"),
    # A declarative shadow root is attached, its content live, as the parser reads it.
    b"template": (b"shadowrootmode",),
}
# The attribute values that are not one URL: srcset lists, HTML and a shadow root mode.
_SRCSETS = frozenset({b"srcset", b"imagesrcset"})
_NOT_URLS = frozenset({b"srcdoc", b"shadowrootmode"})
_ROLES = {
    b"base": Role.BASE,
    b"video": Role.MEDIA,
    b"audio": Role.MEDIA,
    b"picture": Role.PICTURE,
    b"source": Role.CHILD,
    b"track": Role.CHILD,
    b"img": Role.IMG,
    b"image": Role.IMG,
    b"template": Role.TEMPLATE,
}
_HOLDERS = (Role.MEDIA, Role.PICTURE)
_PLAIN, _BASE = Role.PLAIN, Role.BASE
# A container with no data-consent: its children are read on their own.
_CONTAINERS = {
    name: Plan(None, (), 0, b"", None, role, b"", name if role != Role.TEMPLATE else b"")
    for name, role in _ROLES.items()
    if role in (Role.MEDIA, Role.PICTURE, Role.TEMPLATE)
}
_ASCII_BLANKS = re.compile(r"[\t\n\f\r ]+")
_SCRIPT_URLS = (b"src", b"href")  # a script loads src, or in SVG href or xlink:href
_Attrs = list[re.Match[bytes]]  # ATTRS matches: group 2 the name, 3 the value (quoted)


def plan_of(name: bytes, written: bytes, attributes: bytes, encoding: str | None = "utf-8") -> Plan:
    """The plan of the start tag of candidate element `name` (lower case, its local name;
    `written` as the page has it) with `attributes`, in a page in `encoding` (see
    `HTMLGate`)."""
    role = _ROLES.get(name, _PLAIN)
    loads = _LOADS.get(name, ())
    lowered = attributes.lower()
    # (`find`, not `in`: `bytes in bytes` first tries its operand as an integer, and the
    # exception that raises inside CPython costs more than the search.)
    if lowered.find(b"data-consent") < 0 and all(
        lowered.find(a) < 0 for a in (*loads, *_SCRIPT_URLS)
    ):
        return _CONTAINERS.get(name, AS_IS)  # no attribute that can gate it
    # The attributes are read once, for their values and for `_moved`.
    attrs: _Attrs = list(ATTRS.finditer(attributes))
    names = [match.group(2).lower() for match in attrs]
    consent_id = _first(attrs, names, b"data-consent", encoding)
    if name == b"base":
        href = _first(attrs, names, b"href", encoding)  # only a <base> with an href counts
        return AS_IS if href is None else Plan(None, (href.strip(),), 0, b"", None, _BASE)
    cut = 1 + len(written)
    if name == b"script":
        src = _first(attrs, names, b"src", encoding)
        if src is None:  # an SVG script loads its href
            src = _first(attrs, names, b"href", encoding) or _first(
                attrs, names, b"xlink:href", encoding
            )
        src = "" if src is None else src.strip()
        if consent_id is None and not src:
            return AS_IS
        kind = _first(attrs, names, b"type", encoding)
        if kind is not None and kind.strip().lower() == "text/plain":
            return AS_IS  # written inert already
        urls: tuple[str, ...] = () if consent_id is not None else (src,)
        return _moved(
            attributes, attrs, names, consent_id, urls, cut, (b"type",), b' type="text/plain"'
        )
    if name == b"link":
        rel = _first(attrs, names, b"rel", encoding)
        if rel is None or LOADING_RELS.isdisjoint(_rel_tokens(rel)):
            return AS_IS
    found: list[str] = []
    active = False  # whether it loads anything at all
    srcdoc: str | None = None
    for attr in loads:
        value = _first(attrs, names, attr, encoding)
        if value is None:
            continue
        if attr in _NOT_URLS:
            active = True  # present, even empty: srcdoc then wins over src
            if attr == b"srcdoc" and consent_id is None:
                srcdoc = value
        elif attr in _SRCSETS:
            candidates = srcset_urls(value)
            found += candidates
            active = active or bool(candidates)
        elif value.strip():
            found.append(value.strip())
            active = True
    written_id = b""
    if consent_id is not None and role in _HOLDERS:
        # Its children get its data-consent as the page wrote it (quotes, references and
        # charset kept), so that they name the same id.
        written_id = attrs[names.index(b"data-consent")].group(3) or b'""'
    if not active or (consent_id is None and not found and srcdoc is None):
        if consent_id is None or not written_id:
            return _CONTAINERS.get(name, AS_IS)
        return Plan(consent_id, (), 0, b"", None, role, written_id, name)
    urls = () if consent_id is not None else tuple(found)
    plan = _moved(attributes, attrs, names, consent_id, urls, cut, loads, b"", role, written_id)
    if name in CONTAINER_NAMES:
        return plan._replace(container=name)
    if srcdoc is not None:
        return plan._replace(srcdoc=srcdoc)
    if consent_id is None and all(browser_host(url) is None for url in urls):
        return plan._replace(quiet=True)
    return plan


def _moved(
    attributes: bytes,
    attrs: _Attrs,
    names: list[bytes],
    consent_id: str | None,
    urls: tuple[str, ...],
    cut: int,
    moved: tuple[bytes, ...],
    inserted: bytes,
    role: Role = Role.PLAIN,
    written_id: bytes = b"",
) -> Plan:
    """The plan that renames each attribute in `moved` to "data-consent-<name>" in place;
    the page's own attributes keep their bytes and separators, and any "data-consent-<name>"
    the tag already had is left out."""
    dropped = {b"data-consent-" + attr: attr for attr in moved}
    if dropped.keys().isdisjoint(names) and not any(attr in names for attr in moved):
        return Plan(consent_id, urls, cut, inserted, None, role, written_id)
    pieces: list[bytes] = []
    last = 0
    for match, attr_name in zip(attrs, names, strict=True):
        if attr_name in dropped:
            pieces.append(attributes[last : match.start()])
            last = match.end()
        elif attr_name in moved:
            pieces.append(attributes[last : match.start()] + b"data-consent-" + attr_name)
            last = match.start() + len(attr_name)
    pieces.append(attributes[last:])
    return Plan(consent_id, urls, cut, inserted, b"".join(pieces) + b">", role, written_id)


# One image candidate of a srcset, as the HTML standard splits the list: commas and blanks,
# then its URL (all up to a blank; trailing commas end the candidate), then its descriptors up
# to a comma outside parentheses. Group 1: the URL, empty only at the end of the list (so
# that no attempt fails after reading far: each byte is read once).
_SRCSET_CANDIDATE = re.compile(
    r"[\t\n\f\r ,]*+([^\t\n\f\r ]*+)(?:(?<=,)|(?:[^,(]++|\([^)]*+\)?)*+,?)"
)


def srcset_urls(value: str) -> list[str]:
    """The URL of each image candidate in the srcset `value`: a browser may fetch any one
    (a candidate whose descriptors it rejects counts too, which only gates more)."""
    found = (match.group(1) for match in _SRCSET_CANDIDATE.finditer(value))
    return [url.rstrip(",") for url in found if url]


def _rel_tokens(rel: str) -> set[str]:
    """The link types in `rel`: split at ASCII whitespace, ASCII letters in lower case
    (another letter makes a token no link type equals)."""
    return {token.lower() for token in _ASCII_BLANKS.split(rel) if token.isascii()}


def _first(attrs: _Attrs, names: list[bytes], name: bytes, encoding: str | None) -> str | None:
    """The value of the first attribute called `name` (browsers ignore the others), decoded
    as the browser decodes the page (see `HTMLGate`)."""
    if name not in names:
        return None
    value = attrs[names.index(name)].group(3) or b""
    if value[:1] == b'"' or value[:1] == b"'":
        value = value[1:-1]
    if value.isascii():
        text = value.decode("ascii")
    elif encoding is not None:
        text = value.decode(encoding, "replace")
    else:
        # Not declared: a browser that guesses takes valid UTF-8 for UTF-8, and anything else
        # for windows-1252 (where the lead byte of any UTF-8 sequence is a letter that stays
        # in a host, so the other reading of valid UTF-8 names no host a service declares).
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("cp1252", "replace")
    return html.unescape(text) if "&" in text else text
