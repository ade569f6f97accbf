"""One pytest test per conformance check, for ``pytest --pyargs taskchat.conformance --server-url …``.

A MUST finding fails the test with the expectation, the observation and the frames; a finding
against SHOULD requirements only is a warning; a check the target cannot run is skipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from taskchat.conformance.registry import all_checks
from taskchat.conformance.report_files import check_text
from taskchat.conformance.results import ERROR, SKIP
from taskchat.conformance.runner import RunError, preflight, run_guarded
from taskchat.schemas import Level, requirement


class ConformanceWarning(UserWarning):
    """A SHOULD requirement is not met."""


def _option(config: pytest.Config, name: str) -> Any:
    try:
        return config.getoption(name)
    except ValueError:  # the plugin is not loaded: nothing to check against
        return None


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    from taskchat.conformance.session import CannotRun, open_target

    url = _option(request.config, "server_url")
    config = _option(request.config, "server_config")
    secret = _option(request.config, "server_jwt_secret")
    seed = _option(request.config, "server_seed")
    if url is None and config is None:
        pytest.skip("no --server-url or --server-config given")
    try:
        with open_target(None if url == "embedded" else url, secret,
                         Path(config) if config else None) as target:
            if seed is not None:
                target.seed = seed
            try:
                control = preflight(target)
            except RunError as exc:
                pytest.fail(f"could not run: {exc}", pytrace=False)
            yield target, control
    except CannotRun as exc:
        pytest.fail(f"could not run: {exc}", pytrace=False)


@pytest.mark.parametrize("check_name", sorted(all_checks()))
def test_check(check_name: str, conformance_target: tuple[Any, Any],
               record_property: Callable[[str, object], None]) -> None:
    target, control = conformance_target
    check = all_checks()[check_name]
    for rid in check.requirements:  # as taskchat check's JUnit: one property per requirement
        record_property("requirement", rid)
    record_property("level", str(check.level))
    record_property("seed", target.seed)
    result = run_guarded(check, target, control)
    record_property("status", result.status)
    if result.status == SKIP:
        pytest.skip(result.skip_reason or "skipped")
    must = [f for f in result.findings
            if f.requirement == "*" or requirement(f.requirement).level == Level.MUST]
    if must or result.status == ERROR:
        pytest.fail(check_text(result), pytrace=False)
    for f in result.findings:
        warnings.warn(ConformanceWarning(f"{f.requirement} (SHOULD): expected {f.expectation}; "
                                         f"observed {f.observed}"), stacklevel=1)
