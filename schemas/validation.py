"""Compiled validators for every schema file, with violations located by JSON path.

Validators are built once per schema and cached: the server validates every inbound event, the
conformance suite every outbound one, so compiling per call would dominate both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from taskchat.schemas.protocol import INDEX, SCHEMA_DIR, event_spec

FORMAT_CHECKER = FormatChecker()


class Resolved(Protocol):
    """What ``SchemaResolver.lookup`` gives: the target and the resolver scoped to it."""

    @property
    def contents(self) -> Any: ...

    @property
    def resolver(self) -> SchemaResolver: ...


class SchemaResolver(Protocol):
    """The part of ``referencing``'s resolver (``Registry.resolver()``) that the gate and the
    negative-payload generator use. ``referencing`` exports its registry but not the resolver
    class (it lives in the private ``referencing._core``), so its type is stated here."""

    def lookup(self, ref: str, /) -> Resolved: ...

    def in_subresource(self, subresource: Resource[Any], /) -> SchemaResolver: ...


def schema_files() -> list[str]:
    """Every schema file, as a path relative to ``schemas/``, in a stable order."""
    return sorted(
        p.relative_to(SCHEMA_DIR).as_posix()
        for p in SCHEMA_DIR.rglob("*.json")
        if p.name != "index.json"
    )


@cache
def load_schema(rel: str) -> dict[str, Any]:
    with (SCHEMA_DIR / rel).open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@cache
def registry() -> Registry:
    """All schemas under their ``$id``, so ``$ref`` resolves offline and never over a network."""
    resources = [(load_schema(rel)["$id"], Resource.from_contents(load_schema(rel))) for rel in schema_files()]
    return Registry().with_resources(resources)


@cache
def validator_for(rel: str) -> Draft202012Validator:
    """The compiled validator for a schema file, e.g. ``client-to-server/send_message.json``."""
    return Draft202012Validator(load_schema(rel), registry=registry(), format_checker=FORMAT_CHECKER)


def schema_for(event: str, kind: str = "payload") -> str:
    """The schema file of an event's ``payload`` or ``ack``; the connect schemas by their key."""
    if event == "connect":
        return str(INDEX["connect"][kind])
    spec = event_spec(event)
    rel = spec.ack if kind == "ack" else spec.payload
    if rel is None:
        raise KeyError(f"event {event!r} has no {kind} schema")
    return rel


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_MAX_MESSAGE = 480


def _short(text: str) -> str:
    """Keep a 1 MB payload out of a one-line report."""
    if len(text) <= _MAX_MESSAGE:
        return text
    half = _MAX_MESSAGE // 2
    return f"{text[:half]}…({len(text) - 2 * half} characters)…{text[-half:]}"


def _allowed(error: ValidationError) -> list[Any] | None:
    """The values allowed where a choice of constants failed (an error code, through $ref, oneOf
    and anyOf), so the user is told which codes exist; None for any other kind of failure."""
    value = error.validator_value
    if error.validator == "const":
        return [value]
    if error.validator == "enum":
        return list(value)
    if error.validator not in ("oneOf", "anyOf") or not isinstance(value, list):
        return None
    if all(isinstance(b, dict) and "const" in b for b in value):
        return [b["const"] for b in value]
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    if len(by_branch) != len(value):
        return None
    allowed: list[Any] = []
    for errs in by_branch.values():
        found = _allowed(errs[0]) if len(errs) == 1 else None
        if found is None:
            return None
        allowed += found
    return allowed


def _message(error: ValidationError) -> str:
    allowed = _allowed(error) if error.validator in ("oneOf", "anyOf") else None
    if allowed:
        return _short(f"{error.instance!r} is not one of {', '.join(map(repr, allowed))}")
    return _short(error.message)


def _best_leaves(error: ValidationError) -> Iterator[ValidationError]:
    """For a oneOf/anyOf failure, report the branch the instance was meant for, not every branch.

    A branch that fails on a ``const`` (the ``ok: true`` / ``ok: false`` discriminator of an ack)
    was not meant for this instance; of the rest, the one whose errors reach deepest wins.
    """
    if not error.context or error.validator not in ("oneOf", "anyOf"):
        yield error
        return
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    meant = {
        i: errs
        for i, errs in by_branch.items()
        if not any(e.validator == "const" and len(e.relative_path) <= 1 for e in errs)
    } or by_branch
    depth = {i: max(len(e.absolute_path) for e in errs) for i, errs in meant.items()}
    best = max(meant, key=lambda i: (depth[i], -len(meant[i])))
    if len(meant) > 1 and depth[best] <= len(error.absolute_path):
        # No branch got further. What every branch says (a required property they all need) is
        # the finding; otherwise the oneOf itself is.
        common = set.intersection(*({(e.json_path, e.message) for e in errs} for errs in meant.values()))
        shared = [
            e for e in meant[best]
            if (e.json_path, e.message) in common and e.validator not in ("oneOf", "anyOf")
        ]
        yield from shared or [error]
        return
    for sub in meant[best]:
        yield from _best_leaves(sub)


def iter_violations(rel: str, instance: Any, *, must_only: bool = False) -> Iterator[Violation]:
    """Violations of the full schema, or (``must_only``) of its MUST-only reading (D24)."""
    if must_only:
        from taskchat.schemas.levels import must_validator_for

        validator = must_validator_for(rel)
    else:
        validator = validator_for(rel)
    errors = sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    )
    for err in errors:
        for leaf in _best_leaves(err):
            yield Violation(leaf.json_path, _message(leaf), str(leaf.validator))


def validate(rel: str, instance: Any) -> list[Violation]:
    """All violations of ``instance`` against the schema file ``rel`` (empty when valid)."""
    return list(iter_violations(rel, instance))


def graded(rel: str, instance: Any) -> tuple[list[Violation], list[Violation]]:
    """(MUST violations, SHOULD-only violations): what breaks the contract, and what breaks
    only the project's stricter constraints (``x-level: SHOULD``, D24)."""
    strict = validate(rel, instance)
    if not strict:
        return [], []
    must = list(iter_violations(rel, instance, must_only=True))
    if must:
        return must, []
    return [], strict
