"""The wheel carries what every command needs and claims no top-level name but ``taskchat``.

Building takes seconds; installing it and running every command from an empty directory takes
minutes, so that is scripts/wheel-smoke's job (a step of .ci/run), not this suite's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy: setuptools leaves build/ in the source tree, and a stale build/lib
    # would put files in later wheels that the sources no longer have
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "dist", "reports", "*.egg-info", "__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "license" not in done.stderr.lower(), done.stderr  # no setuptools license warning
    (wheel,) = out.glob("taskchat-*.whl")
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def test_one_top_level_package(wheel_names: set[str]) -> None:
    tops = {n.split("/", 1)[0] for n in wheel_names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"taskchat"}


def test_the_files_the_commands_read_are_in_it(wheel_names: set[str]) -> None:
    needed = {
        "taskchat/docs/decisions.md",  # schemas spec
        "taskchat/docs/protocol.md", "taskchat/docs/asyncapi.json", "taskchat/docs/openapi.json",
        "taskchat/loadtests/locustfile.py",  # load, and locust -f
        "taskchat/conformance/node_probe.js",  # check: socket.io-client under Node
        "taskchat/conformance/example-config.toml",
        "taskchat/schemas/index.json", "taskchat/schemas/names.py",
    }
    assert needed <= wheel_names
    in_repo = {p.relative_to(ROOT / "schemas").as_posix() for p in (ROOT / "schemas").rglob("*.json")}
    in_wheel = {n.removeprefix("taskchat/schemas/") for n in wheel_names
                if n.startswith("taskchat/schemas/") and n.endswith(".json")}
    assert in_repo == in_wheel


def test_every_module_of_every_mapped_folder_is_in_it(wheel_names: set[str]) -> None:
    """A package added to a folder but not to pyproject's list imports in the checkout (the
    editable install maps whole folders) and fails only once installed from the wheel."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    missing = []
    for package, folder in config["package-dir"].items():
        for module in (ROOT / folder).rglob("*.py"):
            rel = module.relative_to(ROOT / folder).as_posix()
            if "node_modules" in rel or "__pycache__" in rel:
                continue
            name = f"{package.replace('.', '/')}/{rel}"
            if name not in wheel_names:
                missing.append(name)
    assert missing == [], f"not in the wheel (list the package in pyproject.toml): {missing}"
