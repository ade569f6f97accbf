"""The index, the schema files and the generated documents agree with one another."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from taskchat.schemas import INDEX, PROTOCOL_VERSION, REQUIREMENTS, SCHEMA_DIR, Direction, events
from taskchat.schemas.protocol import AUTH_ERROR_CODES, EVENT_ERROR_CODES
from taskchat.schemas.validation import load_schema, schema_files

from taskchat import asyncapi, openapi, spec
from taskchat.bundle import COMPONENTS as BUNDLED
from taskchat.bundle import component_key
from taskchat.schemas_cmd import iter_refs, lint

ROOT = SCHEMA_DIR.parent
DOCS = ROOT / "docs"


def _files() -> dict[str, Any]:
    return {rel: load_schema(rel) for rel in schema_files()}


# ------------------------------------------------------------------------------- the index


@pytest.mark.parametrize("name", list(events()))
def test_event_has_its_schema_files(name: str) -> None:
    e = events()[name]
    assert (SCHEMA_DIR / e.payload).is_file()
    if e.direction is Direction.CLIENT_TO_SERVER:
        assert e.ack is not None and (SCHEMA_DIR / e.ack).is_file()
    else:
        assert e.ack is None and e.recipients is not None


def test_requirement_ids_named_by_events_and_connect_exist() -> None:
    named = {r for e in events().values() for r in e.requirements}
    named |= set(INDEX["connect"]["requirements"])
    assert named - set(REQUIREMENTS) == set()


def test_events_emit_only_known_events() -> None:
    assert {x for e in events().values() for x in e.emits} - set(events()) == set()


def test_lint_finds_nothing_but_uncarried_requirements() -> None:
    findings = [f for f in lint(INDEX, _files(), INDEX["schemaBase"])
                if "is carried by no event" not in f]
    assert findings == []


def test_every_requirement_is_carried_by_an_event_or_connect() -> None:
    assert [f for f in lint(INDEX, _files(), INDEX["schemaBase"])
            if "is carried by no event" in f] == []


BASE = "https://x.example/s/"
GOOD = {
    "a.json": {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE + "a.json",
               "type": "object", "properties": {"b": {"$ref": "b.json"}}},
    "b.json": {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE + "b.json",
               "type": "string"},
}
GOOD_INDEX = {
    "events": {
        "ping": {"direction": "client-to-server", "payload": "a.json", "ack": "b.json",
                 "requirements": ["X-1"]},
        "pong": {"direction": "server-to-client", "payload": "b.json", "recipients": "room",
                 "requirements": ["X-2"]},
    },
    "connect": {"auth": "b.json", "accepted": "b.json", "refused": "b.json",
                "requirements": []},
    "errorCodes": {},
    "areas": {"X": {}},
    "requirements": {"X-1": {}, "X-2": {}},
}


def _broken(change: str) -> tuple[dict[str, Any], dict[str, Any]]:
    index, files = copy.deepcopy(GOOD_INDEX), copy.deepcopy(GOOD)
    if change == "dangling $ref":
        files["a.json"]["properties"]["b"]["$ref"] = "c.json"
    elif change == "not a schema":
        files["b.json"]["type"] = "text"
    elif change == "wrong $id":
        files["b.json"]["$id"] = BASE + "other.json"
    elif change == "no ack file":
        del index["events"]["ping"]["ack"]
    elif change == "payload file missing":
        index["events"]["pong"]["payload"] = "gone.json"
    elif change == "unknown requirement":
        index["events"]["pong"]["requirements"].append("X-9")
    elif change == "uncarried requirement":
        index["requirements"]["X-3"] = {}
    return index, files


def test_lint_of_a_good_tree_is_clean() -> None:
    assert lint(GOOD_INDEX, GOOD, BASE) == []


@pytest.mark.parametrize(("change", "finding"), [
    ("dangling $ref", "a.json#/properties/b/$ref: $ref 'c.json' does not resolve"),
    ("not a schema", "b.json: not a valid 2020-12 schema at $.type"),
    ("wrong $id", "b.json: $id is"),
    ("no ack file", "event 'ping' ack names no schema file"),
    ("payload file missing", "event 'pong' payload names 'gone.json', which does not exist"),
    ("unknown requirement", "names requirement 'X-9', which is not defined"),
    ("uncarried requirement", "requirement X-3 is carried by no event and not by connect"),
])
def test_lint_reports_a_broken_tree(change: str, finding: str) -> None:
    findings = lint(*_broken(change), BASE)
    assert any(finding in f for f in findings), findings


# ------------------------------------------------------------------- the written spec


def test_protocol_md_is_the_generated_one() -> None:
    assert (DOCS / "protocol.md").read_text(encoding="utf-8") == spec.render(), (
        "regenerate: taskchat schemas spec --output docs/protocol.md")


@pytest.mark.parametrize("rid", list(REQUIREMENTS))
def test_requirement_is_in_protocol_md_with_its_level_and_text(rid: str) -> None:
    r = REQUIREMENTS[rid]
    row = f'| <a id="{rid.lower()}"></a>{rid} | {r.level} | {r.text.replace("|", chr(92) + "|")} |'
    assert row in (DOCS / "protocol.md").read_text(encoding="utf-8")


def test_protocol_md_names_every_error_code_and_includes_the_decisions() -> None:
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    for code in (*EVENT_ERROR_CODES, *AUTH_ERROR_CODES):
        assert f"| `{code}` |" in md
    decisions = (DOCS / "decisions.md").read_text(encoding="utf-8")
    for number in range(1, 24):
        line = next(x for x in decisions.splitlines() if x.startswith(f"- **D{number}."))
        assert line in md


def test_decision_requirements_are_marked() -> None:
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    for rid, r in REQUIREMENTS.items():
        row = next(x for x in md.splitlines() if f"</a>{rid} |" in x)
        assert row.endswith("*decision* |") == r.decision, rid


# ----------------------------------------------------------------------------- AsyncAPI


def _doc(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DOCS / name).read_text(encoding="utf-8"))
    return data


def _pointer(doc: Any, fragment: str) -> Any:
    node = doc
    for token in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def test_asyncapi_json_is_the_generated_one() -> None:
    assert (DOCS / "asyncapi.json").read_text(encoding="utf-8") == asyncapi.render()


def test_asyncapi_describes_every_event_with_its_schema() -> None:
    doc = _doc("asyncapi.json")
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == PROTOCOL_VERSION
    messages = doc["components"]["messages"]
    for name, e in events().items():
        payload = messages[name]["payload"]
        assert payload["schemaFormat"] == "application/schema+json;version=draft-2020-12"
        assert payload["schema"]["$ref"] == f"{BUNDLED}{component_key(e.payload)}"
        op = doc["operations"][name]
        # the document is written from the server's side
        assert op["action"] == ("receive" if e.direction is Direction.CLIENT_TO_SERVER
                                else "send")
        if e.ack:
            reply = op["reply"]["messages"][0]["$ref"]
            assert _pointer(doc, reply.split("#", 1)[1]) == {
                "$ref": f"#/components/messages/{name}.ack"}
            assert messages[f"{name}.ack"]["payload"]["schema"]["$ref"] == (
                f"{BUNDLED}{component_key(e.ack)}")
        else:
            assert "reply" not in op
    connect = doc["operations"]["connect"]
    replies = [m["$ref"].rsplit("/", 1)[1] for m in connect["reply"]["messages"]]
    assert [messages[r]["payload"]["schema"]["$ref"] for r in replies] == [
        BUNDLED + component_key(INDEX["connect"]["accepted"]),
        BUNDLED + component_key(INDEX["connect"]["refused"])]


def test_asyncapi_refs_resolve_inside_the_document() -> None:
    doc = _doc("asyncapi.json")
    for pointer, ref in iter_refs(doc):
        target, _, fragment = ref.partition("#")
        assert not target, pointer  # bundled: it stands alone
        _pointer(doc, fragment)  # raises KeyError when it points nowhere


def test_asyncapi_without_bundling_refers_to_the_schema_files() -> None:
    doc = json.loads(asyncapi.render(bundle=False))
    for pointer, ref in iter_refs(doc):
        target, _, fragment = ref.partition("#")
        if target:
            assert (DOCS / target).resolve().is_file(), pointer
            assert (DOCS / target).resolve().is_relative_to(SCHEMA_DIR)
        else:
            _pointer(doc, fragment)


def test_asyncapi_operations_use_the_channels_messages() -> None:
    # AsyncAPI 3: an operation's messages must be messages of its channel
    doc = _doc("asyncapi.json")
    for name, op in doc["operations"].items():
        refs = [m["$ref"] for m in op["messages"] + op.get("reply", {}).get("messages", [])]
        assert all(r.startswith(op["channel"]["$ref"] + "/messages/") for r in refs), name


# ------------------------------------------------------------------------------ OpenAPI


def test_openapi_json_is_the_generated_one() -> None:
    assert (DOCS / "openapi.json").read_text(encoding="utf-8") == openapi.render()


def test_openapi_refs_resolve_inside_the_document() -> None:
    doc = _doc("openapi.json")
    for pointer, ref in iter_refs(doc):
        target, _, fragment = ref.partition("#")
        assert not target, pointer  # bundled: it stands alone
        _pointer(doc, fragment)


def test_openapi_covers_the_http_api() -> None:
    doc = _doc("openapi.json")
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["version"] == PROTOCOL_VERSION
    got = {(m.upper(), p, s) for p, item in doc["paths"].items() for m, op in item.items()
           if m != "parameters" for s in op["responses"]}
    wanted_success = {
        ("GET", "/healthz", "200"), ("POST", "/api/tasks", "201"),
        ("PATCH", "/api/tasks/{taskId}", "200"),
        ("PUT", "/api/tasks/{taskId}/members/{userId}", "200"),
        ("DELETE", "/api/tasks/{taskId}/members/{userId}", "204"),
        ("POST", "/api/tasks/{taskId}/notifications", "202"),
        ("GET", "/api/tasks/{taskId}/messages", "200"),
    }
    assert wanted_success <= got
    # every protected operation documents 401 and 403 (HTTP-2, STORE-4)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters" or op.get("security") == []:
                continue
            assert {"401", "403"} <= set(op["responses"]), (method, path)
    history = doc["paths"]["/api/tasks/{taskId}/messages"]["get"]
    limit = next(p for p in history["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 50)
    assert history["security"] == [{"memberBearer": []}]
    assert doc["paths"]["/api/tasks"]["post"]["security"] == [{"adminBearer": []}]


def test_openapi_error_responses_carry_the_d21_codes() -> None:
    responses = _doc("openapi.json")["components"]["responses"]

    def codes(name: str) -> list[str]:
        narrowed = responses[name]["content"]["application/json"]["schema"]["allOf"][1]
        return list(narrowed["properties"]["error"]["properties"]["code"]["enum"])

    assert codes("Unauthorized") == list(AUTH_ERROR_CODES)
    assert codes("InvalidPayload") == ["INVALID_PAYLOAD"]
    assert set(codes("NotFound")) >= {"TASK_NOT_FOUND", "MESSAGE_NOT_FOUND"}


def test_openapi_passes_the_openapi_3_1_validator_on_its_own() -> None:
    from openapi_spec_validator import validate

    validate(_doc("openapi.json"))  # no base URI: nothing beside the document to resolve


def test_the_openapi_validator_can_fail() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    broken = _doc("openapi.json")
    broken["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] = {"$ref": "../schemas/http/health.json"}
    with pytest.raises((OpenAPIValidationError, Exception)):
        validate(broken)


def test_protocol_md_links_lead_somewhere() -> None:
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', md))
    anchors |= {spec.heading_anchor(h) for h in re.findall(r"^#+ (.+)$", md, flags=re.M)}
    for target in re.findall(r"\]\(([^)]+)\)", md):
        if target.startswith("#"):
            assert target[1:] in anchors, target
        else:
            assert (DOCS / target).resolve().exists(), target


# ------------------------------------------------------------------------ typed names


def test_names_py_is_the_generated_one() -> None:
    from taskchat import typed_names

    assert (ROOT / typed_names.OUTPUT).read_text(encoding="utf-8") == typed_names.render()


def test_the_enums_hold_every_event_and_code_of_the_index() -> None:
    from taskchat.schemas import ErrorCode, Event
    from taskchat.schemas.protocol import HTTP_ONLY_ERROR_CODES

    assert [e.value for e in Event] == list(INDEX["events"])
    assert {c.value for c in ErrorCode} == {
        *AUTH_ERROR_CODES, *EVENT_ERROR_CODES, *HTTP_ONLY_ERROR_CODES}
