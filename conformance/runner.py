"""Runs the selected checks against a target: preflight, skips, concurrency, results.

Checks run concurrently when each can have its own fresh task and users (a control adapter and
the JWT secret); otherwise they share the config's tasks and users and run one at a time.
Exclusive checks (a server restart, a rate limit) always run alone, after the others.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
import websocket
from taskchat.conformance.context import CheckFailed, Ctx, SkipCheck
from taskchat.conformance.registry import NEEDS, Check
from taskchat.conformance.results import (
    ERROR,
    FAIL,
    PASS,
    SKIP,
    WARN,
    CheckResult,
    Finding,
    RunResult,
    summarize,
)
from taskchat.schemas import REQUIREMENTS, Level, areas, requirement

from taskchat.client.config import Target
from taskchat.client.control import (
    ControlAdapter,
    ControlError,
    ControlUnavailable,
    NoControl,
    load_adapter,
)

Progress = Callable[[CheckResult], None]


class RunError(RuntimeError):
    """The run could not start: the server is unreachable or the configuration is unusable."""


def preflight(target: Target) -> ControlAdapter | NoControl:
    """Fail fast, with a reason, before any check runs: the server must answer at all, and the
    control adapter must work (a wrong admin token is a configuration error, not 70 failures)."""
    url = f"{target.url}/socket.io/?EIO=4&transport=polling"
    try:
        resp = requests.get(url, timeout=target.timeouts.connect)
    except requests.RequestException as exc:
        raise RunError(f"server unreachable at {target.url}: {exc}") from exc
    if not (resp.status_code == 200 and resp.text.startswith("0")) and not _websocket_opens(target):
        # neither transport opens a session: not a broken server but no Engine.IO server at all
        raise RunError(f"{target.url} does not speak Engine.IO v4: GET {url} answered "
                       f"HTTP {resp.status_code} {resp.text[:120]!r}, and no WebSocket opened")
    try:
        control = load_adapter(target.adapter, target)
        if not isinstance(control, NoControl):
            control.create_task("conformance preflight", f"cf-{target.run_id}-preflight")
    except (ControlError, ValueError, requests.RequestException) as exc:  # ValueError: not JSON
        raise RunError(
            f"the control adapter {target.adapter!r} failed: {exc} (adapter = 'none' skips "
            "the checks that need one)"
        ) from exc
    return control


def _websocket_opens(target: Target) -> bool:
    ws_url = "ws" + target.url[len("http"):] + "/socket.io/?EIO=4&transport=websocket"
    try:
        ws = websocket.create_connection(ws_url, timeout=target.timeouts.connect)
    except (OSError, websocket.WebSocketException):
        return False
    try:
        return str(ws.recv()).startswith("0")
    except (OSError, websocket.WebSocketException):
        return False
    finally:
        ws.close()


def missing_needs(check: Check, target: Target, control: ControlAdapter | NoControl) -> str | None:
    have = {
        "control": not isinstance(control, NoControl),
        "secret": target.can_mint,
        "restart": target.restart_command is not None or target.restart_hook is not None,
        "http": target.http_api,
        "rs256": target.rs256_private_key is not None,
        "admin_api": target.adapter == "admin-api" and target.http_api,
    }
    for need in sorted(check.needs):
        if not have[need]:
            return NEEDS[need]
    return None


def _result(check: Check, status: str, **kw: object) -> CheckResult:
    return CheckResult(
        name=check.name,
        area=check.area,
        level=str(check.level),
        requirements=list(check.requirements),
        doc=check.doc,
        status=status,
        **kw,  # type: ignore[arg-type]
    )


NO_OBSERVATION = ("the check recorded no observation: nothing was checked, so nothing "
                  "passed (D27)")


def summarise_exception(exc: BaseException, frames: int = 4) -> str:
    """What went wrong and where, in a few lines: the innermost frames of the traceback."""
    stack = traceback.extract_tb(exc.__traceback__)[-frames:]
    where = "; ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in stack)
    return f"{type(exc).__name__}: {exc} (at {where})"


def run_one(check: Check, target: Target, control: ControlAdapter | NoControl) -> CheckResult:
    reason = missing_needs(check, target, control)
    if reason:
        return _result(check, SKIP, skip_reason=reason)
    ctx = Ctx(target, control, check)
    start = time.monotonic()
    status, skip_reason, unreached, stopped_at = PASS, None, [], None
    try:
        check.func(ctx)
    except CheckFailed as exc:
        ctx.findings.append(exc.finding)
        status = FAIL
        stopped_at = exc.finding.requirement
        unreached = [r for r in check.requirements if r != exc.finding.requirement]
    except (SkipCheck, ControlUnavailable) as exc:
        status, skip_reason = SKIP, str(exc)
    except ControlError as exc:
        status = ERROR
        ctx.findings.append(Finding("*", "the control adapter acts", str(exc),
                                    t=round(time.monotonic() - ctx.t0, 4)))
    except Exception as exc:  # a check must never take the run down: a finding, with frames
        status = ERROR
        ctx.findings.append(Finding("*", "the check runs to its end", summarise_exception(exc),
                                    t=round(time.monotonic() - ctx.t0, 4)))
    finally:
        try:
            ctx.close()
        except Exception as exc:  # closing sockets the server already dropped
            ctx.note(f"closing the check's connections failed: {summarise_exception(exc)}")
    for client in ctx.clients:
        for ack_id, count in sorted(client.conn.ack_counts.items()):
            if count > 1:
                ctx.finding("TRANS-10", f"ack id {ack_id} is answered exactly once",
                            f"{client.label} received {count} ACK packets for it")
    if status == PASS and ctx.findings:
        status = FAIL
    if status == PASS and ctx.observations == 0:
        status, skip_reason = SKIP, NO_OBSERVATION
    if status == FAIL and all(f.requirement in REQUIREMENTS
                              and requirement(f.requirement).level == Level.SHOULD
                              for f in ctx.findings):
        status = WARN  # a SHOULD finding is reported, and does not fail the run
    if status == SKIP:
        ctx.findings.clear()
    frames = ctx.frames() if ctx.findings else []
    for f in ctx.findings:
        f.check = check.name
    unreached = [r for r in unreached if not any(f.requirement == r for f in ctx.findings)]
    return _result(check, status, duration=round(time.monotonic() - start, 3),
                   findings=ctx.findings, skip_reason=skip_reason, unreached=unreached,
                   stopped_at=stopped_at if unreached else None, frames=frames,
                   notes=ctx.notes, observations=ctx.observations,
                   replay_args=ctx.replay_args)


def run_guarded(check: Check, target: Target, control: ControlAdapter | NoControl) -> CheckResult:
    """run_one, and whatever escapes it (a bug of the suite's own) becomes an error result."""
    try:
        return run_one(check, target, control)
    except Exception as exc:
        return _result(check, ERROR, findings=[Finding("*", "the check runs to its end",
                                                       summarise_exception(exc), check.name)])


def run_checks(
    target: Target,
    checks: list[Check],
    *,
    workers: int = 6,
    progress: Progress | None = None,
    exitfirst: bool = False,
    replay: Callable[[CheckResult], str] | None = None,
) -> RunResult:
    """Run ``checks``; with ``exitfirst`` the checks not yet started when one fails (a MUST
    finding, or an error) are not run, and say so."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    control = preflight(target)
    isolated = not isinstance(control, NoControl) and target.can_mint
    # with fresh users per check only a restart must run alone; with shared users a check that
    # exhausts a user's rate limit must too
    alone = [c for c in checks if c.exclusive and (not isolated or "restart" in c.needs)]
    concurrent = [c for c in checks if c not in alone]
    # the slowest first, so they overlap the rest instead of trailing at the end
    concurrent.sort(key=lambda c: (not c.name.endswith("_slow"), c.name))
    results: list[CheckResult] = []
    stop = threading.Event()
    first_failure: list[str] = []

    def one(check: Check) -> CheckResult:
        if stop.is_set():
            result = _result(check, SKIP, skip_reason=f"not run: --exitfirst stopped the run "
                             f"after {first_failure[0]} failed")
        else:
            result = run_guarded(check, target, control)
            if exitfirst and result.status in (FAIL, ERROR) and not stop.is_set():
                first_failure.append(check.name)
                stop.set()
        if replay is not None and result.findings:
            result.replay = replay(result)
        if progress is not None:
            progress(result)
        return result

    if isolated and workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            results.extend(pool.map(one, concurrent))
    else:
        results.extend(one(c) for c in concurrent)
    results.extend(one(c) for c in alone)
    order = list(areas())
    results.sort(key=lambda r: (order.index(r.area), r.name))
    run = RunResult(
        url=target.url,
        started=started,
        duration=round(time.monotonic() - t0, 2),
        checks=results,
        settings={
            "adapter": target.adapter,
            "concurrent": isolated and workers > 1,
            "timeouts": vars(target.timeouts),
            "restart": target.restart_command is not None or target.restart_hook is not None,
            "seed": target.seed,
        },
    )
    run.requirements = summarize(results)
    return run
