"""Make a generated document stand alone: the schema files it refers to, inlined as components.

The AsyncAPI and OpenAPI documents refer to the protocol's schema files (``../schemas/…``, as seen
from ``docs/``); an installed user, AsyncAPI Studio or a registry has no such files. Bundling
copies every schema file reached, transitively, into ``components.schemas`` under a key made from
its path (``defs/ids.json`` → ``defs.ids``) and rewrites every ``$ref`` to point there, so the
document carries exactly the schemas' text (never a hand-made copy) and needs nothing beside it.

Each copy loses ``$id`` and ``$schema``: with ``$id`` kept, a 2020-12 resolver would resolve the
rewritten ``#/components/…`` references against the schema file's URI instead of the document.
No library does this for a tree of 2020-12 files referenced from an AsyncAPI 3 document (the
AsyncAPI bundler takes YAML/JSON AsyncAPI files and resolves relative to them, which is what the
installed user lacks), so it is done here: ~50 lines of reference rewriting.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable
from typing import Any

COMPONENTS = "#/components/schemas/"


def component_key(rel: str) -> str:
    """``client-to-server/send_message.json`` → ``client-to-server.send_message``."""
    return rel.removesuffix(".json").replace("/", ".")


def _split(ref: str) -> tuple[str, str]:
    path, _, fragment = ref.partition("#")
    return path, fragment


def _rewrite(node: Any, to: Callable[[str], str | None]) -> Any:
    """``node`` with every ``$ref`` replaced by ``to(ref)`` (kept when that gives None)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                new = to(value)
                out[key] = value if new is None else new
            else:
                out[key] = _rewrite(value, to)
        return out
    if isinstance(node, list):
        return [_rewrite(v, to) for v in node]
    return node


def bundle(document: dict[str, Any], ref_base: str,
           load: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """``document`` with each ``$ref`` under ``ref_base`` (and every schema those reach)
    inlined under ``components.schemas``; ``load(rel)`` reads a schema file under schemas/."""
    wanted: list[str] = []

    def target(rel: str, fragment: str) -> str:
        if rel not in wanted:
            wanted.append(rel)
        return COMPONENTS + component_key(rel) + fragment

    def from_document(ref: str) -> str | None:
        if not ref.startswith(ref_base):
            return None
        rel, fragment = _split(ref[len(ref_base):])
        return target(posixpath.normpath(rel), fragment)

    out: dict[str, Any] = _rewrite(copy.deepcopy(document), from_document)
    schemas: dict[str, Any] = {}
    done = 0
    while done < len(wanted):  # the list grows while the files are rewritten
        rel = wanted[done]
        done += 1

        def from_file(ref: str, rel: str = rel) -> str | None:
            path, fragment = _split(ref)
            if "://" in path:
                return None  # an absolute URI: not one of the files
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), path)) if path else rel
            return target(resolved, fragment)

        schema = {k: v for k, v in load(rel).items() if k not in ("$id", "$schema")}
        schemas[component_key(rel)] = _rewrite(schema, from_file)
    components = out.setdefault("components", {})
    components["schemas"] = {**components.get("schemas", {}), **dict(sorted(schemas.items()))}
    return out
