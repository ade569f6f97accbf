"""The stateful phase catches faults between users that the fixed checks miss, and reports
each as a short session with its frames and a replay command.

Each faulty server is the reference server with one rule broken in a way that shows only after
several steps by several users (``STATEFUL_FAULTS`` in conformance_faulty_server.py). The run
uses a fixed seed and a number of sessions rather than a time budget, so that it plays the
same sessions however loaded the machine is; with the short waits the other faulty-server
tests use. (At the default 15 s budget the phase finds each of them with most seeds:
benchmarks/check_bench.py and the final note of the run say how many sessions it played.)
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conformance_faulty_server import STATEFUL_FAULTS
from conformance_servers import faulty_server
from taskchat.conformance.results import FAIL
from taskchat.conformance.session import run_session

SEED = 1
MAX_REPRODUCTION_STEPS = 10  # of the 50 a session may have
FAST = """[timeouts]
event = 1.5
ack = 1.5
quiet = 0.2
[stateful]
examples = 250
budget = 120
shrink = 12
"""


def _phase(fault: str, tmp_path: Path) -> tuple[object, str]:
    config = tmp_path / "fast.toml"
    config.write_text(FAST)
    out = io.StringIO()
    with faulty_server(fault) as srv:
        run = run_session(url=srv.url, jwt_secret=srv.jwt_secret, config=config, only=["STATE"],
                          seed=SEED, report_dir=tmp_path / "report", stream=out)
    return run, out.getvalue()


@pytest.mark.parametrize("fault", sorted(STATEFUL_FAULTS))
def test_stateful_phase_catches_a_fault_between_users(fault: str, tmp_path: Path) -> None:
    run, out = _phase(fault, tmp_path)
    assert run.must_failed, out  # type: ignore[attr-defined]
    findings = [f for r in run.requirements if r.status == FAIL  # type: ignore[attr-defined]
                for f in r.findings]
    assert {f.requirement for f in findings} <= STATEFUL_FAULTS[fault][1], out
    finding = findings[0]
    steps = re.search(r"shortest session that shows it \((\d+) steps", finding.observed)
    assert steps is not None, finding.observed
    assert int(steps.group(1)) <= MAX_REPRODUCTION_STEPS, finding.observed
    assert f"--seed {SEED}" in finding.observed and "replay: taskchat check" in finding.observed
    check = next(c for c in run.checks if c.area == "STATE")  # type: ignore[attr-defined]
    assert check.frames, "the frames of the shrunk session are in the report"
    # the phase's replay line and the runner's rerun line (which adds --config) replay the same
    # sessions, not cut by the time budget, and name the secret only by reference
    replay = finding.observed.rsplit("replay: ", 1)[1].strip()
    for line in (replay, check.replay):
        assert f"--seed {SEED} --stateful-examples 250 --stateful-steps" in line, line
        assert '--jwt-secret "$TASKCHAT_JWT_SECRET"' in line and "<secret>" not in line, line


def test_typing_expiry_inside_the_tolerances_raises_no_alarm(tmp_path: Path) -> None:
    """With a typing timeout far shorter than a session, the server ends typing indicators by
    itself at every turn (TYPE-4): the model must accept each within its window, on a correct
    server, and no other check is disturbed."""
    from taskchat.embedded import embedded_server

    config = tmp_path / "expiry.toml"
    config.write_text("[timeouts]\ntyping_timeout = 0.3\n[stateful]\nbudget = 4\n")
    out = io.StringIO()
    with embedded_server(extra_args=["--typing-timeout", "0.3"]) as srv:
        run = run_session(url=srv.url, jwt_secret=srv.jwt_secret, config=config, only=["STATE"],
                          seed=SEED, report_dir=tmp_path / "report", stream=out)
    text = out.getvalue()
    assert not run.must_failed, text
    assert "PASS  stateful.model_based_slow" in text, text
