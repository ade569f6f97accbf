"""The pytest11 plugin: only command-line options, so it costs nothing in other test runs.

``pytest --pyargs taskchat.conformance --server-url URL --server-jwt-secret S`` (or
``--server-config FILE``; ``--server-url embedded`` starts the embedded reference server) runs
one pytest test per check (``conformance/test_conformance.py``). Without these options every
such test is skipped, and nothing else changes.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("taskchat-conformance", "taskchat conformance suite")
    group.addoption("--server-url", default=None,
                    help="server to check with `pytest --pyargs taskchat.conformance` "
                    "('embedded' starts the reference server)")
    group.addoption("--server-jwt-secret", default=None, help="the server's HS256 secret")
    group.addoption("--server-config", default=None, help="conformance TOML config file")
    group.addoption("--server-seed", default=None, type=int,
                    help="the seed of what the checks draw at random (as taskchat check --seed)")
