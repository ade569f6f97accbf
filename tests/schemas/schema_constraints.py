"""The constraints a schema file states, and which of them an invalid payload breaks.

A constraint is (schema file, JSON pointer): the pointer of the keyword, or of one entry of a
``required`` list (each required member is its own constraint: each must be shown missing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema.exceptions import ValidationError
from taskchat.schemas.validation import load_schema, schema_files, validator_for

# The keywords that reject a value (``type`` and the applicators are checked by the cases, but
# not demanded one by one: every property has a type).
CONSTRAINT_KEYWORDS = frozenset({
    "minLength", "maxLength", "pattern", "format", "enum", "const",
    "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minProperties", "maxProperties",
})

Constraint = tuple[str, str]


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _is_oneof_of_const(node: Any) -> bool:
    return (isinstance(node, list) and bool(node)
            and all(isinstance(b, dict) and "const" in b for b in node))


def _walk(rel: str, node: Any, pointer: str) -> Iterator[tuple[Constraint, Any]]:
    """(constraint, the subschema that holds it) for every constraint under ``node``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(rel, item, f"{pointer}/{i}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{pointer}/{_escape(key)}"
        if key in ("if", "description", "title", "$comment", "default", "examples", "x-level"):
            continue  # `if` only selects a branch; failing it is not a violation
        if key in CONSTRAINT_KEYWORDS:
            yield (rel, here), node
        elif key == "required":
            for i in range(len(value)):
                yield (rel, f"{here}/{i}"), node
        elif key in ("additionalProperties", "unevaluatedProperties") and value is False:
            yield (rel, here), node
        elif key == "oneOf" and _is_oneof_of_const(value):
            yield (rel, here), node
            continue  # the codes are one constraint: any unknown code breaks them all
        if key == "properties":
            for name, sub in value.items():
                yield from _walk(rel, sub, f"{here}/{_escape(name)}")
        elif isinstance(value, dict | list) and key not in ("enum", "const", "required"):
            yield from _walk(rel, value, here)


def all_constraints() -> dict[Constraint, Any]:
    return {c: node for rel in schema_files() for c, node in _walk(rel, load_schema(rel), "")}


def _locations() -> dict[int, tuple[str, str]]:
    """id(subschema) -> (file, pointer): errors carry the subschema object they failed in."""
    out: dict[int, tuple[str, str]] = {}

    def visit(rel: str, node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            out[id(node)] = (rel, pointer)
            for k, v in node.items():
                visit(rel, v, f"{pointer}/{_escape(k)}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                visit(rel, v, f"{pointer}/{i}")

    for rel in schema_files():
        visit(rel, load_schema(rel), "")
    return out


_LOCATIONS: dict[int, tuple[str, str]] = {}


def _broken(error: ValidationError) -> Iterator[Constraint]:
    if not _LOCATIONS:
        _LOCATIONS.update(_locations())
    where = _LOCATIONS.get(id(error.schema))
    if where is not None:
        rel, pointer = where
        keyword = str(error.validator)
        if keyword == "required":
            required = list(error.validator_value)
            missing = [i for i, name in enumerate(required)
                       if isinstance(error.instance, dict) and name not in error.instance]
            for i in missing:
                yield rel, f"{pointer}/required/{i}"
        else:
            yield rel, f"{pointer}/{keyword}"
    for sub in error.context or ():
        yield from _broken(sub)


def broken_constraints(rel: str, instance: Any) -> set[Constraint]:
    """Every constraint ``instance`` breaks when validated against the schema file ``rel``."""
    out: set[Constraint] = set()
    for error in validator_for(rel).iter_errors(instance):
        out.update(_broken(error))
    return out
