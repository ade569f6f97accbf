"""The example generator and the regex sampler: the counterexample search is only as good as
the values they propose, and must be repeatable and bounded."""

from __future__ import annotations

import random
import re
import time

import pytest
from taskchat.schemas.protocol import SCHEMA_DIR

from taskchat.gate.examples import Generator, Hints, collect_hints, key
from taskchat.gate.flatten import flatten, root_node
from taskchat.gate.load import SchemaTree, load_dir
from taskchat.gate.regex_sampler import judge_replacement, sample
from taskchat.gate.rules import Bump
from taskchat.gate.version import at_least, next_version

TREE: SchemaTree = load_dir(SCHEMA_DIR)
EVENT_SCHEMAS = sorted(
    rel
    for rel in TREE.files
    if rel.split("/")[0] in ("client-to-server", "server-to-client", "acks", "connect")
)


def _generator(rel: str, seed: int = 0) -> tuple[Generator, object]:
    flat = flatten(root_node(TREE.registry, TREE.uri(rel)))
    hints = Hints()
    collect_hints(flat, hints)
    return Generator(hints, seed=seed, deadline=time.monotonic() + 5), flat


@pytest.mark.parametrize("rel", EVENT_SCHEMAS)
def test_generated_values_mostly_land_on_the_right_side(rel: str) -> None:
    gen, flat = _generator(rel)
    validator = TREE.validator(rel)
    positives = gen.positives(flat)  # type: ignore[arg-type]
    misses = gen.near_misses(flat)  # type: ignore[arg-type]
    assert positives and validator.is_valid(positives[0]), "the first positive must be valid"
    assert sum(map(validator.is_valid, positives)) >= len(positives) * 0.6
    assert misses and sum(not validator.is_valid(m) for m in misses) >= len(misses) * 0.3


def test_generation_is_deterministic_for_a_seed() -> None:
    rel = "acks/send_message.json"
    runs = []
    for _ in range(2):
        gen, flat = _generator(rel, seed=7)
        runs.append([key(v) for v in gen.positives(flat) + gen.near_misses(flat)])  # type: ignore[arg-type]
    assert runs[0] == runs[1]


def test_generation_stops_at_the_deadline() -> None:
    gen, flat = _generator("acks/send_message.json")
    gen.deadline = time.monotonic() - 1
    assert gen.positives(flat) == [] and gen.near_misses(flat) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    [
        r"^\s*\S(?:[\s\S]{0,4998}\S)?\s*$",
        r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$",
        r"(Z|z|\+00:00)$",
        r"^\S(?:[\s\S]*\S)?$",
        r"^[A-Z][A-Z_]*$",
    ],
)
def test_regex_samples_match_and_reach_asked_lengths(pattern: str) -> None:
    rng = random.Random(0)
    for _ in range(20):
        s = sample(pattern, rng)
        assert s is not None and re.search(pattern, s)
    if pattern.startswith("^"):
        long = sample(pattern, rng, length=300)
        assert long is not None and len(long) == 300 and re.search(pattern, long)


def test_message_text_boundary_is_reachable() -> None:
    """5,000 code points is the limit (D2): the sampler reaches it and no further."""
    pattern = r"^\s*\S(?:[\s\S]{0,4998}\S)?\s*$"
    at_limit = sample(pattern, random.Random(0), length=5000)
    assert at_limit is not None and len(at_limit.strip()) == 5000
    assert sample(r"^\S(?:[\s\S]{0,4998}\S)?$", random.Random(0), length=5001) is None


def test_pattern_replacement_is_judged_both_ways() -> None:
    assert judge_replacement(r"(Z|z|\+00:00)$", r"Z$") == "narrows"
    assert judge_replacement(r"^[a-z]+$", r"^[a-z0-9]+$") == "widens"
    assert judge_replacement(r"^[a-z]+$", r"^[0-9]+$") == "both"


def test_a_pattern_split_in_two_that_all_apply_is_judged_as_their_conjunction() -> None:
    # D24 split the attachment URL pattern into its MUST half and its SHOULD half
    whole = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#][^\s]*(?![\s\S])"
    halves = [r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]", r"^\S*(?![\s\S])"]
    assert judge_replacement(whole, halves) is None  # the same strings either way
    assert judge_replacement(whole, halves[:1]) == "widens"  # the MUST half alone takes spaces


def test_next_version() -> None:
    assert next_version("1.4.2", Bump.MAJOR) == "2.0.0"
    assert next_version("1.4.2", Bump.MINOR) == "1.5.0"
    assert next_version("1.4.2", Bump.PATCH) == "1.4.3"
    assert next_version("1.4.2", Bump.NONE) == "1.4.2"
    assert at_least("2.0.0", "2.0.0") and at_least("2.1.0", "2.0.0")
    assert not at_least("1.9.9", "2.0.0")
    assert not at_least("2.0.0-rc.1", "2.0.0")  # a pre-release comes before its release
    with pytest.raises(ValueError):
        next_version("v1", Bump.MAJOR)
