"""Set-Cookie headers: the one place that formats them."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Literal

__all__ = ["set_cookie_header"]


def set_cookie_header(
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = True,
    same_site: Literal["lax", "strict", "none"] = "lax",
) -> str:
    """The value of a `Set-Cookie` header. `max_age=0` deletes the cookie."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["max-age"] = max_age
    morsel["path"] = path
    if domain is not None:
        morsel["domain"] = domain
    morsel["secure"] = secure
    morsel["httponly"] = httponly
    morsel["samesite"] = same_site.capitalize()
    return morsel.OutputString()
