"""Template integration: the `consent` object in Jinja2 templates.

Two ways in, both part of the public contract:

* Starlette: ``Jinja2Templates(directory=..., context_processors=[context_processor])``;
* any Jinja2 environment whose templates get ``request`` in their context: ``install(env)``.

Every part is rendered by the package's own templates and returned as ``Markup``, so a
site needs no template files of ours on its search path. Everything taken from the policy
is escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.requests import HTTPConnection

from consent._scope import current_slot
from consent.assets import served_assets
from consent.config import ConsentConfig
from consent.consent_mode import commands
from consent.declaration import consent_cookie
from consent.i18n import direction, format_duration, strings
from consent.policy import Policy, localize
from consent.requests import safe_next
from consent.state import ConsentState

__all__ = ["UI", "TemplateConsent", "context_processor", "install"]

logger = logging.getLogger("consent")


class UI:
    """Renders the consent parts for one middleware (built once, at start-up)."""

    def __init__(self, config: ConsentConfig) -> None:
        self.config = config
        self.env = Environment(
            loader=PackageLoader("consent", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Each asset's URL carries the hash of the bytes it sends (the minified copy, if built).
        self.served = served_assets()
        self.assets = {name: asset.version for name, asset in self.served.items()}
        self.owners = {s.id: s.category for s in config.policy.services}
        # The consent cookie, listed in every cookie table (None: the policy lists it).
        self.consent_cookie = consent_cookie(config.policy, config.cookie_name)
        self._unknown_logged: set[str] = set()

    def allows_markup(self, state: ConsentState, id: str) -> bool:
        """Like `state.allows`, but an unknown id in markup is "not allowed", logged once."""
        try:
            return state.allows(id)
        except KeyError:
            if id not in self._unknown_logged and len(self._unknown_logged) < 1000:
                self._unknown_logged.add(id)
                logger.warning("data-consent=%r names no category or service; kept inert", id)
            return False

    def render(self, name: str, conn: HTTPConnection, state: ConsentState, **extra: Any) -> Markup:
        """Render `consent/<name>` with everything the parts need."""
        lang = extra.pop("lang", None) or state.language or self.config.policy.default_language
        root: str = conn.scope.get("root_path", "")
        base = root + self.config.path
        here = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
        context = {
            "policy": self.config.policy,
            "state": state,
            "lang": lang,
            "dir": direction(lang),
            "ui": strings(lang),
            "t": lambda text: localize(text, lang, self.config.policy.default_language),
            "duration": lambda text: format_duration(text, lang),
            "action": base,
            "static": base + "/static",
            "assets": self.assets,
            "owners": self.owners,
            "consent_cookie": self.consent_cookie,
            "next": safe_next(extra.pop("next", None) or here),
            **extra,
        }
        return Markup(self.env.get_template(f"consent/{name}").render(context))


class TemplateConsent:
    """The `consent` object templates use: ``{{ consent.banner() }}``, ``consent.allows(id)``...

    Bound to a request (``context_processor``) or resolving ``request`` from the template
    context on each call (``install``).
    """

    def __init__(self, request: HTTPConnection | None = None) -> None:
        self._request = request

    def _conn(self, context: Context) -> HTTPConnection:
        request = self._request or context.get("request")
        if not isinstance(request, HTTPConnection):
            raise RuntimeError(
                "the consent template helpers need `request` in the template context "
                "(Starlette's TemplateResponse passes it)"
            )
        return request

    def _render(self, context: Context, name: str, **extra: Any) -> Markup:
        conn = self._conn(context)
        slot = current_slot(conn.scope)
        slot.accessed = True
        slot.localized = True  # the words follow Accept-Language
        return slot.ui.render(name, conn, slot.state, **extra)

    @pass_context
    def state(self, context: Context) -> ConsentState:
        """The visitor's ConsentState (marks the response `Vary: Cookie`)."""
        slot = current_slot(self._conn(context).scope)
        slot.accessed = True
        return slot.state

    def _allows_markup(self, context: Context, id: str) -> bool:
        slot = current_slot(self._conn(context).scope)
        slot.accessed = True
        return slot.ui.allows_markup(slot.state, id)

    @pass_context
    def allows(self, context: Context, id: str) -> bool:
        """Whether category or service `id` is granted; KeyError for unknown ids."""
        return bool(self.state(context).allows(id))

    @pass_context
    def head(self, context: Context, nonce: str | None = None) -> Markup:
        """The stylesheet and script tags (and the state as a JSON data block). With
        Google Consent Mode in the policy, also its default and update commands: put
        `head()` before any Google tag."""
        state = self.state(context)
        gcm = commands(state.policy, state)
        return self._render(context, "head.html", nonce=nonce, gcm=gcm)

    def _language(self, context: Context, lang: str | None) -> str | None:
        """An explicit `lang=` argument, if the site offers that language."""
        if lang is None:
            return None
        negotiate = current_slot(self._conn(context).scope).ui.config.negotiate
        return negotiate.pick(lang) if negotiate is not None else None

    @pass_context
    def banner(self, context: Context, lang: str | None = None) -> Markup:
        """The first layer, only while the visitor has not decided; empty otherwise.
        `lang` overrides the negotiated language."""
        if self.state(context).decided:
            return Markup("")
        return self._render(context, "banner.html", lang=self._language(context, lang))

    @pass_context
    def preferences(self, context: Context, lang: str | None = None) -> Markup:
        """The second layer: a (closed) dialog with every category, service and cookie."""
        return self._render(context, "dialog.html", lang=self._language(context, lang))

    @pass_context
    def settings_link(
        self, context: Context, label: str | None = None, lang: str | None = None
    ) -> Markup:
        """A link that reopens the settings, for every page footer."""
        lang = self._language(context, lang)
        return self._render(context, "settings_link.html", label=label, lang=lang)

    @pass_context
    def declaration(self, context: Context, level: int = 2, lang: str | None = None) -> Markup:
        """The cookie declaration: a section per category (headings `<h{level}>`)."""
        level = max(1, min(int(level), 6))
        lang = self._language(context, lang)
        return self._render(context, "declaration_table.html", level=level, lang=lang)

    @pass_context
    def script(
        self, context: Context, id: str, src: str | None = None, **attrs: str | bool
    ) -> Markup:
        """A `<script>` that runs only once `id` is allowed (inert `text/plain` until then)."""
        allowed = self._allows_markup(context, id)
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

    @pass_context
    def gate(self, context: Context, id: str, caller: Callable[[], str]) -> Markup:
        """``{% call consent.gate(id) %}...{% endcall %}``: any HTML, inert until allowed."""
        body = caller()
        if self._allows_markup(context, id):
            # The empty marker tells the script this id is running here, so that a
            # withdrawal reloads the page (running code cannot be stopped otherwise).
            return Markup(f'<noscript data-consent="{escape(id)}"></noscript>{body}')
        return Markup(f'<template data-consent="{escape(id)}">{body}</template>')

    @pass_context
    def iframe(
        self, context: Context, id: str, src: str, title: str, **attrs: str | bool
    ) -> Markup:
        """An embed that loads only once `id` is allowed, with an "Allow" placeholder."""
        allowed = self._allows_markup(context, id)
        policy = current_slot(self._conn(context).scope).ui.config.policy
        service = category = None
        if _known(policy, id):
            service = policy.service(id) if policy.kind_of(id) == "service" else None
            category = policy.category(service.category if service else id)
        return self._render(
            context,
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


def context_processor(request: HTTPConnection) -> dict[str, Any]:
    """For ``Jinja2Templates(context_processors=[context_processor])``."""
    return {"consent": TemplateConsent(request)}


def install(env: Environment) -> Environment:
    """Make `consent` available in every template of `env` (templates need `request`)."""
    env.globals["consent"] = TemplateConsent()
    return env
