"""``taskchat load``: a scenario run headless, with thresholds, into ``reports/load-<time>/``.

Locust runs as a subprocess (``python -m locust -f loadtests/locustfile.py --headless``), so
gevent's monkey-patching never touches the caller (the CI pipeline, a test). With no URL the
embedded reference server is started first, with its default rate limit: the scenarios pace
every user well below it (D20). The exit status is 0 when every threshold holds, 1 when one
fails, 2 when the run itself could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from taskchat.loadtests.scenarios import SCENARIO_NAMES

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
_SPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_timespan(text: str) -> int:
    """``90``, ``90s``, ``2m``, ``1h30m`` -> seconds (Locust's own syntax)."""
    if text.isdigit():
        return int(text)
    match = _SPAN.match(text.strip())
    if not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"not a time span: {text!r} (e.g. 30s, 2m, 1h30m)")
    h, m, s = (int(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s


def register(sub: Any) -> None:
    p = sub.add_parser(
        "load",
        help="run a Locust scenario headless, with delivery thresholds",
        description=(
            "Run one of the task-chat load scenarios headless and judge it: p99 delivery "
            "latency (send to each member's new_message), loss and error rate. With no --url "
            "(and no --config) the embedded reference server is started. Writes Locust's CSV "
            "and HTML, summary.json and report.html to <report-dir>/load-<time>/."
        ),
    )
    p.add_argument("--scenario", choices=SCENARIO_NAMES, default="task_chat")
    p.add_argument("--users", type=int, default=20, help="simulated users (default 20)")
    p.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    p.add_argument("--run-time", type=parse_timespan, default=30, help="e.g. 30s, 2m (30s)")
    p.add_argument("--url", help="the server, e.g. http://127.0.0.1:9553")
    p.add_argument("--config", type=Path, help="the conformance suite's target config (TOML)")
    p.add_argument("--jwt-secret", help="HS256 secret to mint a token per simulated user")
    p.add_argument(
        "--processes", type=int, default=0, help="Locust worker processes on this machine"
    )
    p.add_argument("--users-per-room", type=int, default=0, help="0: the scenario's default")
    p.add_argument(
        "--message-rate", type=float, default=0, help="messages per minute per user (0: default)"
    )
    p.add_argument("--grace", type=float, default=3.0, help="seconds before a delivery is lost")
    p.add_argument(
        "--storm-every", type=float, default=15.0, help="seconds between reconnect storms"
    )
    p.add_argument("--max-p99-delivery-ms", type=float, help="fail above this p99 delivery")
    p.add_argument("--max-loss", type=float, help="fail above this lost fraction (0 = none)")
    p.add_argument("--max-error-rate", type=float, help="fail above this fraction of requests")
    p.add_argument("--report-dir", type=Path, default=Path("reports"))
    p.set_defaults(func=run)


def locust_command(args: argparse.Namespace, url: str, out: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.run_time}s",
        "-H", url, "--stop-timeout", "3", "--exit-code-on-error", "0",
        "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "locust.html"),
        "--only-summary", "--loglevel", "WARNING",
        "--scenario", args.scenario, "--grace", str(args.grace),
        "--storm-every", str(args.storm_every),
        "--summary-file", str(out / "raw-summary.json"),
    ]  # fmt: skip
    if args.users_per_room:
        cmd += ["--users-per-room", str(args.users_per_room)]
    if args.message_rate:
        cmd += ["--message-rate", str(args.message_rate)]
    if args.config:
        cmd += ["--taskchat-config", str(args.config)]
    if args.processes:
        cmd += ["--processes", str(args.processes)]
    return cmd


def run(args: argparse.Namespace) -> int:
    from taskchat.loadtests import report

    from taskchat.client.config import ConfigError, load_target

    if args.run_time <= args.grace + 2:
        print(f"taskchat load: --run-time must exceed --grace + 2 s (the end of a run waits "
              f"{args.grace:g} s for deliveries still owed)", file=sys.stderr)  # fmt: skip
        return 2
    out = Path(args.report_dir) / f"load-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    limits = report.Thresholds(args.max_p99_delivery_ms, args.max_loss, args.max_error_rate)
    with ExitStack() as stack:
        url, secret = args.url, args.jwt_secret
        if url is None and args.config is None:
            from taskchat.embedded import embedded_server

            print("starting the embedded reference server ...", flush=True)
            server = stack.enter_context(embedded_server(jwt_secret=secret))
            url, secret = server.url, server.jwt_secret
        try:
            target = load_target(args.config, url, secret)
        except ConfigError as exc:
            print(f"taskchat load: {exc}", file=sys.stderr)
            return 2
        env = dict(os.environ, TASKCHAT_RUN_ID=uuid.uuid4().hex[:8])
        if target.jwt_secret:
            env["TASKCHAT_JWT_SECRET"] = target.jwt_secret  # not on the command line (ps)
        cmd = locust_command(args, target.url, out)
        print(f"load: {args.scenario}, {args.users} users for {args.run_time}s -> {out}")
        budget = args.run_time + args.grace + 90
        try:
            proc = subprocess.run(cmd, env=env, timeout=budget, check=False)
        except subprocess.TimeoutExpired:
            print(f"taskchat load: Locust did not stop within {budget}s", file=sys.stderr)
            return 2
    raw_path = out / "raw-summary.json"
    if not raw_path.exists():
        print(f"taskchat load: Locust exited with {proc.returncode} and no summary",
              file=sys.stderr)  # fmt: skip
        return 2
    summary = report.write(out, json.loads(raw_path.read_text()), limits)
    _print(summary, out)
    return 0 if summary["passed"] else 1


def _print(summary: dict[str, Any], out: Path) -> None:
    f, c = summary["figures"], summary["counters"]
    print(
        f"delivery p50/p95/p99: {f['delivery_p50_ms']}/{f['delivery_p95_ms']}/"
        f"{f['delivery_p99_ms']} ms over {f['deliveries']} deliveries; "
        f"lost {c.get('lost', 0)}, duplicated {c.get('duplicated', 0)}, "
        f"out of order {c.get('reordered', 0)}, disconnects {c.get('disconnects', 0)}, "
        f"error rate {f['error_rate']:.4f}"
    )
    for v in summary["verdicts"]:
        mark = "pass" if v["passed"] else "FAIL"
        print(f"  [{mark}] {v['name']} <= {v['limit']}: {v['detail']}")
    print(f"report: {out / 'report.html'}")
