"""The consent parts of a page for any framework: `consent_html(request)`.

`ConsentParts` is the object templates know as `consent` (`consent.jinja` hands it to
Jinja2, `consent.contrib.django` to Django's template tags), and what a page without a
template engine builds its markup from. Each part is a `markupsafe.Markup`: Jinja2 and
Django insert it as it is (both honour `__html__`), and everything taken from the policy or
from the arguments is escaped inside it.

`render_part` is where a request meets the site's renderer (which knows no request).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape
from starlette.datastructures import URL

from consent.consent_mode import commands
from consent.policy import Policy
from consent.state import ConsentState
from consent.visit import AnyRequest, Visit, carrier_of, current_visit

__all__ = ["ConsentParts", "consent_html", "render_part"]


def _place(carrier: MutableMapping[str, Any]) -> tuple[str, str]:
    """The application's root path and the page's path and query, from an ASGI scope or a
    WSGI environ (where forms return to)."""
    if "type" in carrier:  # an ASGI scope
        url = URL(scope=carrier)
        here = url.path + (f"?{url.query}" if url.query else "")
        return carrier.get("root_path", ""), here
    # A WSGI environ: its paths are the request's bytes, decoded as Latin-1 (PEP 3333).
    root = _wsgi_text(carrier.get("SCRIPT_NAME", ""))
    path = quote(root + _wsgi_text(carrier.get("PATH_INFO", "")), safe="/:@!$&'()*+,;=-._~")
    query = carrier.get("QUERY_STRING", "")
    return root, path + (f"?{query}" if query else "")


def _wsgi_text(value: str) -> str:
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


def render_part(
    request: AnyRequest, name: str, *, state: ConsentState | None = None, **extra: Any
) -> Markup:
    """Render the consent template `consent/<name>` for `request` (any kind that
    `get_consent` takes).

    The response then varies on the consent cookie and, where the site speaks several
    languages, on Accept-Language.
    """
    carrier = carrier_of(request)
    visit = current_visit(carrier)
    visit.accessed = True
    visit.localized = True  # the words follow Accept-Language
    root, here = _place(carrier)
    shown = visit.state if state is None else state
    return visit.site.renderer.render(name, shown, root=root, here=here, **extra)


class ConsentParts:
    """The consent parts of one request's page: ``parts.banner()``, ``parts.allows(id)``...

    Templates know it as `consent`. Reading any part (or the state) marks the response as
    depending on the consent cookie (`Vary: Cookie`).

    Args:
        request: the request, of any kind `get_consent` takes (a TypeError otherwise).
    """

    __slots__ = ("_carrier", "_request")

    def __init__(self, request: AnyRequest) -> None:
        self._request = request
        self._carrier = carrier_of(request)

    def __repr__(self) -> str:
        return f"<ConsentParts of {type(self._request).__name__}>"

    def _visit(self) -> Visit:
        visit = current_visit(self._carrier)
        visit.accessed = True
        return visit

    def _render(self, name: str, **extra: Any) -> Markup:
        visit = current_visit(self._carrier)
        if not visit.site.shared_cache:
            return render_part(self._carrier, name, **extra)
        # A page a shared cache keeps for every visitor of this consent variant: nothing of
        # this visitor's own in it (when they chose; the receipt id is never in a part).
        shared = dataclasses.replace(visit.state, issued_at=None, receipt_id=None)
        return render_part(self._carrier, name, state=shared, **extra)

    def _language(self, lang: str | None) -> str | None:
        """An explicit `lang=` argument, if the site offers that language."""
        if lang is None:
            return None
        return current_visit(self._carrier).site.negotiate.pick(lang)

    def _allows_markup(self, id: str) -> bool:
        visit = self._visit()
        return visit.site.allows_markup(visit.state, id)

    def state(self) -> ConsentState:
        """The visitor's ConsentState."""
        return self._visit().state

    def allows(self, id: str) -> bool:
        """Whether category or service `id` is granted; KeyError for unknown ids."""
        return bool(self.state().allows(id))

    def head(self, nonce: str | None = None) -> Markup:
        """The stylesheet and script tags (and the state as a JSON data block). With
        Google Consent Mode in the policy, also its default and update commands: put
        `head()` before any Google tag."""
        state = self.state()
        return self._render("head.html", nonce=nonce, gcm=commands(state.policy, state))

    def banner(self, lang: str | None = None) -> Markup:
        """The first layer, only while the visitor has not decided; empty otherwise.
        `lang` overrides the negotiated language."""
        if self.state().decided:
            return Markup("")
        return self._render("banner.html", lang=self._language(lang))

    def preferences(self, lang: str | None = None) -> Markup:
        """The second layer: a (closed) dialog with every category, service and cookie."""
        return self._render("dialog.html", lang=self._language(lang))

    def settings_link(self, label: str | None = None, lang: str | None = None) -> Markup:
        """A link that reopens the settings, for every page footer."""
        return self._render("settings_link.html", label=label, lang=self._language(lang))

    def declaration(self, level: int = 2, lang: str | None = None) -> Markup:
        """The cookie declaration: a section per category (headings `<h{level}>`)."""
        level = max(1, min(int(level), 6))
        return self._render("declaration_table.html", level=level, lang=self._language(lang))

    def script(self, id: str, src: str | None = None, **attrs: str | bool) -> Markup:
        """A `<script>` that runs only once `id` is allowed (inert `text/plain` until then).
        Attribute names take `_` for `-` (`data_x="1"`) and a trailing `_` (`class_`)."""
        allowed = self._allows_markup(id)
        parts = [f'data-consent="{escape(id)}"']
        if src is not None:
            parts.append(f'src="{escape(src)}"')
        kind = attrs.pop("type", None)
        if not allowed:
            parts.append('type="text/plain"')
            if isinstance(kind, str):
                parts.append(f'data-consent-type="{escape(kind)}"')
        elif isinstance(kind, str):
            parts.append(f'type="{escape(kind)}"')
        parts.extend(_attrs(attrs))
        return Markup(f"<script {' '.join(parts)}></script>")

    def template(self, id: str, html: str) -> Markup:
        """Any markup, inert (in a `<template>`) until `id` is allowed.

        `html` is the site's own markup and is inserted as it is: escape anything a visitor
        or another site wrote into it first (`markupsafe.escape`).
        """
        if self._allows_markup(id):
            # The empty marker tells the script this id is running here, so that a
            # withdrawal reloads the page (running code cannot be stopped otherwise).
            return Markup(f'<noscript data-consent="{escape(id)}"></noscript>{html}')
        return Markup(f'<template data-consent="{escape(id)}">{html}</template>')

    def gate(self, id: str, caller: Callable[[], str]) -> Markup:
        """``{% call consent.gate(id) %}...{% endcall %}``: `template` for a Jinja2 block."""
        return self.template(id, caller())

    def iframe(self, id: str, src: str, title: str, **attrs: str | bool) -> Markup:
        """An embed that loads only once `id` is allowed, with an "Allow" placeholder."""
        allowed = self._allows_markup(id)
        policy = current_visit(self._carrier).site.policy
        service = category = None
        if _known(policy, id):
            service = policy.service(id) if policy.kind_of(id) == "service" else None
            category = policy.category(service.category if service else id)
        return self._render(
            "iframe.html",
            id=id,
            src=src,
            title=title,
            allowed=allowed,
            service=service,
            category=category,
            attrs=Markup(" ".join(_attrs(attrs))),
        )


def _known(policy: Policy, id: str) -> bool:
    try:
        policy.kind_of(id)
    except KeyError:
        return False
    return True


def _attrs(attrs: Mapping[str, str | bool]) -> list[str]:
    out = []
    for name, value in attrs.items():
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(str(escape(name)))
        elif value is not False:
            out.append(f'{escape(name)}="{escape(value)}"')
    return out


def consent_html(request: AnyRequest) -> ConsentParts:
    """The consent parts of this request's page, for sites without Jinja2 templates.

    ``consent_html(request).banner()`` and the rest return `Markup`, the same as
    ``{{ consent.banner() }}`` in a template. `request` is any kind `get_consent` takes.

    Raises:
        RuntimeError: no consent middleware is installed around the application.
    """
    parts = ConsentParts(request)
    parts._visit()  # fail here, with the explanation, rather than in the first part
    return parts
