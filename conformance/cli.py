"""``taskchat check``: run the conformance suite against a server, or the embedded one.

Light to import: the suite itself is imported inside ``run``.
Exit status: 0 every MUST holds, 1 a MUST fails, 2 the run could not happen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_CANNOT_RUN = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check",
        help="check a server against the protocol (the embedded reference server by default)",
        description="Run the conformance suite. Without --url, starts the embedded reference "
        "server (SQLite in a temporary directory) and checks it. Exit status: 0 every MUST "
        "holds, 1 a MUST fails, 2 the run could not happen.",
    )
    p.add_argument("--url", help="the server, e.g. http://127.0.0.1:9553")
    p.add_argument("--jwt-secret", help="the server's HS256 secret (tokens are minted); "
                   "default: the environment variable TASKCHAT_JWT_SECRET")
    p.add_argument("--config", type=Path, help="TOML config (see conformance/README.md)")
    p.add_argument("--only", action="append", default=[], metavar="AREA",
                   help="run only this area (TRANS, AUTH, ...); repeatable")
    p.add_argument("--requirement", action="append", default=[], metavar="ID",
                   help="run only the checks of this requirement id; repeatable")
    p.add_argument("--level", choices=["must", "should"], help="run only checks of this level")
    p.add_argument("--report-dir", type=Path,
                   help="where the reports go (default reports/conformance-<timestamp>/)")
    p.add_argument("--workers", type=int, default=6, help="checks run at once (default 6)")
    p.add_argument("--seed", type=int, help="the seed of everything drawn at random "
                   "(generated payloads, random sessions); printed by every run, so a failure "
                   "can be replayed (default: a fresh one)")
    p.add_argument("-x", "--exitfirst", action="store_true",
                   help="stop at the first failing check; the checks not started say so")
    p.add_argument("--node-modules", type=Path, metavar="DIR",
                   help="a node_modules directory holding socket.io-client 4.x (default: "
                   "TASKCHAT_NODE_MODULES, then the checkout's tests/node/node_modules)")
    p.add_argument("--stateful-examples", type=int, metavar="N",
                   help="random sessions of the stateful phase at most (0 turns it off)")
    p.add_argument("--stateful-budget", type=float, metavar="SECONDS",
                   help="seconds of new sessions in the stateful phase (default 15)")
    p.add_argument("--stateful-steps", type=int, metavar="N",
                   help="actions per session of the stateful phase at most (default 50)")
    p.add_argument("--stateful-shrink", type=float, metavar="SECONDS",
                   help="seconds for shrinking a failing session (default 20)")
    p.add_argument("-v", "--verbose", action="store_true", help="say why checks are skipped")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from taskchat.conformance.session import CannotRun, run_session

    try:
        result = run_session(
            url=args.url,
            jwt_secret=args.jwt_secret,
            config=args.config,
            only=args.only,
            requirements=args.requirement,
            level=args.level,
            report_dir=args.report_dir,
            workers=args.workers,
            verbose=args.verbose,
            seed=args.seed,
            exitfirst=args.exitfirst,
            node_modules=args.node_modules,
            stateful={k: v for k, v in (("examples", args.stateful_examples),
                                        ("budget", args.stateful_budget),
                                        ("shrink", args.stateful_shrink),
                                        ("steps", args.stateful_steps)) if v is not None},
        )
    except CannotRun as exc:
        print(f"taskchat check: could not run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_FAIL if result.must_failed else EXIT_OK
