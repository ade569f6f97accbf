"""Negative payloads generated from the client→server schemas.

hypothesis-jsonschema ignores several 2020-12 keywords (``unevaluatedProperties`` among them)
and breaks with current Hypothesis releases, so the negatives are made here: walk the schema
from a valid payload and, for each constraint met on the way, produce a value that violates that
one constraint; then a seeded random phase mutates the valid payload at random places. Every
candidate is validated with jsonschema and kept only if it is really invalid, so a server that
refuses it is right to.

Each negative carries its level, read from the schema (D24): MUST when it breaks the schema's
MUST-only reading (the contract forbids it), SHOULD when it breaks only constraints marked
``x-level: SHOULD`` (a closed object, a length the contract does not set, ``null`` for an
optional field). A server must refuse the first kind and should refuse the second.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from taskchat.schemas import Level
from taskchat.schemas.levels import must_validator_for
from taskchat.schemas.validation import SchemaResolver as Resolver
from taskchat.schemas.validation import load_schema, registry, schema_for, validator_for

Path = tuple[str | int, ...]
UNKNOWN_PROPERTY = "unexpectedProperty"  # the name a negative gives the property it adds

_WRONG_TYPES: dict[str, list[Any]] = {
    "object": ["an object was expected", [], None],
    "string": [12345, None, ["a"]],
    "integer": ["12", 1.5, None],
    "number": ["1", None],
    "array": [{"0": "a"}, "a", None],
    "boolean": ["true", 1],
    "null": [0, "null"],
}
_PATTERN_BREAKERS = ["   ", "\t\n", "javascript:alert(1)", "data:text/html,<b>x</b>", "/relative/path",
                     "ftp://example.com/file", "http://", "//example.com/x", "mailto:a@b.c"]
_JUNK: list[Any] = [None, True, False, 0, -1, 1.5, "", " ", "x" * 129, [], {}, {"a": 1}, [1, 2],
                    "javascript:alert(1)", "\u0000", "😀" * 3, 2**53, b"\x00binary"]


@dataclass(frozen=True)
class Negative:
    description: str
    payload: Any
    level: Level = Level.MUST


def _resolve(schema: dict[str, Any], resolver: Resolver) -> tuple[dict[str, Any], Resolver]:
    while "$ref" in schema:
        resolved = resolver.lookup(schema["$ref"])
        extra = {k: v for k, v in schema.items() if k not in ("$ref", "description")}
        schema = {**resolved.contents, **extra}
        resolver = resolved.resolver
    return schema, resolver


def _set(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(value)
    cursor = out
    for key in path[:-1]:
        cursor = cursor[key]
    cursor[path[-1]] = new
    return out


def _delete(value: Any, path: Path) -> Any:
    out = copy.deepcopy(value)
    cursor = out
    for key in path[:-1]:
        cursor = cursor[key]
    del cursor[path[-1]]
    return out


def _name(path: Path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _walk(schema: dict[str, Any], resolver: Resolver, value: Any, path: Path,
          base: Any) -> Iterator[Negative]:
    schema, resolver = _resolve(schema, resolver)
    where = _name(path)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []) + schema.get("allOf", []):
        yield from _walk(branch, resolver, value, path, base)
    types = schema.get("type")
    for t in [types] if isinstance(types, str) else (types or []):
        for wrong in _WRONG_TYPES.get(t, []):
            yield Negative(f"{where}: type {t} broken by {json.dumps(wrong)}", _set(base, path, wrong))
    if "const" in schema:
        yield Negative(f"{where}: const broken", _set(base, path, "not-the-const"))
    if isinstance(value, str):
        if "minLength" in schema and schema["minLength"] > 0:
            short = value[: schema["minLength"] - 1]
            yield Negative(f"{where}: minLength {schema['minLength']} broken", _set(base, path, short))
        if "maxLength" in schema:
            pad = schema["maxLength"] + 1 - len(value)
            yield Negative(f"{where}: maxLength {schema['maxLength']} broken",
                           _set(base, path, value + "a" * max(pad, 1)))
        if "pattern" in schema:
            pattern = re.compile(schema["pattern"])
            for breaker in [*_PATTERN_BREAKERS, value + " " * 2 + "x" * 5000]:
                if not pattern.search(breaker):
                    yield Negative(f"{where}: pattern broken by {breaker[:40]!r}",
                                   _set(base, path, breaker))
        yield Negative(f"{where}: binary data where a string belongs (D4)",
                       _set(base, path, value.encode() or b"\x00"))
    if isinstance(value, int) and not isinstance(value, bool) and "minimum" in schema:
        yield Negative(f"{where}: minimum {schema['minimum']} broken",
                       _set(base, path, schema["minimum"] - 1))
    if isinstance(value, list):
        if "maxItems" in schema and value:
            items = (value * (schema["maxItems"] + 1))[: schema["maxItems"] + 1]
            yield Negative(f"{where}: maxItems {schema['maxItems']} broken", _set(base, path, items))
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value[:1]):
                yield from _walk(schema["items"], resolver, item, (*path, i), base)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key in value:
                yield Negative(f"{where}: required property {key!r} missing",
                               _delete(base, (*path, key)))
        if schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False:
            yield Negative(f"{where}: unknown property added",
                           _set(base, (*path, UNKNOWN_PROPERTY), 1))
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                yield from _walk(sub, resolver, value[key], (*path, key), base)


def _paths(value: Any, path: Path = ()) -> Iterator[Path]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _is_invalid(rel: str, payload: Any) -> bool:
    if _has_bytes(payload):
        return True  # D4: binary data fails every event's schema
    return not validator_for(rel).is_valid(payload)


def level_of(rel: str, payload: Any) -> Level:
    """MUST if the contract forbids the payload, SHOULD if only the project's schema does."""
    if _has_bytes(payload) or not must_validator_for(rel).is_valid(payload):
        return Level.MUST
    return Level.SHOULD


def _has_bytes(value: Any) -> bool:
    if isinstance(value, bytes):
        return True
    if isinstance(value, dict):
        return any(_has_bytes(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bytes(v) for v in value)
    return False


def negatives(event: str, valid: Any, *, seed: int = 20261125, budget: float = 0.5,
              random_count: int = 12) -> list[Negative]:
    """Invalid payloads for ``event``, each derived from the ``valid`` one.

    The systematic ones come first, then up to ``random_count`` seeded random mutations found
    within ``budget`` seconds. Raises ValueError if ``valid`` is not valid to begin with.
    """
    rel = schema_for(event)
    if not validator_for(rel).is_valid(valid):
        raise ValueError(f"the base payload of {event} is not valid: {valid!r}")
    schema = load_schema(rel)
    resolver = registry().resolver(base_uri=schema["$id"])
    seen: set[str] = set()
    out: list[Negative] = []

    def keep(n: Negative) -> None:
        key = repr(n.payload)
        if key not in seen and _is_invalid(rel, n.payload):
            seen.add(key)
            out.append(Negative(n.description, n.payload, level_of(rel, n.payload)))

    for n in _walk(schema, resolver, valid, (), valid):
        keep(n)
    rng = random.Random(f"{seed}:{event}")
    paths = list(_paths(valid))
    deadline = time.monotonic() + budget
    found = 0
    while found < random_count and time.monotonic() < deadline:
        path = rng.choice(paths)
        junk = rng.choice(_JUNK)
        if path and rng.random() < 0.2:
            candidate = Negative(f"random: {_name(path)} removed", _delete(valid, path))
        else:
            candidate = Negative(f"random: {_name(path)} = {junk!r:.40}", _set(valid, path, junk))
        before = len(out)
        keep(candidate)
        found += len(out) - before
    return out
