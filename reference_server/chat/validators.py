"""Validators for inbound payloads with every ``$ref`` inlined once, at start.

jsonschema resolves each ``$ref`` through the registry on every call (URL joins, pointer walks);
for ``send_message`` that was three quarters of the validation time, paid on every message. The
schemas in ``schemas/`` are not recursive, so each reference can be replaced by the schema it
names, wrapped in ``allOf`` (which keeps ``unevaluatedProperties`` seeing the properties the
referenced schema evaluates). The result accepts exactly what the original accepts — the tests
check that on a corpus — and the original validator still produces the error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urljoin

import orjson
from jsonschema import Draft202012Validator
from taskchat.schemas.levels import LEVEL_KEYWORD
from taskchat.schemas.validation import FORMAT_CHECKER, load_schema, registry

# annotations only: the level of a constraint (D24) does not change what the server accepts
_DROP = frozenset({"$id", "$schema", "$comment", "$defs", "title", "description", LEVEL_KEYWORD})


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


# ---------------------------------------------------------------------- the hot-path pre-check

Check = Callable[[object], bool]


def _leaf(node: Any) -> Check | None:
    """An exact check for a schema made only of string/null types, lengths, patterns, allOf and
    oneOf (an id, a message text, "an id or null"); None if it uses anything else.

    Exact means the same verdict as jsonschema for every instance: ``type`` is ``isinstance``
    (``is None`` for null), lengths count code points with ``len``, ``pattern`` is ``re.search``
    — what jsonschema's keywords do — and a keyword other than ``type`` ignores non-strings."""
    if not isinstance(node, dict):
        return None
    checks: list[Check] = []
    for key, value in node.items():
        if key == "type" and value == "string":
            checks.append(lambda x: isinstance(x, str))
        elif key == "type" and value == "null":
            checks.append(lambda x: x is None)
        elif key == "minLength" and type(value) is int:
            checks.append(lambda x, n=value: not isinstance(x, str) or len(x) >= n)
        elif key == "maxLength" and type(value) is int:
            checks.append(lambda x, n=value: not isinstance(x, str) or len(x) <= n)
        elif key == "pattern" and isinstance(value, str):
            search = re.compile(value).search
            checks.append(lambda x, s=search: not isinstance(x, str) or s(x) is not None)
        elif key in ("allOf", "oneOf") and isinstance(value, list) and value:
            subs = [_leaf(v) for v in value]
            if any(s is None for s in subs):
                return None
            parts: list[Check] = [s for s in subs if s is not None]
            if key == "allOf":
                checks.extend(parts)
            else:
                checks.append(lambda x, ps=parts: sum(1 for p in ps if p(x)) == 1)
        else:
            return None
    if not checks:
        return None  # an empty schema accepts anything: not worth a fast path
    if len(checks) == 1:
        return checks[0]
    return lambda x, cs=tuple(checks): all(c(x) for c in cs)


def _object(node: Any) -> Check | None:
    """A check that accepts only instances the schema accepts, for an object schema whose
    properties are leaves; False means "not sure" (a property it cannot check, e.g.
    attachments, or one the schema does not list): the full validator then decides."""
    if not isinstance(node, dict) or node.get("type") != "object":
        return None
    if not set(node) <= {"type", "required", "properties", "additionalProperties"}:
        return None
    required = tuple(node.get("required", ()))
    props = {k: _leaf(v) for k, v in node.get("properties", {}).items()}
    if not all(isinstance(k, str) for k in required) or not set(required) <= set(props):
        return None

    def accept(x: object) -> bool:
        if not isinstance(x, dict):
            return False
        for k in required:
            if k not in x:
                return False
        for k, v in x.items():
            check = props.get(k)
            if check is None or not check(v):
                return False
        return True

    return accept


@cache
def fast_accept(rel: str) -> Check | None:
    """A pre-check for schema file ``rel`` that skips jsonschema for the common payload.

    jsonschema spends ~150 µs on a send_message (a validator object per subschema it descends
    into, a oneOf that evaluates both branches), paid on every message. The pre-check returns
    True only where the schema accepts (tests hold it to that on a corpus and on generated
    payloads); a False sends the payload to ``fast_validator``, so verdicts and error messages
    are unchanged. None when the schema has no such shape."""
    schema = load_schema(rel)
    try:
        flat = _inline(schema, schema["$id"])
    except RecursionError:
        return None
    return _leaf(flat) or _object(flat)


# ---------------------------------------------------------------------- text the store can keep


def invalid_text(value: object) -> str | None:
    """The JSON path of the first string (key or value) that is not valid Unicode, or None.

    JSON may spell a lone UTF-16 surrogate (``"\\ud800"``) and the server's parser keeps it, as a
    JavaScript client may send one; no UTF-8 encoder can store it, so it is refused at the door
    (ISO-2) rather than failing in the store. orjson refuses such strings while encoding at C
    speed, so the common payload costs one ``dumps``; only a payload it refuses is walked (an
    int over 64 bits or binary data also lands there, and is then found valid here)."""
    try:
        orjson.dumps(value)
        return None
    except TypeError:
        pass
    stack: list[tuple[str, object]] = [("$", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if not _encodable(node):
                return _printable(path)
        elif isinstance(node, dict):
            for key, item in node.items():
                if isinstance(key, str) and not _encodable(key):
                    return _printable(f"{path}.{key} (a property name)")
                stack.append((f"{path}.{key}", item))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(node))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    """The path as it can go back in an error: a surrogate in a key shown as ``\\udXXX``."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")
