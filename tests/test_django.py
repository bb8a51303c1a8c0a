"""Django under ConsentMiddleware: Django's own ASGI handler, its middleware and response
classes, with the consent routes answered before Django sees them (tests/django_site.py)."""

from __future__ import annotations

import pytest

from tests.django_site import BOTH_HANDLERS, MIDDLEWARE, client_for, django_app, django_client

INERT = '<script type="text/plain" data-consent="matomo" src="/static/analytics.js"></script>'
ACTIVE = '<script data-consent="matomo" src="/static/analytics.js"></script>'
SAME_ORIGIN = {"origin": "http://testserver"}
CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}


def cookie_names(headers: list[str]) -> set[str]:
    # (Django's WSGI handler starts each Set-Cookie value with a space: HTTP ignores it.)
    return {h.split("=", 1)[0].strip() for h in headers}


# Django warns that it reads a file's (synchronous) iterator under ASGI: its own advice.
SYNC_FILE = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume:Warning")


@pytest.mark.parametrize(
    "path", ["/html", "/async", "/streamed", pytest.param("/file", marks=SYNC_FILE)]
)
@BOTH_HANDLERS
def test_first_visit_is_inert_then_active_after_accept(path: str, kind: str) -> None:
    """A1, A2, A6: Django's HttpResponse, an async view, a StreamingHttpResponse cut inside
    the tag, a FileResponse: each is gated until the visitor allows, then active."""
    with django_client(kind=kind) as client:
        first = client.get(path)
        assert first.status_code == 200
        assert INERT in first.text and ACTIVE not in first.text
        assert "set-cookie" not in first.headers
        assert "Cookie" in first.headers["vary"]
        client.post("/consent", json={"action": "accept_all"})
        assert ACTIVE in client.get(path).text


@BOTH_HANDLERS
def test_choices_through_forms_and_json_reach_the_view(kind: str) -> None:
    """B2, B13: accept, reject and save, by form (303) and JSON; `get_consent(request)`
    in a Django view reads the new choice on the next request."""
    with django_client(kind=kind) as client:
        assert client.get("/state").json()["decided"] is False
        response = client.post(
            "/consent",
            data={"action": "accept_all", "next": "/html"},
            headers=SAME_ORIGIN,
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == "/html"
        assert "marketing" in client.get("/state").json()["granted"]
        client.post(
            "/consent", data={"action": "reject_all"}, headers=SAME_ORIGIN, follow_redirects=False
        )
        assert client.get("/state").json()["granted"] == ["essential"]
        saved = client.post("/consent", json={"action": "save", "grant": ["analytics"]})
        assert saved.status_code == 200
        for view in ("/state", "/async-state"):  # a sync and an async view
            state = client.get(view)
            assert set(state.json()["granted"]) == {"analytics", "essential"}
            assert "Cookie" in state.headers["vary"]


@BOTH_HANDLERS
def test_a_tampered_cookie_is_undecided_without_error(kind: str) -> None:
    """C1: a forged or garbled consent cookie is no decision, on Django pages and views."""
    with django_client(kind=kind) as client:
        client.post("/consent", json={"action": "accept_all"})
        value = client.cookies["consent"]
        for forged in (value[:-3] + "AAA", "garbage", "1." + "x" * 300, "\x7f"):
            client.cookies.clear()
            client.cookies.set("consent", forged)
            assert client.get("/state").json()["decided"] is False
            page = client.get("/html")
            assert page.status_code == 200 and INERT in page.text


@BOTH_HANDLERS
def test_refused_cookies_from_a_view_are_dropped_and_django_s_own_pass(kind: str) -> None:
    """A3: a refused service's Set-Cookie from a Django view is dropped (Django writes
    `Set-Cookie` with capitals); the session cookie, declared essential, passes."""
    with django_client(kind=kind) as client:
        names = cookie_names(client.get("/cookies").headers.get_list("set-cookie"))
        assert names == {"sessionid"}
        client.post("/consent", json={"action": "save", "grant": ["matomo"]})
        names = cookie_names(client.get("/cookies").headers.get_list("set-cookie"))
        assert names == {"sessionid", "_pk_id.1"}


@BOTH_HANDLERS
def test_csrf_middleware_leaves_the_consent_routes_to_their_own_checks(kind: str) -> None:
    """A same-origin POST to /consent needs no CSRF token under CsrfViewMiddleware; a
    cross-site one is refused by the consent routes' own check."""
    with django_client(kind=kind) as client:
        response = client.post(
            "/consent", data={"action": "accept_all"}, headers=SAME_ORIGIN, follow_redirects=False
        )
        assert response.status_code == 303
        assert "CSRF verification failed" not in response.text
        assert "consent" in client.cookies
    with django_client(kind=kind) as client:
        for headers in (CROSS_SITE, {"origin": "https://evil.example"}):
            refused = client.post("/consent", data={"action": "accept_all"}, headers=headers)
            assert refused.status_code == 403
            assert "CSRF verification failed" not in refused.text
        assert "consent" not in client.cookies


@BOTH_HANDLERS
def test_django_csrf_still_protects_the_site_s_views(kind: str) -> None:
    """The site's own forms keep Django's CSRF check; its token cookie (essential)
    reaches the browser through the consent middleware."""
    with django_client(kind=kind) as client:
        refused = client.post("/form", data={"x": "1"})
        assert refused.status_code == 403 and "CSRF verification failed" in refused.text
        client.get("/render/csrf")  # renders {% csrf_token %}: Django sets csrftoken
        token = client.cookies["csrftoken"]
        accepted = client.post("/form", data={"csrfmiddlewaretoken": token})
        assert accepted.status_code == 200 and accepted.text == "posted"


@pytest.mark.parametrize("path", ["/html", "/streamed"])
@BOTH_HANDLERS
def test_gzip_middleware_bodies_are_gated(path: str, kind: str) -> None:
    """Django's GZipMiddleware compresses after the view: the gate decodes what it gates,
    whole or streamed."""
    middleware = [*MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    with django_client(middleware, kind=kind) as client:
        response = client.get(path, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert "Accept-Encoding" in response.headers["vary"]  # GZipMiddleware compressed it
        assert INERT in response.text
        assert ACTIVE not in response.text


@BOTH_HANDLERS
def test_a_view_s_own_encoding_is_decoded_or_refused(kind: str) -> None:
    """A view that encodes its HTML itself: gzip is decoded and gated; a coding the gate
    cannot read never goes out ungated."""
    with django_client(kind=kind) as client:
        response = client.get("/encoded?coding=gzip")
        assert response.status_code == 200 and INERT in response.text
        unknown = client.get("/encoded?coding=x-unknown")
        assert unknown.status_code == 502
        assert "matomo" not in unknown.text


@BOTH_HANDLERS
def test_conditional_get_etags_name_the_consent(kind: str) -> None:
    """B14: with ConditionalGetMiddleware, a 304 only for the consent the copy was gated
    for; after a change, the old ETag gets the page gated anew."""
    middleware = [*MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]
    with django_client(middleware, kind=kind) as client:
        first = client.get("/html")
        etag = first.headers["etag"]
        assert "-consent-" in etag
        assert client.get("/html", headers={"if-none-match": etag}).status_code == 304
        client.post("/consent", json={"action": "accept_all"})
        again = client.get("/html", headers={"if-none-match": etag})
        assert again.status_code == 200 and ACTIVE in again.text
        assert again.headers["etag"] != etag


@BOTH_HANDLERS
def test_security_middleware_headers_survive_and_hosts_are_django_s(kind: str) -> None:
    """SecurityMiddleware's headers pass; a Host outside ALLOWED_HOSTS gets Django's 400 on
    its pages (never a 500), while the consent routes answer for the host the browser used
    (their cookie belongs to that host alone)."""
    with django_client(kind=kind) as client:
        page = client.get("/html")
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert client.get("/html", headers={"host": "evil.example"}).status_code == 400
        state = client.get("/consent/state", headers={"host": "evil.example"})
        assert state.status_code == 200 and state.json()["decided"] is False


@BOTH_HANDLERS
def test_under_a_root_path_both_the_routes_and_django_answer(kind: str) -> None:
    """Mounted under /news (uvicorn --root-path, SCRIPT_NAME under WSGI): the consent
    routes live at /news/consent and Django's views see their own paths."""
    with django_app(kind=kind) as app:
        client = client_for(app, "/news")
        # (Starlette's client puts the root path in the URL; WSGI's takes it apart.)
        news = "/news" if kind == "asgi" else ""
        assert client.get(news + "/consent/state").json()["decided"] is False
        response = client.post(news + "/consent", json={"action": "accept_all"})
        assert response.status_code == 200
        assert "Path=/" in response.headers["set-cookie"]
        assert ACTIVE in client.get(news + "/html").text
