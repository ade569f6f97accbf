"""The suite catches broken servers: one broken rule per area, each reported by its id."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conformance_faulty_server import FAULTS
from conformance_servers import faulty_server

from conformance.results import FAIL
from conformance.session import run_session


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_suite_reports_the_broken_requirement(fault: str, tmp_path: Path) -> None:
    broken = FAULTS[fault][1]
    out = io.StringIO()
    # short waits: the broken rule shows as something that never comes
    config = tmp_path / "fast.toml"
    config.write_text("[timeouts]\nevent = 1.5\nack = 1.5\nquiet = 0.2\n")
    with faulty_server(fault) as srv:
        run = run_session(url=srv.url, jwt_secret=srv.jwt_secret, config=config,
                          requirements=[broken], report_dir=tmp_path / "report", stream=out)
    failed = {r.id for r in run.requirements if r.status == FAIL}
    assert broken in failed, out.getvalue()
    assert run.must_failed
    finding = next(f for r in run.requirements if r.id == broken for f in r.findings)
    assert finding.expectation and finding.observed
