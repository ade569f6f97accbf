"""Strings that match a regular expression, for generating values under a ``pattern``.

Patterns in the schemas are small (anchored character classes and bounded repeats), so walking
Python's own parse of the pattern is enough; an exotic construct yields ``None`` and the caller
falls back to fixtures. Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Callable, Sequence
from typing import Any

try:  # Python 3.11+
    import re._constants as C
    import re._parser as P
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

ALPHABET = "abcxyzABCXYZ0123456789 -_.:/@#?!\t\né~"
_WIDER = string.printable + "".join(chr(c) for c in range(0xA0, 0x250))
MAX_UNBOUNDED = 8  # repeats without an upper bound stop here unless a length asks for more

Pred = Callable[[str], bool]


class Unsupported(Exception):
    pass


def _category(cat: Any) -> Pred:
    table: dict[Any, Pred] = {
        C.CATEGORY_DIGIT: lambda ch: ch.isdigit(),
        C.CATEGORY_NOT_DIGIT: lambda ch: not ch.isdigit(),
        C.CATEGORY_SPACE: lambda ch: ch.isspace(),
        C.CATEGORY_NOT_SPACE: lambda ch: not ch.isspace(),
        C.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
        C.CATEGORY_NOT_WORD: lambda ch: not (ch.isalnum() or ch == "_"),
    }
    if cat not in table:
        raise Unsupported(str(cat))
    return table[cat]


def _class(items: list[tuple[Any, Any]]) -> Pred:
    negate = False
    preds: list[Pred] = []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            preds.append(lambda ch, c=av: ord(ch) == c)
        elif op is C.RANGE:
            preds.append(lambda ch, lo=av[0], hi=av[1]: lo <= ord(ch) <= hi)
        elif op is C.CATEGORY:
            preds.append(_category(av))
        else:
            raise Unsupported(str(op))

    def pred(ch: str) -> bool:
        return any(p(ch) for p in preds) != negate

    return pred


@functools.lru_cache(maxsize=256)
def _parse(pattern: str) -> Any:
    return P.parse(pattern)


def _min_len(seq: Any) -> int:
    total = 0
    for op, av in seq:
        if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN, C.CATEGORY):
            total += 1
        elif op is C.SUBPATTERN:
            total += _min_len(av[-1])
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            total += av[0] * _min_len(av[2])
        elif op is C.BRANCH:
            total += min(_min_len(s) for s in av[1])
    return total


class _Walk:
    def __init__(self, rng: random.Random, extra: int) -> None:
        self.rng = rng
        self.extra = extra  # characters still to add beyond the shortest match
        self.fill = extra > 0
        self.groups: dict[int, str] = {}
        self.allowed: dict[Any, list[str]] = {}

    def char(self, key: Any, make_pred: Callable[[], Pred]) -> str:
        """One character of a class; the class's members are worked out once per walk."""
        allowed = self.allowed.get(key)
        if allowed is None:
            pred = make_pred()
            allowed = [ch for ch in ALPHABET if pred(ch)]
            if not allowed:
                allowed = [ch for ch in _WIDER if pred(ch)][:8]
            self.allowed[key] = allowed
        if not allowed:
            raise Unsupported("empty class")
        if self.fill:
            return "a" if "a" in allowed else allowed[0]
        return allowed[0] if self.rng.random() < 0.5 else self.rng.choice(allowed)

    def seq(self, seq: Any) -> str:
        return "".join(self.item(op, av) for op, av in seq)

    def item(self, op: Any, av: Any) -> str:
        if op is C.LITERAL:
            return chr(av)
        if op is C.NOT_LITERAL:
            return self.char(("not", av), lambda: lambda ch: ord(ch) != av)
        if op is C.ANY:
            return self.char("any", lambda: lambda ch: ch != "\n")
        if op is C.IN:
            return self.char(("in", id(av)), lambda: _class(av))
        if op is C.CATEGORY:
            return self.char(("cat", av), lambda: _category(av))
        if op is C.AT or op in (C.ASSERT, C.ASSERT_NOT):
            return ""
        if op is C.SUBPATTERN:
            text = self.seq(av[-1])
            if av[0] is not None:
                self.groups[av[0]] = text
            return text
        if op is C.GROUPREF:
            return self.groups.get(av, "")
        if op is C.BRANCH:
            options = av[1]
            if self.fill:
                return self.seq(min(options, key=_min_len))
            return self.seq(self.rng.choice(options))
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            return self.repeat(*av)
        raise Unsupported(str(op))

    def repeat(self, lo: int, hi: int, body: Any) -> str:
        unbounded = hi == C.MAXREPEAT
        if self.fill:
            step = max(_min_len(body), 1)
            n = lo
            fillable = _fillable(body)
            while fillable and (unbounded or n < hi) and self.extra >= step:
                n += 1
                self.extra -= step
        else:
            top = min(hi, lo + MAX_UNBOUNDED) if unbounded else min(hi, lo + 3)
            n = lo if self.rng.random() < 0.5 else self.rng.randint(lo, max(lo, top))
        return "".join(self.seq(body) for _ in range(n))


def _fillable(body: Any) -> bool:
    """A repeat worth growing for length: it can produce a letter, not only white space."""
    for op, av in body:
        if op is C.IN:
            try:
                pred = _class(av)
                if any(pred(ch) for ch in "aA0x"):
                    return True
            except Unsupported:
                return False
        elif op in (C.ANY, C.NOT_LITERAL) or (op is C.LITERAL and chr(av).isalnum()):
            return True
        elif op is C.CATEGORY:
            return any(_category(av)(ch) for ch in "aA0")
        elif op in (C.SUBPATTERN, C.MAX_REPEAT, C.MIN_REPEAT) and _fillable(av[-1]):
            return True
    return False


def sample(pattern: str, rng: random.Random, length: int | None = None) -> str | None:
    """A string ``re.search(pattern, s)`` finds, of ``length`` characters when one is asked for.

    ``None`` when the pattern uses a construct this sampler does not know, or when the result
    does not match (or not at the asked length): callers try other sources then.
    """
    if length is not None:
        return _sample_length(pattern, length)  # no randomness when filling to a length
    return _sample(pattern, rng, None)


@functools.lru_cache(maxsize=1024)
def _sample_length(pattern: str, length: int) -> str | None:
    return _sample(pattern, random.Random(0), length)


def _sample(pattern: str, rng: random.Random, length: int | None) -> str | None:
    try:
        parsed = _parse(pattern)
        shortest = _min_len(parsed)
        extra = max(0, length - shortest) if length is not None else 0
        text = _Walk(rng, extra).seq(parsed)
    except (Unsupported, re.error, RecursionError, OverflowError, ValueError):
        return None
    try:
        if re.search(pattern, text) is None:
            return None
    except re.error:
        return None
    if length is not None and len(text) != length:
        return None
    return text


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
