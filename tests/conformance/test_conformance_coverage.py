"""Every requirement of the spec has a check, and every check names real requirements."""

from __future__ import annotations

from taskchat.conformance.registry import CHECK_MODULES, all_checks, coverage, select
from taskchat.schemas import REQUIREMENTS, areas


def test_every_requirement_has_a_check() -> None:
    uncovered = [rid for rid, checks in coverage().items() if not checks]
    assert uncovered == [], f"requirements without a check: {uncovered}"


def test_every_check_names_known_requirements_and_says_why() -> None:
    for check in all_checks().values():
        assert check.requirements, check.name
        assert set(check.requirements) <= set(REQUIREMENTS), check.name
        assert check.doc, f"{check.name} has no docstring for the report"


def test_checks_live_in_the_module_of_their_area() -> None:
    """A check's first requirement is its area; it lives in that area's module."""
    titles = {key: a.title for key, a in areas().items()}
    assert len(CHECK_MODULES) == len(titles)
    for check in all_checks().values():
        module = check.name.split(".")[0]
        assert CHECK_MODULES.index(module) == list(titles).index(check.area), check.name


def test_selection_by_area_requirement_and_level() -> None:
    checks = list(all_checks().values())
    typing = select(checks, only=["type"])
    assert typing and all("TYPE" in c.areas for c in typing)
    by_id = select(checks, requirement_ids=["ERR-5"])
    assert by_id and all("ERR-5" in c.requirements for c in by_id)
    should = select(checks, level="should")
    assert {r for c in should for r in c.requirements} >= {"ERR-5", "ERR-6", "TRANS-9", "AUTH-11"}
    assert len(select(checks, level="must")) < len(checks)


def test_the_suite_is_a_black_box() -> None:
    """No module of the suite (nor the client config it reads) imports the reference server:
    it must judge servers in other languages by the network alone."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [*(root / "conformance").rglob("*.py"),
             *(root / "taskchat" / "client" / n for n in ("config.py", "control.py", "tokens.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith(("taskchat.reference_server", "reference_server"))
                           for n in names), path
