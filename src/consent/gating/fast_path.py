"""The fast path of the gate, in the data state of HTML content: `FastPath`.

It jumps from candidate to candidate (`scanner.NEXT`) while nothing but them can matter,
proves the bytes in between plain (`scanner.plain_until`), applies the plans of the tags it
knows (`TagMemo`) with the visitor's consent (`TagWriter`), skips comments and the text of
raw-text elements whose end one search finds, and hands every other construct back to the
gate, which reads it token by token (`Stop`).
"""

from __future__ import annotations

import re

from consent.gating.holding import await_construct
from consent.gating.lexer import OTHER, START_TAG
from consent.gating.modes import Stop, Then
from consent.gating.plans import AS_IS
from consent.gating.raw_text import COMMENT_END, RAW_TEXT, plain_raw_end
from consent.gating.rewriter import TagWriter
from consent.gating.scanner import (
    GATED_ONLY,
    NEXT,
    NEXT_IN_CONTAINER,
    PLAIN_ENDS,
    SKIP,
    plain_until,
)
from consent.gating.tag_memo import KnownTag, TagMemo

__all__ = ["FastPath"]


_GO_ON, _TOKEN, _WAIT, _RAW_TEXT = Then.GO_ON, Then.TOKEN, Then.WAIT, Then.RAW_TEXT


class FastPath:
    """The fast path of one page's gate."""

    __slots__ = ("_encoding", "_memo", "_writer")

    def __init__(self, memo: TagMemo, writer: TagWriter, encoding: str | None) -> None:
        self._memo = memo
        self._writer = writer
        self._encoding = encoding

    def run(self, data: bytes, pos: int, out: list[bytes], final: bool) -> Stop:
        """From `pos` (the data state of HTML content, outside any tree context), pass on
        bytes (appended to `out`) up to the next construct the gate must read itself.
        Bytes pass on in one slice from `sent` until a tag is rewritten."""
        end = len(data)
        memo = self._memo.get
        writer = self._writer
        sent = pos
        while True:
            # Nothing up to the next candidate can change, and at the end of the body
            # nothing after the last one can either (an unfinished tag passes as is).
            found = (NEXT_IN_CONTAINER if writer.containers_open else NEXT).search(data, pos)
            if found is None:
                if final:
                    out.append(data[sent:])
                    return Stop(end, _GO_ON)
                stop = close = end
            else:
                stop, close = found.span()
            if stop > pos:
                plain = plain_until(data, pos, stop)
                if plain > pos:
                    pos = plain
                    if found is None:
                        out.append(data[sent:pos])
                        if pos < end:  # a tag without its ">" yet
                            return Stop(pos, _WAIT, wait=await_construct(data, pos))
                        return Stop(pos, _WAIT)
            if pos != stop or found is None:
                # The candidate may be hidden in a tag, or the quick proof failed: read the
                # bytes tag by tag up to the next place that matters.
                skip = SKIP.match(data, pos)
                if skip is None or skip.end() == pos:
                    out.append(data[sent:pos])
                    return Stop(pos, _TOKEN)
                pos = skip.end()
                if pos == end:
                    out.append(data[sent:pos])
                    return Stop(pos, _GO_ON)
                continue
            # The commonest stops first, with the least work: a tag read before that changes
            # nothing here, or a container's end tag as pages write it.
            raw = data[pos:close]
            known = memo(raw)
            if known is not None and known.name in GATED_ONLY:
                plan = known.plan
                if plan is AS_IS or (plan.quiet and writer.base is None and not writer.held):
                    pos = close
                    if pos == end:
                        out.append(data[sent:pos])
                        return Stop(pos, _GO_ON)
                    continue
            second = data[pos + 1]
            if second == 0x2F:  # "/": the end tag of a container
                container = PLAIN_ENDS.get(raw)
                if container is not None:
                    writer.container_end(container)
                    pos = close
                else:
                    other = OTHER.match(data, pos)
                    if other is None:
                        out.append(data[sent:pos])
                        return Stop(pos, _TOKEN)  # no ">" yet
                    writer.container_end(other.group(1).lower())
                    pos = other.end()
                if pos == end:
                    out.append(data[sent:pos])
                    return Stop(pos, _GO_ON)
                continue
            if second == 0x21:  # "!": a comment
                if close - pos == 4:
                    comment = COMMENT_END.search(data, close)
                    if comment is None:  # "<!--" without its end yet
                        out.append(data[sent:pos])
                        return Stop(pos, _TOKEN)
                    close = comment.end()
                pos = close  # a whole comment
                if pos == end:
                    out.append(data[sent:pos])
                    return Stop(pos, _GO_ON)
                continue
            # A tag seen before is known by its bytes up to its first ">": a tag that ends
            # there is read the same wherever it stands, and one that does not (a ">" in a
            # quoted value, or none yet) cannot equal such bytes.
            if known is None:
                tag = START_TAG.match(data, pos)
                if tag is None:
                    out.append(data[sent:pos])
                    return Stop(pos, _TOKEN)  # no ">" yet
                raw = tag.group(0)
                close = tag.end()
                known = self._read(raw, tag)
            name, plan = known
            if name in GATED_ONLY:
                # An image, a link, ...: it changes no state of the tokenizer or tree context.
                # Most load only the site's own URLs, which only a <base> or a container
                # would change.
                if plan is not AS_IS and not (
                    plan.quiet and writer.base is None and not writer.held
                ):
                    written = writer.write(raw, plan)
                    if written is not raw:
                        out.append(data[sent:pos])
                        out.append(written)
                        sent = close
                pos = close
                if pos == end:
                    out.append(data[sent:pos])
                    return Stop(pos, _GO_ON)
                continue
            if name not in RAW_TEXT:
                # A context element (svg, math, select, noscript): the gate reads it.
                out.append(data[sent:pos])
                return Stop(pos, _TOKEN)
            # The common case, inline: raw text.
            if plan is not AS_IS:
                written = writer.write(raw, plan)
                if written is not raw:
                    out.append(data[sent:pos])
                    out.append(written)
                    sent = close
            ends = plain_raw_end(name, data, close)
            if ends is None:
                out.append(data[sent:close])
                return Stop(close, _RAW_TEXT, name)
            pos = ends

    def _read(self, raw: bytes, tag: re.Match[bytes]) -> KnownTag:
        """Read a start tag not read before, and remember it."""
        return self._memo.read(raw, tag.group(1), tag.group(2), self._encoding)
