"""The HTML gate against Chromium's own parser: markup where a tag is read differently in
SVG, MathML, <noscript>, <select> and escaped script text. Checklist item A2.

Each page is loaded twice over a routed navigation (the browser's normal parser, scripting
on): as written, where the refused script must run (so the case is real in this browser),
and as the gate writes it, where it must not.
"""

from __future__ import annotations

import pytest
from fuzz import fuzz_gating
from playwright.sync_api import Page, Route

RUN = "window.ran = (window.ran || []).concat([{id!r}])"

CASES = {
    "svg-style": "<svg><style><script data-consent=x>{run}</script></style></svg>",
    "svg-self-closing-script": "<svg><script/></svg><script data-consent=x>{run}</script>",
    "mathml-text-point": (
        "<math><mtext><style><!--</style><script data-consent=x>{run}</script>--></style>"
        "</mtext></math>"
    ),
    "svg-paragraph-breakout": (
        "<svg><g><p><style><!--</style><script data-consent=x>{run}</script>-->"
    ),
    "noscript-comment": (
        "<noscript><!--</noscript><script data-consent=x>{run}</script>--></noscript>"
    ),
    "noscript-attribute": (
        '<noscript><a title="</noscript><script data-consent=x>{run}</script>"></a></noscript>'
    ),
    # Script text: "</script>" inside "<!--<script ..." ends nothing (script data states).
    "script-double-escaped": (
        "<script><!--<script </script><iframe </script><script data-consent=x>{run}</script>"
    ),
    # Chromium reads <style> and <iframe> inside <select> as raw text; older parsers (and
    # html5lib) ignore them there. The gate cannot tell, and gates both readings.
    "select-style": "<select><style><!--</style><script data-consent=x>{run}</script>--></select>",
    "select-iframe": (
        "<select><iframe><!--</iframe><script data-consent=x>{run}</script>--></select>"
    ),
}


def ran(page: Page, html: str) -> list[str]:
    def fulfil(route: Route) -> None:
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    page.route("http://gate.test/", fulfil)
    page.goto("http://gate.test/")
    result: list[str] = page.evaluate("window.ran || []")
    page.unroute("http://gate.test/")
    return result


@pytest.mark.parametrize("case", CASES)
def test_chromium_runs_no_refused_script_the_gate_has_seen(page: Page, case: str) -> None:
    html = "<!doctype html><title>t</title><body>" + CASES[case].format(run=RUN.format(id=case))
    assert ran(page, html) == [case]  # as written, Chromium runs it
    gated = fuzz_gating.gate_once(html.encode()).decode()
    assert gated != html
    assert ran(page, gated) == []
