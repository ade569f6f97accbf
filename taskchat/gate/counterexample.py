"""Search for a payload one schema accepts and the other refuses.

The structural diff names a change; a concrete payload proves it (and finds changes the diff
cannot name). Candidates come from both schemas (positive values and near-misses of each,
seeded with the names and values either version knows); each is validated with the real
validators, each in its own tree's registry, so a reported counterexample is never a guess.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from taskchat.gate.examples import Generator, Hints, at_path, collect_hints, key, parse_path
from taskchat.gate.flatten import Flat

MAX_FOUND = 40
MAX_CANDIDATES = 4000


@dataclass(frozen=True)
class Refusal:
    path: str  # JSON path in the instance where the refusing schema objects
    message: str
    keyword: str


@dataclass(frozen=True)
class Counterexample:
    instance: Any
    refusals: tuple[Refusal, ...]

    @property
    def size(self) -> int:
        return len(json.dumps(self.instance, ensure_ascii=False))

    def summary(self) -> str:
        r = self.refusals[0] if self.refusals else None
        return f"{r.path}: {r.message}" if r else ""


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if error.context and error.validator in ("oneOf", "anyOf"):
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(value: Any) -> str:
    """A long value in a few words: the table shows the payload, this says what is wrong."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} properties"
    return "the value"


def refusals(validator: Draft202012Validator, instance: Any) -> tuple[Refusal, ...]:
    """Why ``validator`` refuses ``instance``, deepest first (the branch that got furthest)."""
    leaves = [leaf for err in validator.iter_errors(instance) for leaf in _leaves(err)]
    leaves.sort(key=lambda e: -len(e.absolute_path))
    out: list[Refusal] = []
    seen: set[tuple[str, str]] = set()
    for leaf in leaves:
        item = (leaf.json_path, str(leaf.validator))
        if item in seen:
            continue
        seen.add(item)
        message = leaf.message
        if len(json.dumps(leaf.instance, default=str)) > 80:
            rule = _short(json.dumps(leaf.validator_value))
            message = f"{_describe(leaf.instance)} fails {leaf.validator}: {rule}"
        out.append(Refusal(leaf.json_path, _short(message), str(leaf.validator)))
    return tuple(out)


def search(
    accepting: Draft202012Validator,
    refusing: Draft202012Validator,
    accept_flat: Flat,
    refuse_flat: Flat,
    *,
    seed: int = 0,
    budget: float = 3.0,
    focus: tuple[str, ...] = (),
) -> list[Counterexample]:
    """Instances ``accepting`` accepts and ``refusing`` refuses, smallest first; [] if none found.

    Bounded by ``budget`` seconds and a candidate count; deterministic for a seed (the budget
    only cuts the same sequence shorter on a slower machine).
    """
    hints = Hints()
    collect_hints(accept_flat, hints)
    collect_hints(refuse_flat, hints)
    deadline = time.monotonic() + budget
    gen = Generator(hints, seed=seed, deadline=deadline)
    found: dict[str, Counterexample] = {}
    seen: set[str] = set()

    def targeted() -> Iterator[Any]:
        for path in focus:
            steps = parse_path(path)
            if steps is None:
                continue
            leaves: list[Any] = []
            for flat in at_path(accept_flat, steps)[:4]:
                leaves.extend(gen.positives(flat))
            for flat in at_path(refuse_flat, steps)[:4]:
                leaves.extend(gen.near_misses(flat))
            yield from gen.planted(accept_flat, steps, leaves)

    sources = (
        targeted,
        lambda: gen.positives(accept_flat),
        lambda: gen.near_misses(refuse_flat),
        lambda: gen.positives(refuse_flat),
        lambda: gen.near_misses(accept_flat),
    )
    for source in sources:
        if time.monotonic() > deadline or len(found) >= MAX_FOUND:
            break
        for candidate in source():
            k = key(candidate)
            if k in seen:
                continue
            seen.add(k)
            if len(seen) > MAX_CANDIDATES or time.monotonic() > deadline:
                break
            if accepting.is_valid(candidate) and not refusing.is_valid(candidate):
                found[k] = Counterexample(candidate, refusals(refusing, candidate))
                if len(found) >= MAX_FOUND:
                    break
    return sorted(found.values(), key=lambda c: c.size)


def _norm(path: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", path)


def related(change_path: str, refusal: Refusal) -> bool:
    """Does ``refusal`` plausibly come from a change at ``change_path``?

    At or under the change's path, yes; above it only when the refusal names the property on
    the way down (``'priority' was unexpected`` for a change at ``$.priority``).
    """
    a, b = _norm(change_path), _norm(refusal.path)
    if a == b or b.startswith((a + ".", a + "[")):
        return True
    if a.startswith((b + ".", b + "[")):
        step = a[len(b) :].lstrip(".[").split(".")[0].split("[")[0].strip('"]')
        return bool(step) and repr(step) in refusal.message
    return False


def best_for(change_path: str, detail: str, found: list[Counterexample]) -> Counterexample | None:
    """The counterexample that best shows a change: refused at its path, naming what it names.

    ``found`` is smallest first, so among equally good matches the smallest wins.
    """

    def score(c: Counterexample) -> int:
        best = 0
        for r in c.refusals:
            if not related(change_path, r):
                continue
            s = 1
            if _norm(r.path) == _norm(change_path):
                s = 2
                if detail and any(repr(w) in r.message for w in detail.split(", ")):
                    s = 3
            best = max(best, s)
        return best

    scored = [(score(c), i) for i, c in enumerate(found)]
    top = max(scored, default=(0, -1))
    if top[0] == 0:
        return None
    first = min(i for s, i in scored if s == top[0])
    return found[first]
