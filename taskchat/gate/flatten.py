"""A schema node seen as one conjunction of constraints, with ``$ref`` and ``allOf`` folded in.

Comparing raw JSON would call ``{"$ref": "ids.json#/$defs/taskId"}`` and an inlined
``{"type": "string", "minLength": 1}`` different; folding references (each resolved in the
tree it came from) and ``allOf`` into a :class:`Flat` lets the diff and the example generator
reason about what a node *accepts*, not how it is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from referencing import Resource
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from taskchat.schemas.validation import SchemaResolver

ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$defs",
        "definitions",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        # the level of a constraint (D24): which refusals the contract requires, not what the
        # schema accepts, so it changes nothing on the wire
        "x-level",
    }
)
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
HANDLED = frozenset(
    {
        "$ref",
        "allOf",
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "items",
        "prefixItems",
        "pattern",
        "format",
        "oneOf",
        "anyOf",
        "if",
        "then",
        "else",
        "not",
        *LOWER_BOUNDS,
        *UPPER_BOUNDS,
    }
)
MAX_REF_DEPTH = 40


def canonical(value: Any) -> str:
    """A key for JSON equality that tells ``1`` from ``true`` and ignores key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Node:
    """A subschema together with the resolver of the tree (and file) it sits in."""

    contents: Any
    resolver: SchemaResolver

    def child(self, contents: Any) -> Node:
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            resource = Resource.from_contents(contents, default_specification=DRAFT202012)
            return Node(contents, self.resolver.in_subresource(resource))
        return Node(contents, self.resolver)

    def key(self) -> str:
        """Equality of written form, ignoring annotations: enough to pair unchanged branches."""
        return canonical(strip_annotations(self.contents))


def strip_annotations(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (v if k in ("enum", "const") else strip_annotations(v))
            for k, v in value.items()
            if k not in ANNOTATIONS
        }
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


@dataclass(frozen=True)
class Group:
    """One ``oneOf`` or ``anyOf``: the instance must match one (or at least one) branch."""

    kind: str
    branches: tuple[Node, ...]


@dataclass(frozen=True)
class Conditional:
    if_: Node
    then: Node | None
    else_: Node | None


@dataclass(frozen=True)
class Flat:
    never: bool = False  # the ``false`` schema, or contradictory constraints
    types: frozenset[str] | None = None
    enum: tuple[Any, ...] | None = None
    enum_source: str = ""  # "const", "enum" or "oneOf" (a oneOf of consts, as error codes are)
    bounds: dict[str, float] = field(default_factory=dict)
    multiple_of: tuple[float, ...] = ()
    required: tuple[str, ...] = ()
    properties: dict[str, tuple[Node, ...]] = field(default_factory=dict)
    pattern_properties: dict[str, tuple[Node, ...]] = field(default_factory=dict)
    additional: tuple[Node, ...] = ()  # additionalProperties schemas other than false
    closed_additional: bool = False
    closed_unevaluated: bool = False
    unevaluated: tuple[Node, ...] = ()
    items: tuple[Node, ...] = ()
    prefix_items: tuple[tuple[Node, ...], ...] = ()
    patterns: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    groups: tuple[Group, ...] = ()
    conditionals: tuple[Conditional, ...] = ()
    nots: tuple[Node, ...] = ()
    other: dict[str, tuple[str, ...]] = field(default_factory=dict)  # keyword -> canonical values

    @property
    def closed(self) -> bool:
        return self.closed_additional or self.closed_unevaluated

    def without_group(self, index: int) -> Flat:
        return replace(self, groups=self.groups[:index] + self.groups[index + 1 :])

    def without_conditionals(self) -> Flat:
        return replace(self, conditionals=())


def type_kinds(types: frozenset[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    out = set(types)
    if "number" in out:
        out.add("integer")
    return frozenset(out)


def _merge_types(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    both = set(a & b)
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        both.add("integer")
    return frozenset(both)


def _merge_enum(a: tuple[Any, ...] | None, b: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    if a is None:
        return b
    if b is None:
        return a
    keys = {canonical(v) for v in b}
    return tuple(v for v in a if canonical(v) in keys)


def _merge_nodes(
    a: dict[str, tuple[Node, ...]], b: dict[str, tuple[Node, ...]]
) -> dict[str, tuple[Node, ...]]:
    out = dict(a)
    for k, nodes in b.items():
        out[k] = out.get(k, ()) + nodes
    return out


def merge(a: Flat, b: Flat) -> Flat:
    """The conjunction of two flats (what ``allOf: [a, b]`` accepts, to a good approximation)."""
    bounds = dict(a.bounds)
    for k, v in b.bounds.items():
        if k not in bounds:
            bounds[k] = v
        elif k in LOWER_BOUNDS:
            bounds[k] = max(bounds[k], v)
        else:
            bounds[k] = min(bounds[k], v)
    other = dict(a.other)
    for k, vs in b.other.items():
        other[k] = other.get(k, ()) + vs
    enum = _merge_enum(a.enum, b.enum)
    types = _merge_types(a.types, b.types)
    return Flat(
        never=a.never or b.never or (enum is not None and not enum) or types == frozenset(),
        types=types,
        enum=enum,
        enum_source=a.enum_source or b.enum_source,
        bounds=bounds,
        multiple_of=a.multiple_of + b.multiple_of,
        required=a.required + tuple(r for r in b.required if r not in a.required),
        properties=_merge_nodes(a.properties, b.properties),
        pattern_properties=_merge_nodes(a.pattern_properties, b.pattern_properties),
        additional=a.additional + b.additional,
        closed_additional=a.closed_additional or b.closed_additional,
        closed_unevaluated=a.closed_unevaluated or b.closed_unevaluated,
        unevaluated=a.unevaluated + b.unevaluated,
        items=a.items + b.items,
        prefix_items=_merge_prefix(a.prefix_items, b.prefix_items),
        patterns=a.patterns + tuple(p for p in b.patterns if p not in a.patterns),
        formats=a.formats + tuple(f for f in b.formats if f not in a.formats),
        groups=a.groups + b.groups,
        conditionals=a.conditionals + b.conditionals,
        nots=a.nots + b.nots,
        other=other,
    )


def _merge_prefix(
    a: tuple[tuple[Node, ...], ...], b: tuple[tuple[Node, ...], ...]
) -> tuple[tuple[Node, ...], ...]:
    n = max(len(a), len(b))
    return tuple((a[i] if i < len(a) else ()) + (b[i] if i < len(b) else ()) for i in range(n))


def _const_branches(branches: list[Any]) -> tuple[Any, ...] | None:
    """A oneOf whose branches are bare ``const``s (documented enum values) is an enum."""
    if not branches or not all(isinstance(b, dict) and "const" in b for b in branches):
        return None
    if any(set(b) - ANNOTATIONS - {"const"} for b in branches):
        return None
    return tuple(b["const"] for b in branches)


def flatten(node: Node, depth: int = 0) -> Flat:
    """One node with its ``$ref`` targets and ``allOf`` branches merged in."""
    contents = node.contents
    if contents is True or contents == {}:
        return Flat()
    if contents is False:
        return Flat(never=True)
    if not isinstance(contents, dict):
        return Flat()
    flat = _own(node)
    if depth > MAX_REF_DEPTH:
        return flat
    ref = contents.get("$ref")
    if isinstance(ref, str):
        resolved = node.resolver.lookup(ref)
        flat = merge(flat, flatten(Node(resolved.contents, resolved.resolver), depth + 1))
    for branch in contents.get("allOf", ()):
        flat = merge(flat, flatten(node.child(branch), depth + 1))
    return flat


def flatten_all(nodes: tuple[Node, ...]) -> Flat:
    flat = Flat()
    for n in nodes:
        flat = merge(flat, flatten(n))
    return flat


def _own(node: Node) -> Flat:
    c: dict[str, Any] = node.contents
    types: frozenset[str] | None = None
    if isinstance(c.get("type"), str):
        types = frozenset([c["type"]])
    elif isinstance(c.get("type"), list):
        types = frozenset(c["type"])
    enum: tuple[Any, ...] | None = None
    source = ""
    if "enum" in c:
        enum, source = tuple(c["enum"]), "enum"
    if "const" in c:
        enum, source = _merge_enum(enum, (c["const"],)), source or "const"
    groups: list[Group] = []
    for kind in ("oneOf", "anyOf"):
        branches = c.get(kind)
        if not isinstance(branches, list):
            continue
        consts = _const_branches(branches)
        if consts is not None:
            enum, source = _merge_enum(enum, consts), source or "oneOf"
        else:
            groups.append(Group(kind, tuple(node.child(b) for b in branches)))
    conditionals: tuple[Conditional, ...] = ()
    if "if" in c:
        conditionals = (
            Conditional(
                node.child(c["if"]),
                node.child(c["then"]) if "then" in c else None,
                node.child(c["else"]) if "else" in c else None,
            ),
        )
    add = c.get("additionalProperties")
    unev = c.get("unevaluatedProperties")
    items = c.get("items")
    return Flat(
        never=enum == (),
        types=types,
        enum=enum,
        enum_source=source,
        bounds={
            k: c[k] for k in (*LOWER_BOUNDS, *UPPER_BOUNDS) if isinstance(c.get(k), int | float)
        },
        multiple_of=(c["multipleOf"],) if "multipleOf" in c else (),
        required=tuple(c.get("required", ())),
        properties={k: (node.child(v),) for k, v in c.get("properties", {}).items()},
        pattern_properties={k: (node.child(v),) for k, v in c.get("patternProperties", {}).items()},
        additional=(node.child(add),) if add not in (None, False, True, {}) else (),
        closed_additional=add is False,
        closed_unevaluated=unev is False,
        unevaluated=(node.child(unev),) if unev not in (None, False, True, {}) else (),
        items=(node.child(items),) if items not in (None, True, {}) else (),
        prefix_items=tuple((node.child(p),) for p in c.get("prefixItems", ())),
        patterns=(c["pattern"],) if isinstance(c.get("pattern"), str) else (),
        formats=(c["format"],) if isinstance(c.get("format"), str) else (),
        groups=tuple(groups),
        conditionals=conditionals,
        nots=(node.child(c["not"]),) if "not" in c else (),
        other={
            k: (canonical(v),)
            for k, v in c.items()
            if k not in HANDLED and k not in ANNOTATIONS and k != "multipleOf"
        },
    )


def root_node(tree_registry: Any, uri: str) -> Node:
    """The node of a whole file, with a resolver scoped to that file's URI."""
    resolved = tree_registry.resolver().lookup(uri)
    return Node(resolved.contents, resolved.resolver)


def is_trivial(flat: Flat) -> bool:
    """Accepts every JSON value (``{}``, ``true``, or only annotations)."""
    return flat == Flat()


__all__ = [
    "Conditional",
    "Flat",
    "Group",
    "Node",
    "canonical",
    "flatten",
    "flatten_all",
    "is_trivial",
    "merge",
    "root_node",
    "type_kinds",
]
