"""The example site's pages: the same as the Starlette example's."""

from __future__ import annotations

from django.urls import path, re_path
from django.views.static import serve

from examples.django_site import views
from examples.django_site.settings import STATIC_DIR

urlpatterns = [
    path("", views.home),
    path("articles/<slug:slug>", views.article),
    path("embed/video", views.video),
    path("privacy", views.privacy),
    path("login", views.login),
    path("logout", views.logout),
    # The demo serves its few files itself; a real site lets the web server (or WhiteNoise)
    # serve them.
    re_path(r"^static/(?P<path>.+)$", serve, {"document_root": STATIC_DIR}),
]
