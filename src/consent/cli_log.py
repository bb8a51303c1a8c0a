"""`consent log ...` and `consent report`: the proof-of-consent log for compliance staff.

    consent log stats  --db D [--since DATE] [--until DATE] [--format text|json]
    consent log export --db D [--since DATE] [--until DATE] [--format csv|jsonl] [-o FILE]
    consent log purge  --db D --older-than AGE
    consent log show   --db D RECEIPT_ID [--snapshot]
    consent report --policy P --db D -o report.html [--since DATE] [--until DATE] [--lang xx]

`--db` is a SQLite file or a `postgresql://` URL (default: $CONSENT_DB). Exit codes:
0 done, 1 the receipt asked for does not exist, 2 unusable input (no such database,
unreachable server, bad date or age).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from consent.receipts import (
    ConsentLog,
    LogStats,
    LogUnavailable,
    open_log,
    parse_age,
    summarize,
)
from consent.receipts.times import parse_time

__all__ = ["add_commands", "run"]


class Unusable(Exception):
    """Input the command cannot work with (exit code 2)."""


def add_commands(commands: Any) -> None:
    """Add `log` and `report` to the `consent` command's sub-parsers."""
    log = commands.add_parser("log", help="read, export and purge the proof-of-consent log")
    actions = log.add_subparsers(dest="log_command", required=True)
    stats = actions.add_parser("stats", help="decisions and acceptance rates")
    _db_and_period(stats)
    stats.add_argument("--format", choices=("text", "json"), default="text")
    export = actions.add_parser("export", help="every receipt as CSV or JSON Lines")
    _db_and_period(export)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("-o", "--output", default=None, help="write to a file")
    purge = actions.add_parser("purge", help="delete receipts older than an age")
    _db(purge)
    purge.add_argument("--older-than", required=True, help="an age such as 400d, 18 months or 5y")
    show = actions.add_parser("show", help="one receipt, by its id")
    _db(show)
    show.add_argument("receipt_id", help="the receipt id (from the visitor's consent cookie)")
    show.add_argument(
        "--snapshot", action="store_true", help="also print what the visitor was shown"
    )
    report = commands.add_parser("report", help="an HTML report for compliance staff")
    report.add_argument("--policy", required=True, help="the policy file (.toml or .json)")
    _db_and_period(report)
    report.add_argument("--lang", default=None, help="language of the policy texts, e.g. de")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument(
        "--cookie-name",
        default="consent",
        help="the consent cookie's name, as the middleware's cookie_name (default: consent)",
    )


def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get("CONSENT_DB"),
        help="a SQLite file or a postgresql:// URL (default: $CONSENT_DB)",
    )


def _db_and_period(parser: argparse.ArgumentParser) -> None:
    _db(parser)
    parser.add_argument("--since", default=None, help="first day (UTC), e.g. 2026-01-01")
    parser.add_argument("--until", default=None, help="day after the last one (UTC)")


def run(args: argparse.Namespace) -> int:
    """Run `consent log ...` or `consent report`; returns the exit code."""
    try:
        log = _open(args.db)
        command = _report if args.command == "report" else _COMMANDS[args.log_command]
        return asyncio.run(_closing(log, command(log, args)))
    except (Unusable, LogUnavailable) as exc:
        print(f"consent {args.command}: {exc}", file=sys.stderr)
        return 2


async def _closing(log: ConsentLog, work: Awaitable[int]) -> int:
    try:
        return await work
    finally:
        await log.aclose()


def _open(db: str | None) -> ConsentLog:
    if not db:
        raise Unusable("no database: pass --db FILE or --db postgresql://... (or set CONSENT_DB)")
    if not db.startswith(("postgresql://", "postgres://")) and not Path(db).is_file():
        raise Unusable(f"{db}: no such SQLite database")
    return open_log(db)


def _period(args: argparse.Namespace) -> dict[str, datetime | None]:
    try:
        return {
            "since": parse_time(args.since) if args.since else None,
            "until": parse_time(args.until) if args.until else None,
        }
    except ValueError:
        raise Unusable("--since and --until take dates such as 2026-01-31") from None


async def _stats(log: ConsentLog, args: argparse.Namespace) -> int:
    stats = await summarize(log.receipts(**_period(args)))
    if args.format == "json":
        print(json.dumps(stats.to_json(), indent=2))
    else:
        print(_stats_text(stats, args.db))
    return 0


def _stats_text(stats: LogStats, label: str) -> str:
    if not stats.decisions:
        return f"{_label(label)}: no decisions in this period"
    total = stats.decisions

    def share(n: int) -> str:
        return f"{n} ({n / total:.1%})"

    lines = [
        f"{_label(label)}: {total} decisions from {stats.first} to {stats.last}",
        "methods: " + ", ".join(f"{m} {share(n)}" for m, n in stats.methods.most_common()),
        "browsers: " + ", ".join(f"{b} {share(n)}" for b, n in stats.browsers.most_common()),
        "acceptance by category:",
    ]
    width = max(len(id) for id in stats.categories)
    for id, asked in stats.categories.items():
        lines.append(f"  {id:<{width}}  {stats.rate(id):6.1%}  ({stats.granted[id]}/{asked})")
    lines.append("per day:")
    for day, day_stats in sorted(stats.days.items()):
        rates = "  ".join(f"{id} {day_stats.rate(id):.0%}" for id in stats.categories)
        lines.append(f"  {day}  {day_stats.decisions:>6} decisions  {rates}")
    return "\n".join(lines)


async def _export(log: ConsentLog, args: argparse.Namespace) -> int:
    period = _period(args)
    with _output(args.output) as out:
        if args.format == "jsonl":
            async for receipt in log.receipts(**period):
                out.write(json.dumps(receipt.to_json(), separators=(",", ":")) + "\n")
            return 0
        # One true/false column per category and service: every id seen in the period.
        categories: dict[str, None] = {}
        services: dict[str, None] = {}
        async for receipt in log.receipts(**period):
            categories.update(dict.fromkeys(receipt.categories))
            services.update(dict.fromkeys(receipt.services))
        writer = csv.writer(out, lineterminator="\n")
        fixed = ["id", "recorded_at", "revision", "fingerprint", "snapshot", "method"]
        tail = ["previous_id", "browser", "language", "gpc", "source"]
        writer.writerow(
            fixed
            + [f"category:{id}" for id in categories]
            + [f"service:{id}" for id in services]
            + tail
        )
        async for receipt in log.receipts(**period):
            data = receipt.to_json()
            writer.writerow(
                [data[key] for key in fixed]
                + [_flag(receipt.categories.get(id)) for id in categories]
                + [_flag(receipt.services.get(id)) for id in services]
                + ["" if data[key] is None else _flag(data[key]) for key in tail]
            )
    return 0


def _flag(value: Any) -> Any:
    """CSV cells: true/false for booleans, empty where the id was not part of the policy."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """A file to write, or standard output (left open)."""
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as handle:
        yield handle


async def _purge(log: ConsentLog, args: argparse.Namespace) -> int:
    try:
        age = parse_age(args.older_than)
    except ValueError as exc:
        raise Unusable(str(exc)) from None
    deleted = await log.purge(age)
    print(f"{_label(args.db)}: purged {deleted} receipts older than {age.days} days")
    return 0


async def _show(log: ConsentLog, args: argparse.Namespace) -> int:
    receipt = await log.get(args.receipt_id)
    if receipt is None:
        print(f"{_label(args.db)}: no receipt {args.receipt_id!r}", file=sys.stderr)
        return 1
    data: dict[str, Any] = receipt.to_json()
    if args.snapshot:
        snapshot = await log.snapshot(receipt.snapshot)
        data["shown"] = None if snapshot is None else snapshot.document
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


async def _report(log: ConsentLog, args: argparse.Namespace) -> int:
    from consent.lint import lint
    from consent.policy import PolicyError, read_policy_data, validate_policy
    from consent.report import render_report

    try:
        raw = read_policy_data(args.policy)
        policy = validate_policy(raw, args.policy)
    except PolicyError as exc:
        raise Unusable(str(exc)) from None
    stats = await summarize(log.receipts(**_period(args)))
    html = render_report(
        policy,
        stats,
        lint(policy, raw),
        source=_label(args.db),
        generated_at=datetime.now(UTC),
        lang=args.lang,
        cookie_name=args.cookie_name,
    )
    Path(args.output).write_text(html, encoding="utf-8")
    print(f"{args.output}: {stats.decisions} decisions")
    return 0


def _label(db: str) -> str:
    """Where the receipts came from, fit to print: a URL loses its password."""
    if "://" not in db:
        return db
    log = open_log(db)
    return repr(log).removeprefix("<").removesuffix(">")


Command = Callable[[ConsentLog, argparse.Namespace], Awaitable[int]]
_COMMANDS: dict[str, Command] = {
    "stats": _stats,
    "export": _export,
    "purge": _purge,
    "show": _show,
}
