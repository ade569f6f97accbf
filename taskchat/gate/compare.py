"""Compare two schema trees event by event and decide: the gate's verdict, without any output.

Everything the index declares is compared: events (name, direction, recipients, ack, emits),
each payload and ack schema under the rule of the side that reads it, the CONNECT schemas and
the error-code sets. Structural changes are confirmed by counterexamples where one exists.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing.exceptions import Unresolvable

from taskchat.gate.counterexample import Counterexample, best_for, search
from taskchat.gate.diff import Change, Effect, diff
from taskchat.gate.flatten import Flat, canonical, flatten, merge, root_node, strip_annotations
from taskchat.gate.load import GateError, SchemaTree
from taskchat.gate.rules import (
    EVENT_RULES,
    Allowance,
    Bump,
    Finding,
    Reader,
    apply_allowances,
    breaks,
    event_finding,
    reader_of,
    required_bump,
    travels,
)
from taskchat.gate.version import at_least, next_version
from taskchat.schemas.protocol import Direction

NO_COUNTEREXAMPLE = "no counterexample found"
# CONNECT schemas by index key: who reads each
CONNECT_READERS: dict[str, Reader] = {
    "auth": Reader.SERVER,
    "accepted": Reader.CLIENTS,
    "refused": Reader.CLIENTS,
}


@dataclass
class Options:
    seed: int = 0
    budget: float = 3.0  # seconds of counterexample search per changed schema
    total_budget: float = 60.0


@dataclass
class Verdict:
    base_label: str
    head_label: str
    base_version: str | None
    head_version: str | None
    findings: list[Finding]
    allowances: list[Allowance]
    bump: Bump
    required_version: str | None
    version_ok: bool | None
    trees_differ: bool
    elapsed: float = 0.0
    compared: dict[str, str] = field(default_factory=dict)  # every subject looked at -> direction

    @property
    def breaking(self) -> list[Finding]:
        return [f for f in self.findings if f.fails]

    def exit_code(self, check_version: bool) -> int:
        if self.breaking:
            return 1
        if check_version and self.version_ok is False:
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "base": {"source": self.base_label, "version": self.base_version},
            "head": {"source": self.head_label, "version": self.head_version},
            "breaking": len(self.breaking),
            "allowedBreaking": sum(1 for f in self.findings if f.breaking and f.allowed),
            "compatible": sum(1 for f in self.findings if not f.breaking),
            "requiredBump": self.bump.value,
            "requiredVersion": self.required_version,
            "versionOk": self.version_ok,
            "findings": [f.to_json() for f in self.findings],
            "allowances": [a.to_json() for a in self.allowances],
            "compared": sorted(self.compared),
            "elapsedSeconds": round(self.elapsed, 3),
        }


def _direction(tree: SchemaTree, event: str, spec: dict[str, Any]) -> Direction:
    try:
        return Direction(str(spec.get("direction")))
    except ValueError:
        raise GateError(
            f"{tree.label}: event {event!r} has an unknown direction {spec.get('direction')!r}"
        ) from None


def _need(tree: SchemaTree, rel: str, what: str) -> None:
    if not tree.has(rel):
        raise GateError(f"{tree.label}: {what} names {rel}, which is not in the tree")


def _closure(tree: SchemaTree, rel: str) -> str:
    """The file and everything it references, annotations stripped: equal means same meaning."""
    seen: dict[str, Any] = {}
    todo = [rel]
    while todo:
        cur = todo.pop()
        if cur in seen or not tree.has(cur):
            continue
        contents = tree.files[cur]
        seen[cur] = strip_annotations(contents)
        for ref in _refs(contents):
            target = tree.rel_by_uri.get(urldefrag(urljoin(tree.uri(cur), ref))[0])
            if target:
                todo.append(target)
    return canonical(seen)


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        out = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        for v in value.values():
            out.extend(_refs(v))
        return out
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


class _Comparer:
    def __init__(self, base: SchemaTree, head: SchemaTree, options: Options) -> None:
        self.base, self.head, self.options = base, head, options
        self.deadline = time.monotonic() + options.total_budget
        self.findings: list[Finding] = []
        self.compared: dict[str, str] = {}

    # ---- payload schemas ------------------------------------------------------------------

    def schema(
        self, subject: str, event: str, part: str, reader: Reader, rel_a: str, rel_b: str
    ) -> None:
        """One payload or ack schema, judged for the side that reads it."""
        self.compared[subject] = travels(reader)
        fa = flatten(root_node(self.base.registry, self.base.uri(rel_a)))
        fb = flatten(root_node(self.head.registry, self.head.uri(rel_b)))
        changes = _dedupe(diff(fa, fb))
        if not changes and _closure(self.base, rel_a) == _closure(self.head, rel_b):
            return
        found, way = self._counterexamples(reader, rel_a, rel_b, fa, fb, changes)
        rows = [self._judge(subject, event, part, reader, ch, found, way) for ch in changes]
        self.findings.extend(rows)
        if found and not any(f.breaking for f in rows):
            ce = found[0]
            effect = Effect.NARROWS if reader is Reader.SERVER else Effect.WIDENS
            self.findings.append(
                Finding(
                    subject, event, part, travels(reader), reader.value, "accepted set changed",
                    ce.refusals[0].path if ce.refusals else "$", effect.value, True,
                    "found by the counterexample search, not named by the diff",
                    counterexample=_ce_json(ce, way),
                )
            )  # fmt: skip

    def _counterexamples(
        self, reader: Reader, rel_a: str, rel_b: str, fa: Flat, fb: Flat, changes: list[Change]
    ) -> tuple[list[Counterexample], tuple[str, str]]:
        """Payloads that break the reader: the server needs base-accepted payloads the head
        refuses; clients need head-accepted payloads the base refuses."""
        budget = min(self.options.budget, max(0.0, self.deadline - time.monotonic()))
        if budget <= 0:
            return [], ("", "")
        base_v, head_v = self.base.validator(rel_a), self.head.validator(rel_b)
        focus = tuple(
            dict.fromkeys(
                c.path for c in changes if breaks(c.effect, reader) or c.effect is Effect.NONE
            )
        )
        seed = self.options.seed
        if reader is Reader.SERVER:
            found = search(base_v, head_v, fa, fb, seed=seed, budget=budget, focus=focus)
            return found, ("base", "head")
        found = search(head_v, base_v, fb, fa, seed=seed, budget=budget, focus=focus)
        return found, ("head", "base")

    def _judge(
        self,
        subject: str,
        event: str,
        part: str,
        reader: Reader,
        ch: Change,
        found: list[Counterexample],
        way: tuple[str, str],
    ) -> Finding:
        breaking = breaks(ch.effect, reader)
        f = Finding(
            subject, event, part, travels(reader), reader.value, ch.name, ch.path,
            ch.effect.value, breaking, ch.detail,
        )  # fmt: skip
        if breaking:
            ce = best_for(ch.path, ch.detail, found)
            if ce is None:
                f.note = NO_COUNTEREXAMPLE
            else:
                f.counterexample = _ce_json(ce, way)
        elif ch.effect is Effect.NONE:
            # judged equivalent by sampling; a counterexample from the search overrules that
            ce = best_for(ch.path, "", found)
            if ce is not None:
                f.breaking, f.effect = True, Effect.BOTH.value
                f.counterexample = _ce_json(ce, way)
                f.note = "the samples missed it, the counterexample search did not"
        return f

    # ---- declarations ---------------------------------------------------------------------

    def events(self) -> None:
        ev_a: dict[str, Any] = self.base.index["events"]
        ev_b: dict[str, Any] = self.head.index["events"]
        removed = [e for e in ev_a if e not in ev_b]
        added = [e for e in ev_b if e not in ev_a]
        renamed: dict[str, str] = {}
        for old in removed:
            for new in added:
                if new not in renamed.values() and self._same_event(ev_a[old], ev_b[new]):
                    renamed[old] = new
                    break
        for old in removed:
            d = _direction(self.base, old, ev_a[old]).value
            if old in renamed:
                self._event(old, d, "event renamed", f"to {renamed[old]}")
            else:
                self._event(old, d, "event removed", "")
        for new in added:
            if new not in renamed.values():
                self._event(new, _direction(self.head, new, ev_b[new]).value, "event added", "")
        for name in ev_a:
            if name in ev_b:
                self._event_pair(name, ev_a[name], ev_b[name])

    def _same_event(self, a: dict[str, Any], b: dict[str, Any]) -> bool:
        if a.get("direction") != b.get("direction"):
            return False
        pa, pb = a.get("payload"), b.get("payload")
        if not (
            isinstance(pa, str) and isinstance(pb, str) and self.base.has(pa) and self.head.has(pb)
        ):
            return False

        def body(tree: SchemaTree, rel: str) -> str:
            return canonical(strip_annotations(tree.files[rel]))

        return body(self.base, pa) == body(self.head, pb)

    def _event(self, name: str, direction: str, change: str, detail: str) -> None:
        self.findings.append(
            event_finding(name, direction, change, breaking=EVENT_RULES[change], detail=detail)
        )

    def _event_pair(self, name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        da, db = _direction(self.base, name, a), _direction(self.head, name, b)
        if da is not db:
            self._event(name, da.value, "direction changed", f"{da.value} → {db.value}")
            return
        if a.get("recipients") != b.get("recipients"):
            self._event(
                name,
                da.value,
                "recipients changed",
                f"{a.get('recipients')} → {b.get('recipients')}",
            )
        for gone in [e for e in a.get("emits", ()) if e not in b.get("emits", ())]:
            self._event(name, da.value, "emitted event removed", gone)
        for new in [e for e in b.get("emits", ()) if e not in a.get("emits", ())]:
            self._event(name, da.value, "emitted event added", new)
        pa, pb = a.get("payload"), b.get("payload")
        if isinstance(pa, str) and isinstance(pb, str):
            _need(self.base, pa, f"event {name}")
            _need(self.head, pb, f"event {name}")
            self.schema(name, name, "payload", reader_of(da, "payload"), pa, pb)
        ka, kb = a.get("ack"), b.get("ack")
        if ka and not kb:
            self._event(name, da.value, "ack removed", str(ka))
        elif kb and not ka:
            self._event(name, da.value, "ack added", str(kb))
        elif isinstance(ka, str) and isinstance(kb, str):
            _need(self.base, ka, f"event {name}'s ack")
            _need(self.head, kb, f"event {name}'s ack")
            self.schema(f"{name}.ack", name, "ack", reader_of(da, "ack"), ka, kb)

    def connect(self) -> None:
        ca: dict[str, Any] = self.base.index.get("connect") or {}
        cb: dict[str, Any] = self.head.index.get("connect") or {}
        for key, reader in CONNECT_READERS.items():
            ra, rb = ca.get(key), cb.get(key)
            subject = f"connect.{key}"
            if isinstance(ra, str) and isinstance(rb, str):
                _need(self.base, ra, subject)
                _need(self.head, rb, subject)
                self.schema(subject, "connect", key, reader, ra, rb)
            elif ra or rb:
                change = "connect schema removed" if ra else "connect schema added"
                f = event_finding(subject, travels(reader), change, breaking=EVENT_RULES[change])
                f.event, f.part = "connect", key
                self.findings.append(f)

    def error_codes(self) -> None:
        ea: dict[str, Any] = self.base.index.get("errorCodes") or {}
        eb: dict[str, Any] = self.head.index.get("errorCodes") or {}
        direction = Direction.SERVER_TO_CLIENT.value
        for kind in list(ea) + [k for k in eb if k not in ea]:
            subject = f"errorCodes.{kind}"
            if kind not in eb or kind not in ea:
                change = (
                    "error code schema removed" if kind not in eb else "error code schema added"
                )
                self._codes_finding(subject, change, "", direction)
                continue
            codes_a = _codes(self.base, ea[kind])
            codes_b = _codes(self.head, eb[kind])
            self.compared[subject] = direction
            for code in codes_a:
                if code not in codes_b:
                    self._codes_finding(subject, "error code removed", code, direction)
            for code in codes_b:
                if code not in codes_a:
                    self._codes_finding(subject, "error code added", code, direction)

    def _codes_finding(self, subject: str, change: str, code: str, direction: str) -> None:
        f = event_finding(subject, direction, change, breaking=EVENT_RULES[change], detail=code)
        f.event, f.part, f.reader = "errorCodes", "codes", Reader.CLIENTS.value
        self.findings.append(f)


def _codes(tree: SchemaTree, rel: Any) -> list[str]:
    """The codes a code schema accepts: an enum, a oneOf of consts, or any/oneOf of those."""
    if not isinstance(rel, str):
        raise GateError(f"{tree.label}: errorCodes must name schema files")
    _need(tree, rel, "errorCodes")
    codes = _finite(flatten(root_node(tree.registry, tree.uri(rel))))
    if codes is None:
        raise GateError(f"{tree.label}: {rel} does not list its codes (enum, or oneOf of consts)")
    return [str(c) for c in codes]


def _finite(flat: Flat, depth: int = 0) -> list[Any] | None:
    if flat.enum is not None:
        return list(flat.enum)
    if not flat.groups or depth > 8:
        return None
    rest = flat.without_group(0)
    out: list[Any] = []
    for branch in flat.groups[0].branches:
        values = _finite(merge(rest, flatten(branch)), depth + 1)
        if values is None:
            return None
        out.extend(v for v in values if v not in out)
    return out


def _dedupe(changes: list[Change]) -> list[Change]:
    """One row per change: the same edit seen in the base schema and again inside a ``then``
    (a shared def used in both) is one change to the reader."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Change] = []
    for c in changes:
        detail = c.detail
        for branch in ("then", "else"):
            detail = detail.removesuffix(f" (in {branch})").removesuffix(f"in {branch}")
        k = (c.path, c.name, detail)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def _ce_json(ce: Counterexample, way: tuple[str, str]) -> dict[str, Any]:
    first = ce.refusals[0] if ce.refusals else None
    return {
        "instance": ce.instance,
        "acceptedBy": way[0],
        "refusedBy": way[1],
        "refusedAt": first.path if first else "$",
        "refusal": first.message if first else "",
    }


def _trees_differ(base: SchemaTree, head: SchemaTree) -> bool:
    return canonical([base.index, base.files]) != canonical([head.index, head.files])


def compare(
    base: SchemaTree,
    head: SchemaTree,
    allowances: list[Allowance] | None = None,
    options: Options | None = None,
) -> Verdict:
    """The gate's verdict for moving from ``base`` to ``head``."""
    started = time.monotonic()
    options = options or Options()
    allowances = allowances or []
    c = _Comparer(base, head, options)
    try:
        c.events()
        c.connect()
        c.error_codes()
    except re.error as exc:
        raise GateError(f"a pattern does not compile: {exc.pattern!r}: {exc}") from exc
    except (KeyError, TypeError, AttributeError, Unresolvable, RecursionError) as exc:
        raise GateError(f"cannot read the schemas: {type(exc).__name__}: {exc}") from exc
    apply_allowances(c.findings, allowances)
    differ = _trees_differ(base, head)
    bump = required_bump(c.findings, differ)
    required: str | None = None
    ok: bool | None = None
    if base.version is not None:
        try:
            required = next_version(base.version, bump)
            ok = at_least(head.version, required) if head.version is not None else False
        except ValueError:
            required, ok = None, None  # --check-version reports it; the verdict stands without
    return Verdict(
        base_label=base.label,
        head_label=head.label,
        base_version=base.version,
        head_version=head.version,
        findings=c.findings,
        allowances=allowances,
        bump=bump,
        required_version=required,
        version_ok=ok,
        trees_differ=differ,
        elapsed=time.monotonic() - started,
        compared=c.compared,
    )
