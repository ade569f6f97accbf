"""The level of each schema constraint: MUST (the contract's) or SHOULD (the project's own).

A schema object may carry the annotation keyword named in ``index.json`` ``levels.keyword``
(``x-level``): a map from the names of assertion keywords *of that same object* to their level,
e.g. ``{"maxLength": 255, "x-level": {"maxLength": "SHOULD"}}``. The pseudo-keyword ``null``
says that refusing ``null`` there is SHOULD: the contract reads an optional field's ``null`` as
absent (D25). A keyword not named is MUST.

From this, every schema has a *MUST-only* reading: the same schema with its SHOULD keywords
removed (and ``null`` added to the types where ``null`` is named). A payload that fails the
MUST-only reading breaks the contract; one that passes it but fails the full schema breaks
only the project's stricter choices. The reference server validates against the full schemas;
the conformance suite grades what it sees with both readings (D24).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from taskchat.schemas.protocol import INDEX, Level

LEVEL_KEYWORD: str = INDEX["levels"]["keyword"]
NULL_KEY: str = INDEX["levels"]["nullKey"]

# the keywords that can refuse an instance; an x-level map may name only these (and NULL_KEY)
ASSERTIONS = frozenset({
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
    "dependentRequired", "additionalProperties", "unevaluatedProperties", "unevaluatedItems",
    "propertyNames", "format", "not",
})


@dataclass(frozen=True)
class LeveledConstraint:
    """One constraint whose level the schema states, for the spec and the lint."""

    file: str
    pointer: str
    keyword: str
    value: Any
    level: str


def _levels(node: dict[str, Any]) -> dict[str, str]:
    raw = node.get(LEVEL_KEYWORD)
    return raw if isinstance(raw, dict) else {}


def _children(node: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("const", "enum", LEVEL_KEYWORD, "examples", "default"):
                continue
            yield f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}", value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield f"{pointer}/{i}", value


def iter_leveled(rel: str, schema: Any, pointer: str = "") -> Iterator[LeveledConstraint]:
    """Every constraint of a schema file that its ``x-level`` names, in document order."""
    if isinstance(schema, dict):
        for keyword, level in _levels(schema).items():
            value = schema.get(keyword) if keyword != NULL_KEY else None
            yield LeveledConstraint(rel, pointer or "/", keyword, value, str(level))
    for child_pointer, child in _children(schema, pointer):
        yield from iter_leveled(rel, child, child_pointer)


def lint_levels(rel: str, schema: Any, pointer: str = "") -> Iterator[str]:
    """What is wrong with the ``x-level`` annotations of one schema file."""
    if isinstance(schema, dict) and LEVEL_KEYWORD in schema:
        raw = schema[LEVEL_KEYWORD]
        where = f"{rel}#{pointer or '/'}"
        if not isinstance(raw, dict) or not raw:
            yield f"{where}: {LEVEL_KEYWORD} must be a non-empty object of keyword: level"
        else:
            for keyword, level in raw.items():
                if level not in tuple(Level):
                    yield f"{where}: {LEVEL_KEYWORD} gives {keyword!r} the level {level!r} " \
                          f"(not one of {', '.join(Level)})"
                if keyword == NULL_KEY:
                    types = schema.get("type")
                    if types is None or "null" in (types if isinstance(types, list) else [types]):
                        yield f"{where}: {LEVEL_KEYWORD} names {NULL_KEY!r} but the object's " \
                              "type does not refuse null"
                elif keyword not in ASSERTIONS:
                    yield f"{where}: {LEVEL_KEYWORD} names {keyword!r}, not an assertion keyword"
                elif keyword not in schema:
                    yield f"{where}: {LEVEL_KEYWORD} names {keyword!r}, which this object " \
                          "does not have (the level goes next to its constraint)"
    for child_pointer, child in _children(schema, pointer):
        yield from lint_levels(rel, child, child_pointer)


def must_only(schema: Any) -> Any:
    """The schema without its SHOULD constraints: what the contract alone requires."""
    if isinstance(schema, list):
        return [must_only(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    levels = _levels(schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if levels.get(key) == Level.SHOULD:
            continue
        out[key] = value if key in ("const", "enum", LEVEL_KEYWORD) else must_only(value)
    if levels.get(NULL_KEY) == Level.SHOULD and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


@cache
def must_registry() -> Registry:
    """The MUST-only reading of every schema, under the same ``$id``s."""
    from taskchat.schemas.validation import load_schema, schema_files

    resources = []
    for rel in schema_files():
        schema = must_only(copy.deepcopy(load_schema(rel)))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def must_validator_for(rel: str) -> Draft202012Validator:
    """The validator of the MUST-only reading of a schema file."""
    from taskchat.schemas.validation import FORMAT_CHECKER, load_schema

    schema = must_only(copy.deepcopy(load_schema(rel)))
    return Draft202012Validator(schema, registry=must_registry(), format_checker=FORMAT_CHECKER)
