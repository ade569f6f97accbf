"""Valid payloads, the seed's among them, pass their schemas; every schema has some."""

from __future__ import annotations

from typing import Any

import pytest
from schema_corpus import OPEN_LABEL, VALID
from taskchat.schemas import INDEX, Direction, events, validate


@pytest.mark.parametrize(("schema", "payload"), [pytest.param(s, p, id=f"{s}: {label}")
                                                 for s, label, p in VALID])
def test_valid_payload_passes(schema: str, payload: Any) -> None:
    assert [str(v) for v in validate(schema, payload)] == []


def test_every_event_ack_and_connect_schema_has_a_valid_example() -> None:
    covered = {schema for schema, _label, _payload in VALID}
    wanted = {spec.payload for spec in events().values()}
    wanted |= {spec.ack for spec in events().values() if spec.ack}
    wanted |= {INDEX["connect"][k] for k in ("auth", "accepted", "refused")}
    assert wanted - covered == set()


def test_every_ack_accepts_the_shared_refusal_form() -> None:
    with_refusal = {s for s, label, _p in VALID if label == "ok:false"}
    assert with_refusal == {spec.ack for spec in events().values() if spec.ack}


def test_every_server_to_client_payload_and_ack_is_open() -> None:
    open_ = {schema for schema, label, _p in VALID if label == OPEN_LABEL}
    wanted = {e.payload for e in events().values() if e.direction is Direction.SERVER_TO_CLIENT}
    wanted |= {e.ack for e in events().values() if e.ack}
    assert wanted - open_ == set()
