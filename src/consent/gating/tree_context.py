"""Where the tree builder changes how tags are read: `TreeContext`.

Reading <script>, <style>, <title>, ... content as raw text is right only where a browser
does: in HTML content. Inside <svg> and <math> they are ordinary elements whose content is
markup (and "/>" closes them), until an integration point (<foreignObject>, <desc>, <title>
in SVG; <mi>, <mo>, <mn>, <ms>, <mtext> in MathML) brings HTML back. An open <select> makes
older parsers ignore <style>, <iframe>, ... where newer ones keep them, and <noscript> is raw
text with scripting and markup without. `TreeContext` follows the part of the tree builder
that decides this, exactly as far as it can without building the tree, and gives up
(`doubt`) beyond that: the gate then trusts no reading any more (paranoid mode).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from consent.gating.lexer import attribute_names
from consent.gating.raw_text import RAW_TEXT

__all__ = ["Namespace", "OpenElement", "TreeContext"]


class Namespace(IntEnum):
    """The namespace of an open element."""

    HTML = 0
    SVG = 1
    MATH = 2


_HTML, _SVG, _MATH = Namespace.HTML, Namespace.SVG, Namespace.MATH


class OpenElement(NamedTuple):
    """An element open on the stack from the <svg> or <math> on."""

    name: bytes
    namespace: Namespace


_SVG_POINTS = frozenset({b"foreignobject", b"desc", b"title"})
_MATH_TEXT_POINTS = frozenset({b"mi", b"mo", b"mn", b"ms", b"mtext"})
# Start tags that end foreign content ("in foreign content" in the HTML standard).
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i "
    b"img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt "
    b"u ul var".split()
)
_FONT_BREAKOUT = frozenset({b"color", b"face", b"size"})
_VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen link meta "
    b"param source track wbr".split()
)
# HTML start tags that end an open element of another name when one is open (tag -> those).
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
_CLOSES: dict[bytes, frozenset[bytes]] = {
    **dict.fromkeys(
        b"address article aside blockquote center details dialog dir div dl fieldset "
        b"figcaption figure footer header hgroup main menu nav ol p search section summary ul "
        b"pre listing plaintext hr xmp".split(),
        frozenset({b"p"}),
    ),
    **dict.fromkeys(_HEADINGS, frozenset({b"p"}) | _HEADINGS),
    b"li": frozenset({b"p", b"li"}),
    b"dd": frozenset({b"p", b"dd", b"dt"}),
    b"dt": frozenset({b"p", b"dd", b"dt"}),
    b"a": frozenset({b"a"}),
    b"button": frozenset({b"button"}),
    b"nobr": frozenset({b"nobr"}),
    b"option": frozenset({b"option"}),
    b"optgroup": frozenset({b"option", b"optgroup"}),
    **dict.fromkeys(b"rb rp rt rtc".split(), frozenset({b"ruby", b"rb", b"rp", b"rt", b"rtc"})),
}
# The names those close, one bit each, and for each tag the bits of the names it closes.
_CLOSER_BITS = {
    name: 1 << bit for bit, name in enumerate(sorted(frozenset().union(*_CLOSES.values())))
}
_CLOSES_BITS = {tag: sum(_CLOSER_BITS[name] for name in names) for tag, names in _CLOSES.items()}
# HTML tags whose effect on the tree the gate does not follow (tables, forms, templates, ...):
# inside an integration point they end its certainty.
_UNFOLLOWED = frozenset(
    b"table caption colgroup col tbody thead tfoot tr td th form select template frameset "
    b"frame html head body noscript".split()
)
# Foreign content inside <noscript>: raw text with scripting, and not followed without.
_NESTED = frozenset({b"svg", b"math"})
# Start tags an open <select> ignores in older parsers and keeps in newer ones.
_SELECT_UNSURE = frozenset(b"style title xmp iframe noembed noframes noscript svg math".split())


class TreeContext:
    """What the tree builder has open that changes how the tokenizer reads what follows:
    the elements of an <svg> or <math> subtree, an open <select>, an open <noscript>."""

    __slots__ = ("active", "closers", "doubt", "html_open", "noscript", "select", "stack")

    def __init__(self) -> None:
        self.stack: list[OpenElement] = []  # from the <svg>/<math> on
        # Kept with the stack, so that no tag costs a walk over it: for each entry, the
        # `_CLOSER_BITS` of the HTML elements from the nearest foreign one below it up to
        # it; and how many HTML elements of each name are open.
        self.closers: list[int] = []
        self.html_open: dict[bytes, int] = {}
        self.select = False
        self.noscript = False
        self.doubt = False
        """Whether it cannot tell any more how a browser reads what follows."""
        self.active = False
        """Whether every tag counts (not only the ones the fast path stops at)."""

    def _settle(self) -> None:
        self.active = bool(self.stack) or self.select or self.noscript

    @property
    def cdata(self) -> bool:
        """Whether "<![CDATA[" opens a CDATA section: the current node is not HTML."""
        return bool(self.stack) and self.stack[-1].namespace != _HTML

    def start(self, name: bytes, attributes: bytes, self_closing: bool) -> bool:
        """Note a start tag (`name` in lower case); whether its content is raw text."""
        raw = self._start(name, attributes, self_closing)
        self._settle()
        return raw

    def end(self, name: bytes) -> None:
        """Note an end tag (`name` in lower case)."""
        self._end(name)
        self._settle()

    def repeats(self, name: bytes, depth: int) -> bool:
        """Whether the last two start tags, both `name` after a stack `depth` deep, each
        opened one element alike: a third one would then do as the second did."""
        stack, closers = self.stack, self.closers
        return (
            len(stack) == depth + 2
            and stack[-1].name == name
            and stack[-1] == stack[-2]
            and closers[-1] == closers[-2]
        )

    def repeat(self, more: int) -> None:
        """Open `more` copies of the current node, as that many more of its start tag do
        where `repeats` said so."""
        top = self.stack[-1]
        if top.namespace == _HTML:
            self.html_open[top.name] += more
        self.stack.extend([top] * more)
        self.closers.extend([self.closers[-1]] * more)

    def _push(self, name: bytes, namespace: Namespace) -> None:
        """Open element `name` in `namespace` on the stack."""
        closers = 0
        if namespace == _HTML:
            self.html_open[name] = self.html_open.get(name, 0) + 1
            closers = _CLOSER_BITS.get(name, 0)
            if self.stack and self.stack[-1].namespace == _HTML:
                closers |= self.closers[-1]
        self.stack.append(OpenElement(name, namespace))
        self.closers.append(closers)

    def _truncate(self, index: int) -> None:
        """Close the elements of the stack from `index` up."""
        for name, namespace in self.stack[index:]:
            if namespace == _HTML:
                self.html_open[name] -= 1
        del self.stack[index:]
        del self.closers[index:]

    def _start(self, name: bytes, attributes: bytes, self_closing: bool) -> bool:
        if self.doubt:
            return False
        if self.stack and self._foreign_rules(name):
            if name in _BREAKOUT or (
                name == b"font" and attribute_names(attributes) & _FONT_BREAKOUT
            ):
                # The tag ends foreign content: back to HTML or an integration point, where
                # the HTML rules read it again.
                self._pop_foreign()
                return self._start(name, attributes, self_closing)
            if not self_closing:
                self._push(name, self.stack[-1].namespace)
            return False
        return self._html_start(name, self_closing)

    def _foreign_rules(self, name: bytes) -> bool:
        """Whether the start tag `name` is read as foreign content (the stack is not empty)."""
        node, namespace = self.stack[-1]
        if namespace == _HTML:
            return False
        if namespace == _SVG:
            return node not in _SVG_POINTS
        if node in _MATH_TEXT_POINTS:
            return name in (b"mglyph", b"malignmark")
        if node == b"annotation-xml":
            # An integration point only with an HTML encoding, which the gate does not read.
            self.doubt = name != b"svg"
            return name != b"svg"
        return True

    def _pop_foreign(self) -> None:
        """Pop foreign elements down to HTML or an integration point."""
        while self.stack:
            node, namespace = self.stack[-1]
            if namespace == _HTML or node in (
                _SVG_POINTS if namespace == _SVG else _MATH_TEXT_POINTS
            ):
                return
            if node == b"annotation-xml":
                self.doubt = True
                return
            self._truncate(len(self.stack) - 1)

    def _html_start(self, name: bytes, self_closing: bool) -> bool:
        if (self.select and name in _SELECT_UNSURE) or (self.noscript and name in _NESTED):
            self.doubt = True  # read differently by older and newer parsers, or scripting
            return False
        if name == b"svg" or name == b"math":
            if not self_closing:
                self._push(name, _SVG if name == b"svg" else _MATH)
            return False
        if not self.stack:
            if name == b"select":
                self.select = True
            elif name == b"noscript":
                self.noscript = True
            return name in RAW_TEXT
        # HTML inside an integration point: follow its elements, to know when it ends.
        html = self.closers[-1] if self.stack[-1].namespace == _HTML else 0
        if name in _UNFOLLOWED or _CLOSES_BITS.get(name, 0) & html:
            self.doubt = True
            return False
        if name not in _VOID:
            self._push(name, _HTML)
        return name in RAW_TEXT

    def _end(self, name: bytes) -> None:
        if self.doubt:
            return
        if not self.stack:
            if name == b"select":
                self.select = False
            elif name == b"noscript":
                self.noscript = False
            return
        node, namespace = self.stack[-1]
        if namespace == _HTML:
            if node == name:
                self._truncate(len(self.stack) - 1)
            elif name in _UNFOLLOWED or self.html_open.get(name, 0) > 0:
                self.doubt = True  # it would close more than its own element: not followed
            # Any other end tag stops at the integration point, which is special: ignored.
            return
        if name == b"p" or name == b"br":
            # Parsers since 2021 end foreign content here, as for a <p> start tag; older
            # ones (html5lib among them) insert an empty <p> and stay in it. Either may
            # be reading the page.
            self.doubt = True
            return
        # In foreign content an end tag closes the nearest open element of its name, unless
        # an HTML element comes first: the HTML rules then take over, and they may close
        # elements of the page around the <svg>, which the gate does not know.
        for index in range(len(self.stack) - 1, -1, -1):
            node, namespace = self.stack[index]
            if namespace == _HTML:
                break
            if node == name:
                self._truncate(index)
                return
        self.doubt = True
