"""Each schema constraint carries its level: the contract's refusals are MUST, the project's
stricter shapes are SHOULD (D24, D25), and the reference server's full schemas refuse both."""

from __future__ import annotations

from typing import Any

import pytest
from taskchat.schemas.levels import iter_leveled, lint_levels
from taskchat.schemas.validation import graded, load_schema, schema_files, validate

SEND = "client-to-server/send_message.json"
NEW = "server-to-client/new_message.json"
ATT = {"name": "a.txt", "url": "https://example.com/a"}


def _send(**extra: Any) -> dict[str, Any]:
    return {"taskId": "t1", "message": "hi", **extra}


SHOULD_ONLY = [
    ("unknown top-level property", _send(extra=1)),
    ("unknown attachment property", _send(attachments=[{**ATT, "onclick": "x"}])),
    ("attachments null", _send(attachments=None)),
    ("size null", _send(attachments=[{**ATT, "size": None}])),
    ("mime_type null", _send(attachments=[{**ATT, "mime_type": None}])),
    ("name over 255", _send(attachments=[{**ATT, "name": "n" * 300}])),
    ("url over 2048", _send(attachments=[{**ATT, "url": "https://e.com/" + "a" * 2100}])),
    ("space in url path", _send(attachments=[{**ATT, "url": "https://e.com/a b"}])),
    ("clientMessageId of 256", _send(clientMessageId="c" * 256)),
]

MUST = [
    ("message missing", {"taskId": "t1"}),
    ("message blank", _send(message="   ")),
    ("message over 5000", _send(message="x" * 5001)),
    ("11 attachments", _send(attachments=[ATT] * 11)),
    ("javascript: url", _send(attachments=[{**ATT, "url": "javascript:alert(1)"}])),
    ("relative url", _send(attachments=[{**ATT, "url": "/a"}])),
    ("taskId of 129", _send(taskId="t" * 129)),
    ("clientMessageId a number", _send(clientMessageId=5)),
    ("attachments a string", _send(attachments="a")),
    ("name missing", _send(attachments=[{"url": "https://e.com"}])),
]


@pytest.mark.parametrize(("what", "payload"), SHOULD_ONLY, ids=[w for w, _ in SHOULD_ONLY])
def test_what_only_the_project_adds_is_should(what: str, payload: Any) -> None:
    must, should = graded(SEND, payload)
    assert must == [] and should, what
    assert validate(SEND, payload), "the full schema (the reference server's) still refuses it"


@pytest.mark.parametrize(("what", "payload"), MUST, ids=[w for w, _ in MUST])
def test_what_the_contract_forbids_stays_must(what: str, payload: Any) -> None:
    must, _ = graded(SEND, payload)
    assert must, what


def test_a_long_client_message_id_sent_back_is_a_should_violation() -> None:
    message = {"id": "m1", "task_id": "t1", "user_id": "u1", "first_name": "A", "last_name": "",
               "avatar_url": None, "message": "hi", "attachments": [], "reply_to": None,
               "client_message_id": "c" * 256, "created_at": "2026-01-01T00:00:00Z",
               "updated_at": "2026-01-01T00:00:00Z", "is_edited": False}
    must, should = graded(NEW, {"taskId": "t1", "message": message})
    assert must == [] and [v.path for v in should] == ["$.message.client_message_id"]
    must, _ = graded(NEW, {"taskId": "t1", "message": {**message, "created_at": "yesterday"}})
    assert must


def test_every_level_in_the_tree_lints_clean_and_some_are_should() -> None:
    leveled = [c for rel in schema_files() for c in iter_leveled(rel, load_schema(rel))]
    assert {c.level for c in leveled} == {"SHOULD"}
    assert any(c.keyword == "additionalProperties" for c in leveled)
    assert [f for rel in schema_files() for f in lint_levels(rel, load_schema(rel))] == []


@pytest.mark.parametrize(("schema", "complaint"), [
    ({"type": "string", "x-level": {"maxLength": "SHOULD"}}, "does not have"),
    ({"type": "string", "maxLength": 3, "x-level": {"maxLength": "MAY"}}, "level 'MAY'"),
    ({"type": "string", "title": "t", "x-level": {"title": "SHOULD"}}, "not an assertion"),
    ({"type": ["string", "null"], "x-level": {"null": "SHOULD"}}, "does not refuse null"),
    ({"type": "string", "x-level": "SHOULD"}, "non-empty object"),
])
def test_lint_names_a_misplaced_or_unknown_level(schema: dict[str, Any], complaint: str) -> None:
    findings = list(lint_levels("x.json", {"properties": {"a": schema}}))
    assert len(findings) == 1 and complaint in findings[0]
    assert "x.json#/properties/a" in findings[0]
