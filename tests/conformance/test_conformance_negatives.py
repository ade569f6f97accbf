"""The negative payloads are really invalid, reproducible, and cover each constraint kind."""

from __future__ import annotations

import pytest
from taskchat.conformance.negatives import negatives
from taskchat.schemas.validation import schema_for, validator_for

SEND = {"taskId": "t1", "message": "hi", "replyTo": "m1", "clientMessageId": "c1",
        "attachments": [{"name": "a", "url": "https://e.com/a", "size": 1, "mime_type": "x/y"}]}


@pytest.mark.parametrize("event,base", [
    ("send_message", SEND),
    ("join_task", "t1"),
    ("edit_message", {"taskId": "t", "messageId": "m", "newMessage": "x"}),
    ("delete_message", {"taskId": "t", "messageId": "m"}),
    ("typing_start", {"taskId": "t"}),
])
def test_every_negative_fails_the_schema(event: str, base: object) -> None:
    found = negatives(event, base)
    assert len(found) >= 10
    validator = validator_for(schema_for(event))
    for n in found:
        binary = "binary" in n.description or isinstance(n.payload, bytes)
        assert binary or not validator.is_valid(n.payload), n


def test_same_seed_same_negatives() -> None:
    first = [n.description for n in negatives("send_message", SEND, budget=5)]
    again = [n.description for n in negatives("send_message", SEND, budget=5)]
    assert first == again


def test_the_constraints_that_matter_are_broken() -> None:
    described = " ".join(n.description for n in negatives("send_message", SEND))
    for needle in ("required property 'taskId' missing", "unknown property added",
                   "maxLength 128", "maxItems 10", "'javascript:alert(1)'", "binary data",
                   "minimum 0"):
        assert needle in described


def test_an_invalid_base_is_refused() -> None:
    with pytest.raises(ValueError):
        negatives("send_message", {"taskId": ""})


def test_each_negative_carries_the_level_its_schema_gives_it() -> None:
    """D24: what the contract forbids is MUST, what only the project's schema adds is SHOULD."""
    level = {n.description: n.level for n in negatives("send_message", SEND)}
    for should in ("$: unknown property added", "$.attachments[0]: unknown property added",
                   "$.attachments: type array broken by null",
                   "$.attachments[0].size: type integer broken by null",
                   "$.attachments[0].name: maxLength 255 broken",
                   "$.attachments[0].url: maxLength 2048 broken",
                   "$.clientMessageId: maxLength 128 broken"):
        assert level[should] == "SHOULD", should
    for must in ("$: required property 'message' missing", "$.taskId: maxLength 128 broken",
                 "$.attachments: maxItems 10 broken",
                 "$.attachments[0].url: pattern broken by 'javascript:alert(1)'",
                 "$.clientMessageId: type string broken by 12345",
                 "$.message: binary data where a string belongs (D4)"):
        assert level[must] == "MUST", must
