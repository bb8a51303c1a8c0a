"""The example site's views: the pages of the Starlette example, in Django.

The log-in keeps the reader's name in Django's session (the essential `sessionid` cookie)
and sets the seed's PHP and WordPress cookies, as the other examples do.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from consent import get_consent
from examples.site import ARTICLES

LOGGED_IN = "wordpress_logged_in_" + hashlib.md5(b"example-news", usedforsecurity=False).hexdigest()


def page(request: HttpRequest, name: str, **context: Any) -> HttpResponse:
    """Render one of the site's templates with the common context."""
    user = request.session.get("user")
    return render(request, name, {"user": user, "articles": ARTICLES, **context})


def home(request: HttpRequest) -> HttpResponse:
    # Reading the consent in a view marks the response `Vary: Cookie`.
    statistics = get_consent(request).allows("analytics")
    return page(request, "home.html", statistics=statistics)


async def article(request: HttpRequest, slug: str) -> HttpResponse:
    # An async view: Django runs it on the event loop, under the same middleware.
    if slug not in ARTICLES:
        raise Http404("no such article")
    return page(request, "article.html", article=ARTICLES[slug], slug=slug)


def video(request: HttpRequest) -> HttpResponse:
    return render(request, "video.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return page(request, "privacy.html")


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:40] or "reader"
        request.session["user"] = username
        response = HttpResponseRedirect("/")
        response.status_code = 303
        response.set_cookie("PHPSESSID", secrets.token_hex(16), httponly=True, samesite="Lax")
        value = f"{username}|{secrets.token_hex(8)}"
        response.set_cookie(LOGGED_IN, value, httponly=True, samesite="Lax")
        return response
    response = page(request, "login.html")
    response.set_cookie("wordpress_test_cookie", "WP Cookie check", samesite="Lax")
    return response


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    response = HttpResponseRedirect("/")
    response.status_code = 303
    for name in request.COOKIES:
        if name == "PHPSESSID" or name.startswith("wordpress_logged_in_"):
            response.delete_cookie(name)
    return response
