"""``taskchat gate``: the command line. Light to import: the gate loads only when it runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Decide whether a change to the protocol's schemas breaks deployed clients or servers.
BASE and HEAD are each a directory of schemas (holding index.json) or a git revision of
--repo (its schemas/ tree at that revision). Exit status: 1 on a breaking change (or, with
--check-version, a version that says too little), 0 otherwise, 2 when the gate cannot run.
"""


class _Ordered(argparse.Action):
    """Keeps --allow and --reason in command-line order, so each reason finds its allowances."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, "allow_items", None) or [])
        items.append((self.const, values))
        namespace.allow_items = items


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gate",
        help="schema compatibility gate: does a change break deployed clients or servers?",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--base", required=True, metavar="DIR|REV", help="the deployed version, e.g. origin/main"
    )
    p.add_argument("--head", metavar="DIR|REV", help="the proposed version (default: REPO/schemas)")
    p.add_argument(
        "--repo", type=Path, default=Path("."), help="git repository for revisions (default: .)"
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        help="where to write gate.json, junit.xml, table.txt (default: reports/gate-<timestamp>/)",
    )
    p.add_argument("--no-report", action="store_true", help="write no report files")
    p.add_argument(
        "--json", action="store_true", help="print the JSON report to stdout instead of the table"
    )
    p.add_argument(
        "--allow",
        action=_Ordered,
        const="allow",
        metavar="EVENT:CHANGE",
        help="accept a named breaking change on purpose (repeatable; EVENT and CHANGE "
        "may use * wildcards); needs a --reason",
    )
    p.add_argument(
        "--reason",
        action=_Ordered,
        const="reason",
        metavar="TEXT",
        help="why: applies to the --allow options before it that have none yet",
    )
    p.add_argument(
        "--check-version",
        action="store_true",
        help="fail when the head's index version is less than the change needs",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the counterexample search (default 0)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=3.0,
        help="seconds of counterexample search per changed schema (default 3)",
    )
    p.set_defaults(func=run, allow_items=[])


def _allowances(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pending: list[str] = []
    pairs: list[tuple[str, str]] = []
    for kind, value in items:
        if kind == "allow":
            pending.append(value)
        else:
            if not pending:
                raise ValueError(f"--reason {value!r} follows no --allow")
            pairs.extend((a, value) for a in pending)
            pending = []
    if pending:
        raise ValueError(f"--allow {pending[0]!r} needs a --reason")
    return pairs


def run(args: argparse.Namespace) -> int:
    try:
        # taskchat.schemas.protocol (for its Direction enum) reads the working tree's index on import:
        # a broken working tree is "cannot run", not a traceback
        from taskchat.gate import report
        from taskchat.gate.compare import Options, compare
        from taskchat.gate.load import GateError, default_head, load
        from taskchat.gate.rules import Allowance
    except (OSError, ValueError, KeyError) as exc:
        print(f"taskchat gate: error: cannot load the protocol package: {exc}", file=sys.stderr)
        return 2

    try:
        allowances = [Allowance.parse(a, r) for a, r in _allowances(args.allow_items)]
        repo: Path = args.repo
        head_spec = args.head if args.head is not None else default_head(repo)
        base = load(args.base, repo)
        head = load(head_spec, repo)
        verdict = compare(base, head, allowances, Options(seed=args.seed, budget=args.budget))
    except (GateError, ValueError) as exc:
        print(f"taskchat gate: error: {exc}", file=sys.stderr)
        return 2
    if args.check_version and verdict.required_version is None:
        print(
            "taskchat gate: error: --check-version needs a semantic version in both indexes "
            f"(base: {verdict.base_version!r}, head: {verdict.head_version!r})",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(json.dumps(report.to_json(verdict, args.check_version), indent=2, ensure_ascii=False))
    else:
        print(report.table(verdict, args.check_version), end="")
    if not args.no_report:
        directory = args.report_dir or report.default_dir()
        try:
            report.write(verdict, directory, args.check_version)
        except OSError as exc:
            print(f"taskchat gate: error: cannot write reports: {exc}", file=sys.stderr)
            return 2
        print(f"reports written to {directory}", file=sys.stderr)
    return verdict.exit_code(args.check_version)
