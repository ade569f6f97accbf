"""Values generated from a 2020-12 schema: positive instances and near-misses.

Positive instances aim to be valid (boundary values first: shortest, longest, every enum
member, every oneOf branch); near-misses break exactly one constraint of an otherwise valid
value. Neither is guaranteed: the counterexample search validates every candidate with the real
validators, so the generator only has to propose well. Bounded in count per node and by a
deadline, and deterministic for a seed.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from taskchat.gate.flatten import Flat, Node, flatten, flatten_all, merge
from taskchat.gate.load import FORMAT_CHECKER
from taskchat.gate.regex_sampler import sample

PER_NODE = 10  # values kept per schema node and kind (positive / near-miss)
MAX_DEPTH = 10
LONGEST = 20_000  # no string longer than this is built for a maxLength boundary
FORMAT_GOOD: dict[str, tuple[str, ...]] = {
    "date-time": (
        "2026-11-25T20:29:29.123Z",
        "2026-11-25T20:29:29Z",
        "2026-11-25T20:29:29+00:00",
        "2026-11-25T20:29:29.123+02:00",
        "2026-11-25t20:29:29z",
    ),
    "date": ("2026-11-25",),
    "time": ("20:29:29Z",),
    "uri": (
        "https://example.com/file.txt",
        "http://example.com/a",
        "HTTPS://example.com/b?c=d#e",
        "ftp://example.com/x",
        "mailto:someone@example.com",
        "urn:isbn:0451450523",
    ),
    "uri-reference": ("https://example.com/a", "/relative/path"),
    "email": ("someone@example.com",),
    "uuid": ("0f8fad5b-d9cb-469f-a165-70867728950e",),
    "hostname": ("example.com",),
    "ipv4": ("192.0.2.1",),
    "ipv6": ("2001:db8::1",),
}
FORMAT_BAD: dict[str, tuple[str, ...]] = {
    "date-time": (
        "2026-11-25 20:29:29",
        "2026-11-25T20:29:29",
        "2026-13-45T99:99:99Z",
        "yesterday",
    ),
    "date": ("2026-13-45", "25/11/2026"),
    "time": ("25:61:00",),
    "uri": ("not a uri", "example.com/file.txt", "javascript:alert(1)", "http://exa mple.com"),
    "uri-reference": ("http://exa mple.com",),
    "email": ("not-an-email",),
    "uuid": ("not-a-uuid",),
    "hostname": ("-bad-.example",),
    "ipv4": ("999.0.0.1",),
    "ipv6": ("::zz",),
}
ALL_TYPES = ("string", "integer", "number", "boolean", "null", "object", "array")
OTHER_TYPE_VALUE: dict[str, Any] = {
    "string": "text",
    "integer": 7,
    "number": 0.5,
    "boolean": True,
    "null": None,
    "object": {},
    "array": [],
}


def key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _dedupe(values: Iterable[Any], limit: int) -> list[Any]:
    seen: set[str] = set()
    out: list[Any] = []
    for v in values:
        k = key(v)
        if k in seen:
            continue
        seen.add(k)
        out.append(v)
        if len(out) >= limit:
            break
    return out


def _round_robin(lists: list[list[Any]]) -> list[Any]:
    out: list[Any] = []
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out


@dataclass
class Hints:
    """Names and values seen in either schema: an old enum member or a property name the other
    version knows are the likeliest values to tell the two apart."""

    names: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add_name(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def add_value(self, value: Any) -> None:
        if key(value) not in {key(v) for v in self.values}:
            self.values.append(value)


def collect_hints(flat: Flat, hints: Hints, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        return
    for v in flat.enum or ():
        hints.add_value(v)
    for name, nodes in flat.properties.items():
        hints.add_name(name)
        collect_hints(flatten_all(nodes), hints, depth + 1)
    for name in flat.required:
        hints.add_name(name)
    for nodes in (flat.items, *flat.prefix_items, flat.additional):
        if nodes:
            collect_hints(flatten_all(nodes), hints, depth + 1)
    for group in flat.groups:
        for b in group.branches:
            collect_hints(flatten(b), hints, depth + 1)
    for cond in flat.conditionals:
        for n in (cond.if_, cond.then, cond.else_):
            if n is not None:
                collect_hints(flatten(n), hints, depth + 1)


def _inferred_types(flat: Flat) -> tuple[str, ...]:
    if flat.types is not None:
        return tuple(t for t in ALL_TYPES if t in flat.types)
    found: list[str] = []
    if flat.properties or flat.required or flat.closed:
        found.append("object")
    if flat.items or flat.prefix_items:
        found.append("array")
    if flat.patterns or flat.formats or "minLength" in flat.bounds or "maxLength" in flat.bounds:
        found.append("string")
    if any(
        k in flat.bounds for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    ):
        found.append("number")
    return tuple(found) or ("string", "integer", "boolean", "null", "object", "array")


class Generator:
    def __init__(self, hints: Hints, seed: int = 0, deadline: float | None = None) -> None:
        self.hints = hints
        self.rng = random.Random(seed)
        self.deadline = deadline if deadline is not None else time.monotonic() + 5.0
        self._memo: dict[tuple[str, int], list[Any]] = {}

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    # ---- positives -------------------------------------------------------------------------

    def nodes_positives(self, nodes: tuple[Node, ...], depth: int) -> list[Any]:
        memo_key = ("+" + "|".join(f"{id(n.contents)}:{id(n.resolver)}" for n in nodes), depth)
        if memo_key not in self._memo:
            self._memo[memo_key] = self.positives(flatten_all(nodes), depth)
        return self._memo[memo_key]

    def positives(self, flat: Flat, depth: int = 0) -> list[Any]:
        if flat.never or depth > MAX_DEPTH or self.expired():
            return []
        if flat.groups:
            rest = flat.without_group(0)
            lists = [
                self.positives(merge(rest, flatten(b)), depth) for b in flat.groups[0].branches
            ]
            return _dedupe(_round_robin(lists), PER_NODE)
        if flat.conditionals:
            cond = flat.conditionals[0]
            rest = flat.without_conditionals()
            then = merge(rest, flatten(cond.if_))
            if cond.then is not None:
                then = merge(then, flatten(cond.then))
            other = merge(rest, flatten(cond.else_)) if cond.else_ is not None else rest
            lists = [self.positives(other, depth), self.positives(then, depth)]
            return _dedupe(_round_robin(lists), PER_NODE)
        if flat.enum is not None:
            return _dedupe(flat.enum, PER_NODE)
        lists = [self._positives_of(t, flat, depth) for t in _inferred_types(flat)]
        return _dedupe(_round_robin(lists), PER_NODE)

    def _positives_of(self, t: str, flat: Flat, depth: int) -> list[Any]:
        if t == "string":
            return self._strings(flat)
        if t in ("integer", "number"):
            return self._numbers(flat, integer=t == "integer")
        if t == "boolean":
            return [True, False]
        if t == "null":
            return [None]
        if t == "array":
            return self._arrays(flat, depth)
        if t == "object":
            return self._objects(flat, depth)
        return []

    def _length_ok(self, s: str, flat: Flat) -> bool:
        lo = flat.bounds.get("minLength", 0)
        hi = flat.bounds.get("maxLength")
        return len(s) >= lo and (hi is None or len(s) <= hi)

    def _pattern_ok(self, s: str, flat: Flat) -> bool:
        try:
            return all(re.search(p, s) is not None for p in flat.patterns)
        except re.error:
            return True

    def _strings(self, flat: Flat) -> list[str]:
        memo_key = ("s" + key([flat.patterns, flat.formats, sorted(flat.bounds.items())]), 0)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._new_strings(flat)
        return self._memo[memo_key]

    def _new_strings(self, flat: Flat) -> list[str]:
        lo = int(flat.bounds.get("minLength", 0))
        hi_raw = flat.bounds.get("maxLength")
        hi = int(hi_raw) if hi_raw is not None else None
        candidates: list[str] = []
        if flat.formats:
            for f in flat.formats:
                candidates.extend(FORMAT_GOOD.get(f, ()))
        if flat.patterns:
            pat = flat.patterns[0]
            for n in (lo, hi, lo + 1):
                if n is not None and n <= LONGEST:
                    s = sample(pat, self.rng, length=n)
                    if s is not None:
                        candidates.append(s)
            candidates.extend(s for s in (sample(pat, self.rng) for _ in range(4)) if s is not None)
        if not flat.formats and not flat.patterns:
            candidates.append("a" * max(lo, 1) if hi is None or hi >= 1 else "")
            candidates.append("a" * lo)
            if hi is not None and hi <= LONGEST:
                candidates.append("a" * hi)
            candidates.extend(v for v in self.hints.values if isinstance(v, str))
            candidates.append("text")
        good = [
            s
            for s in candidates
            if self._length_ok(s, flat) and self._pattern_ok(s, flat) and _formats_ok(s, flat)
        ]
        return _dedupe(good or candidates[:2], PER_NODE)

    def _numbers(self, flat: Flat, *, integer: bool) -> list[Any]:
        b = flat.bounds
        lo = b.get("minimum")
        if "exclusiveMinimum" in b:
            lo = b["exclusiveMinimum"] + (1 if integer else 0.5)
        hi = b.get("maximum")
        if "exclusiveMaximum" in b:
            hi = b["exclusiveMaximum"] - (1 if integer else 0.5)
        values: list[Any] = [v for v in (lo, hi) if v is not None]
        values += [0, 1, 42, -1] if integer else [0, 1.5, 42, -2.5]
        if lo is not None:
            values.append(lo + 1)
        ok = [v for v in values if (lo is None or v >= lo) and (hi is None or v <= hi)]
        if integer:
            ok = [int(v) for v in ok if float(v).is_integer()]
        if flat.multiple_of:
            ok = [v for v in ok if all(_multiple(v, m) for m in flat.multiple_of)] or [0]
        return _dedupe(ok, PER_NODE)

    def _item_values(self, flat: Flat, depth: int) -> list[Any]:
        if flat.items:
            return self.nodes_positives(flat.items, depth + 1)
        return ["text", 1]

    def _arrays(self, flat: Flat, depth: int) -> list[list[Any]]:
        lo = int(flat.bounds.get("minItems", 0))
        hi_raw = flat.bounds.get("maxItems")
        hi = int(hi_raw) if hi_raw is not None else None
        prefix = [self.nodes_positives(nodes, depth + 1)[:1] for nodes in flat.prefix_items]
        head = [p[0] for p in prefix if p]
        values = self._item_values(flat, depth)
        if not values:
            return [head] if len(head) >= lo else []
        out: list[list[Any]] = []
        size = max(lo, 1) if hi is None or hi >= 1 else 0
        if lo == 0 and len(head) == 0:
            out.append([])
        if hi is not None and hi <= 50:  # the longest array, a boundary worth trying early
            out.append(head + [values[0]] * (hi - len(head)))
        for v in values:
            out.append(head + [v] * max(size - len(head), 0 if head else 1))
        return [a for a in out if len(a) >= lo and (hi is None or len(a) <= hi)]

    def _objects(self, flat: Flat, depth: int) -> list[dict[str, Any]]:
        values = {
            name: self.nodes_positives(nodes, depth + 1) for name, nodes in flat.properties.items()
        }
        base: dict[str, Any] = {}
        for name in flat.required:
            vals = values.get(name) or self._unnamed_values(flat, depth)
            if not vals:
                return []
            base[name] = vals[0]
        full = dict(base)
        for name, vals in values.items():
            if name not in full and vals:
                full[name] = vals[0]
        out: list[dict[str, Any]] = [base, full]
        for name, vals in values.items():
            for v in vals[1:]:
                out.append({**base, name: v})
                if name not in base:
                    out.append({**full, name: v})
            if name not in base and vals:
                out.append({**base, name: vals[0]})
        if not flat.closed:
            extra = self._unnamed_values(flat, depth)
            for name in [*self.hints.names[:6], "extraField"]:
                if name not in flat.properties:
                    out.extend({**base, name: v} for v in extra[:3])
        lo = flat.bounds.get("minProperties")
        if lo:
            out = [o for o in out if len(o) >= lo] or [{**full, "extra": 1}]
        return _dedupe(out, PER_NODE * 4)

    def _unnamed_values(self, flat: Flat, depth: int) -> list[Any]:
        if flat.additional:
            return self.nodes_positives(flat.additional, depth + 1)
        return ["text", 1, None, *self.hints.values[:4]]

    def planted(
        self, flat: Flat, steps: list[Step], leaves: list[Any], depth: int = 0
    ) -> list[Any]:
        """Valid-looking instances of ``flat`` carrying each of ``leaves`` at ``steps``.

        Deep changes (``$.attachments[*].name``) are proven by a value at exactly that place;
        building outward from it is far cheaper than hoping a generic sample lands there.
        """
        if not steps:
            return leaves
        if depth > MAX_DEPTH or self.expired():
            return []
        out: list[Any] = []
        for v in _variants(flat)[:6]:
            inner = self.planted(_step_into(v, steps[0]), steps[1:], leaves, depth + 1)[:16]
            kind, arg = steps[0]
            if kind == "prop":
                bases = [o for o in self._objects(v, depth) if isinstance(o, dict)][:2]
                out.extend({**b, arg: x} for b in bases for x in inner)
            else:
                items = self._item_values(v, depth) or ["text"]
                lo = int(v.bounds.get("minItems", 0))
                head = [(self.nodes_positives(n, depth + 1) or [None])[0] for n in v.prefix_items]
                i = arg if kind == "index" else len(head)
                for x in inner:
                    arr = [*head[:i], x, *head[i + 1 :]]
                    out.append(arr + [items[0]] * max(lo - len(arr), 0))
        return _dedupe(out, PER_NODE * 6)

    # ---- near-misses -----------------------------------------------------------------------

    def nodes_near_misses(self, nodes: tuple[Node, ...], depth: int) -> list[Any]:
        memo_key = ("-" + "|".join(f"{id(n.contents)}:{id(n.resolver)}" for n in nodes), depth)
        if memo_key not in self._memo:
            self._memo[memo_key] = self.near_misses(flatten_all(nodes), depth)
        return self._memo[memo_key]

    def near_misses(self, flat: Flat, depth: int = 0) -> list[Any]:
        """Values that break one constraint of ``flat`` and keep the rest, as far as it can."""
        if flat.never or depth > MAX_DEPTH or self.expired():
            return []
        if flat.groups:
            rest = flat.without_group(0)
            lists: list[list[Any]] = [
                self.near_misses(merge(rest, flatten(b)), depth) for b in flat.groups[0].branches
            ]
            return _dedupe(_round_robin(lists), PER_NODE * 2)
        if flat.conditionals:
            cond = flat.conditionals[0]
            rest = flat.without_conditionals()
            then = merge(merge(rest, flatten(cond.if_)), flatten(cond.then)) if cond.then else rest
            other = merge(rest, flatten(cond.else_)) if cond.else_ is not None else rest
            lists = [self.near_misses(other, depth), self.near_misses(then, depth)]
            return _dedupe(_round_robin(lists), PER_NODE * 2)
        lists = [self._wrong_types(flat)]
        if flat.enum is not None:
            known = {key(v) for v in flat.enum}
            lists.append(
                [v for v in [*self.hints.values, "zz-not-a-member"] if key(v) not in known]
            )
        else:
            for t in _inferred_types(flat):
                if t == "string":
                    lists.append(self._string_misses(flat))
                elif t in ("integer", "number"):
                    lists.append(self._number_misses(flat, integer=t == "integer"))
                elif t == "array":
                    lists.append(self._array_misses(flat, depth))
                elif t == "object":
                    lists.append(self._object_misses(flat, depth))
        return _dedupe(_round_robin(lists), PER_NODE * 3)

    def _wrong_types(self, flat: Flat) -> list[Any]:
        if flat.types is None:
            return []
        allowed = set(flat.types) | ({"integer"} if "number" in flat.types else set())
        return [OTHER_TYPE_VALUE[t] for t in ALL_TYPES if t not in allowed][:3]

    def _string_misses(self, flat: Flat) -> list[str]:
        good = self._strings(flat)
        out: list[str] = []
        lo = int(flat.bounds.get("minLength", 0))
        hi_raw = flat.bounds.get("maxLength")
        if lo > 0:
            out.append(good[0][: lo - 1] if good else "a" * (lo - 1))
        if hi_raw is not None and hi_raw < LONGEST:
            hi = int(hi_raw)
            longer = sample(flat.patterns[0], self.rng, length=hi + 1) if flat.patterns else None
            if longer is None and good:
                longer = (good[0] + "a" * (hi + 1))[: hi + 1] if not flat.formats else None
            out.append(longer if longer is not None else "a" * (hi + 1))
        for f in flat.formats:
            out.extend(FORMAT_BAD.get(f, ()))
            out.extend(s for s in FORMAT_GOOD.get(f, ()) if not self._pattern_ok(s, flat))
        if flat.patterns and good:
            s = good[0]
            mutations = [
                " " + s,
                s + " ",
                s.upper(),
                s.lower(),
                s[1:],
                s[:-1],
                "",
                " ",
                s + "\n",
                "!" + s,
                s.replace("https", "javascript").replace("http", "ftp"),
            ]
            out.extend(m for m in mutations if not self._pattern_ok(m, flat))
        return out

    def _number_misses(self, flat: Flat, *, integer: bool) -> list[Any]:
        b = flat.bounds
        out: list[Any] = []
        if "minimum" in b:
            out.append(b["minimum"] - 1)
        if "exclusiveMinimum" in b:
            out.append(b["exclusiveMinimum"])
        if "maximum" in b:
            out.append(b["maximum"] + 1)
        if "exclusiveMaximum" in b:
            out.append(b["exclusiveMaximum"])
        if integer:
            out.append(1.5)
        for m in flat.multiple_of:
            out.append(m * 1.5 if m * 1.5 != int(m * 1.5) or m * 1.5 % m else m + 1)
        return out

    def _array_misses(self, flat: Flat, depth: int) -> list[list[Any]]:
        values = self._item_values(flat, depth) or ["text"]
        lo = int(flat.bounds.get("minItems", 0))
        hi_raw = flat.bounds.get("maxItems")
        out: list[list[Any]] = []
        if lo > 0:
            out.append([values[0]] * (lo - 1))
        if hi_raw is not None and hi_raw < 1000:
            out.append([values[0]] * (int(hi_raw) + 1))
        if flat.items:
            pad = [values[0]] * max(lo - 1, 0)
            out.extend([m, *pad] for m in self.nodes_near_misses(flat.items, depth + 1))
        for i, nodes in enumerate(flat.prefix_items):
            head = [(self.nodes_positives(n, depth + 1) or [None])[0] for n in flat.prefix_items]
            for m in self.nodes_near_misses(nodes, depth + 1)[:4]:
                out.append([*head[:i], m, *head[i + 1 :]])
        return out

    def _object_misses(self, flat: Flat, depth: int) -> list[dict[str, Any]]:
        bases = self._objects(flat, depth)
        if not bases:
            return []
        base, full = bases[0], bases[1] if len(bases) > 1 else bases[0]
        out: list[dict[str, Any]] = []
        for name in flat.required:
            out.append({k: v for k, v in base.items() if k != name})
        unknown = [n for n in [*self.hints.names, "unexpectedField"] if n not in flat.properties]
        for name in unknown[:6]:
            out.append({**base, name: "text"})
            out.append({**base, name: 1})
        for name, nodes in flat.properties.items():
            for m in self.nodes_near_misses(nodes, depth + 1)[:6]:
                out.append({**(base if name in base else full), name: m})
        hi = flat.bounds.get("maxProperties")
        if hi is not None and hi < 100:
            out.append({**full, **{f"p{i}": 1 for i in range(int(hi) + 1)}})
        return out


Step = tuple[str, Any]  # ("prop", name) | ("item", None) | ("index", i)
_STEP = re.compile(r'\.([A-Za-z_$][\w$-]*)|\[(\*|\d+|"(?:[^"\\]|\\.)*")\]')


def parse_path(path: str) -> list[Step] | None:
    """The steps of a change's JSON path (``$.attachments[*].name``); None past what we follow."""
    if not path.startswith("$"):
        return None
    steps: list[Step] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if m is None:
            return steps or None  # e.g. $.* or [/pattern/]: follow as far as we can
        if m[1] is not None:
            steps.append(("prop", m[1]))
        elif m[2] == "*":
            steps.append(("item", None))
        elif m[2].startswith('"'):
            steps.append(("prop", json.loads(m[2])))
        else:
            steps.append(("index", int(m[2])))
        pos = m.end()
    return steps


def _variants(flat: Flat) -> list[Flat]:
    """``flat`` with its first oneOf/anyOf or if/then/else resolved each possible way."""
    if flat.groups:
        rest = flat.without_group(0)
        return [v for b in flat.groups[0].branches for v in _variants(merge(rest, flatten(b)))]
    if flat.conditionals:
        cond = flat.conditionals[0]
        rest = flat.without_conditionals()
        then = merge(rest, flatten(cond.if_))
        if cond.then is not None:
            then = merge(then, flatten(cond.then))
        other = merge(rest, flatten(cond.else_)) if cond.else_ is not None else rest
        return _variants(other) + _variants(then)
    return [flat]


def _step_into(flat: Flat, step: Step) -> Flat:
    kind, arg = step
    if kind == "prop":
        if arg in flat.properties:
            return flatten_all(flat.properties[arg])
        return Flat(never=True) if flat.closed else flatten_all(flat.additional)
    if kind == "index" and arg < len(flat.prefix_items):
        return flatten_all(flat.prefix_items[arg])
    return flatten_all(flat.items)


def at_path(flat: Flat, steps: list[Step], depth: int = 0) -> list[Flat]:
    """Every schema that may apply at ``steps`` under ``flat`` (one per oneOf / if branch)."""
    if depth > MAX_DEPTH:
        return []
    out: list[Flat] = []
    for v in _variants(flat)[:6]:
        if not steps:
            out.append(v)
        else:
            out.extend(at_path(_step_into(v, steps[0]), steps[1:], depth + 1))
    return out


def _formats_ok(s: str, flat: Flat) -> bool:
    return all(FORMAT_CHECKER.conforms(s, f) for f in flat.formats)


def _multiple(value: float, of: float) -> bool:
    if of == 0:
        return False
    q = value / of
    return abs(q - round(q)) < 1e-9
