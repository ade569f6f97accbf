"""Hostile but well-framed payloads for the isolation checks (ISO-1, ISO-3), from the schemas.

Three kinds, each derived from a valid payload of the event: the schema negatives of
``negatives.py`` (one broken constraint each, then seeded mutations); text that is not valid
Unicode (a lone UTF-16 surrogate put into every string, and into every property name, one at a
time: such a payload still validates, since JSON Schema sees a string); and oversize values
(every string many times over any limit the schemas set, every array many times its
``maxItems``), kept well under an Engine.IO ``maxPayload`` so the frame itself is fine.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from taskchat.conformance.negatives import Negative, negatives

SURROGATE = "\ud800"
_OVERSIZE = 40_000  # characters: over every maxLength in the schemas, far under 1 MB frames
_OVERSIZE_ITEMS = 200

Path = tuple[str | int, ...]


def _strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _containers(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict | list):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            yield from _containers(v, (*path, k))


def _at(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _replaced(value: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(value)
    _at(out, path[:-1])[path[-1]] = new
    return out


def _name(path: Path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def invalid_unicode(valid: Any) -> list[Negative]:
    """``valid`` with a lone surrogate in one string, or one property name, at a time."""
    out = [Negative(f"{_name(path)}: a lone surrogate in the text",
                    _replaced(valid, path, text + SURROGATE if text else SURROGATE))
           for path, text in _strings(valid)]
    for path, node in _containers(valid):
        if isinstance(node, dict) and node:
            key = next(iter(node))
            renamed = {(k + SURROGATE if k == key else k): v for k, v in node.items()}
            out.append(Negative(f"{_name((*path, key))}: a lone surrogate in the property name",
                                _replaced(valid, path, renamed)))
    return out


def oversize(valid: Any) -> list[Negative]:
    """``valid`` with one string, or one array, far over the schemas' limits."""
    out = [Negative(f"{_name(path)}: {_OVERSIZE} characters",
                    _replaced(valid, path, (text or "x") * (_OVERSIZE // max(1, len(text)) + 1)))
           for path, text in _strings(valid)]
    for path, node in _containers(valid):
        if isinstance(node, list) and node:
            out.append(Negative(f"{_name(path)}: {_OVERSIZE_ITEMS} items",
                                _replaced(valid, path, (node * _OVERSIZE_ITEMS)[:_OVERSIZE_ITEMS])))
    return out


def hostile(bases: dict[str, Any], *, seed: int = 20261201) -> list[tuple[str, Negative]]:
    """Every hostile payload of every event in ``bases`` (event -> a valid payload), shuffled
    with ``seed`` so that each slice of the list mixes the kinds."""
    out: list[tuple[str, Negative]] = []
    for event, valid in bases.items():
        for n in [*invalid_unicode(valid), *oversize(valid),
                  *negatives(event, valid, seed=seed, budget=0.2, random_count=4)]:
            out.append((event, n))
    random.Random(seed).shuffle(out)
    return out
