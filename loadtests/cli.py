"""``taskchat load``: a scenario run headless and judged, the web UI, or one side of a
distributed run (``--master`` judges, ``--worker`` joins it from any machine).

Locust runs as a subprocess on the packaged locustfile (found through the installed package, so
it works from a wheel in any directory), so gevent's monkey-patching never touches the caller
(the CI pipeline, a test). With no URL the embedded reference server is started first, with its
default rate limit: the scenarios pace every user well below it (D20).

Exit status: 0 when every threshold holds (without thresholds: when no request failed, as
Locust's own default), 1 when one fails, 2 when the run measured nothing (no user connected,
nothing delivered: the cause is printed and in the report) or could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from taskchat.loadtests.scenarios import SCENARIO_NAMES, SCENARIOS

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


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every default shown, except where there is none to show or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False) or "default" in text:
            return text
        return super()._get_help_string(action) or text


def register(sub: Any) -> None:
    p = sub.add_parser(
        "load",
        help="run a Locust scenario headless with delivery thresholds, or the web UI",
        formatter_class=_Defaults,
        description=(
            "Run task-chat load scenarios (Locust users) and judge them: p99 delivery latency "
            "(send to each member's new_message), loss and error rate. With no --url (and no "
            "--config) the embedded reference server is started. Writes Locust's CSV and HTML, "
            "the delivery CSVs, summary.json and report.html into --report-dir. --ui opens "
            "Locust's web UI instead; --master/--worker run one side of a distributed run."
        ),
    )
    p.add_argument("--scenario", choices=SCENARIO_NAMES, default="task_chat",
                   help="what the users do (the Locust user class of that name)")  # fmt: skip
    p.add_argument("--users", type=int, default=20, help="simulated users")
    p.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    p.add_argument("--run-time", type=parse_timespan, default=30, help="seconds, or 30s, 2m")
    p.add_argument("--url", help="the server, e.g. http://127.0.0.1:9553 (default: embedded)")
    p.add_argument("--config", type=Path, help="the conformance suite's target config (TOML)")
    p.add_argument("--jwt-secret", help="HS256 secret to mint a token per simulated user "
                   "(default: $TASKCHAT_JWT_SECRET)")  # fmt: skip
    p.add_argument("--processes", type=int, default=0,
                   help="Locust worker processes on this machine (0: one process)")  # fmt: skip
    p.add_argument("--users-per-room", type=int, default=0,
                   help="members per room (0: the scenario's default)")  # fmt: skip
    p.add_argument("--message-rate", type=float, default=0,
                   help="turns (mostly messages) per minute per user (0: the scenario's)")  # fmt: skip
    p.add_argument("--rooms", type=int, default=0,
                   help="rooms each presence_churn user moves between (0: the scenario's)")  # fmt: skip
    p.add_argument("--grace", type=float, default=3.0, help="seconds before a delivery is lost")
    p.add_argument("--storm-every", type=float, default=0,
                   help="seconds between reconnect storms (0: the scenario's, 15)")  # fmt: skip
    p.add_argument("--max-p99-delivery-ms", type=float,
                   help="fail above this p99 delivery (default: not judged)")  # fmt: skip
    p.add_argument("--max-loss", type=float,
                   help="fail above this lost fraction, 0 = none (default: not judged)")  # fmt: skip
    p.add_argument("--max-error-rate", type=float,
                   help="fail above this fraction of requests (default: not judged; "
                   "without any threshold a failed request fails the run)")  # fmt: skip
    p.add_argument("--report-dir", type=Path,
                   help="write the report here (default: reports/load-<UTC time>/)")  # fmt: skip
    p.add_argument("--status-every", type=float, default=5.0,
                   help="headless: seconds between status lines (0: none)")  # fmt: skip
    ui = p.add_argument_group("web UI")
    ui.add_argument("--ui", action="store_true", help="open Locust's web UI (pick scenarios "
                    "with the class picker) instead of a headless run")  # fmt: skip
    ui.add_argument("--web-host", default="127.0.0.1", help="address the web UI listens on")
    ui.add_argument("--web-port", type=int, default=8089, help="port of the web UI")
    dist = p.add_argument_group("distributed run (the same commands on several machines)")
    dist.add_argument("--master", action="store_true",
                      help="run as master: waits for workers, judges, writes the report")  # fmt: skip
    dist.add_argument("--expect-workers", type=int, default=1, help="master: workers to wait for")
    dist.add_argument("--master-bind-host", default="*", help="master: address to listen on")
    dist.add_argument("--master-bind-port", type=int, default=5557, help="master: port")
    dist.add_argument("--worker", action="store_true",
                      help="run as a worker of the master at --master-host")  # fmt: skip
    dist.add_argument("--master-host", default="127.0.0.1", help="worker: the master's address")
    dist.add_argument("--master-port", type=int, default=5557, help="worker: the master's port")
    p.set_defaults(func=run)


def default_report_dir() -> Path:
    """``reports/load-<UTC time>``, the stamp format the rest of ``reports/`` uses."""
    return Path("reports") / f"load-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _scenario_options(args: argparse.Namespace) -> list[str]:
    cmd = ["--grace", str(args.grace)]
    for flag, value in (
        ("--users-per-room", args.users_per_room),
        ("--message-rate", args.message_rate),
        ("--rooms", args.rooms),
        ("--storm-every", args.storm_every),
    ):
        if value:
            cmd += [flag, str(value)]
    if args.config:
        cmd += ["--taskchat-config", str(args.config)]
    return cmd


def locust_command(args: argparse.Namespace, locustfile: Path, url: str, out: Path) -> list[str]:
    """The headless run (single process, ``--processes`` or ``--master``)."""
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{args.run_time}s",
        "-H", url, "--stop-timeout", "3", "--exit-code-on-error", "0",
        "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "locust.html"),
        "--only-summary", "--loglevel", "WARNING",
        "--summary-file", str(out / "raw-summary.json"),
        "--status-every", str(args.status_every),
        *_scenario_options(args),
    ]  # fmt: skip
    if args.processes:
        cmd += ["--processes", str(args.processes)]
    if args.master:
        cmd += ["--master", "--expect-workers", str(args.expect_workers),
                "--master-bind-host", args.master_bind_host,
                "--master-bind-port", str(args.master_bind_port)]  # fmt: skip
    return [*cmd, SCENARIOS[args.scenario]]


def run(args: argparse.Namespace) -> int:
    if args.master and args.worker:
        print("taskchat load: --master or --worker, not both", file=sys.stderr)
        return 2
    with as_file(files("taskchat.loadtests") / "locustfile.py") as locustfile:
        if args.worker:
            return _worker(args, locustfile)
        if args.ui:
            return _ui(args, locustfile)
        return _headless(args, locustfile)


def _env(secret: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TASKCHAT_RUN_ID", uuid.uuid4().hex[:8])
    if secret:
        env["TASKCHAT_JWT_SECRET"] = secret  # not on the command line (ps), not in any page
    return env


def _worker(args: argparse.Namespace, locustfile: Path) -> int:
    """A worker takes its users, host and run settings from the master; the secret it needs
    comes from its own --jwt-secret or $TASKCHAT_JWT_SECRET (never sent by the master)."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
           "--master-host", args.master_host, "--master-port", str(args.master_port),
           "--loglevel", "WARNING", *_scenario_options(args)]  # fmt: skip
    print(f"load worker: joining the master at {args.master_host}:{args.master_port}", flush=True)
    return subprocess.run(cmd, env=_env(args.jwt_secret), check=False).returncode


def _target(args: argparse.Namespace, stack: ExitStack) -> tuple[str, str | None] | None:
    """The server's URL and secret; starts the embedded server when none is named."""
    from taskchat.client.config import ConfigError, load_target

    url, secret = args.url, args.jwt_secret or os.environ.get("TASKCHAT_JWT_SECRET")
    if url is None and args.config is None:
        from taskchat.embedded import embedded_server

        print("starting the embedded reference server ...", flush=True)
        server = stack.enter_context(embedded_server(jwt_secret=secret))
        url, secret = server.url, server.jwt_secret
    try:
        target = load_target(args.config, url, secret)
    except ConfigError as exc:
        print(f"taskchat load: {exc}", file=sys.stderr)
        return None
    return target.url, target.jwt_secret


def _ui(args: argparse.Namespace, locustfile: Path) -> int:
    with ExitStack() as stack:
        target = _target(args, stack)
        if target is None:
            return 2
        url, secret = target
        cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--class-picker",
               "--web-host", args.web_host, "--web-port", str(args.web_port), "-H", url,
               "-u", str(args.users), "-r", str(args.spawn_rate),
               *_scenario_options(args)]  # fmt: skip
        if args.master:
            cmd += ["--master", "--expect-workers", str(args.expect_workers),
                    "--master-bind-host", args.master_bind_host,
                    "--master-bind-port", str(args.master_bind_port)]  # fmt: skip
        print(f"web UI: http://{args.web_host}:{args.web_port} (target {url}); Ctrl-C ends it",
              flush=True)  # fmt: skip
        try:
            return subprocess.run(cmd, env=_env(secret), check=False).returncode
        except KeyboardInterrupt:
            return 0


def _headless(args: argparse.Namespace, locustfile: Path) -> int:
    from taskchat.loadtests import report

    if args.run_time <= args.grace + 2:
        print(f"taskchat load: --run-time must exceed --grace + 2 s (the end of a run waits "
              f"{args.grace:g} s for deliveries still owed)", file=sys.stderr)  # fmt: skip
        return 2
    out: Path = args.report_dir or default_report_dir()
    out.mkdir(parents=True, exist_ok=True)
    limits = report.Thresholds(args.max_p99_delivery_ms, args.max_loss, args.max_error_rate)
    with ExitStack() as stack:
        target = _target(args, stack)
        if target is None:
            return 2
        url, secret = target
        cmd = locust_command(args, locustfile, url, out)
        role = f"master of {args.expect_workers} workers, " if args.master else ""
        print(f"load: {args.scenario}, {role}{args.users} users for {args.run_time}s "
              f"against {url} -> {out}", flush=True)  # fmt: skip
        budget = args.run_time + args.grace + 90 + (120 if args.master else 0)
        try:
            proc = subprocess.run(cmd, env=_env(secret), timeout=budget, check=False)
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
    return int(summary["status"])


def _print(summary: dict[str, Any], out: Path) -> None:
    f, c = summary["figures"], summary["counters"]
    rate = "n/a" if f["error_rate"] is None else f"{f['error_rate']:.4f}"
    print(
        f"delivery p50/p95/p99: {f['delivery_p50_ms']}/{f['delivery_p95_ms']}/"
        f"{f['delivery_p99_ms']} ms over {f['deliveries']} deliveries; "
        f"lost {c.get('lost', 0)}, duplicated {c.get('duplicated', 0)}, "
        f"out of order {c.get('reordered', 0)}, disconnects {c.get('disconnects', 0)}, "
        f"error rate {rate}"
    )
    if summary["cause"]:
        print(f"NO RUN: the run measured nothing: {summary['cause']}")
    for v in summary["verdicts"]:
        mark = "pass" if v["passed"] else "FAIL"
        print(f"  [{mark}] {v['name']} <= {v['limit']}: {v['detail']}")
    print(f"report: {out / 'report.html'}")
