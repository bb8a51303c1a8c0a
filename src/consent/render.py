"""The one renderer: a single Jinja2 environment for the package's own templates, and the
consent parts and pages rendered for one site.

Nothing here knows a request: `consent.jinja` (templates) and `consent.endpoints` (the
consent pages) work out where the visitor is (`root`, `here`) and pass it in.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from consent.assets import served_assets
from consent.i18n import direction, format_duration, strings
from consent.origin import safe_next
from consent.policy import Policy, localize
from consent.state import ConsentState

__all__ = ["Renderer", "environment", "language_context"]


@cache
def environment() -> Environment:
    """The Jinja2 environment of every template this package renders (parts, pages,
    declarations, reports): autoescaped, so everything taken from the policy is escaped."""
    return Environment(
        loader=PackageLoader("consent", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language_context(policy: Policy, lang: str) -> dict[str, Any]:
    """What every template needs to speak `lang`: its direction, the UI strings, and the
    functions that pick the policy's text (`t`) and spell durations (`duration`)."""
    return {
        "lang": lang,
        "dir": direction(lang),
        "ui": strings(lang),
        "t": lambda text: localize(text, lang, policy.default_language),
        "duration": lambda text: format_duration(text, lang),
    }


class Renderer:
    """Renders the consent parts and pages of one site (built once, at start-up).

    Args:
        policy: the site's policy.
        path: where the consent routes live (`/consent`).
        consent_cookie: the consent cookie's entry, listed in every cookie table (None: the
            policy lists it itself); see `consent.declaration.consent_cookie`.
    """

    def __init__(self, policy: Policy, path: str, consent_cookie: Any) -> None:
        self.policy = policy
        self.path = path
        # Each asset's URL carries the hash of the bytes it sends (the minified copy, if built).
        self.served = served_assets()
        self.assets = {name: asset.version for name, asset in self.served.items()}
        self.owners = {s.id: s.category for s in policy.services}
        self.consent_cookie = consent_cookie

    def __repr__(self) -> str:
        return f"<Renderer path={self.path!r}>"

    def render(
        self,
        name: str,
        state: ConsentState,
        *,
        root: str,
        here: str,
        lang: str | None = None,
        next: str | None = None,
        **extra: Any,
    ) -> Markup:
        """Render `consent/<name>` for a visitor in `state`.

        Args:
            name: the template, e.g. `banner.html`.
            state: the visitor's consent.
            root: the application's root path (ASGI `root_path`), before the routes' path.
            here: the page the visitor is on (path and query), where forms return to.
            lang: a language to show instead of the state's.
            next: where forms return to instead of `here` (checked: same-origin paths only).
        """
        lang = lang or state.language or self.policy.default_language
        base = root + self.path
        context = {
            "policy": self.policy,
            "state": state,
            **language_context(self.policy, lang),
            "action": base,
            "static": base + "/static",
            "assets": self.assets,
            "owners": self.owners,
            "consent_cookie": self.consent_cookie,
            "next": safe_next(next or here),
            **extra,
        }
        return Markup(environment().get_template(f"consent/{name}").render(context))
