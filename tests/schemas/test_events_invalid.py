"""Every constraint of every schema rejects a payload that breaks it, at the right JSON path.

The coverage test makes the corpus complete by construction: a constraint added to a schema
without a negative example here fails the build.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from schema_constraints import all_constraints, broken_constraints
from schema_corpus import INVALID, Bad
from taskchat.schemas import events, validate


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in INVALID])
def test_invalid_payload_is_rejected_at_its_path(case: Bad) -> None:
    found = [(v.path, v.keyword) for v in validate(case.schema, case.payload)]
    assert (case.path, case.keyword) in found
    # and nothing else was broken: the case tests the one constraint it names
    assert {path for path, _kw in found} == {case.path}


def test_every_constraint_has_a_negative_example() -> None:
    broken: set[tuple[str, str]] = set()
    for case in INVALID:
        broken |= broken_constraints(case.schema, case.payload)
    unexercised = sorted(set(all_constraints()) - broken)
    assert unexercised == [], "constraints without an invalid example in schema_corpus.py"


def test_every_event_and_ack_has_invalid_examples() -> None:
    covered = {case.schema for case in INVALID}
    wanted = {spec.payload for spec in events().values()}
    wanted |= {spec.ack for spec in events().values() if spec.ack}
    assert wanted - covered == set()


# Python's `$` also matches before a final "\n", unlike ECMA-262's: the schemas end their
# patterns with (?![\s\S]) so that these are refused in every language.
DOLLAR_BEFORE_NEWLINE: list[tuple[str, Any, str]] = [
    ("defs/message-text.json", "x\n", "$"),
    ("defs/attachment.json", {"name": "a", "url": "https://a.b/\n"}, "$.url"),
    ("http/error.json", {"error": {"code": "NOT_FOUND\n", "message": "m"}}, "$.error.code"),
]


@pytest.mark.parametrize(("schema", "payload", "path"), DOLLAR_BEFORE_NEWLINE)
def test_trailing_newline_is_refused(schema: str, payload: Any, path: str) -> None:
    assert path in [v.path for v in validate(schema, payload)]


def test_a_long_bad_attachment_url_is_refused_in_linear_time() -> None:
    # Every inbound send_message is validated, and maxPayload allows a 1 MB url: a pattern
    # that backtracks quadratically would let one message hold a server core for an hour.
    url = "http://" + "a" * 8000 + " "
    started = time.perf_counter()
    violations = validate("defs/attachment.json", {"name": "x", "url": url})
    elapsed = time.perf_counter() - started
    assert violations
    assert elapsed < 0.2, f"{elapsed:.2f} s for an 8 kB url"
