"""`consent scan URL`: the command line of the cookie scanner.

Exit codes: 0 clean, 1 findings at `--fail-on` level or worse (violations by default),
2 unusable input (a bad URL or policy, an unreachable site, no Playwright or no browser).
Importing this module does not import Playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from consent.policy import Policy, PolicyError, load_policy
from consent.scan.classify import Classifier
from consent.scan.crawl import CHROMIUM, ScanError, ScanOptions, run_scan
from consent.scan.findings import LEVELS, exit_code, find
from consent.scan.render import FORMATS, render, summary_line
from consent.scan.suggest import suggest

__all__ = ["add_command", "run"]

DESCRIPTION = """\
Audit a running site in Chromium: what it stores and where it sends requests before any
choice, after "Reject all" and after "Accept all", each in a fresh browser profile;
classified by the policy (--policy) and the catalog of known cookies.
Exit code 0 clean, 1 violations (or findings at --fail-on), 2 unusable input.
Needs Playwright: pip install 'asgi-consent[scan]'."""


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
        return value

    return parse


def add_command(commands: Any) -> None:
    """Add `scan` to the `consent` command's sub-parsers."""
    scan = commands.add_parser(
        "scan",
        help="audit a running site in a real browser (needs asgi-consent[scan])",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("url", help="the start page, http:// or https://")
    scan.add_argument("--policy", default=None, help="the site's policy file (.toml or .json)")
    scan.add_argument(
        "--pages", type=_positive(int), default=10, help="most pages to visit (default 10)"
    )
    scan.add_argument(
        "--time-limit",
        type=_positive(float),
        default=120.0,
        metavar="SECONDS",
        help="for the whole scan (default 120)",
    )
    scan.add_argument(
        "--settle",
        type=_positive(float),
        default=3.0,
        metavar="SECONDS",
        help="longest wait for a page's requests to finish (default 3)",
    )
    scan.add_argument("--format", choices=FORMATS, default="text")
    scan.add_argument("-o", "--output", default=None, help="write the report to a file")
    scan.add_argument(
        "--suggest", action="store_true", help="add policy entries for undeclared cookies"
    )
    scan.add_argument(
        "--fail-on",
        choices=LEVELS,
        default="violation",
        help="exit 1 on findings of this level or worse (default: violation)",
    )
    scan.add_argument(
        "--browser",
        default=os.environ.get("CONSENT_CHROMIUM", CHROMIUM),
        metavar="PATH",
        help=f"the Chromium to drive (default $CONSENT_CHROMIUM or {CHROMIUM})",
    )
    scan.add_argument(
        "--browser-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra Chromium switch, e.g. --browser-arg=--proxy-server=... (repeatable)",
    )
    scan.add_argument(
        "--reject-selector",
        default=None,
        metavar="SELECTOR",
        help='the "Reject all" control of a banner other than asgi-consent\'s',
    )
    scan.add_argument(
        "--accept-selector",
        default=None,
        metavar="SELECTOR",
        help='the "Accept all" control of a banner other than asgi-consent\'s',
    )
    scan.add_argument(
        "--locale", default=None, help="the browser's language, e.g. de-DE (default en-US)"
    )
    scan.add_argument(
        "--consent-cookie",
        default="consent",
        metavar="NAME",
        help="the cookie that stores the choice, always allowed (default: consent)",
    )


def _fail(message: str) -> int:
    print(f"consent scan: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run `consent scan` with parsed arguments; the exit code."""
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return _fail(f"{args.url!r} is not a web address: give one such as https://example.com/")
    policy: Policy | None = None
    if args.policy:
        try:
            policy = load_policy(args.policy)
        except PolicyError as exc:
            return _fail(str(exc))
    options = ScanOptions(
        url=args.url,
        pages=args.pages,
        time_limit=args.time_limit,
        settle=args.settle,
        browser=args.browser,
        browser_args=tuple(args.browser_arg),
        reject_selector=args.reject_selector,
        accept_selector=args.accept_selector,
        locale=args.locale,
        policy=args.policy,
    )
    try:
        result = run_scan(options)
    except ScanError as exc:
        return _fail(str(exc))
    classifier = Classifier(policy, consent_cookie=args.consent_cookie)
    findings = find(result, classifier)
    suggestions = suggest(result, classifier, result.started.timestamp()) if args.suggest else ""
    text = render(result, findings, classifier, args.format, suggestions)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
        print(f"{summary_line(findings)}; the report is in {args.output}")
    else:
        sys.stdout.write(text)
    return exit_code(findings, args.fail_on)
