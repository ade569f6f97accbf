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


def test_outside_a_git_checkout_the_gate_is_skipped_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    steps = ci.plan(_args(tmp_path, base=None), tmp_path / "out")
    gate = next(s for s in steps if s.name == "gate")
    assert gate.skipped and "not in a git checkout" in gate.skipped
    assert gate.passed  # a skip does not fail the pipeline, and says why in the index
    assert not any(s.skipped for s in steps if s.name != "gate")
    # with a base directory given, the gate runs, on the packaged schemas as the head
    steps = ci.plan(_args(tmp_path, base=str(tmp_path)), tmp_path / "out")
    gate = next(s for s in steps if s.name == "gate")
    assert not gate.skipped
    assert gate.argv[gate.argv.index("--head") + 1].endswith("schemas")


def test_the_index_shows_each_steps_figures_read_from_its_report(tmp_path: Path) -> None:
    (tmp_path / "conformance").mkdir()
    (tmp_path / "conformance" / "results.json").write_text(json.dumps({
        "summary": {"pass": 70, "fail": 2, "warn": 1, "skip": 3},
        "requirements": [{"level": "MUST", "status": "pass"}] * 5
        + [{"level": "MUST", "status": "fail"}] * 2 + [{"level": "SHOULD", "status": "warn"}],
    }))
    (tmp_path / "load" / "nested").mkdir(parents=True)
    (tmp_path / "load" / "nested" / "summary.json").write_text(json.dumps({
        "figures": {"delivery_p99_ms": 42, "deliveries": 900, "error_rate": 0.0},
        "counters": {"lost": 1, "duplicated": 0}}))
    steps = [ci.Step("lint", "l", [], returncode=0), ci.Step("conformance", "c", [], returncode=1),
             ci.Step("load", "d", [], returncode=1), ci.Step("gate", "g", [], skipped="no git")]
    steps[0].last_line = "53 schema files: no findings"
    for s in steps:
        s.headline = ci.headline(tmp_path, s)
    assert steps[0].headline == "53 schema files: no findings"
    assert steps[1].headline.startswith("MUST 5/7 hold; requirements: 70 pass, 2 fail")
    assert "p99 delivery 42 ms over 900 deliveries; lost 1" in steps[2].headline
    assert steps[3].headline == "no git"
    ci.write_reports(tmp_path, steps)
    page = (tmp_path / "index.html").read_text()
    assert "FAILED: conformance, load" in page and "MUST 5/7 hold" in page
    assert "<b>Toolkit</b> taskchat" in page and "<b>Revision</b>" in page


def test_a_step_without_its_report_has_an_empty_headline(tmp_path: Path) -> None:
    step = ci.Step("conformance", "c", [], returncode=2)
    assert ci.headline(tmp_path, step) == ""
