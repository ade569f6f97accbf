"""The suite catches broken servers: one broken rule per area, each reported by its id."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from conformance_faulty_server import FAULTS
from conformance_servers import faulty_server
from taskchat.conformance.registry import all_checks, select
from taskchat.conformance.results import FAIL, WARN
from taskchat.conformance.runner import run_checks
from taskchat.conformance.session import run_session
from taskchat.schemas import Level, areas, requirement

from taskchat.client.config import load_target

MUST_FAULTS = sorted(f for f, (_, rid) in FAULTS.items() if requirement(rid).level == Level.MUST)


def _run(fault: str, tmp_path: Path, *, fast: bool = True, **select: Any) -> tuple[Any, str]:
    out = io.StringIO()
    config = None
    if fast:  # short waits: a broken rule shows as something that never comes
        config = tmp_path / "fast.toml"
        config.write_text("[timeouts]\nevent = 1.5\nack = 1.5\nquiet = 0.2\n")
    with faulty_server(fault) as srv:
        run = run_session(url=srv.url, jwt_secret=srv.jwt_secret, config=config,
                          report_dir=tmp_path / "report", stream=out, **select)
    return run, out.getvalue()


def test_one_fault_per_area() -> None:
    # STATE (the stateful phase) has its own faulty servers: test_conformance_stateful.py
    assert {requirement(FAULTS[f][1]).area for f in MUST_FAULTS} == set(areas()) - {"STATE"}


@pytest.mark.parametrize("fault", MUST_FAULTS)
def test_suite_reports_the_broken_requirement(fault: str, tmp_path: Path) -> None:
    broken = FAULTS[fault][1]
    run, out = _run(fault, tmp_path, requirements=[broken])
    failed = {r.id for r in run.requirements if r.status == FAIL}
    assert broken in failed, out
    assert run.must_failed
    finding = next(f for r in run.requirements if r.id == broken for f in r.findings)
    assert finding.expectation and finding.observed


def test_schema_violation_names_the_json_path(tmp_path: Path) -> None:
    run, out = _run("data_local_time", tmp_path, requirements=["DATA-1"])
    data1 = next(r for r in run.requirements if r.id == "DATA-1")
    assert data1.status == FAIL, out
    assert any("$.message.created_at" in f.observed for f in data1.findings)
    check = next(c for c in run.checks if c.name == data1.findings[0].check)
    assert any("created_at" in frame["data"] for frame in check.frames)


def test_should_failure_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    run, out = _run("err_unknown_event_invalid", tmp_path, requirements=["ERR-5"])
    status = {r.id: r.status for r in run.requirements}
    assert status["ERR-5"] == WARN, out
    assert not run.must_failed
    assert [c.status for c in run.checks if "ERR-5" in c.requirements] == [WARN]
    assert "WARN" in out and "PASS: every MUST holds" in out


def test_a_server_that_does_only_what_the_contract_says_is_warned_not_failed(
    tmp_path: Path,
) -> None:
    # D5 and D22 are the project's decisions where the contract is silent: a server that
    # clamps limit=101 and sends error events without event/taskId is still conformant.
    run, out = _run("contract_minimal", tmp_path, requirements=["ERR-1", "ERR-7", "STORE-2", "STORE-5"])
    status = {r.id: r.status for r in run.requirements}
    assert status["ERR-7"] == WARN and status["STORE-5"] == WARN, out
    assert status["ERR-1"] != FAIL and status["STORE-2"] != FAIL, out
    assert not run.must_failed, out


def test_slow_but_correct_server_passes(tmp_path: Path) -> None:
    run, out = _run("slow_but_correct", tmp_path, fast=False, only=["ROOM", "PRES", "TYPE"],
                    requirements=[])
    assert not run.must_failed, out


def test_lost_messages_after_a_restart_fail_durability() -> None:
    """The restart comes from the caller (here the test's server handle, as the embedded
    server's restart does for `taskchat check`)."""
    with faulty_server("store_forgets_on_restart") as srv:
        target = load_target(None, srv.url, srv.jwt_secret)
        target.restart_hook = srv.restart
        run = run_checks(target, select(all_checks().values(), requirement_ids=["STORE-1"]))
    store1 = next(r for r in run.requirements if r.id == "STORE-1")
    assert store1.status == FAIL, [(c.name, c.status, c.skip_reason) for c in run.checks]
    assert store1.findings  # the task (and its messages) came back missing
