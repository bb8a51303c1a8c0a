"""The fast scanner: where in plain text the next construct that can matter to the gate is.

Most of a page is text and ordinary tags, which never change. `NEXT` finds, with one C-level
search, the next place that can matter (a comment, the start tag of a script, an iframe, an
image, ... or another raw-text or context element, a container's end tag); `plain_until`
proves with a few byte searches that the bytes before it are plain; `SKIP` reads them tag by
tag when that proof fails. In paranoid mode `CANDIDATE` finds every start tag the gate reads
for a plan, wherever it stands, and `defuse_inside` writes the ones inside a gated tag as
text. `repeated_run` finds a run of the same bare start tag, read in bulk where every tag
counts.
"""

from __future__ import annotations

import re

from consent.gating.lexer import BLANKS, WS, attribute
from consent.gating.raw_text import RAW_TEXT

__all__ = [
    "CANDIDATE",
    "CANDIDATE_HEAD",
    "CONTAINER_NAMES",
    "GATED_NAMES",
    "GATED_ONLY",
    "HEAD",
    "NEXT",
    "NEXT_IN_CONTAINER",
    "PLAIN_ENDS",
    "SKIP",
    "WATCHED",
    "defuse_inside",
    "either_case",
    "plain_until",
    "repeated_run",
]

# Start tags after which the tree builder may read tags differently (see `TreeContext`).
_CONTEXT_TAGS = frozenset({b"svg", b"math", b"select", b"noscript"})
# The other start tags the gate may rewrite or must note (see `plans`): what loads an image,
# a frame, media, a plug-in or a link's resource, a declarative shadow root, and the
# <base> and media containers that change how later tags are read.
GATED_ONLY = frozenset(
    b"img image source track video audio picture embed object input link template base".split()
)
# Every start tag the gate reads for a plan, in every mode (paranoid too: `CANDIDATE`).
GATED_NAMES = GATED_ONLY | {b"script", b"iframe"}
WATCHED = RAW_TEXT | _CONTEXT_TAGS | GATED_ONLY
# The containers whose children load for them: their end tags matter too.
CONTAINER_NAMES = frozenset({b"video", b"audio", b"picture"})
# A container's end tag as pages write it, with its name: nothing else to read in it.
PLAIN_ENDS = {b"</" + name + b">": name for name in CONTAINER_NAMES}
# Everything the gate passes on unchanged, consumed in one C-level match: text, tags other
# than the raw-text and context elements above (scripts and iframes among them), end tags,
# doctype and other "<!...>" / "<?...>" constructs. It stops at a comment, at a tag the gate
# must look at, and before anything unfinished at the end of the buffer.
SKIP = re.compile(
    rb"(?:[^<]++"
    rb"|<(?![a-zA-Z!/?]|\Z)"
    rb"|<(?!(?i:" + b"|".join(sorted(WATCHED)) + rb")[" + WS + rb"/>])"
    rb"[a-zA-Z][^" + WS + rb"/>]*+(?:[" + WS + rb"/]++|(?>" + attribute(b"(?:") + rb"))*+>"
    rb"|</(?!(?i:" + b"|".join(sorted(CONTAINER_NAMES)) + rb")[" + WS + rb"/>])"
    rb"[a-zA-Z][^" + WS + rb"/>]*+(?:[" + WS + rb"/]++|(?>" + attribute(b"(?:") + rb"))*+>"
    rb"|</(?![a-zA-Z])[^>]*+>"
    rb"|<!(?!--)[^>]*+>"
    rb"|<\?[^>]*+>"
    rb")*+"
)


def either_case(words: list[bytes]) -> bytes:
    """A pattern of `words` in any case: "script|style" as "[sS](?:[cC][rR]...|[tT][yY]...)".
    `re` then tries one branch per first letter, and character classes are cheaper for it
    than IGNORECASE."""
    heads: dict[bytes, list[bytes]] = {}
    for word in words:
        heads.setdefault(word[:1], []).append(word[1:])
    branches = []
    for head, tails in sorted(heads.items()):
        first = re.escape(head) if not head.isalpha() else b"[" + head.lower() + head.upper() + b"]"
        rest = [t for t in tails if t]
        branch = first + (either_case(rest) if rest else b"")
        branches.append(branch + (b"|" + first if rest and len(rest) < len(tails) else b""))
    return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"


def _watched_branches(names: frozenset[bytes], after: bytes) -> bytes:
    # One branch per lower-case first letter, opening with that plain byte ("s(?:[cC]...)|t..."):
    # `re` turns such a branch away by comparing the byte, without the call a character class
    # costs, and each "<" of a page pays one comparison per branch before its own, so the
    # letters that begin most tags come first. Upper-case names, which few pages write, share
    # one last branch: a class, then a look-behind per letter ("[ST](?:(?<=S)...|(?<=T)...)").
    heads: dict[bytes, list[bytes]] = {}
    for name in sorted(names):
        heads.setdefault(name[:1], []).append(name[1:])
    order = sorted(heads, key=lambda head: _COMMON.find(head) % 64)
    lower = [re.escape(head) + either_case(heads[head]) + after for head in order]
    upper = b"|".join(
        b"(?<=" + head.upper() + b")" + either_case(heads[head]) + after for head in order
    )
    return b"|".join([*lower, b"[" + b"".join(order).upper() + b"](?:" + upper + b")"])


# The letters most tags of a page begin with, most common first.
_COMMON = b"apstlibdhmnovcefgjkqruwxyz"
_AFTER_NAME = rb"(?=[" + WS + rb"/>])(?:[^>]*+>)?"

# Where the tokenizer state can change or a tag may need rewriting: comments, the start tags
# of raw-text elements (scripts and iframes among them), of the context elements and of the
# other elements the gate reads, and the end tags of containers, found case-insensitively. A
# match may still be inside another tag: the gate checks. A comment is matched by
# its "<!--" alone (or whole, "<!-->" and "<!--->"): the gate looks for its end only where
# it is one, since searching on from every "<!--" in an attribute value would read the rest
# of the page once for each; a tag up to its first ">", if any (the gate reads the rest).
# The end tags of containers matter only while one is open (`NEXT_IN_CONTAINER`): half of a
# page's "<" begin end tags, and each costs `re` a branch more where they are looked for.
NEXT = re.compile(b"<(?:" + _watched_branches(WATCHED, _AFTER_NAME) + b"|!--(?:-?>)?)", re.DOTALL)
NEXT_IN_CONTAINER = re.compile(
    b"<(?:/(?:"
    + _watched_branches(CONTAINER_NAMES, _AFTER_NAME)
    + b")|"
    + _watched_branches(WATCHED, _AFTER_NAME)
    + b"|!--(?:-?>)?)",
    re.DOTALL,
)
# What can begin a tag, an end tag, a comment or "<!...>" / "<?...>" (or might, once more
# data arrives): any other "<" is text.
_OPENER = re.compile(rb"<(?:[a-zA-Z!/?]|\Z)")
_BEFORE_VALUE = b"=\t\n\f\r "


def plain_until(data: bytes, pos: int, stop: int) -> int:
    """How far from `pos` (the tokenizer in the data state there, and no `NEXT` match in
    between) the bytes provably pass the gate unchanged and end in the data state: `stop`;
    or the "<" of a tag or "<!...>" still open at `stop`; or `pos` when it cannot tell.

    In that stretch the tokenizer only reads text, tags and "<!...>" / "<?...>", and each of
    these ends at the first ">" that is not inside a quoted attribute value. So if the last
    ">" before `stop` is not in a quoted value, the data state resumes right after it, and
    what follows is text up to the first "<" that opens something. A quoted value is opened
    only by a quote after "=" (and blanks), and contains no quote of its kind: a ">" inside
    one therefore has, as the last quote of that kind before it, a quote after "=".
    """
    close = data.rfind(b">", pos, stop)
    if close < 0:
        after = pos
    else:
        # Usually the last quote of each kind closes a value ('"' after the value): one look
        # at the byte before it settles that.
        double = data.rfind(b'"', pos, close)
        if double > pos and data[double - 1] in _BEFORE_VALUE and _opens_value(data, pos, double):
            return pos
        single = data.rfind(b"'", pos, close)
        if single > pos and data[single - 1] in _BEFORE_VALUE and _opens_value(data, pos, single):
            return pos
        after = close + 1
    if data.find(b"<", after, stop) < 0:
        return stop
    opener = _OPENER.search(data, after, stop)
    return stop if opener is None else opener.start()


def _opens_value(data: bytes, pos: int, quote: int) -> bool:
    """Whether the quote at `quote` (after `pos`, the data state there) may open an attribute
    value: whether "=" and nothing but blanks come before it."""
    start = data.rfind(b"=", pos, quote)
    return start >= 0 and BLANKS.fullmatch(data, start + 1, quote) is not None


# The start of a start tag the gate reads for a plan, anywhere (paranoid mode).
# (With a namespace prefix too, `<h:script`, which an XML parser reads as a script.)
CANDIDATE = re.compile(
    rb"<(?:[A-Za-z_][A-Za-z0-9_.\-]*+:)?"
    + either_case(sorted(GATED_NAMES))
    + rb"(?=["
    + WS
    + rb"/>]|\Z)"
)
# The "<" of each `CANDIDATE` alone (none of them holds another "<"), to defuse them all
# in one substitution.
_CANDIDATE_LT = re.compile(rb"<(?=" + CANDIDATE.pattern[1:] + rb")")
# What may begin a candidate at the end of the buffer, a name with its prefix so far: how
# long a one the gate keeps for the next chunk (longer prefixes than that are not followed).
HEAD = 64
CANDIDATE_HEAD = re.compile(rb"<[A-Za-z0-9_.\-:]*+\Z")


def defuse_inside(tag: bytes) -> bytes:
    """`tag` with every candidate start tag inside it written "&lt;...": the same
    text where it is an attribute value, and no tag wherever else a browser may read it."""
    return tag[:1] + _CANDIDATE_LT.sub(b"&lt;", tag[1:])


# A run of at least three of the same start tag without attributes (group 1: one of them).
_REPEATED = re.compile(rb"(<[a-zA-Z][a-zA-Z0-9]*+>)\1\1++")
_BARE_TAG = re.compile(rb"<[a-zA-Z][a-zA-Z0-9]*+>")
_BARE_LONGEST = 64  # a longer tag is read on its own


def repeated_run(data: bytes, pos: int) -> re.Match[bytes] | None:
    """The run of at least three of the same bare start tag at `pos`, if there is one; only
    the tag itself is looked at otherwise, not what follows it."""
    close = data.find(b">", pos, pos + _BARE_LONGEST)
    if close < 0:
        return None
    tag = data[pos : close + 1]
    if not data.startswith(tag * 2, close + 1) or _BARE_TAG.fullmatch(tag) is None:
        return None
    return _REPEATED.match(data, pos)
