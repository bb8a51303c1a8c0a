"""`HTMLGate`: one page's body, fed in chunks, rewritten as it streams through. It is in one
`Mode` at a time: markup (`DATA`: the fast path, or token by token where the tree context
makes every tag count), a raw-text element's text (`RAW_TEXT`), a comment or CDATA section
(`SKIP`), or `PARANOID` to the end. Between chunks it keeps only what is unfinished."""

from __future__ import annotations

import re

from consent.gating import holding, raw_text
from consent.gating.fast_path import FastPath
from consent.gating.holding import Await, Hold, HoldKind
from consent.gating.hosts import HostLookup
from consent.gating.lexer import OTHER, START_TAG, self_closing
from consent.gating.modes import Mode, Stop, Then
from consent.gating.paranoid import ParanoidPath
from consent.gating.plans import AS_IS
from consent.gating.raw_text import RAW_TEXT, ScriptState
from consent.gating.rewriter import ID_BLANKS, Allows, TagWriter
from consent.gating.scanner import CONTAINER_NAMES, GATED_NAMES, WATCHED, repeated_run
from consent.gating.tag_memo import TagMemo
from consent.gating.tree_context import TreeContext

__all__ = ["HTMLGate"]


_DATA, _RAW, _SKIP, _PARANOID = Mode.DATA, Mode.RAW_TEXT, Mode.SKIP, Mode.PARANOID
_GO_ON, _WAIT, _RAW_TEXT = Then.GO_ON, Then.WAIT, Then.RAW_TEXT
# (Enum members as module names: reading one off its class costs as much as a call.)
_SCRIPT_DATA = ScriptState.DATA
_HOLD_TAG, _HOLD_COMMENT, _HOLD_RAW = HoldKind.TAG, HoldKind.COMMENT, HoldKind.RAW
_SHORT_COMMENT = re.compile(rb"<!---?>")


class HTMLGate:
    """Rewrites one HTML body, fed in chunks; `feed` and `close` return bytes to send."""

    def __init__(
        self,
        allows: Allows,
        hosts: HostLookup | None = None,
        *,
        encoding: str | None = "utf-8",
        xml: bool = False,
        memo: TagMemo | None = None,
    ) -> None:
        """Args:
        allows: whether a category or service id is allowed.
        hosts: the service a URL's host belongs to (auto-blocking), or None.
        encoding: the Python codec the browser decodes the page with, which must be
            ASCII-compatible (UTF-16 is decoded before the gate); None when the page does
            not declare one: UTF-8 where the bytes are valid UTF-8, else windows-1252.
        xml: the page is XHTML (`application/xhtml+xml`), which an XML parser reads:
            no element's text is raw there, so every script and iframe start tag is gated
            wherever it stands.
        memo: the start tags read before (a site's `Gatekeeper` shares one among its
            pages); None: a memo of this gate's own.
        """
        self._allows = allows
        self._hosts = hosts
        self._encoding = encoding
        self._memo = TagMemo() if memo is None else memo
        self._context = TreeContext()
        self._writer = TagWriter(allows, hosts, self._context, self._inside)
        self._fast = FastPath(self._memo, self._writer, encoding)
        self._paranoid: ParanoidPath | None = None
        self._mode = _DATA
        self._buffer = b""
        self._raw = b""  # inside a raw-text element: its name
        self._script = _SCRIPT_DATA  # inside a script: the tokenizer's script data state
        self._skip_to = raw_text.COMMENT_END  # inside a comment or CDATA section: its end
        self._hold: Hold | None = None  # the buffer while it starts with what `_await` says
        self._await: Await | None = None  # what the last step stopped at, if it waits
        self._waited = False  # whether the last run stopped so too
        self._depth = 0  # how deep in iframe srcdoc documents it reads
        if xml:
            self._enter_paranoid()

    @property
    def changed(self) -> bool:
        """Whether the gate rewrote any tag so far."""
        return self._writer.changed

    @property
    def first_refused(self) -> str | None:
        """The id of the first tag the gate made wait, if any."""
        return self._writer.first_refused

    def feed(self, chunk: bytes) -> bytes:
        """Process `chunk`; returns what can be sent now (possibly b"")."""
        hold = self._hold
        if hold is None:
            self._buffer += chunk
        elif hold.feed(chunk):
            self._buffer = bytes(hold.data)
            self._hold = None
        else:
            return b""  # the gate would read the same unfinished construct again
        return self._run(final=False)

    def close(self, chunk: bytes = b"") -> bytes:
        """Process `chunk`, the end of the body, and flush what is left (an unfinished tag
        passes unchanged): `feed(chunk) + close()` in one pass."""
        hold = self._hold
        if hold is None:
            self._buffer += chunk
        else:
            hold.data += chunk
            self._buffer = bytes(hold.data)
            self._hold = None
        return self._run(final=True)

    def _data_step(self, data: bytes, pos: int, out: list[bytes], final: bool) -> Stop:
        """In markup, outside any tree context: pass on what can be (the fast path)."""
        return self._fast.run(data, pos, out, final)

    def _repeated_run(self, data: bytes, pos: int) -> re.Match[bytes] | None:
        """Where every tag counts: a run of the same bare start tag at `pos`, read in bulk."""
        return repeated_run(data, pos)

    def _inner_scans(self) -> int:
        """In paranoid mode, how many candidates inside a gated tag are read in one match
        each (see `ParanoidPath`)."""
        return 2

    def _enter_paranoid(self) -> None:
        self._mode = _PARANOID
        self._writer.paranoid = True
        self._paranoid = ParanoidPath(self._start_tag, self._inner_scans())

    def _run(self, final: bool) -> bytes:
        data = self._buffer
        out: list[bytes] = []
        self._await = None
        pos = 0
        end = len(data)
        context = self._context
        while pos < end:
            mode = self._mode
            if mode is _DATA:
                if context.active:
                    # Every tag counts here: text up to the next "<", then that token.
                    lt = data.find(b"<", pos)
                    if lt != pos:
                        keep = end if lt < 0 else lt
                        out.append(data[pos:keep])
                        pos = keep
                        continue
                    repeated = None if context.noscript else self._repeated_run(data, pos)
                    if repeated is not None:
                        pos = self._repeated(data, repeated, out, final)
                        continue
                else:
                    stop = self._data_step(data, pos, out, final)
                    pos = stop.pos
                    then = stop.then
                    if then is _WAIT:
                        self._await = stop.wait
                        break
                    if then is _RAW_TEXT:
                        self._enter_raw(stop.raw)
                        continue
                    if then is _GO_ON:
                        continue
                after = self._token(data, pos, out, final)
                if after is None:
                    if final and context.noscript and raw_text.NOSCRIPT_END.search(data, pos + 1):
                        # A tag left open at the end of the body, for a browser with
                        # scripting an end of the <noscript> and markup after it.
                        self._enter_paranoid()
                        continue
                    break  # unfinished: wait for more data
                pos = after
            elif mode is _RAW:
                stop_at = self._raw_text(data, pos, final)
                out.append(data[pos:stop_at])
                pos = stop_at
                if self._mode is _RAW:
                    break  # the rest is still its text, or may start its end tag
            elif mode is _SKIP:
                close = self._skip_to.search(data, pos)
                if close is None:
                    keep = end if final else max(pos, end - 3)
                    out.append(data[pos:keep])
                    pos = keep
                    break
                out.append(data[pos : close.end()])
                pos = close.end()
                self._mode = _DATA
            else:
                assert self._paranoid is not None
                stop = self._paranoid.run(data, pos, out, final)
                pos = stop.pos
                self._await = stop.wait
                break
        rest = data[pos:]
        if final:
            out.append(rest)
            rest = b""
        elif self._await is not None and len(rest) >= holding.HOLD_MIN:
            # Stopped at an unfinished construct twice (most are cut by one chunk's end
            # only, and cost less read again once than followed): follow it over the
            # chunks to come, from where this reading of it got to.
            if self._waited and pos == 0:
                hold = Hold(rest, self._await)
                if not hold.feed(b""):
                    self._hold = hold
                    rest = b""
            self._waited = True
        else:
            self._waited = False
        self._buffer = rest
        return b"".join(out)

    def _enter_raw(self, name: bytes) -> None:
        self._mode = _RAW
        self._raw = name
        self._script = _SCRIPT_DATA

    def _token(self, data: bytes, pos: int, out: list[bytes], final: bool) -> int | None:
        """Read the token at the "<" at `pos`: where it ends (None: wait for more data)."""
        end = len(data)
        kind = data[pos + 1 : pos + 4]
        if not kind:
            return None  # a "<" at the end of the buffer: wait for what follows it
        context = self._context
        if kind == b"!--":
            # "<!-->" and "<!--->" are complete (empty) comments in HTML.
            if end - pos < 6 and not final:
                return None
            short = _SHORT_COMMENT.match(data, pos, pos + 6)
            if context.noscript:
                close = short or raw_text.COMMENT_END.search(data, pos + 4)
                stop = self._agrees(data, pos, None if close is None else close.end(), final)
                if stop is None:
                    if self._mode is _PARANOID:
                        return pos
                    self._await = Await(_HOLD_COMMENT, pos + 4)
                    return None
                out.append(data[pos:stop])
                return stop
            if short is not None:
                out.append(short.group(0))
                return short.end()
            out.append(b"<!--")
            self._mode, self._skip_to = _SKIP, raw_text.COMMENT_END
            return pos + 4
        if kind[:1] == b"!" and context.cdata:
            if data.startswith(b"<![CDATA[", pos):
                out.append(b"<![CDATA[")
                self._mode, self._skip_to = _SKIP, raw_text.CDATA_END
                return pos + 9
            if end - pos < 9 and not final and b"<![CDATA["[: end - pos] == data[pos:]:
                return None
        if kind[:1] in (b"!", b"?", b"/"):
            other = OTHER.match(data, pos)
            if other is None:
                self._await = holding.await_construct(data, pos)
                return None  # unfinished ("<!...", "</..." without its ">")
            if context.noscript and self._agrees(data, pos, other.end(), final) is None:
                return pos  # paranoid from here
            out.append(other.group(0))
            name = other.group(1)
            if name is not None:
                name = name.lower()
                if name in CONTAINER_NAMES:
                    self._container_end(name)
                if context.active:
                    context.end(name)
                    if context.doubt:
                        self._enter_paranoid()
            return other.end()
        if not kind[:1].isalpha():
            out.append(b"<")  # a "<" that opens nothing is text
            return pos + 1
        tag = START_TAG.match(data, pos)
        if tag is None:
            self._await = Await(_HOLD_TAG, pos + 1)
            return None  # an unfinished start tag: wait for more data
        return self._opened(tag, data, out, final)

    def _repeated(
        self, data: bytes, repeated: re.Match[bytes], out: list[bytes], final: bool
    ) -> int:
        """Read a run of the same bare start tag (`scanner.repeated_run`) while every tag
        counts: the first two tag by tag, and the others at once when the second left the
        model where the first did, one element deeper (the third then reads as the second
        did, and so on): where the gate goes on."""
        pos = repeated.start()
        tag = repeated.group(1)
        context = self._context
        depth = len(context.stack)
        for _ in range(2):
            # Outside <noscript> a whole start tag is read at once.
            after = self._token(data, pos, out, final)
            assert after == pos + len(tag)
            pos = after
            if self._mode is not _DATA:
                return pos  # what follows is read otherwise
        name = tag[1:-1].lower()
        if (
            name in WATCHED
            or name in GATED_NAMES
            or tag in self._memo
            or not context.repeats(name, depth)
        ):
            return pos  # the rest tag by tag: what the tag does may differ
        context.repeat((repeated.end() - pos) // len(tag))
        out.append(data[pos : repeated.end()])  # written as they are, as the two were
        return repeated.end()

    def _opened(
        self, tag: re.Match[bytes], data: bytes, out: list[bytes], final: bool
    ) -> int | None:
        """Write the start tag `tag` (rewritten if it must wait) and note what it opens (a
        raw-text element: its text next): where the gate goes on (None: wait)."""
        context = self._context
        name = tag.group(1).lower()
        if name in RAW_TEXT and not context.active:
            raw = True  # the common case: HTML content, where these are raw text
        else:
            if context.noscript:
                # Without scripting the <noscript> content is markup; with it, raw text up
                # to "</noscript": the two readings must agree on every construct around it.
                stop: int | None = tag.end()
                if name in RAW_TEXT:
                    # In <select> too: a script there is raw text for every parser (the
                    # elements that only some read so send the gate to paranoid mode).
                    stop = raw_text.raw_stop(name, data, tag.end(), final)
                if self._agrees(data, tag.start(), stop, final) is None:
                    if self._mode is _PARANOID:
                        return tag.start()
                    self._await = Await(_HOLD_RAW, tag.end(), name=name)
                    return None
            raw = context.start(name, tag.group(2), self_closing(tag.group(2)))
            if context.doubt:
                self._enter_paranoid()
        out.append(self._start_tag(tag))
        if raw and self._mode is not _PARANOID:
            self._enter_raw(name)
        return tag.end()

    def _raw_text(self, data: bytes, pos: int, final: bool) -> int:
        """Inside a raw-text element: how far from `pos` its text surely goes (up to the
        "<" of its end tag, which ends the element: back to markup)."""
        name = self._raw
        if name != b"script" or self._script == _SCRIPT_DATA:
            stop = raw_text.plain_raw_end(name, data, pos)
            if stop is not None:
                self._mode = _DATA
                return stop
        if name == b"script":
            read = raw_text.read_script(data, pos, self._script, final)
            self._script = read.state
            if read.ended:
                self._mode = _DATA
            return read.stop
        # Keep a tail that could be the start of the end tag.
        return len(data) if final else max(pos, len(data) - 12)

    def _agrees(self, data: bytes, start: int, stop: int | None, final: bool) -> int | None:
        """Inside <noscript>: `noscript_reach`; where it is -1, paranoid mode (and None)."""
        reach = holding.noscript_reach(data, start, stop, final)
        if reach == -1:
            self._enter_paranoid()
            return None
        return reach

    def _start_tag(self, tag: re.Match[bytes]) -> bytes:
        """The start tag `tag` as it must be written: rewritten when it must wait."""
        raw = tag.group(0)
        known = self._memo.get(raw)
        if known is None:
            name = tag.group(1).lower()
            if name not in GATED_NAMES and name.rpartition(b":")[2] not in GATED_NAMES:
                return raw
            known = self._memo.read(raw, tag.group(1), tag.group(2), self._encoding)
        plan = known.plan
        return raw if plan is AS_IS else self._writer.write(raw, plan)

    def _container_end(self, name: bytes) -> None:
        """The end tag of a <video>, <audio> or <picture>."""
        self._writer.container_end(name)

    def _inside(self, srcdoc: str) -> str | None:
        """The first refused id of what the document in an iframe's `srcdoc` loads or runs
        (its relative URLs resolve against this page's base URL). The gate does not rewrite
        that document: the whole iframe waits for that id. Nested more than 8 deep, an
        iframe's srcdoc is not read."""
        if self._depth >= 8:
            return None
        inner = HTMLGate(self._allows, self._hosts, memo=self._memo)
        inner._depth = self._depth + 1
        inner._writer = self._writer.sharing(inner._context, inner._inside)
        inner._fast = FastPath(inner._memo, inner._writer, inner._encoding)
        # (the document as text: the inner gate reads it as UTF-8, its default)
        inner.feed(srcdoc.encode("utf-8", "xmlcharrefreplace"))
        inner.close()
        found = inner.first_refused
        return None if found is None else found.strip(ID_BLANKS)
