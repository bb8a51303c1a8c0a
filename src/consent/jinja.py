"""Template integration: the `consent` object in Jinja2 templates.

Two ways in, both part of the public contract:

* Starlette: ``Jinja2Templates(directory=..., context_processors=[context_processor])``;
* any Jinja2 environment whose templates get ``request`` in their context (Starlette's and
  FastAPI's `TemplateResponse`, Flask's `render_template`): ``install(env)``.

Either way templates call the methods of `consent.parts.ConsentParts` (what
`consent_html(request)` returns outside templates). Every part is rendered by the package's
own templates and returned as ``Markup``, so a site needs no template files of ours on its
search path. Everything taken from the policy is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from consent.parts import ConsentParts, render_part
from consent.state import ConsentState
from consent.visit import AnyRequest

__all__ = ["TemplateConsent", "context_processor", "install", "render_part"]


class TemplateConsent:
    """The `consent` global of ``install(env)``: each call finds ``request`` in the
    template's context and answers as `ConsentParts` (``{{ consent.banner() }}``,
    ``consent.allows(id)``...).

    Args:
        request: a request to answer for instead of the context's (any kind
            `get_consent` takes).
    """

    def __init__(self, request: AnyRequest | None = None) -> None:
        self._request = request

    def _parts(self, context: Context) -> ConsentParts:
        request = self._request if self._request is not None else context.get("request")
        if request is None:
            raise RuntimeError(
                "the consent template helpers need `request` in the template context "
                "(Starlette's and Flask's templates have it; otherwise pass it, or use "
                "consent.consent_html(request))"
            )
        return ConsentParts(request)

    @pass_context
    def state(self, context: Context) -> ConsentState:
        """The visitor's ConsentState (marks the response `Vary: Cookie`)."""
        return self._parts(context).state()

    @pass_context
    def allows(self, context: Context, id: str) -> bool:
        """Whether category or service `id` is granted; KeyError for unknown ids."""
        return self._parts(context).allows(id)

    @pass_context
    def head(self, context: Context, nonce: str | None = None) -> Markup:
        """See `ConsentParts.head`."""
        return self._parts(context).head(nonce=nonce)

    @pass_context
    def banner(self, context: Context, lang: str | None = None) -> Markup:
        """See `ConsentParts.banner`."""
        return self._parts(context).banner(lang=lang)

    @pass_context
    def preferences(self, context: Context, lang: str | None = None) -> Markup:
        """See `ConsentParts.preferences`."""
        return self._parts(context).preferences(lang=lang)

    @pass_context
    def settings_link(
        self, context: Context, label: str | None = None, lang: str | None = None
    ) -> Markup:
        """See `ConsentParts.settings_link`."""
        return self._parts(context).settings_link(label=label, lang=lang)

    @pass_context
    def declaration(self, context: Context, level: int = 2, lang: str | None = None) -> Markup:
        """See `ConsentParts.declaration`."""
        return self._parts(context).declaration(level=level, lang=lang)

    @pass_context
    def script(
        self, context: Context, id: str, src: str | None = None, **attrs: str | bool
    ) -> Markup:
        """See `ConsentParts.script`."""
        return self._parts(context).script(id, src, **attrs)

    @pass_context
    def template(self, context: Context, id: str, html: str) -> Markup:
        """See `ConsentParts.template`."""
        return self._parts(context).template(id, html)

    @pass_context
    def gate(self, context: Context, id: str, caller: Callable[[], str]) -> Markup:
        """``{% call consent.gate(id) %}...{% endcall %}``: any HTML, inert until allowed."""
        return self._parts(context).gate(id, caller)

    @pass_context
    def iframe(
        self, context: Context, id: str, src: str, title: str, **attrs: str | bool
    ) -> Markup:
        """See `ConsentParts.iframe`."""
        return self._parts(context).iframe(id, src, title, **attrs)


def context_processor(request: Any) -> dict[str, Any]:
    """For ``Jinja2Templates(context_processors=[context_processor])``: `consent` is the
    request's `ConsentParts`."""
    return {"consent": ConsentParts(request)}


def install(env: Environment) -> Environment:
    """Make `consent` available in every template of `env` (templates need `request` in
    their context: Starlette's, FastAPI's and Flask's have it)."""
    env.globals["consent"] = TemplateConsent()
    return env
