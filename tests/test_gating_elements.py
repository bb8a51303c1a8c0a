"""The gate beyond scripts and iframes: what else loads from elsewhere or runs content.

Checklist item A2 (no pixel, iframe, preload or preconnect before a choice): an `<img>` and
its srcset, `<picture>` sources, `<noscript>` pixels, iframe `srcdoc`, media and their
`<source>`/`<track>` children, `<embed>`, `<object>`, `<input type=image>`, links that
fetch, declarative shadow roots, SVG `<image>`, all by data-consent and by declared hosts,
and relative URLs after a `<base href>` on a declared host. "Inert" is checked with the
fuzz harness's html5lib oracle (scripting on and off), and the fast gate against the
tag-by-tag reference.
"""

from __future__ import annotations

import time

import pytest
from fuzz import fuzz_gating
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent.gating import HTMLGate, host_matcher
from tests import gating_reference

DECLARED = {"tracker.example": "pixel", "*.youtube.com": "yt", "ok.example": "ok"}
T = "https://tracker.example"


def allows(id: str) -> bool:
    return id in ("essential", "ok")


def gate(html: str, hosts: bool = True) -> str:
    g = HTMLGate(allows, host_matcher(DECLARED) if hosts else None)
    return (g.feed(html.encode()) + g.close()).decode()


def reference(html: str) -> str:
    g = gating_reference.HTMLGate(allows, gating_reference.host_matcher(DECLARED))
    return (g.feed(html.encode()) + g.close()).decode()


@pytest.mark.parametrize(
    ("given_html", "expected"),
    [
        ("<img src=/p.gif data-consent=x>", "<img data-consent-src=/p.gif data-consent=x>"),
        (
            '<IMG Data-Consent="x" SRCSET="/a 1x, /b 2x" alt=a>',
            '<IMG Data-Consent="x" data-consent-srcset="/a 1x, /b 2x" alt=a>',
        ),
        (
            "<image data-consent=x src=/a>",  # the tree builder makes it an <img>
            "<image data-consent=x data-consent-src=/a>",
        ),
        (
            "<picture><source data-consent=x srcset=/a.webp><img data-consent=x src=/a>",
            "<picture><source data-consent=x data-consent-srcset=/a.webp>"
            "<img data-consent=x data-consent-src=/a>",
        ),
        (
            "<iframe data-consent=x srcdoc='<script>go()</script>'></iframe>",
            "<iframe data-consent=x data-consent-srcdoc='<script>go()</script>'></iframe>",
        ),
        (
            "<iframe data-consent=x src=/a srcdoc=''>",
            "<iframe data-consent=x data-consent-src=/a data-consent-srcdoc=''>",
        ),
        ("<embed data-consent=x src=/e>", "<embed data-consent=x data-consent-src=/e>"),
        (
            "<object data-consent=x data=/o></object>",
            "<object data-consent=x data-consent-data=/o></object>",
        ),
        (
            "<video data-consent=x src=/v.mp4 poster=/p.png>",
            "<video data-consent=x data-consent-src=/v.mp4 data-consent-poster=/p.png>",
        ),
        ("<audio data-consent=x src=/a.mp3>", "<audio data-consent=x data-consent-src=/a.mp3>"),
        (
            "<input type=image data-consent=x src=/i.png>",
            "<input type=image data-consent=x data-consent-src=/i.png>",
        ),
        (
            '<link rel="stylesheet" data-consent=x href=/a.css>',
            '<link rel="stylesheet" data-consent=x data-consent-href=/a.css>',
        ),
        (
            "<link rel=preload as=image data-consent=x imagesrcset='/a 1x'>",
            "<link rel=preload as=image data-consent=x data-consent-imagesrcset='/a 1x'>",
        ),
        (
            "<template shadowrootmode=open data-consent=x><img src=/s></template>",
            "<template data-consent-shadowrootmode=open data-consent=x><img src=/s></template>",
        ),
        (
            "<svg><image data-consent=x href=/s.png /></svg>",
            "<svg><image data-consent=x data-consent-href=/s.png /></svg>",
        ),
        # What the page had under the new names already is dropped, as for src.
        (
            "<img data-consent=x data-consent-src=/old src=/new>",
            "<img data-consent=x  data-consent-src=/new>",  # its separator stays
        ),
    ],
)
def test_an_element_waits_for_its_data_consent(given_html: str, expected: str) -> None:
    """A2: a refused id moves what the element loads (or the shadow root it declares)
    aside to data-consent-<attribute>; an allowed id leaves it byte for byte."""
    assert gate(given_html) == expected == reference(given_html)
    allowed = given_html.replace("data-consent=x", "data-consent=ok")
    allowed = allowed.replace('Data-Consent="x"', 'Data-Consent="ok"')
    assert gate(allowed) == allowed


@pytest.mark.parametrize(
    "element",
    [
        f"<img src={T}/p.gif>",
        f'<img alt="" srcset="/a.png 1x, {T}/b.png 2x">',
        f"<img srcset='/a.png 100w,{T}/b.png 200w' sizes=50vw>",
        f"<picture><source srcset={T}/a.webp type=image/webp>",
        f"<video poster={T}/p.png></video>",
        f"<video><source src={T}/v.mp4><track src={T}/t.vtt default></video>",
        f"<audio src={T}/a.mp3>",
        f"<embed src={T}/e.swf>",
        f"<object data={T}/o.pdf></object>",
        f"<input type=image src={T}/i.png>",
        f'<link rel="dns-prefetch" href="{T}">',
        "<link rel=PreConnect href=//tracker.example>",
        f"<link rel='modulepreload' href={T}/m.js>",
        f"<link rel=prefetch href={T}/n.html>",
        f"<link rel=prerender href={T}/n.html>",
        f"<link rel=stylesheet href={T}/a.css>",
        f"<link rel='shortcut icon' href={T}/favicon.ico>",
        f"<link rel=preload as=image imagesrcset='{T}/a.png 1x'>",
        f"<svg><image href={T}/s.png /></svg>",
        f"<svg><image xlink:href={T}/s.png /></svg>",
        f"<noscript><img src={T}/p.gif></noscript>",
    ],
)
def test_an_element_from_a_declared_host_waits(element: str) -> None:
    """A2: without data-consent, an element that loads a URL from a refused service's
    host waits as that service; html5lib (scripting on and off) finds nothing active."""
    out = gate(element)
    assert 'data-consent="pixel"' in out
    assert out == reference(element)
    assert fuzz_gating.active_gated(element.replace("tracker.example", "www.youtube.com").encode())
    assert (
        fuzz_gating.active_gated(
            gate(element.replace("tracker.example", "www.youtube.com")).encode()
        )
        == []
    )


def test_only_links_that_fetch_wait() -> None:
    """A2: link types are a token list, ASCII case-insensitive; a link that fetches nothing
    (canonical, alternate, a look-alike token) keeps its href for crawlers and readers."""
    fetching = [f"<link rel='{rel}' href={T}/a>" for rel in ("PRELOAD", "\tpreload\n", "a preload")]
    for link in fetching:
        assert "data-consent-href" in gate(link)
    for rel in ("canonical", "alternate", "preloads", "pre-load", "preload\xa0"):
        link = f"<link rel='{rel}' href={T}/a>"
        assert gate(link) == link
    assert gate(f"<link href={T}/a>") == f"<link href={T}/a>"


@pytest.mark.parametrize(
    ("srcset", "gated"),
    [
        (f"{T}/a.png", True),
        (f"/a.png 1x,{T}/b.png 2x", True),
        (f"/a.png,{T}/b.png", False),  # no blank: one (relative) URL with a comma in it
        (f"/a.png, {T}/b.png", True),  # a URL that ends in a comma ends its candidate
        (f",,, {T}/b.png", True),
        (f"data:image/png;base64,AAAA 1x, {T}/b.png 2x", True),
        ("data:image/png;base64,AAAA,https://tracker.example/b 1x", False),  # one data: URL
        (f"/a.png (1x, {T}/b.png) 2x", False),  # a comma in parentheses splits nothing
        (f"/a.png (1x, 2x, {T}/b.png", False),  # nor does one before the end, unclosed
        (f"/a.png 1x (), {T}/b.png", True),
        ("/a.png 1x, /b.png 2x", False),
    ],
)
def test_every_srcset_candidate_counts(srcset: str, gated: bool) -> None:
    """A2: a srcset is split as the HTML standard splits it; a browser may fetch any
    candidate, so one on a refused host holds the whole image back."""
    out = gate(f'<img srcset="{srcset}">')
    assert ("data-consent-srcset" in out) is gated
    assert out == reference(f'<img srcset="{srcset}">')


SRCSET_TEXT = st.lists(
    st.sampled_from(["/a.png", f"{T}/b.png", " ", ",", "(", ")", "1x", "data:x,y", "\t", "2w"]),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(SRCSET_TEXT | st.text(max_size=40))
def test_srcset_split_equals_the_standard_s_steps(srcset: str) -> None:
    """The gate's one-regex split of a srcset finds the candidates' URLs that the standard's
    step-by-step algorithm (the reference's) finds."""
    from consent.gating.plans import srcset_urls as _srcset_urls

    assert _srcset_urls(srcset) == gating_reference.srcset_urls(srcset)


@pytest.mark.parametrize("filler", [", ", ",", " ,\t"])
def test_a_srcset_is_read_in_time_linear_in_its_length(filler: str) -> None:
    """A srcset of nothing but blanks and commas costs time linear in its
    length: 8 times as long takes well under 64 times as long (each byte is read once,
    where a failed match retried from every comma read the rest again)."""
    from consent.gating.plans import srcset_urls as _srcset_urls

    def best(text: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            _srcset_urls(text)
            times.append(time.perf_counter() - start)
        return min(times)

    short, long = best(filler * 3_000), best(filler * 24_000)
    assert long / short < 24


@pytest.mark.parametrize(
    ("page", "gated"),
    [
        (f"<base href={T}/><img src=/p.gif>", 1),
        (f"<base href={T}/sub/><img src=p.gif><script src=a.js></script>", 2),
        ("<base href=//tracker.example/><img src='https:p.gif'><img src=?q>", 2),
        # Only the first <base href> counts: a later one changes nothing.
        (f"<base href={T}/><base href=/><img src=/p.gif>", 1),
        (f"<base target=_top><base href={T}/><img src=/p.gif>", 1),
        (f"<base href=/x/><base href={T}/><img src=/p.gif>", 0),
        # A URL of its own: a host, or another scheme, is not resolved against the base.
        (f"<base href={T}/><img src=//site.example/p.gif><img src=data:,x>", 0),
        (f"<base href={T}/><img src=\\\\site.example/p.gif><img src=javascript:x>", 0),
        # One a browser may not see as the first (in SVG, <noscript>, a template's content)
        # fixes nothing, and one on a declared host may count there.
        (f"<svg><base href=/ /></svg><base href={T}/><img src=/p.gif>", 1),
        (f"<noscript><base href=/></noscript><base href={T}/><img src=/p.gif>", 1),
        (f"<template><base href=/></template><base href={T}/><img src=/p.gif>", 1),
        # Before the <base>, relative URLs are the page's own.
        (f"<img src=/p.gif><base href={T}/>", 0),
    ],
)
def test_relative_urls_after_a_declared_host_s_base_wait(page: str, gated: int) -> None:
    """A2: relative URLs resolve against the document's base URL, the first <base href>:
    on a declared host's, what they load comes from that host and waits as its service."""
    out = gate(page)
    assert out == reference(page)
    assert out.count('data-consent="pixel"') == gated
    youtube = page.replace("tracker.example", "www.youtube.com")
    assert bool(fuzz_gating.active_gated(youtube.encode())) == bool(gated)
    assert fuzz_gating.active_gated(gate(youtube).encode()) == []


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            '<picture data-consent="x"><source srcset=/a.webp><img src=/a.png></picture>'
            "<img src=/b.png>",
            '<picture data-consent="x"><source data-consent="x" data-consent-srcset=/a.webp>'
            '<img data-consent="x" data-consent-src=/a.png></picture><img src=/b.png>',
        ),
        (
            "<video data-consent='a&amp;b' poster=/p><source src=/v.mp4><track src=/t.vtt>"
            "</video><video><source src=/w.mp4>",
            "<video data-consent='a&amp;b' data-consent-poster=/p>"
            "<source data-consent='a&amp;b' data-consent-src=/v.mp4>"
            "<track data-consent='a&amp;b' data-consent-src=/t.vtt></video><video>"
            "<source src=/w.mp4>",
        ),
        # The child's own id wins; an allowed container leaves the hosts to decide.
        (
            f"<audio data-consent=ok><source data-consent=y src=/a><source src={T}/b>",
            "<audio data-consent=ok><source data-consent=y data-consent-src=/a>"
            f'<source data-consent="pixel" data-consent-src={T}/b>',
        ),
        # An <img> ends its picture: the next one is the page's.
        (
            "<picture data-consent=x><img src=/a></picture><img src=/b>",
            "<picture data-consent=x><img data-consent=x data-consent-src=/a></picture>"
            "<img src=/b>",
        ),
        # Nested or left open, a container may still be one: its children wait.
        (
            "<picture data-consent=x><img src=/a><img src=/b>",
            "<picture data-consent=x><img data-consent=x data-consent-src=/a>"
            "<img data-consent=x data-consent-src=/b>",
        ),
        (
            "<video data-consent=x><video></video><source src=/a>",
            "<video data-consent=x><video></video><source data-consent=x data-consent-src=/a>",
        ),
        (
            "<video data-consent=x><div></video></div><source src=/a>",
            "<video data-consent=x><div></video></div><source data-consent=x data-consent-src=/a>",
        ),
    ],
)
def test_a_container_s_id_holds_its_sources_back(page: str, expected: str) -> None:
    """A2: a <video> or <audio> loads its <source> and <track> children, an <img> in a
    <picture> its sources: they wait with the container's data-consent (copied as written,
    so that it names the same id)."""
    assert gate(page) == expected == reference(page)
    assert fuzz_gating.active_gated(page.encode())
    assert fuzz_gating.active_gated(gate(page).encode()) == []


@pytest.mark.parametrize(
    ("page", "waits_for"),
    [
        (f'<iframe srcdoc="<img src={T}/p.gif>"></iframe>', "pixel"),
        (f"<base href={T}/><iframe srcdoc='<img src=/p.gif>'></iframe>", "pixel"),
        ("<iframe srcdoc='<script data-consent=&quot;analytics&quot;>go()</script>'>", "analytics"),
        (
            "<iframe srcdoc=\"<iframe srcdoc='<link rel=preload href=//tracker.example/a>'>\">",
            "pixel",
        ),
        # Its own <base> wins inside; the site's own URLs load as they are.
        (f"<base href={T}/><iframe srcdoc='<base href=/><img src=/p.gif>'></iframe>", None),
        ("<iframe srcdoc='<p>Hello <img src=/p.gif>'></iframe>", None),
    ],
)
def test_an_iframe_srcdoc_waits_for_what_its_document_loads(
    page: str, waits_for: str | None
) -> None:
    """A2: the document in a srcdoc (which relative URLs resolve against the page's base)
    is not rewritten: when it would load or run anything refused, the whole iframe waits,
    with the first refused id."""
    out = gate(page)
    assert out == reference(page)
    if waits_for is None:
        assert out == page
    else:
        assert f'<iframe data-consent="{waits_for}" data-consent-srcdoc=' in out
    youtube = page.replace("tracker.example", "www.youtube.com").replace("analytics", "x")
    assert bool(fuzz_gating.active_gated(youtube.encode())) == (waits_for is not None)
    assert fuzz_gating.active_gated(gate(youtube).encode()) == []


def test_a_template_without_a_shadow_root_is_left_to_consent_js() -> None:
    page = "<template data-consent=x><img src=/a></template>"
    shadow = "<template data-consent=x shadowrootmode=closed shadowrootdelegatesfocus>"
    assert gate(page) == page
    assert gate(shadow) == shadow.replace(" shadowrootmode", " data-consent-shadowrootmode")


def test_new_elements_are_candidates_in_paranoid_mode() -> None:
    """A2: once the gate cannot tell how a browser reads the rest (a <style> in a
    <select>), every candidate start tag is gated wherever it stands, images and links too,
    and a <base> anywhere may be the first."""
    page = (
        "<select><style><!--</style><img data-consent=x src=/a>-->"
        f"<link rel=preload href={T}/l><base href={T}/><img src=/b>"
    )
    out = gate(page)
    assert out == reference(page)
    assert "<img data-consent=x data-consent-src=/a>" in out
    assert f"data-consent-href={T}/l" in out
    assert '<img data-consent="pixel" data-consent-src=/b>' in out


def test_a_tag_read_before_is_read_again_in_each_container() -> None:
    """The reading of a tag is kept for the next one; what its container or the <base>
    makes of it is not."""
    img = "<img src=/a.png>"
    assert (
        gate(f"<picture data-consent=x>{img}")
        == "<picture data-consent=x><img data-consent=x data-consent-src=/a.png>"
    )
    assert gate(img) == img
    assert gate(f"<base href={T}/>{img}").endswith(
        '<img data-consent="pixel" data-consent-src=/a.png>'
    )
    assert gate(img) == img


PIECES = [
    *("<img", "<image", "<picture>", "</picture>", "<picture data-consent=x>", "<source", "<track"),
    *("<video", "</video>", "<video data-consent=x>", "<audio data-consent=analytics>", "<embed"),
    *("<object", "<input type=image", "<link rel=preload", "<link rel=stylesheet", "<template>"),
    *(' rel="dns-prefetch preconnect"', "<template shadowrootmode=open", "</template>", "<base"),
    *("<base href=https://www.youtube.com/>", "<base href=/x>", " href=", " srcset=", " poster="),
    *(' srcset="/a 1x, https://www.youtube.com/b 2x"', " imagesrcset=", " srcdoc=", " data="),
    *(" src=/p.gif", " src=", " data-consent=x", " data-consent=ok", ">", " ", "<svg>", "</svg>"),
    *("<noscript>", "</noscript>", "<select>", "<style>", "</style>", "<!--", "-->", "<p>", '"'),
    *("'", "=", "https://www.youtube.com/v", "//m.youtube.com/x", "/local", ",", "(", ")"),
    *("<script>", "</script>", "<iframe", "</iframe>", "<math>", "<mtext>", "<table>", "<td>"),
    *('<a title="', "<image href=//www.youtube.com/i>", "<textarea>", "</textarea>", "<div>"),
    *("<iframe srcdoc='<img src=//www.youtube.com/x>'>", ' srcdoc="', "&quot;", "&lt;", "&amp;"),
    '<iframe srcdoc="<base href=https://www.youtube.com/><img src=/p>"></iframe>',
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), st.integers(1, 40))
def test_no_refused_element_stays_active(page: str, size: int) -> None:
    """A2: whatever the markup, html5lib (scripting on and off) finds no refused element
    active in what the gate writes, which is the reference's, however it is cut."""
    out = fuzz_gating.gate_once(page.encode())
    assert fuzz_gating.active_gated(out) == []
    assert fuzz_gating.gate_chunks(page.encode(), list(range(size, len(page), size))) == out
