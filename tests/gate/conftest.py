"""Fixtures for the gate's tests: one-event schema trees built in memory, and a copy of the
protocol's real schemas to mutate."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from taskchat.schemas.protocol import SCHEMA_DIR

from taskchat.gate.compare import Options, Verdict, compare
from taskchat.gate.load import SchemaTree

Probe = Callable[..., Verdict]
FAST = Options(seed=0, budget=5.0, total_budget=60.0)


def _tree(label: str, schema: Any, direction: str, defs: dict[str, Any] | None) -> SchemaTree:
    event: dict[str, Any] = {"direction": direction, "payload": "probe.json"}
    if direction == "server-to-client":
        event["recipients"] = "room"
    files = {"probe.json": copy.deepcopy(schema)}
    for rel, contents in (defs or {}).items():
        files[rel] = copy.deepcopy(contents)
    return SchemaTree(label, {"version": "1.0.0", "events": {"probe": event}}, files)


@pytest.fixture
def probe() -> Probe:
    """Compare one event's payload schema, old → new, travelling in ``direction``."""

    def run(
        old: Any,
        new: Any,
        direction: str,
        defs_old: dict[str, Any] | None = None,
        defs_new: dict[str, Any] | None = None,
    ) -> Verdict:
        base = _tree("old", old, direction, defs_old)
        head = _tree("new", new, direction, defs_new if defs_new is not None else defs_old)
        return compare(base, head, options=FAST)

    return run


@pytest.fixture
def schema_copies(tmp_path: Path) -> Callable[[], tuple[Path, Path]]:
    """Two copies of the real schemas/ (base and head) to mutate the head of."""

    def make() -> tuple[Path, Path]:
        base, head = tmp_path / "base", tmp_path / "head"
        for d in (base, head):
            shutil.copytree(SCHEMA_DIR, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        return base, head

    return make


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


@pytest.fixture
def edit() -> Callable[[Path, Callable[[Any], None]], None]:
    return edit_json
