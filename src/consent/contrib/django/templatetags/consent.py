"""``{% load consent %}``: the consent parts in Django templates.

Each tag is one call on ``consent.consent_html(request)``, the same object Jinja2 templates
know as `consent`, so Django pages get the very markup Starlette pages get. The request comes
from the template context (``django.template.context_processors.request``).

Every part is a ``markupsafe.Markup``, which Django takes as safe through ``__html__``: what
the package rendered is not escaped again, and what it took from the policy was escaped
already. Values handed to the tags from template variables are escaped once, by the part
that places them (a value marked safe in Django stays as it is, as it would in Jinja2).
"""

from __future__ import annotations

from django import template
from django.core.exceptions import ImproperlyConfigured
from django.template.base import FilterExpression, Parser, Token
from markupsafe import Markup

from consent import ConsentParts, consent_html

__all__ = [
    "consent_banner",
    "consent_declaration",
    "consent_gate",
    "consent_head",
    "consent_iframe",
    "consent_preferences",
    "consent_script",
    "consent_settings_link",
]

register = template.Library()

CONTEXT_PROCESSOR = "django.template.context_processors.request"


def parts(context: template.Context) -> ConsentParts:
    """The consent parts for the request of the template being rendered."""
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "the consent template tags need `request` in the template context: add "
            f"{CONTEXT_PROCESSOR!r} to TEMPLATES' OPTIONS['context_processors'] in the "
            "settings, and render with the request (django.shortcuts.render(request, ...))"
        )
    return consent_html(request)


@register.simple_tag(takes_context=True)
def consent_head(context: template.Context, nonce: str | None = None) -> Markup:
    """``{% consent_head %}`` in ``<head>``: the stylesheet, consent.js and the state (and
    Google Consent Mode's commands, before any Google tag). `nonce` for a strict CSP."""
    return parts(context).head(nonce=nonce)


@register.simple_tag(takes_context=True)
def consent_banner(context: template.Context, lang: str | None = None) -> Markup:
    """``{% consent_banner %}``: the first layer, only while the visitor has not decided."""
    return parts(context).banner(lang=lang)


@register.simple_tag(takes_context=True)
def consent_preferences(context: template.Context, lang: str | None = None) -> Markup:
    """``{% consent_preferences %}``: the (closed) settings dialog, once per page."""
    return parts(context).preferences(lang=lang)


@register.simple_tag(takes_context=True)
def consent_settings_link(
    context: template.Context, label: str | None = None, lang: str | None = None
) -> Markup:
    """``{% consent_settings_link label="Cookie settings" %}``: reopens the settings."""
    return parts(context).settings_link(label=label, lang=lang)


@register.simple_tag(takes_context=True)
def consent_declaration(
    context: template.Context, level: int = 2, lang: str | None = None
) -> Markup:
    """``{% consent_declaration level=2 %}``: the cookie declaration, for a privacy page."""
    return parts(context).declaration(level=level, lang=lang)


@register.simple_tag(takes_context=True)
def consent_script(
    context: template.Context, id: str, src: str | None = None, **attrs: str | bool
) -> Markup:
    """``{% consent_script "analytics" src="/static/stats.js" async=True %}``: a script
    that runs only once `id` is allowed (``data_x=`` writes ``data-x``)."""
    return parts(context).script(id, src=src, **attrs)


@register.simple_tag(takes_context=True)
def consent_iframe(
    context: template.Context, id: str, src: str, title: str, **attrs: str | bool
) -> Markup:
    """``{% consent_iframe "youtube" src="..." title="..." %}``: an embed that loads only
    once `id` is allowed, with a placeholder offering to allow it."""
    return parts(context).iframe(id, src, title, **attrs)


class GateNode(template.Node):
    """The body of ``{% consent_gate id %}...{% endconsent_gate %}``."""

    def __init__(self, id: FilterExpression, nodelist: template.NodeList) -> None:
        self.id = id
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        id = str(self.id.resolve(context))
        # Rendered by Django (its variables escaped by Django): HTML, not text.
        body = Markup(self.nodelist.render(context))
        return parts(context).template(id, body)


@register.tag("consent_gate")
def consent_gate(parser: Parser, token: Token) -> GateNode:
    """``{% consent_gate "analytics" %}...{% endconsent_gate %}``: any HTML, inert (in a
    ``<template data-consent>``) until `analytics` is allowed."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f"{bits[0]} takes one argument, a category or service id: "
            '{% consent_gate "analytics" %}...{% endconsent_gate %}'
        )
    id = parser.compile_filter(bits[1])
    nodelist = parser.parse(("endconsent_gate",))
    parser.delete_first_token()
    return GateNode(id, nodelist)
