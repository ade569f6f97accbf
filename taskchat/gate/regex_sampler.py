"""Strings that match a regular expression, for generating values under a ``pattern``.

Random matches come from rstr's ``xeger`` (a maintained generator that reads the pattern with
Python's own parser, seeded by the caller's ``random.Random``). No library makes a match of a
*given length* (the gate needs one at a ``maxLength`` boundary, e.g. 5,000 characters), so that
part is done here without parsing anything: a match is shrunk by deleting chunks while it still
matches, then grown by inserting a run of one character where the pattern still accepts it.
Every result is checked with ``re.search``; ``None`` means no such string was found, and the
caller falls back to other sources. Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence

from rstr import Rstr

FILLERS = "a0A -_."  # tried in this order when a match is grown to a length
BASES = 12  # random matches tried as the starting point of a match of a given length


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _xeger(pattern: str, rng: random.Random) -> str | None:
    try:
        text = Rstr(rng).xeger(pattern)
    except (re.error, KeyError, ValueError, IndexError, TypeError, RecursionError, OverflowError):
        return None  # a construct rstr does not generate
    return text if _matches(pattern, text) else None


def _shrink(pattern: str, text: str) -> str:
    """A shorter match: delete chunks (halving their size) as long as the result still matches."""
    chunk = max(1, len(text) // 2)
    while True:
        i = 0
        while i < len(text):
            candidate = text[:i] + text[i + chunk:]
            if _matches(pattern, candidate):
                text = candidate
            else:
                i += chunk
        if chunk == 1:
            return text
        chunk = max(1, chunk // 2)


@functools.lru_cache(maxsize=256)
def _shortest(pattern: str) -> tuple[str, ...]:
    """A few short matches, shortest first: the seeds of matches of a given length."""
    rng = random.Random(0)
    found = {_xeger(pattern, rng) for _ in range(BASES)}
    shrunk = {_shrink(pattern, s) for s in found if s is not None}
    return tuple(sorted(shrunk, key=lambda s: (len(s), s)))


def _grow(pattern: str, base: str, length: int) -> str | None:
    extra = length - len(base)
    for filler in FILLERS:
        run = filler * extra
        for i in range(len(base) + 1):
            candidate = base[:i] + run + base[i:]
            if _matches(pattern, candidate):
                return candidate
    return None


def sample(pattern: str, rng: random.Random, length: int | None = None) -> str | None:
    """A string ``re.search(pattern, s)`` finds, of ``length`` characters when one is asked for.

    ``None`` when no such string was found (a construct rstr does not generate, or no match of
    that length grows from a short match): callers try other sources then.
    """
    if length is not None:
        return _sample_length(pattern, length)  # no randomness when filling to a length
    return _xeger(pattern, rng)


@functools.lru_cache(maxsize=1024)
def _sample_length(pattern: str, length: int) -> str | None:
    for base in _shortest(pattern):
        if len(base) == length:
            return base
        if len(base) < length:
            grown = _grow(pattern, base, length)
            if grown is not None:
                return grown
    return None


def escapes(pattern: str | Sequence[str], other: str | Sequence[str], seed: int = 0,
            count: int = 48) -> list[str]:
    """Strings sampled from ``pattern`` that ``other`` does not match (bounded, deterministic).

    Either side may be several patterns that all apply (a schema's ``pattern`` and those of
    its ``allOf``): then a string belongs to it when every one of them matches."""
    mine = [pattern] if isinstance(pattern, str) else list(pattern)
    theirs = [other] if isinstance(other, str) else list(other)
    rng = random.Random(seed)
    found = [sample(p, rng) for p in mine for _ in range(count)]
    found += [sample(p, rng, length=n) for p in mine for n in range(1, 13)]
    samples = [s for s in found if s is not None]
    # where anchors and white space differ between two spellings of "the same" pattern
    samples += [
        m for s in samples[:8] for m in (s + "\n", "\n" + s, s + " ", " " + s, s.upper(), s.lower())
    ]
    out: list[str] = []
    for s in samples:
        try:
            if (all(re.search(p, s) for p in mine)
                    and not all(re.search(q, s) for q in theirs) and s not in out):
                out.append(s)
        except re.error:
            return []
    return out


def judge_replacement(old: str | Sequence[str], new: str | Sequence[str]) -> str | None:
    """ "narrows", "widens" or "both" when sampling each pattern against the other shows it;
    None when neither lets anything through (the sampler proves nothing then)."""
    lost = escapes(old, new)  # the old pattern accepted these, the new one refuses them
    gained = escapes(new, old)
    if lost and gained:
        return "both"
    if lost:
        return "narrows"
    if gained:
        return "widens"
    return None
