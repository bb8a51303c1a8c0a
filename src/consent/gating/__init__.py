"""Streaming gate for text/html bodies: scripts, iframes, images, media, ... wait for consent.

`HTMLGate` rewrites start tags as the body streams through:

* ``<script data-consent="x" ...>`` whose id is not allowed gets ``type="text/plain"`` (the
  original type kept in ``data-consent-type``): the browser neither fetches nor runs it;
* any other element that loads something (an iframe's ``src`` and ``srcdoc``, an image's
  ``src`` and ``srcset``, media, ``<embed>``, ``<object>``, links that fetch, a declarative
  shadow root's ``shadowrootmode``) not allowed has it moved to ``data-consent-<attribute>``;
  the <source> and <track> children of a ``<video>``, ``<audio>`` or ``<picture>`` with a
  data-consent wait with it;
* with auto-blocking, such an element loading from a host a service declares (every
  srcset candidate, relative URLs after a ``<base href>`` on such a host, what an iframe's
  srcdoc document loads) is gated as that service even without ``data-consent``.

The tokenizer follows the HTML start-tag grammar (`lexer`) and skips comments and raw-text
elements such as ``<script>`` bodies (`raw_text`), so ``"<iframe"`` inside a script is left
alone, but only where a browser's tree builder makes them raw text: not inside ``<svg>`` or
``<math>`` (`tree_context`). Where it cannot tell how a browser reads what follows, it
gates every start tag of those elements that it finds (`paranoid`). It keeps only the
unfinished construct between chunks: memory is bounded by the longest tag, not the page
(inside ``<noscript>``, by the longest comment or raw-text element, at most 64 KiB). Time is
linear in the body, whatever it holds and however it is cut (`holding`). Bytes outside
rewritten tags pass through unchanged, so any ASCII-compatible charset is kept as it is.

Most of a page is text and ordinary tags, which never change: the gate jumps with one
C-level search to the next place that can matter and proves with a few byte searches that
the bytes before it are plain (`scanner`, `fast_path`). A site serves the same tags on every
page to every visitor: each is read once into a plan (`plans`), kept in the site's memo
(`tag_memo`, owned by its `Gatekeeper`), so that only the visitor's consent is applied to it
(`rewriter`). The output is byte for byte what reading every tag gives
(tests/gating_reference.py).

The modules:

* `gatekeeper`: `Gatekeeper`, what a site's gates share (hosts, memo), opening one per page;
* `gate`: `HTMLGate`, the loop that reads a page token by token;
* `modes`: the gate's modes, and where a step of it stops;
* `fast_path`: jumping from candidate to candidate in plain markup;
* `paranoid`: the fallback that gates every candidate wherever it stands;
* `scanner`: the patterns and proofs that find candidates in plain text;
* `lexer`: the grammar of tags and attributes, and a resumable reading of one tag;
* `raw_text`: where raw text, script data, comments and CDATA end;
* `tree_context`: the part of the tree builder that decides how tags are read;
* `plans`: how a start tag is gated, whoever the visitor;
* `tag_memo`: the bounded memo of plans by the tags' bytes;
* `rewriter`: one visitor's consent applied to the plans of one page;
* `holding`: resuming an unfinished construct over chunks, shared tag readings;
* `hosts`: the host a browser loads a URL from, and the matcher of declared hosts.
"""

from __future__ import annotations

from consent.gating.gate import HTMLGate
from consent.gating.gatekeeper import Gatekeeper
from consent.gating.hosts import HostLookup, browser_host, host_matcher
from consent.gating.modes import Mode
from consent.gating.rewriter import Allows
from consent.gating.tag_memo import TagMemo

__all__ = [
    "Allows",
    "Gatekeeper",
    "HTMLGate",
    "HostLookup",
    "Mode",
    "TagMemo",
    "browser_host",
    "host_matcher",
]
