"""What this toolkit is: its version, and the git revision of the checkout it runs from.

Every report names both, so a result can be traced to the code that produced it. The revision
exists only when the package runs from its own checkout (an editable install); an installed
wheel has none, even when the current directory or the venv sits inside some other git work tree.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path

DISTRIBUTION = "taskchat"
# One timestamp format for every report folder and report header: UTC, sortable, no separators
# that a file system or a shell would mind.
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def stamp(when: datetime | None = None) -> str:
    """``20261201T085835Z``: the timestamp of report folders, in UTC."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime(STAMP_FORMAT)


def version() -> str:
    try:
        return _dist_version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _checkout_root() -> Path:
    """Where the project's top-level folders sit: the repository, or site-packages/taskchat."""
    from taskchat.schemas.protocol import SCHEMA_DIR

    return SCHEMA_DIR.parent


@cache
def revision() -> str | None:
    """The checkout's short commit (``+dirty`` with uncommitted changes), or None without one."""
    root = _checkout_root()
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=False, timeout=10)
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
            return None  # not a checkout, or a checkout of something else that holds the venv
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=False, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):  # no git on this machine
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def describe() -> str:
    """``taskchat 0.1.0 (git 69c8aa3b1f2e)``, or ``taskchat 0.1.0`` for an installed wheel."""
    rev = revision()
    return f"{DISTRIBUTION} {version()}" + (f" (git {rev})" if rev else "")
