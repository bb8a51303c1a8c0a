"""The `consent` command for developers and compliance staff.

    consent check POLICY [--strict] [--format text|json]
    consent declaration POLICY [--format html|md|json|csv] [--lang xx] [--cookie-name N] [-o FILE]
    consent log stats|export|purge|show --db DB ...      (see consent.cli_log)
    consent report --policy POLICY --db DB -o report.html
    consent edge varnish|nginx --backend HOST:PORT ...   (see consent.edge)
    consent scan URL [--policy POLICY] [--pages N] [--format text|json|html] [-o FILE] [--suggest]
                                                          (see consent.scan.cli; needs Playwright)

Exit codes of `check`: 0 nothing to fix (warnings allowed unless --strict), 1 findings,
2 the policy file cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

from consent import cli_log, edge
from consent.declaration import FORMATS, render_declaration
from consent.lint import Finding, lint
from consent.policy import PolicyError, load_policy, read_policy_data, validate_policy
from consent.scan import cli as scan_cli

__all__ = ["main"]


def _check(args: argparse.Namespace) -> int:
    path = args.policy
    try:
        raw = read_policy_data(path)
        policy = validate_policy(raw, path)
    except PolicyError as exc:
        schema = [
            Finding(level="error", code="schema", where=p.where, message=p.what, fix=p.fix)
            for p in exc.problems
        ]
        unreadable = any(p.where in ("(file)", "(syntax)", "(top level)") for p in exc.problems)
        _report(path, schema, args.format)
        return 2 if unreadable else 1
    findings = lint(policy, raw)
    _report(path, findings, args.format)
    errors = sum(f.level == "error" for f in findings)
    if errors or (args.strict and findings):
        return 1
    return 0


def _declaration(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    text = render_declaration(policy, args.format, args.lang, cookie_name=args.cookie_name)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        print(text)
    return 0


def _report(path: str, findings: list[Finding], fmt: str) -> None:
    errors = sum(f.level == "error" for f in findings)
    warnings = len(findings) - errors
    if fmt == "json":
        data = {
            "file": path,
            "errors": errors,
            "warnings": warnings,
            "findings": [f.as_dict() for f in findings],
        }
        print(json.dumps(data, indent=2))
        return
    for f in findings:
        print(f"{path}: {f.where}: {f.level}: {f.message}. Fix: {f.fix} [{f.code}]")
    print(f"{path}: {errors} error(s), {warnings} warning(s)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `consent` command."""
    parser = argparse.ArgumentParser(prog="consent", description="asgi-consent tools")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="lint a policy file")
    check.add_argument("policy", help="the policy file (.toml or .json)")
    check.add_argument("--strict", action="store_true", help="fail on warnings too")
    check.add_argument("--format", choices=("text", "json"), default="text")
    declaration = commands.add_parser("declaration", help="export the cookie declaration")
    declaration.add_argument("policy", help="the policy file (.toml or .json)")
    declaration.add_argument("--format", choices=FORMATS, default="html")
    declaration.add_argument("--lang", default=None, help="language of the texts, e.g. de")
    declaration.add_argument("-o", "--output", default=None, help="write to a file")
    declaration.add_argument(
        "--cookie-name",
        default="consent",
        help="the consent cookie's name, as the middleware's cookie_name (default: consent)",
    )
    cli_log.add_commands(commands)
    edge.add_command(commands)
    scan_cli.add_command(commands)
    args = parser.parse_args(_receipt_ids_as_operands(sys.argv[1:] if argv is None else argv))
    if args.command in ("log", "report"):
        try:
            return cli_log.run(args)
        except BrokenPipeError:  # `consent log export | head`: the reader has had enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    if args.command == "declaration":
        return _declaration(args)
    if args.command == "edge":
        return edge.run(args)
    if args.command == "scan":
        return scan_cli.run(args)
    return _check(args)


def _receipt_ids_as_operands(argv: Sequence[str]) -> list[str]:
    """Move a receipt id that starts with `-` behind `--` in `consent log show`.

    Ids made by early versions may start with `-`; argparse would take them for an option.
    """
    args = list(argv)
    if args[:2] == ["log", "show"] and "--" not in args:
        for i, arg in enumerate(args[2:], start=2):
            if _DASHED_ID.fullmatch(arg):
                return [*args[:i], *args[i + 1 :], "--", arg]
    return args


_DASHED_ID = re.compile(r"-[A-Za-z0-9_-]{21}")


if __name__ == "__main__":
    sys.exit(main())
