"""A verdict is only what was observed (D27): no pass without an observation, no crash out of a
check, a reason for every requirement not judged, and a replay command for every failure.

These drive the runner with stand-in checks, so no server is needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from taskchat.conformance import runner
from taskchat.conformance.context import Ctx
from taskchat.conformance.node_client import NodeClient, locate
from taskchat.conformance.registry import Check
from taskchat.conformance.results import DESELECTED, ERROR, FAIL, PASS, SKIP, summarize
from taskchat.conformance.session import replay_command
from taskchat.conformance.terminal import summary

from taskchat.client.config import load_target
from taskchat.client.control import NoControl

SECRET = "verdict-secret-" + "x" * 32


def _check(name: str, func: Callable[[Ctx], None], *reqs: str) -> Check:
    return Check(name=f"errors.{name}", func=func, requirements=reqs or ("ERR-1",))


def _target():  # type: ignore[no-untyped-def]
    return load_target(None, "http://127.0.0.1:9", SECRET)


def _nothing(ctx: Ctx) -> None:
    ctx.note("looked at nothing")


def _one_expectation(ctx: Ctx) -> None:
    ctx.expect(True, "ERR-1", "something held")


def _reset(ctx: Ctx) -> None:
    raise requests.ConnectionError("Connection reset by peer")


def _stops_early(ctx: Ctx) -> None:
    ctx.fail("ERR-1", "the first thing holds", "it did not")


def test_a_check_that_observed_nothing_is_a_skip_not_a_pass() -> None:
    result = runner.run_one(_check("nothing", _nothing), _target(), NoControl())
    assert result.status == SKIP and result.observations == 0
    assert "no observation" in (result.skip_reason or "")
    passed = runner.run_one(_check("one", _one_expectation), _target(), NoControl())
    assert passed.status == PASS and passed.observations == 1


def test_an_exception_in_a_check_is_a_finding_not_a_crash() -> None:
    result = runner.run_one(_check("reset", _reset), _target(), NoControl())
    assert result.status == ERROR
    [finding] = result.findings
    assert finding.observed.startswith("ConnectionError: Connection reset by peer (at ")
    assert "_reset" in finding.observed and "Traceback" not in finding.observed


def test_unreached_requirements_name_the_failure_that_stopped_them() -> None:
    result = runner.run_one(_check("early", _stops_early, "ERR-1", "ERR-2"), _target(),
                            NoControl())
    assert result.status == FAIL and result.unreached == ["ERR-2"]
    reqs = {r.id: r for r in summarize([result])}
    assert reqs["ERR-1"].status == FAIL
    assert reqs["ERR-2"].status == SKIP
    assert reqs["ERR-2"].note == "not reached: errors.early stopped when ERR-1 failed first"
    # everything the run did not select is deselected, not skipped
    assert reqs["MSG-1"].status == DESELECTED


def test_exitfirst_leaves_the_rest_unrun_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "preflight", lambda target: NoControl())
    checks = [_check("early", _stops_early, "ERR-1"), _check("one", _one_expectation, "ERR-2")]
    run = runner.run_checks(_target(), checks, exitfirst=True,
                            replay=lambda c: f"rerun {c.name}")
    by_name = {c.name: c for c in run.checks}
    assert by_name["errors.early"].status == FAIL
    assert by_name["errors.early"].replay == "rerun errors.early"
    assert by_name["errors.one"].status == SKIP
    assert "--exitfirst stopped the run after errors.early failed" in (
        by_name["errors.one"].skip_reason or "")
    out = io.StringIO()
    summary(run, out)
    assert "rerun errors.early" in out.getvalue()
    assert "deselected" in out.getvalue()


def test_the_replay_command_names_the_target_and_seed_but_never_the_secret() -> None:
    cmd = replay_command("http://h:1", None, True, "ERR-4", 42)
    assert cmd == ('taskchat check --url http://h:1 --jwt-secret "$TASKCHAT_JWT_SECRET" '
                   "--requirement ERR-4 --seed 42")
    assert replay_command(None, None, True, "MSG-1", 7) == (
        "taskchat check --requirement MSG-1 --seed 7")


def test_socket_io_client_missing_is_a_reason_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from taskchat.conformance import node_client

    monkeypatch.setattr(node_client, "CHECKOUT_DIR", Path("no") / "such" / "dir")
    monkeypatch.delenv("NODE_PATH", raising=False)
    monkeypatch.delenv(node_client.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    reason = locate(None)
    assert isinstance(reason, str)
    assert "bash scripts/bootstrap" in reason and "npm install" in reason
    monkeypatch.setenv("PATH", str(tmp_path))  # no node at all
    reason = locate(None)
    assert isinstance(reason, str) and reason.startswith("node is not on PATH")


def test_the_bootstrapped_socket_io_client_is_found() -> None:
    found = locate(None)
    if isinstance(found, str) and found.startswith("node is not on PATH"):
        pytest.skip(found)
    assert isinstance(found, NodeClient), found
    assert found.version.startswith("4.")
