"""`taskchat ci` fails when any step fails, and always leaves its reports."""

import argparse
import json
import sys
from pathlib import Path

import pytest

from taskchat import ci


def _args(tmp_path: Path, **kw: object) -> argparse.Namespace:
    base = {"base": "HEAD", "load_time": "5s", "load_users": 2, "skip": [], "report_dir": tmp_path}
    return argparse.Namespace(**{**base, **kw})


def _step(name: str, code: int) -> ci.Step:
    return ci.Step(name, f"exits {code}", [sys.executable, "-c", f"raise SystemExit({code})"])


def test_a_failing_step_fails_the_pipeline_and_the_rest_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ci, "plan", lambda args, out: [_step("a", 0), _step("b", 3), _step("c", 0)])
    assert ci.run(_args(tmp_path)) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["passed"] is False
    assert [(s["name"], s["returncode"]) for s in summary["steps"]] == [("a", 0), ("b", 3), ("c", 0)]
    assert "failed (exit 3)" in (tmp_path / "index.html").read_text()


def test_all_steps_passing_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ci, "plan", lambda args, out: [_step("a", 0), _step("b", 0)])
    assert ci.run(_args(tmp_path)) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["passed"] is True


def test_the_plan_runs_lint_gate_conformance_and_load_with_their_reports_in_one_folder(
    tmp_path: Path,
) -> None:
    steps = ci.plan(_args(tmp_path, skip=["load"]), tmp_path)
    assert [s.name for s in steps] == ["lint", "gate", "conformance", "load"]
    assert steps[-1].skipped and steps[-1].passed
    gate = steps[1].argv
    assert gate[gate.index("--base") + 1] == "HEAD"
    for step in steps[1:]:
        assert str(tmp_path / step.name) in step.argv
