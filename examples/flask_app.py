"""The example news site as a Flask app: the same policy, templates, log and behaviour as
the Starlette app, through ConsentWSGIMiddleware.

Run it with `make demo APP=flask` (gunicorn), or `.venv/bin/gunicorn examples.flask_app:app`.
"""

from __future__ import annotations

from flask import Flask, abort, redirect, render_template, request
from werkzeug.wrappers import Response

from consent import get_consent
from consent.jinja import install
from consent.wsgi import ConsentWSGIMiddleware
from examples.site import (
    ARTICLES,
    SECRET_KEY,
    STATIC_DIR,
    TEMPLATES_DIR,
    consent_log,
    is_login_cookie,
    login_cookies,
    policy,
    template_context,
    username_of,
)

app = Flask(
    __name__, template_folder=TEMPLATES_DIR, static_folder=STATIC_DIR, static_url_path="/static"
)
install(app.jinja_env)  # `consent` in every template; Flask gives them `request`
# The middleware wraps Flask's WSGI app, so that `app` stays the Flask object (its CLI,
# test client and url_for keep working).
app.wsgi_app = ConsentWSGIMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, policy=policy, secret_key=SECRET_KEY, log=consent_log
)


def page(name: str, **extra: object) -> str:
    return render_template(name, **template_context(request.cookies, **extra))


@app.get("/")
def home() -> str:
    return page("home.html")


@app.get("/articles/<slug>")
def article(slug: str) -> str:
    if slug not in ARTICLES:
        abort(404)
    return page("article.html", article=ARTICLES[slug], slug=slug)


@app.get("/embed/video")
def video() -> str:
    return page("video.html")


@app.get("/privacy")
def privacy() -> str:
    return page("privacy.html")


@app.get("/login")
def login_form() -> Response:
    response = app.make_response(page("login.html"))
    response.set_cookie("wordpress_test_cookie", "WP Cookie check", samesite="Lax")
    return response


@app.post("/login")
def login() -> Response:
    response = redirect("/", code=303)
    for name, value in login_cookies(username_of(request.get_data())).items():
        response.set_cookie(name, value, httponly=True, samesite="Lax")
    return response


@app.post("/logout")
def logout() -> Response:
    response = redirect("/", code=303)
    for name in request.cookies:
        if is_login_cookie(name):
            response.delete_cookie(name)
    return response


@app.get("/api/articles")
def articles() -> dict[str, object]:
    """A JSON route that adapts to the visitor's choice, read with get_consent."""
    state = get_consent(request)
    return {
        "articles": [{"slug": slug, "title": a["title"]} for slug, a in ARTICLES.items()],
        "personalised": state.allows("marketing"),
        "consent": state.to_json(),
    }
