"""One visitor's consent applied to the plans of a page's start tags: `TagWriter`.

A plan (see `plans`) says how a tag is gated whoever the visitor; the writer decides,
for this page and this visitor, whether the tag waits: its data-consent id refused, or
(auto-blocking) a URL it loads on a refused service's host, directly, through the page's
<base href>, through the <video>, <audio> or <picture> it loads for, or through what the
document in an iframe's srcdoc loads. It keeps what a tag changes for the tags after it.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from consent.gating.hosts import HostLookup, is_relative
from consent.gating.plans import Plan, Role
from consent.gating.tree_context import TreeContext

__all__ = ["Allows", "TagWriter"]

Allows = Callable[[str], bool]
"""Whether a category or service id is allowed (unknown ids: False)."""

# What may surround a data-consent id: ASCII whitespace only. str.strip() would also take
# U+00A0 and U+0085 away, and ask about "ok" for an id that a browser reads as "\ufffdok".
ID_BLANKS = "\t\n\f\r "
_MEDIA, _PICTURE, _CHILD, _IMG = Role.MEDIA, Role.PICTURE, Role.CHILD, Role.IMG
_BASE, _TEMPLATE = Role.BASE, Role.TEMPLATE


class TagWriter:
    """Writes the start tags of one page as one visitor's consent has them."""

    __slots__ = (
        "_allows",
        "_frozen",
        "_latest",
        "_open",
        "_verdicts",
        "base",
        "base_fixed",
        "changed",
        "containers_open",
        "context",
        "first_refused",
        "held",
        "hosts",
        "paranoid",
        "read_srcdoc",
        "template",
    )

    def __init__(
        self,
        allows: Allows,
        hosts: HostLookup | None,
        context: TreeContext,
        read_srcdoc: Callable[[str], str | None],
        verdicts: dict[str, bool] | None = None,
    ) -> None:
        self._allows = allows
        self._verdicts: dict[str, bool] = {} if verdicts is None else verdicts
        self.hosts = hosts
        self.context = context
        self.read_srcdoc = read_srcdoc
        """The first refused id of what the document in an iframe's srcdoc loads."""
        self.paranoid = False
        """Whether the gate reads in paranoid mode (a tag may be read more than once)."""
        self.base: str | None = None
        """The service whose host the <base href> is on."""
        self.base_fixed = False
        """Whether the first <base href> has been read for sure."""
        # The <video>, <audio> and <picture> elements open (see `_container_start`).
        self._open: list[Plan] = []
        self._latest: Plan | None = None
        self._frozen = False
        self.containers_open = False
        """Whether a container is open (its end tag then matters)."""
        self.held = False
        """Whether an open container has a data-consent (its children may wait with it)."""
        self.first_refused: str | None = None
        """The id of the first tag it gated."""
        self.template = False
        """Whether a <template> start tag came."""
        self.changed = False
        """Whether any tag was rewritten."""

    def sharing(self, context: TreeContext, read_srcdoc: Callable[[str], str | None]) -> TagWriter:
        """A writer for a document inside this page (an iframe's srcdoc): the same consent,
        verdicts and hosts, this page's base until a <base> of its own."""
        inner = TagWriter(self._allows, self.hosts, context, read_srcdoc, self._verdicts)
        inner.base = self.base
        return inner

    def write(self, raw: bytes, plan: Plan) -> bytes:
        """Start tag `raw` as this visitor's consent has it written (`raw` itself if as is),
        noting on the way what it changes for the tags after it (a <base>, a container)."""
        role = plan.role
        holder: Plan | None = None  # the container whose data-consent it waits with
        if role:
            if role == _BASE:
                self._note_base(plan.urls[0])
                return raw
            if role == _MEDIA or role == _PICTURE:
                self._container_start(plan)  # its <source>, <track> or <img> come next
            elif role == _TEMPLATE:
                self.template = True  # a <base> after it may be in its content
            elif role == _CHILD or role == _IMG:
                holder = self._container_of(role)
                latest = self._latest
                if role == _IMG and latest is not None and latest.role == _PICTURE:
                    # A picture has one <img>. (In paranoid mode the gate may read a tag
                    # twice, and the picture's id stays for the <img> tags after it.)
                    if not self.paranoid:
                        self._latest = None
                        self._settle_containers()
        if not plan.inserted and plan.renamed is None:
            return raw  # nothing it loads: a container
        consent_id = plan.consent_id
        added = b""
        if consent_id is None:
            if holder is not None:
                consent_id = holder.consent_id
                added = b" data-consent=" + holder.written_id
            if consent_id is None:
                consent_id = self._owner(plan.urls)
                if consent_id is None and plan.srcdoc is not None:
                    consent_id = self.read_srcdoc(plan.srcdoc)
                if consent_id is None:
                    return raw
                escaped = html.escape(consent_id).encode("ascii", "xmlcharrefreplace")
                added = b' data-consent="' + escaped + b'"'
        elif not self.refused(consent_id):
            return raw
        self.changed = True
        if self.first_refused is None:
            self.first_refused = consent_id
        # The new attributes go first: the first of duplicate attributes wins, and nothing
        # the page wrote after them (`defer=`, `a/=b`) can swallow or split them.
        rest = raw[plan.cut :] if plan.renamed is None else plan.renamed
        return raw[: plan.cut] + added + plan.inserted + rest

    def refused(self, consent_id: str) -> bool:
        """Whether this visitor's consent refuses `consent_id` (ASCII blanks around it
        dropped); asked once per id and page."""
        consent_id = consent_id.strip(ID_BLANKS)
        allowed = self._verdicts.get(consent_id)
        if allowed is None:
            allowed = self._allows(consent_id)
            if len(self._verdicts) < 256:  # a page names a few ids, many times over
                self._verdicts[consent_id] = allowed
        return not allowed

    def _owner(self, urls: tuple[str, ...]) -> str | None:
        """The refused service a tag without a data-consent waits for: one whose host one of
        its `urls` loads from (None: it loads)."""
        hosts = self.hosts
        if hosts is None:
            return None
        for url in urls:
            service = hosts(url)
            if service is None and self.base is not None and is_relative(url):
                service = self.base  # resolved against a declared host's <base href>
            if service is not None and self.refused(service):
                return service
        return None

    def _container_start(self, plan: Plan) -> None:
        """A <video>, <audio> or <picture> start tag. Its children wait with it while either
        of two readings has it open: the tree's, up to its end tag (`_open`, which a browser
        may ignore, as in `<video><div></video></div><source>`), and up to the next such
        start tag or, for a picture, its <img> (`_latest`, which is wrong for one nested in
        another: `<video><video></video><source>`)."""
        self._latest = plan if plan.consent_id is not None else None
        if len(self._open) < 64:
            self._open.append(plan)
        else:
            self._frozen = True  # too deep to follow: none ends any more
        self._settle_containers()

    def container_end(self, name: bytes) -> None:
        """The end tag of a container `name`: it closes the nearest open one, and any
        opened inside it."""
        if self._frozen or not self._open:
            return
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].container == name:
                del self._open[index:]
                self._settle_containers()
                return

    def _settle_containers(self) -> None:
        self.containers_open = bool(self._open)
        held = self._latest is not None
        if not held:
            for plan in self._open:  # (a loop costs less than any() and a generator)
                if plan.consent_id is not None:
                    held = True
                    break
        self.held = held

    def _container_of(self, role: Role) -> Plan | None:
        """The open container, with a refused data-consent, that a <source> or <track>
        (`role` CHILD) or an <img> (IMG: only a picture) may be loading for."""
        for plan in (self._latest, *reversed(self._open)):
            if plan is None or plan.consent_id is None:
                continue
            if (role == _CHILD or plan.role == _PICTURE) and self.refused(plan.consent_id):
                return plan
        return None

    def _note_base(self, href: str) -> None:
        """A <base href>: the first one sets the URL that relative URLs after it resolve
        against. Where the gate cannot tell whether a browser sees it as the document's
        (in paranoid mode, inside SVG, MathML, <noscript> or <select>, or after a <template>
        start tag, in whose content a <base> counts for nothing), it may be that first one
        or not: a refused declared host's wins, and a later <base> may still count."""
        if self.base_fixed or self.hosts is None:
            return
        service = self.hosts(href)
        if not (self.paranoid or self.context.active or self.template):
            self.base_fixed = True
            self.base = service
        elif service is not None and (self.base is None or not self.refused(self.base)):
            self.base = service
