"""The change corpus: one row per kind of change to a 2020-12 keyword the schemas use, each
judged in both directions.

A client→server payload is read by the server: the change breaks when the new schema refuses
something the old one accepted. A server→client payload is read by clients: it breaks when the
new schema accepts something the old one refused. "B" = breaking, "C" = compatible.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from taskchat.gate.rules import Finding

C2S, S2C = "client-to-server", "server-to-client"
STR = {"type": "string"}
INT = {"type": "integer"}


def obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or [], **extra}


def closed(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return obj(props, required, additionalProperties=False)


class Case(NamedTuple):
    id: str
    old: Any
    new: Any
    change: str  # the name the gate must give the change
    c2s: str  # verdict when the server reads it
    s2c: str  # verdict when clients read it
    defs_old: dict[str, Any] | None = None
    defs_new: dict[str, Any] | None = None


OPEN_DEF = {"defs/thing.json": obj({"a": STR}, ["a"])}
WIDER_DEF = {"defs/thing.json": obj({"a": STR, "b": INT}, ["a"])}
IDS = {"defs/ids.json": {"$defs": {"id": {"type": "string", "minLength": 1, "maxLength": 128}}}}
SHORT_IDS = {
    "defs/ids.json": {"$defs": {"id": {"type": "string", "minLength": 1, "maxLength": 64}}}
}
REF_ID = {"$ref": "defs/ids.json#/$defs/id"}
KIND_A = {"properties": {"kind": {"const": "a"}}, "required": ["kind"]}

CORPUS = [
    # type
    Case("type-widened", STR, {"type": ["string", "null"]}, "type widened", "C", "B"),
    Case("type-narrowed", {"type": ["string", "null"]}, STR, "type narrowed", "B", "C"),
    Case("integer-to-number", INT, {"type": "number"}, "type widened", "C", "B"),
    Case("type-changed", STR, INT, "type changed", "B", "B"),
    # required
    Case(
        "required-added",
        obj({"a": STR, "b": STR}, ["a"]),
        obj({"a": STR, "b": STR}, ["a", "b"]),
        "required property added",
        "B",
        "C",
    ),
    Case(
        "required-removed",
        obj({"a": STR, "b": STR}, ["a", "b"]),
        obj({"a": STR, "b": STR}, ["a"]),
        "required property removed",
        "C",
        "B",
    ),
    # properties on closed objects (client→server payloads, D1)
    Case(
        "closed-optional-added",
        closed({"a": STR}, ["a"]),
        closed({"a": STR, "b": INT}, ["a"]),
        "optional property added",
        "C",
        "B",
    ),
    Case(
        "closed-property-removed",
        closed({"a": STR, "b": INT}, ["a"]),
        closed({"a": STR}, ["a"]),
        "property removed",
        "B",
        "C",
    ),
    # properties on open objects (server→client payloads, D1)
    Case(
        "open-typed-property-added",
        obj({"a": STR}, ["a"]),
        obj({"a": STR, "b": INT}, ["a"]),
        "property added to open object",
        "B",
        "C",
    ),
    Case(
        "open-property-removed",
        obj({"a": STR, "b": INT}, ["a"]),
        obj({"a": STR}, ["a"]),
        "property removed from open object",
        "C",
        "B",
    ),
    Case(
        "property-type-changed",
        obj({"a": STR}, ["a"]),
        obj({"a": INT}, ["a"]),
        "type changed",
        "B",
        "B",
    ),
    # additionalProperties
    Case(
        "additional-closed",
        obj({"a": STR}),
        closed({"a": STR}),
        "additionalProperties closed",
        "B",
        "C",
    ),
    Case(
        "additional-opened",
        closed({"a": STR}),
        obj({"a": STR}),
        "additionalProperties opened",
        "C",
        "B",
    ),
    # unevaluatedProperties next to a $ref (closing a shared open def at point of use)
    Case(
        "unevaluated-closed",
        {"$ref": "defs/thing.json"},
        {"$ref": "defs/thing.json", "unevaluatedProperties": False},
        "unevaluatedProperties closed",
        "B",
        "C",
        OPEN_DEF,
    ),
    Case(
        "unevaluated-opened",
        {"$ref": "defs/thing.json", "unevaluatedProperties": False},
        {"$ref": "defs/thing.json"},
        "unevaluatedProperties opened",
        "C",
        "B",
        OPEN_DEF,
    ),
    Case(
        "shared-def-gains-property-behind-unevaluated",
        {"$ref": "defs/thing.json", "unevaluatedProperties": False},
        {"$ref": "defs/thing.json", "unevaluatedProperties": False},
        "optional property added",
        "C",
        "B",
        OPEN_DEF,
        WIDER_DEF,
    ),
    # enum and const
    Case(
        "enum-widened",
        {"enum": ["added", "removed"]},
        {"enum": ["added", "removed", "moved"]},
        "enum widened",
        "C",
        "B",
    ),
    Case(
        "enum-narrowed",
        {"enum": ["added", "removed"]},
        {"enum": ["added"]},
        "enum narrowed",
        "B",
        "C",
    ),
    Case("enum-changed", {"enum": ["a", "b"]}, {"enum": ["a", "c"]}, "enum changed", "B", "B"),
    Case("const-changed", {"const": True}, {"const": False}, "const changed", "B", "B"),
    Case("const-added", STR, {"type": "string", "const": "x"}, "const added", "B", "C"),
    Case("const-removed", {"type": "string", "const": "x"}, STR, "const removed", "C", "B"),
    Case(
        "error-code-branch-added",
        {"type": "string", "oneOf": [{"const": "A", "description": "a"}]},
        {
            "type": "string",
            "oneOf": [{"const": "A", "description": "a"}, {"const": "B", "description": "b"}],
        },
        "enum widened",
        "C",
        "B",
    ),
    # string lengths
    Case(
        "maxLength-lowered",
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        "maxLength lowered",
        "B",
        "C",
    ),
    Case(
        "maxLength-raised",
        {"type": "string", "maxLength": 5},
        {"type": "string", "maxLength": 10},
        "maxLength raised",
        "C",
        "B",
    ),
    Case("maxLength-added", STR, {"type": "string", "maxLength": 5}, "maxLength added", "B", "C"),
    Case(
        "maxLength-removed", {"type": "string", "maxLength": 5}, STR, "maxLength removed", "C", "B"
    ),
    Case(
        "minLength-raised",
        {"type": "string", "minLength": 1},
        {"type": "string", "minLength": 3},
        "minLength raised",
        "B",
        "C",
    ),
    Case(
        "minLength-lowered",
        {"type": "string", "minLength": 3},
        {"type": "string", "minLength": 1},
        "minLength lowered",
        "C",
        "B",
    ),
    # numbers
    Case(
        "minimum-raised",
        {"type": "integer", "minimum": 0},
        {"type": "integer", "minimum": 1},
        "minimum raised",
        "B",
        "C",
    ),
    Case("minimum-removed", {"type": "integer", "minimum": 0}, INT, "minimum removed", "C", "B"),
    Case(
        "maximum-lowered",
        {"type": "integer", "maximum": 100},
        {"type": "integer", "maximum": 50},
        "maximum lowered",
        "B",
        "C",
    ),
    Case(
        "maximum-raised",
        {"type": "integer", "maximum": 50},
        {"type": "integer", "maximum": 100},
        "maximum raised",
        "C",
        "B",
    ),
    # array lengths
    Case(
        "maxItems-lowered",
        {"type": "array", "maxItems": 10},
        {"type": "array", "maxItems": 3},
        "maxItems lowered",
        "B",
        "C",
    ),
    Case(
        "maxItems-raised",
        {"type": "array", "maxItems": 3},
        {"type": "array", "maxItems": 10},
        "maxItems raised",
        "C",
        "B",
    ),
    Case(
        "minItems-raised",
        {"type": "array"},
        {"type": "array", "minItems": 1},
        "minItems added",
        "B",
        "C",
    ),
    Case(
        "minItems-lowered",
        {"type": "array", "minItems": 2},
        {"type": "array", "minItems": 1},
        "minItems lowered",
        "C",
        "B",
    ),
    # pattern and format
    Case(
        "pattern-added", STR, {"type": "string", "pattern": "^[a-z]+$"}, "pattern added", "B", "C"
    ),
    Case(
        "pattern-removed",
        {"type": "string", "pattern": "^[a-z]+$"},
        STR,
        "pattern removed",
        "C",
        "B",
    ),
    Case(
        "pattern-changed",
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": "^[0-9]+$"},
        "pattern changed",
        "B",
        "B",
    ),
    Case(
        "pattern-narrowed",
        {"type": "string", "pattern": "(Z|z|\\+00:00)$"},
        {"type": "string", "pattern": "Z$"},
        "pattern narrowed",
        "B",
        "C",
    ),
    Case(
        "pattern-widened",
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "pattern": "^[a-z0-9]+$"},
        "pattern widened",
        "C",
        "B",
    ),
    # Python's $ also matches before a final newline; (?![\s\S]) does not
    Case(
        "pattern-anchor-tightened",
        {"type": "string", "pattern": "(Z|z|\\+00:00)$"},
        {"type": "string", "pattern": "(?:Z|z|\\+00:00)(?![\\s\\S])"},
        "pattern narrowed",
        "B",
        "C",
    ),
    Case(
        "pattern-rewritten-same-set",
        {"type": "string", "pattern": "^a\\s*$"},
        {"type": "string", "pattern": "^a\\s*(?![\\s\\S])"},
        "pattern rewritten",
        "C",
        "C",
    ),
    Case("format-added", STR, {"type": "string", "format": "date-time"}, "format added", "B", "C"),
    Case("format-removed", {"type": "string", "format": "uri"}, STR, "format removed", "C", "B"),
    # items and prefixItems
    Case(
        "items-narrowed",
        {"type": "array", "items": {"type": ["string", "integer"]}},
        {"type": "array", "items": STR},
        "type narrowed",
        "B",
        "C",
    ),
    Case(
        "items-widened",
        {"type": "array", "items": STR},
        {"type": "array", "items": {"type": ["string", "integer"]}},
        "type widened",
        "C",
        "B",
    ),
    Case(
        "items-added", {"type": "array"}, {"type": "array", "items": STR}, "items added", "B", "C"
    ),
    Case(
        "prefixItems-added",
        {"type": "array", "prefixItems": [STR]},
        {"type": "array", "prefixItems": [STR, INT]},
        "prefixItems added",
        "B",
        "C",
    ),
    Case(
        "prefixItem-const-added",
        {"type": "array", "prefixItems": [STR]},
        {"type": "array", "prefixItems": [{"type": "string", "const": "v1"}]},
        "const added",
        "B",
        "C",
    ),
    # oneOf / anyOf
    Case(
        "made-nullable",
        REF_ID,
        {"oneOf": [REF_ID, {"type": "null"}]},
        "oneOf branch added",
        "C",
        "B",
        IDS,
    ),
    Case(
        "nullable-removed",
        {"oneOf": [REF_ID, {"type": "null"}]},
        REF_ID,
        "oneOf branch removed",
        "B",
        "C",
        IDS,
    ),
    Case(
        "anyOf-branch-added",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR, INT, {"type": "boolean"}]},
        "anyOf branch added",
        "C",
        "B",
    ),
    Case(
        "anyOf-branch-removed",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR]},
        "anyOf branch removed",
        "B",
        "C",
    ),
    Case(
        "oneOf-branch-tightened",
        {"oneOf": [{"type": "string", "maxLength": 10}, {"type": "null"}]},
        {"oneOf": [{"type": "string", "maxLength": 4}, {"type": "null"}]},
        "maxLength lowered",
        "B",
        "C",
    ),
    # if / then / else
    Case(
        "then-tightened",
        {
            **obj({"kind": STR, "x": STR, "y": STR}, ["kind"]),
            "if": KIND_A,
            "then": {"required": ["x"]},
        },
        {
            **obj({"kind": STR, "x": STR, "y": STR}, ["kind"]),
            "if": KIND_A,
            "then": {"required": ["x", "y"]},
        },
        "required property added",
        "B",
        "C",
    ),
    Case(
        "else-loosened",
        {**obj({"kind": STR, "x": STR}, ["kind"]), "if": KIND_A, "else": {"required": ["x"]}},
        {**obj({"kind": STR, "x": STR}, ["kind"]), "if": KIND_A, "else": {}},
        "required property removed",
        "C",
        "B",
    ),
    Case(
        "conditional-added",
        obj({"kind": STR, "x": STR}, ["kind"]),
        {**obj({"kind": STR, "x": STR}, ["kind"]), "if": KIND_A, "then": {"required": ["x"]}},
        "if/then/else added",
        "B",
        "C",
    ),
    # $ref: each version's references resolve in its own tree
    Case("ref-target-tightened", REF_ID, REF_ID, "maxLength lowered", "B", "C", IDS, SHORT_IDS),
    Case("ref-target-loosened", REF_ID, REF_ID, "maxLength raised", "C", "B", SHORT_IDS, IDS),
    Case(
        "ref-retargeted",
        {"$ref": "defs/short.json"},
        {"$ref": "defs/long.json"},
        "maxLength raised",
        "C",
        "B",
        {
            "defs/short.json": {"type": "string", "maxLength": 8},
            "defs/long.json": {"type": "string", "maxLength": 80},
        },
    ),
]


def _named(findings: list[Finding], change: str) -> list[Finding]:
    return [f for f in findings if f.change == change]


@pytest.mark.parametrize("direction", [C2S, S2C])
@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_corpus(case: Case, direction: str, probe: Any) -> None:
    verdict = probe(case.old, case.new, direction, case.defs_old, case.defs_new)
    expected = case.c2s if direction == C2S else case.s2c
    named = _named(verdict.findings, case.change)
    assert named, f"expected a {case.change!r} finding, got {[f.change for f in verdict.findings]}"
    assert all(f.breaking == (expected == "B") for f in named)
    assert bool(verdict.breaking) == (expected == "B"), [
        (f.change, f.breaking) for f in verdict.findings
    ]
    if expected == "B":
        # a breaking change is shown with a payload one version accepts and the other refuses
        proven = [f for f in named if f.counterexample is not None]
        assert proven, f"no counterexample for {case.change!r}"
        ce = proven[0].counterexample
        assert ce is not None
        assert (ce["acceptedBy"], ce["refusedBy"]) == (
            ("base", "head") if direction == C2S else ("head", "base")
        )


@pytest.mark.parametrize("direction", [C2S, S2C])
def test_refactoring_a_reference_inline_changes_nothing(direction: str, probe: Any) -> None:
    inlined = {"type": "string", "minLength": 1, "maxLength": 128, "description": "now inline"}
    verdict = probe(REF_ID, inlined, direction, IDS)
    assert verdict.findings == []
    assert verdict.bump.value == "patch"  # the files changed, what they accept did not


def test_a_change_the_diff_cannot_name_is_found_by_the_search(probe: Any) -> None:
    # additionalProperties ignores properties declared inside allOf, so the old schema refuses
    # {"a": ...}; the rewrite looks the same once folded, but accepts it
    old = {"type": "object", "allOf": [{"properties": {"a": STR}}], "additionalProperties": False}
    new = {"type": "object", "properties": {"a": STR}, "additionalProperties": False}
    verdict = probe(old, new, S2C)
    [finding] = verdict.findings
    assert finding.change == "accepted set changed"
    assert finding.breaking
    assert finding.counterexample is not None
    assert "a" in finding.counterexample["instance"]


def test_a_narrowing_without_counterexample_is_still_reported_and_flagged(probe: Any) -> None:
    # the enum already keeps every value under 3 characters: lowering maxLength refuses nothing
    old = {"type": "string", "enum": ["ab"], "maxLength": 5}
    new = {"type": "string", "enum": ["ab"], "maxLength": 3}
    verdict = probe(old, new, C2S)
    [finding] = verdict.findings
    assert finding.change == "maxLength lowered"
    assert finding.breaking
    assert finding.counterexample is None
    assert finding.note == "no counterexample found"


def test_an_overlapping_oneOf_branch_narrows_and_the_search_says_so(probe: Any) -> None:
    """Adding a branch reads as a widening, but oneOf refuses a value two branches match: short
    strings, accepted before, are refused now. Only the counterexample search can tell."""
    old = {"oneOf": [STR, {"type": "null"}]}
    new = {"oneOf": [STR, {"type": "null"}, {"type": "string", "maxLength": 5}]}
    verdict = probe(old, new, C2S)
    [finding] = [f for f in verdict.findings if f.breaking]
    assert finding.change == "accepted set changed"
    assert finding.counterexample is not None
    instance = finding.counterexample["instance"]
    assert isinstance(instance, str) and len(instance) <= 5
