"""Validators for inbound payloads with every ``$ref`` inlined once, at start.

jsonschema resolves each ``$ref`` through the registry on every call (URL joins, pointer walks);
for ``send_message`` that was three quarters of the validation time, paid on every message. The
schemas in ``schemas/`` are not recursive, so each reference can be replaced by the schema it
names, wrapped in ``allOf`` (which keeps ``unevaluatedProperties`` seeing the properties the
referenced schema evaluates). The result accepts exactly what the original accepts — the tests
check that on a corpus — and the original validator still produces the error messages.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urljoin

from jsonschema import Draft202012Validator

from schemas.validation import FORMAT_CHECKER, load_schema, registry

_DROP = frozenset({"$id", "$schema", "$comment", "$defs", "title", "description"})


def _inline(node: Any, base: str, depth: int = 0) -> Any:
    if depth > 32:
        raise RecursionError("a recursive schema cannot be inlined")
    if isinstance(node, list):
        return [_inline(x, base, depth + 1) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    refs: list[Any] = []
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "$ref":
            uri = urljoin(base, value)
            target = registry().resolver().lookup(uri).contents
            refs.append(_inline(target, uri.split("#", 1)[0], depth + 1))
        else:
            out[key] = _inline(value, base, depth + 1)
    if refs and not out and len(refs) == 1:
        return refs[0]  # a bare reference: the target itself
    if refs:
        out["allOf"] = [*out.get("allOf", []), *refs]
    return out


@cache
def fast_validator(rel: str) -> Draft202012Validator:
    """The validator of schema file ``rel`` with its references inlined."""
    schema = load_schema(rel)
    try:
        flat = _inline(schema, schema["$id"])
    except RecursionError:
        flat = schema
    return Draft202012Validator(flat, registry=registry(), format_checker=FORMAT_CHECKER)
