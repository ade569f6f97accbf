"""Structural comparison of two schemas: named changes, each with what it does to the accepted set.

A change *widens* when the new schema accepts something the old one refused, *narrows* when it
refuses something the old one accepted, *both* when it may do either (a pattern replaced by
another). Whether that breaks anyone depends on who reads the payload: see ``rules.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from taskchat.gate.flatten import (
    LOWER_BOUNDS,
    UPPER_BOUNDS,
    Flat,
    Group,
    Node,
    flatten,
    flatten_all,
    is_trivial,
    merge,
    type_kinds,
)
from taskchat.gate.regex_sampler import judge_replacement

MAX_DEPTH = 16
# a lower bound of 0 on a length or a count is no bound at all
ZERO_IS_ABSENT = frozenset({"minLength", "minItems", "minProperties"})


class Effect(StrEnum):
    WIDENS = "widens"
    NARROWS = "narrows"
    BOTH = "both"
    NONE = "none"


@dataclass(frozen=True)
class Change:
    path: str  # where in the instance, as a JSON path ($.attachments[*].url)
    name: str  # "required property added", "enum narrowed", ...
    effect: Effect
    detail: str = ""


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _prop_path(path: str, name: str) -> str:
    if name.isidentifier():
        return f"{path}.{name}"
    return f"{path}[{_show(name)}]"


def diff_nodes(a: tuple[Node, ...], b: tuple[Node, ...], path: str, depth: int) -> list[Change]:
    return diff(flatten_all(a), flatten_all(b), path, depth)


def diff(a: Flat, b: Flat, path: str = "$", depth: int = 0) -> list[Change]:
    """The named changes from ``a`` (old) to ``b`` (new) at instance path ``path``."""
    if depth > MAX_DEPTH:
        return []
    if a.never or b.never:
        if a.never and not b.never:
            return [Change(path, "schema no longer refuses everything", Effect.WIDENS)]
        if b.never and not a.never:
            return [Change(path, "schema now refuses everything", Effect.NARROWS)]
        return []
    wrapped = _group_appeared(a, b, path, depth)
    if wrapped is not None:
        return wrapped
    out: list[Change] = []
    _types(a, b, path, out)
    _enum(a, b, path, out)
    _bounds(a, b, path, out)
    _strings(a, b, path, out)
    _objects(a, b, path, depth, out)
    _arrays(a, b, path, depth, out)
    _groups(a, b, path, depth, out)
    _conditionals(a, b, path, depth, out)
    _others(a, b, path, out)
    return out


def _types(a: Flat, b: Flat, path: str, out: list[Change]) -> None:
    if a.enum is not None and b.enum is not None:
        return  # the enum comparison says everything a type change could
    ka, kb = type_kinds(a.types), type_kinds(b.types)
    if ka == kb:
        return
    if ka is None:
        out.append(Change(path, "type added", Effect.NARROWS, f"now {_types_text(b.types)}"))
    elif kb is None:
        out.append(Change(path, "type removed", Effect.WIDENS, f"was {_types_text(a.types)}"))
    else:
        detail = f"{_types_text(a.types)} → {_types_text(b.types)}"
        added, removed = kb - ka, ka - kb
        if added and removed:
            out.append(Change(path, "type changed", Effect.BOTH, detail))
        elif added:
            out.append(Change(path, "type widened", Effect.WIDENS, detail))
        else:
            out.append(Change(path, "type narrowed", Effect.NARROWS, detail))


def _types_text(types: frozenset[str] | None) -> str:
    return " | ".join(sorted(types)) if types else "any"


def _enum(a: Flat, b: Flat, path: str, out: list[Change]) -> None:
    if a.enum is None and b.enum is None:
        return
    word = "const" if (a.enum_source or b.enum_source) == "const" else "enum"
    if a.enum is None:
        assert b.enum is not None
        out.append(Change(path, f"{word} added", Effect.NARROWS, _values(b.enum)))
        return
    if b.enum is None:
        out.append(Change(path, f"{word} removed", Effect.WIDENS, _values(a.enum)))
        return
    keys_a = {_key(v) for v in a.enum}
    keys_b = {_key(v) for v in b.enum}
    added = [v for v in b.enum if _key(v) not in keys_a]
    removed = [v for v in a.enum if _key(v) not in keys_b]
    if not added and not removed:
        return
    if len(a.enum) == 1 and len(b.enum) == 1:
        out.append(
            Change(path, "const changed", Effect.BOTH, f"{_show(a.enum[0])} → {_show(b.enum[0])}")
        )
    elif added and removed:
        out.append(
            Change(
                path,
                "enum changed",
                Effect.BOTH,
                f"added {_values(added)}; removed {_values(removed)}",
            )
        )
    elif added:
        out.append(Change(path, "enum widened", Effect.WIDENS, f"added {_values(added)}"))
    else:
        out.append(Change(path, "enum narrowed", Effect.NARROWS, f"removed {_values(removed)}"))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _values(values: Any) -> str:
    return ", ".join(_show(v) for v in values)


def _bounds(a: Flat, b: Flat, path: str, out: list[Change]) -> None:
    for k in (*LOWER_BOUNDS, *UPPER_BOUNDS):
        va, vb = a.bounds.get(k), b.bounds.get(k)
        if k in ZERO_IS_ABSENT:
            va = None if va == 0 else va
            vb = None if vb == 0 else vb
        if va == vb:
            continue
        lower = k in LOWER_BOUNDS
        if va is None:
            out.append(Change(path, f"{k} added", Effect.NARROWS, f"{vb}"))
        elif vb is None:
            out.append(Change(path, f"{k} removed", Effect.WIDENS, f"was {va}"))
        elif (vb > va) == lower:
            out.append(
                Change(
                    path, f"{k} {'raised' if lower else 'lowered'}", Effect.NARROWS, f"{va} → {vb}"
                )
            )
        else:
            out.append(
                Change(
                    path, f"{k} {'lowered' if lower else 'raised'}", Effect.WIDENS, f"{va} → {vb}"
                )
            )
    _set_keyword(
        "multipleOf", [str(m) for m in a.multiple_of], [str(m) for m in b.multiple_of], path, out
    )


def _set_keyword(word: str, a: list[str], b: list[str], path: str, out: list[Change]) -> None:
    """A keyword whose values all apply (patterns, formats): more of them refuse more."""
    added = [v for v in b if v not in a]
    removed = [v for v in a if v not in b]
    if added and removed:
        detail = f"{', '.join(removed)} → {', '.join(added)}"
        out.append(Change(path, f"{word} changed", Effect.BOTH, detail))
    elif added:
        out.append(Change(path, f"{word} added", Effect.NARROWS, ", ".join(added)))
    elif removed:
        out.append(Change(path, f"{word} removed", Effect.WIDENS, ", ".join(removed)))


def _strings(a: Flat, b: Flat, path: str, out: list[Change]) -> None:
    added = [p for p in b.patterns if p not in a.patterns]
    removed = [p for p in a.patterns if p not in b.patterns]
    if added and removed:
        # patterns replaced by others (one by one, or split into several that all apply):
        # sample each side against the other to see which way
        effect = judge_replacement(list(a.patterns), list(b.patterns))
        detail = f"{', '.join(removed)} → {', '.join(added)}"
        if effect == "narrows":
            out.append(
                Change(path, "pattern narrowed", Effect.NARROWS, f"{detail}; judged by sampling")
            )
        elif effect == "widens":
            out.append(
                Change(path, "pattern widened", Effect.WIDENS, f"{detail}; judged by sampling")
            )
        elif effect == "both":
            out.append(Change(path, "pattern changed", Effect.BOTH, detail))
        else:
            out.append(
                Change(
                    path,
                    "pattern rewritten",
                    Effect.NONE,
                    f"{detail}; sampling found no string one accepts and the other refuses",
                )
            )
    else:
        _set_keyword("pattern", list(a.patterns), list(b.patterns), path, out)
    _set_keyword("format", list(a.formats), list(b.formats), path, out)


def _closing_word(f: Flat) -> str:
    return "additionalProperties" if f.closed_additional else "unevaluatedProperties"


def _unnamed(f: Flat, name: str) -> Flat | None:
    """What ``f`` says about a property it does not name: None when it refuses it (closed)."""
    matched = tuple(
        n for pat, nodes in f.pattern_properties.items() if _search(pat, name) for n in nodes
    )
    if matched:
        return flatten_all(matched + f.additional)
    if f.closed:
        return None
    return flatten_all(f.additional)


def _search(pattern: str, text: str) -> bool:
    import re

    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _objects(a: Flat, b: Flat, path: str, depth: int, out: list[Change]) -> None:
    names = list(a.properties) + [n for n in b.properties if n not in a.properties]
    for name in names:
        at = _prop_path(path, name)
        in_a, in_b = name in a.properties, name in b.properties
        if in_a and in_b:
            out.extend(diff_nodes(a.properties[name], b.properties[name], at, depth + 1))
        elif in_b:
            old = _unnamed(a, name)
            new = flatten_all(b.properties[name])
            if old is None:
                word = "property added" if name in b.required else "optional property added"
                out.append(Change(at, word, Effect.WIDENS, f"{_closing_word(a)} was false"))
            elif is_trivial(old) and not is_trivial(new):
                out.append(
                    Change(
                        at,
                        "property added to open object",
                        Effect.NARROWS,
                        "any value was accepted under this name",
                    )
                )
            else:
                out.extend(diff(old, new, at, depth + 1))
        else:
            old = flatten_all(a.properties[name])
            new_or_none = _unnamed(b, name)
            if new_or_none is None:
                out.append(
                    Change(at, "property removed", Effect.NARROWS, f"{_closing_word(b)} is false")
                )
            elif is_trivial(new_or_none) and not is_trivial(old):
                out.append(
                    Change(
                        at,
                        "property removed from open object",
                        Effect.WIDENS,
                        "any value is now accepted under this name",
                    )
                )
            else:
                out.extend(diff(old, new_or_none, at, depth + 1))
    for name in b.required:
        if name not in a.required:
            out.append(Change(path, "required property added", Effect.NARROWS, name))
    for name in a.required:
        if name not in b.required:
            out.append(Change(path, "required property removed", Effect.WIDENS, name))
    for pat in list(a.pattern_properties) + [
        p for p in b.pattern_properties if p not in a.pattern_properties
    ]:
        at = f"{path}[/{pat}/]"
        if pat in a.pattern_properties and pat in b.pattern_properties:
            out.extend(
                diff_nodes(a.pattern_properties[pat], b.pattern_properties[pat], at, depth + 1)
            )
        elif pat in b.pattern_properties:
            out.append(
                Change(at, "patternProperties added", Effect.BOTH if a.closed else Effect.NARROWS)
            )
        else:
            out.append(
                Change(at, "patternProperties removed", Effect.BOTH if b.closed else Effect.WIDENS)
            )
    if not a.closed and b.closed:
        out.append(
            Change(
                path,
                f"{_closing_word(b)} closed",
                Effect.NARROWS,
                "unknown properties are now refused",
            )
        )
    elif a.closed and not b.closed:
        out.append(
            Change(
                path,
                f"{_closing_word(a)} opened",
                Effect.WIDENS,
                "unknown properties are now accepted",
            )
        )
    elif not a.closed and not b.closed and (a.additional or b.additional):
        out.extend(diff_nodes(a.additional, b.additional, f"{path}.*", depth + 1))


def _arrays(a: Flat, b: Flat, path: str, depth: int, out: list[Change]) -> None:
    at = f"{path}[*]"
    if a.items and b.items:
        out.extend(diff_nodes(a.items, b.items, at, depth + 1))
    elif b.items:
        out.append(Change(at, "items added", Effect.NARROWS, "array items are now constrained"))
    elif a.items:
        out.append(
            Change(at, "items removed", Effect.WIDENS, "array items are no longer constrained")
        )
    for i in range(max(len(a.prefix_items), len(b.prefix_items))):
        at = f"{path}[{i}]"
        if i < len(a.prefix_items) and i < len(b.prefix_items):
            out.extend(diff_nodes(a.prefix_items[i], b.prefix_items[i], at, depth + 1))
        elif i < len(b.prefix_items):
            out.append(
                Change(at, "prefixItems added", Effect.NARROWS, f"item {i} is now constrained")
            )
        else:
            out.append(
                Change(
                    at, "prefixItems removed", Effect.WIDENS, f"item {i} is no longer constrained"
                )
            )


def _branch_text(node: Node) -> str:
    c = node.contents
    if isinstance(c, dict):
        if c.get("type") == "null" and len(c) == 1:
            return "null"
        if "$ref" in c:
            return str(c["$ref"])
    text = json.dumps(c, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _group_appeared(a: Flat, b: Flat, path: str, depth: int) -> list[Change] | None:
    """A value that became a oneOf (made nullable) or stopped being one: compare branch-wise.

    Comparing the rest field by field would report the constraints that moved into a branch
    as removed; instead the old schema is matched to the new branch it is closest to, and the
    other branches are reported as added (or, the other way round, removed).
    """
    kinds_a = [g.kind for g in a.groups]
    kinds_b = [g.kind for g in b.groups]
    if len(kinds_b) > len(kinds_a) and kinds_b[: len(kinds_a)] == kinds_a:
        i = len(kinds_a)
        return _against_branches(a, b, i, path, depth, appeared=True)
    if len(kinds_a) > len(kinds_b) and kinds_a[: len(kinds_b)] == kinds_b:
        i = len(kinds_b)
        return _against_branches(b, a, i, path, depth, appeared=False)
    return None


def _against_branches(
    plain: Flat, grouped: Flat, index: int, path: str, depth: int, *, appeared: bool
) -> list[Change]:
    group = grouped.groups[index]
    rest = grouped.without_group(index)
    best: tuple[int, list[Change]] | None = None
    for i, branch in enumerate(group.branches):
        merged = merge(rest, flatten(branch))
        changes = (
            diff(plain, merged, path, depth + 1)
            if appeared
            else diff(merged, plain, path, depth + 1)
        )
        if best is None or len(changes) < len(best[1]):
            best = (i, changes)
    assert best is not None
    out = list(best[1])
    for i, branch in enumerate(group.branches):
        if i == best[0]:
            continue
        if appeared:
            out.append(
                Change(path, f"{group.kind} branch added", Effect.WIDENS, _branch_text(branch))
            )
        else:
            out.append(
                Change(path, f"{group.kind} branch removed", Effect.NARROWS, _branch_text(branch))
            )
    return out


def _pair_branches(a: Group, b: Group) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    pairs: list[tuple[int, int]] = []
    free_a = list(range(len(a.branches)))
    free_b = list(range(len(b.branches)))
    for i in list(free_a):
        for j in free_b:
            if a.branches[i].key() == b.branches[j].key():
                pairs.append((i, j))
                free_a.remove(i)
                free_b.remove(j)
                break
    # the rest pair by position while both sides have some: an edited branch, not a new one
    while free_a and free_b:
        pairs.append((free_a.pop(0), free_b.pop(0)))
    return pairs, free_a, free_b


def _groups(a: Flat, b: Flat, path: str, depth: int, out: list[Change]) -> None:
    for ga, gb in zip(a.groups, b.groups, strict=False):
        if ga.kind != gb.kind:
            out.append(Change(path, f"{ga.kind} changed to {gb.kind}", Effect.BOTH))
            continue
        pairs, only_a, only_b = _pair_branches(ga, gb)
        for i, j in pairs:
            out.extend(diff(flatten(ga.branches[i]), flatten(gb.branches[j]), path, depth + 1))
        for j in only_b:
            out.append(
                Change(path, f"{gb.kind} branch added", Effect.WIDENS, _branch_text(gb.branches[j]))
            )
        for i in only_a:
            out.append(
                Change(
                    path, f"{ga.kind} branch removed", Effect.NARROWS, _branch_text(ga.branches[i])
                )
            )


def _conditionals(a: Flat, b: Flat, path: str, depth: int, out: list[Change]) -> None:
    for i in range(max(len(a.conditionals), len(b.conditionals))):
        if i >= len(a.conditionals):
            out.append(Change(path, "if/then/else added", Effect.NARROWS))
            continue
        if i >= len(b.conditionals):
            out.append(Change(path, "if/then/else removed", Effect.WIDENS))
            continue
        ca, cb = a.conditionals[i], b.conditionals[i]
        if ca.if_.key() != cb.if_.key():
            out.append(Change(path, "if condition changed", Effect.BOTH))
        for word, na, nb in (("then", ca.then, cb.then), ("else", ca.else_, cb.else_)):
            if na is None and nb is None:
                continue
            if na is None:
                out.append(Change(path, f"{word} added", Effect.NARROWS))
            elif nb is None:
                out.append(Change(path, f"{word} removed", Effect.WIDENS))
            else:
                for c in diff(flatten(na), flatten(nb), path, depth + 1):
                    suffix = f"in {word}"
                    out.append(
                        Change(
                            c.path,
                            c.name,
                            c.effect,
                            f"{c.detail} ({suffix})" if c.detail else suffix,
                        )
                    )


def _others(a: Flat, b: Flat, path: str, out: list[Change]) -> None:
    nots_a = sorted(n.key() for n in a.nots)
    nots_b = sorted(n.key() for n in b.nots)
    if nots_a != nots_b:
        if not nots_a:
            out.append(Change(path, "not added", Effect.NARROWS))
        elif not nots_b:
            out.append(Change(path, "not removed", Effect.WIDENS))
        else:
            out.append(Change(path, "not changed", Effect.BOTH))
    for k in sorted(set(a.other) | set(b.other)):
        va, vb = a.other.get(k), b.other.get(k)
        if va == vb:
            continue
        if va is None:
            out.append(Change(path, f"{k} added", Effect.NARROWS, ", ".join(vb or ())))
        elif vb is None:
            out.append(Change(path, f"{k} removed", Effect.WIDENS, ", ".join(va)))
        else:
            out.append(
                Change(path, f"{k} changed", Effect.BOTH, f"{', '.join(va)} → {', '.join(vb)}")
            )
