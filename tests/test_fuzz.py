"""Replay of the fuzzing corpora and regressions, without atheris (fuzz/, docs/fuzzing.md).

Every file in fuzz/corpus/<target>/ and fuzz/regressions/<target>/ goes through that
harness's `check`; regressions run with the known-bug tolerance off, so an input for a bug
not fixed yet is a strict xfail that turns into a failure once the bug is fixed. A short
seeded random smoke per target, and tests that the harnesses' own oracles can fail.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzz import fuzz_body, fuzz_cookie, fuzz_gating, fuzz_linear, fuzz_next, fuzz_request
from fuzz._common import POLICY, Reader, browser_target, call_asgi
from starlette.types import Receive, Scope, Send

from consent import ConsentMiddleware
from consent.gating import HTMLGate, host_matcher
from tests.conftest import SECRET

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CHECKS: dict[str, Callable[[bytes], None]] = {
    "cookie": fuzz_cookie.check,
    "request": fuzz_request.check,
    "next": fuzz_next.check,
    "gating": fuzz_gating.check,
    "body": fuzz_body.check,
    "linear": fuzz_linear.check,
}
# Regression inputs of bugs not fixed yet, as (target, name prefix) -> reason: each runs as a
# strict xfail, which fails once the bug is fixed. None at the moment.
OPEN_BUGS: dict[tuple[str, str], str] = {}


def inputs(kind: str) -> list[tuple[str, Path]]:
    return [
        (target, path)
        for target in CHECKS
        for path in sorted((FUZZ / kind / target).iterdir())
        if not path.name.startswith(".")
    ]


def test_every_target_has_seeds_and_regressions_have_a_place() -> None:
    for target in CHECKS:
        assert len(list((FUZZ / "corpus" / target).iterdir())) >= 5, target
        assert (FUZZ / "regressions" / target).is_dir(), target
        assert (FUZZ / "dicts" / f"{target}.dict").is_file(), target


@pytest.mark.parametrize(("target", "path"), inputs("corpus"), ids=lambda v: getattr(v, "name", v))
def test_corpus_input_holds(target: str, path: Path) -> None:
    CHECKS[target](path.read_bytes())


def _regressions() -> list[object]:
    params: list[object] = []
    for target, path in inputs("regressions"):
        # "<name>-as-found" (or "<name>-<variant>") is another input of the bug "<name>".
        reasons = [r for (t, n), r in OPEN_BUGS.items() if t == target and path.name.startswith(n)]
        reason = reasons[0] if reasons else None
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(target, path, marks=marks, id=f"{target}/{path.name}"))
    return params


@pytest.mark.parametrize(("target", "path"), _regressions())
def test_regression_input_holds(target: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_gating, "SKIP_KNOWN_BUGS", False)
    CHECKS[target](path.read_bytes())


def test_open_bugs_have_their_regression_input() -> None:
    for target, name in OPEN_BUGS:
        assert (FUZZ / "regressions" / target / name).is_file(), name


@pytest.mark.parametrize("target", list(CHECKS))
def test_random_inputs_hold(target: str) -> None:
    """A seeded smoke run through each harness: 300 inputs, none breaking a property
    (how long they take is `make fuzz`'s concern: its -timeout flags a slow input)."""
    rng = random.Random(f"fuzz-smoke-{target}")
    seeds = [path.read_bytes() for name, path in inputs("corpus") if name == target]
    for _ in range(300):
        if rng.random() < 0.5:  # a seed with a few bytes changed, as libFuzzer would
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            data = bytearray(rng.randbytes(rng.randrange(120)))
        CHECKS[target](bytes(data))


def test_harnesses_import_without_atheris() -> None:
    assert "atheris" not in sys.modules


# --- the oracles can fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("/article?id=1", ("https", "site.example")),
        ("https:/path", ("https", "site.example")),
        ("https:path", ("https", "site.example")),
        ("//evil.example/x", ("https", "evil.example")),
        ("/\\evil.example", ("https", "evil.example")),
        ("\\\\evil.example", ("https", "evil.example")),
        ("/\t/evil.example", ("https", "evil.example")),
        (" \x00//evil.example", ("https", "evil.example")),
        ("https:\\\\evil.example", ("https", "evil.example")),
        ("http:evil.example", ("http", "evil.example")),
        ("HTTPS://user@EVIL.example:444/", ("https", "evil.example")),
        ("https://www%2Eevil.example", ("https", "www.evil.example")),
        ("https://\uff45vil.example\u3002", ("https", "evil.example")),
        ("javascript:alert(1)", ("javascript", None)),
    ],
)
def test_browser_model_resolves_like_a_browser(url: str, target: tuple[str, str | None]) -> None:
    assert browser_target(url) == target


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/a\tb", "https://x"])
def test_next_oracle_refuses_off_site_targets(target: str) -> None:
    with pytest.raises(AssertionError):
        fuzz_next.check_target(target, target)


def test_cookie_oracle_agrees_with_the_codec_on_a_genuine_cookie() -> None:
    value, grants = fuzz_cookie.valid_cookie(Reader(bytes([4, 8, 0, 1])))
    assert fuzz_cookie.expected_grants(value) == grants
    assert "marketing" in grants.categories and "youtube" in grants.services
    assert fuzz_cookie.expected_grants(value[:-1] + "A") is None
    foreign = fuzz_cookie.sign(value.rpartition(".")[0].encode(), fuzz_cookie.FOREIGN_KEY)
    assert fuzz_cookie.expected_grants(foreign) is None


def test_request_oracle_reads_the_action() -> None:
    assert fuzz_request.asked_for("form", b"action=save&grant=matomo&grant=youtube") == (
        "save",
        frozenset({"matomo", "youtube"}),
    )
    assert fuzz_request.asked_for("form", b"action=save&action=accept_all") is None
    assert fuzz_request.asked_for("json", b'{"action": "reject_all"}') == (
        "reject_all",
        frozenset(),
    )
    assert fuzz_request.asked_for("json", b"[1]") is None


def test_gating_oracle_finds_an_active_refused_script() -> None:
    active = fuzz_gating.active_gated(
        b'<script data-consent="analytics" src="/a.js"></script><script data-consent=ok></script>'
        b'<iframe data-consent="x" src="/f"></iframe><svg><script data-consent=x>1</script></svg>'
    )
    assert [kind for kind, _ in active] == ["refused", "refused", "refused"]


def test_gating_oracle_reads_noscript_with_scripting_on_and_off() -> None:
    # On: the element ends at "</noscript", and the script after it runs.
    on = fuzz_gating.active_gated(b"<noscript><!--</noscript><script data-consent=x></script>-->")
    assert on == [("refused", "<script data-consent='x'>")]
    # Off: its content is markup, and its iframe loads.
    off = fuzz_gating.active_gated(b"<noscript><iframe data-consent=x src=/f></iframe></noscript>")
    assert off == [("refused", "<iframe data-consent='x' src='/f'>")]


@pytest.mark.parametrize(
    "markup",
    [
        b"<img data-consent=x src=/p.gif>",
        b'<img srcset="/a 1x, //www.youtube.com/b 2x">',
        b"<picture data-consent=x><source srcset=/a><img alt=''></picture>",
        b"<video data-consent=x><source src=/v.mp4></video>",
        b"<audio><track src=//m.youtube.com/t.vtt></audio>",
        b"<iframe data-consent=x srcdoc='<p>x'></iframe>",
        b"<embed src=//www.youtube.com/e>",
        b"<object data-consent=x data=/o></object>",
        b"<input type=Image src=//www.youtube.com/i>",
        b"<link rel='dns-prefetch' href=//www.youtube.com>",
        b"<template shadowrootmode=open data-consent=x></template>",
        b"<svg><image href=//www.youtube.com/s /></svg>",
        b"<base href=https://www.youtube.com/><img src=/p.gif>",
    ],
)
def test_gating_oracle_finds_each_element_that_loads(markup: bytes) -> None:
    """The oracle reads what else loads as a browser does, with scripting on and off: each
    of these is active as written, and inert as the gate writes it."""
    assert [kind for kind, _ in fuzz_gating.active_gated(markup)] == ["refused"]
    assert fuzz_gating.active_gated(_gate(markup)) == []


@pytest.mark.parametrize(
    "markup",
    [
        b"<link rel=canonical href=//www.youtube.com/>",
        b"<input src=//www.youtube.com/i>",
        b"<img src=/p.gif><base href=https://www.youtube.com/>",
        b"<template><base href=https://www.youtube.com/></template><img src=/p.gif>",
        b"<picture data-consent=x></picture><source srcset=/a>",
        b"<template shadowrootmode=sideways data-consent=x></template>",
    ],
)
def test_gating_oracle_leaves_what_loads_nothing_refused(markup: bytes) -> None:
    assert fuzz_gating.active_gated(markup) == []


# --- the bugs found, as focused unit tests ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expired"), [("_pk_id.x(1)", True), ("_pk_id.[1]", True), ("_pk_id.a,b", False)]
)
def test_refused_cookie_with_an_unusual_name_is_expired_not_a_500(name: str, expired: bool) -> None:
    """Found by fuzz_cookie (cookie/refused-cookie-name-simplecookie-rejects): SimpleCookie
    raised on names browsers accept, a 500 on every page. Now such a cookie is expired like
    any other; a name with a comma, which a Set-Cookie header cannot carry safely, is left."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ConsentMiddleware(app, policy=POLICY, secret_key=SECRET)
    messages = call_asgi(middleware, "GET", "/", [(b"cookie", f"{name}=1".encode())], [])
    assert messages[0]["status"] == 200
    set_cookies = [v.decode() for k, v in messages[0]["headers"] if k == b"set-cookie"]
    assert any(v.startswith(f'{name}=""; Max-Age=0') for v in set_cookies) is expired


def _gate(html: bytes) -> bytes:
    gate = HTMLGate(lambda id: id == "ok", host_matcher(fuzz_gating.HOSTS))
    return gate.feed(html) + gate.close()


@pytest.mark.parametrize("element", ["style", "title", "textarea", "xmp", "noframes"])
def test_gate_sees_scripts_inside_svg_raw_text_look_alikes(element: str) -> None:
    """Found by fuzz_gating: inside <svg> these elements hold markup, not raw text."""
    html = f"<svg><{element}><script data-consent=x src=/a.js></script></{element}></svg>"
    assert b'type="text/plain"' in _gate(html.encode())


@pytest.mark.parametrize(
    "svg", ['<svg><script href="/icons.js"/></svg>', "<svg><script></svg>", "<svg><style/></svg>"]
)
def test_gate_sees_the_script_after_an_svg_script_or_style(svg: str) -> None:
    html = f'{svg}<script data-consent="analytics" src="/a.js"></script>'
    gated = b'<script type="text/plain" data-consent="analytics" src="/a.js"></script>'
    assert _gate(html.encode()).endswith(gated)


@pytest.mark.parametrize(
    "tag",
    [
        '<script data-consent="analytics" src="/a.js" defer=>',
        "<script data-consent=analytics src=/a.js type=>",
        "<script src=https://www.googletagmanager.com/gtag/js data-consent=x async=>",
    ],
)
def test_gate_output_stays_inert_after_an_attribute_without_value(tag: str) -> None:
    """Found by fuzz_gating: the type appended after `defer=` became its value. The added
    attributes now come right after the tag name."""
    assert fuzz_gating.active_gated(_gate(tag.encode() + b"</script>")) == []


def test_gate_rewrite_keeps_the_slash_before_an_equals_sign() -> None:
    """Found by fuzz_gating: re-joining attributes with spaces turned `r/=""src=e` into
    `r =""src=e`, a new src. The page's separators are now kept byte for byte."""
    html = b'<iframe data-consent="marketing" src="/embed" r/=""src=/other></iframe>'
    assert fuzz_gating.active_gated(_gate(html)) == []


@pytest.mark.parametrize(
    "src",
    [
        "https:\\\\www.googletagmanager.com/a.js",
        "/\\www.googletagmanager.com/a.js",
        "https:///www.googletagmanager.com/a.js",  # fuzz: gating/host-extra-slashes
        "///www.googletagmanager.com/a.js",
    ],
)
def test_gate_reads_hosts_after_backslashes_like_a_browser(src: str) -> None:
    assert b'type="text/plain"' in _gate(f'<script src="{src}"></script>'.encode())


@pytest.mark.parametrize(
    "src", ["https://www%2Eyoutube.com/embed/1", "https://www.youtube.com%2E/embed/1"]
)
def test_gate_reads_percent_encoded_hosts_like_a_browser(src: str) -> None:
    assert b"data-consent-src" in _gate(f'<iframe src="{src}"></iframe>'.encode())
