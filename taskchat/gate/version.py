"""The protocol's semver (``index.json`` → ``version``): the least next version a change needs."""

from __future__ import annotations

import re

from taskchat.gate.rules import Bump

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


def parse(version: str) -> tuple[int, int, int, str]:
    m = SEMVER.match(version.strip())
    if m is None:
        raise ValueError(f"{version!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    return int(m[1]), int(m[2]), int(m[3]), m[4] or ""


def next_version(base: str, bump: Bump) -> str:
    major, minor, patch, _pre = parse(base)
    if bump is Bump.MAJOR:
        return f"{major + 1}.0.0"
    if bump is Bump.MINOR:
        return f"{major}.{minor + 1}.0"
    if bump is Bump.PATCH:
        return f"{major}.{minor}.{patch + 1}"
    return base


def at_least(version: str, minimum: str) -> bool:
    """Semver precedence, enough for a gate: a pre-release sorts before its release."""
    a, b = parse(version), parse(minimum)
    if a[:3] != b[:3]:
        return a[:3] > b[:3]
    if a[3] == b[3]:
        return True
    return (not a[3]) or (bool(b[3]) and a[3] >= b[3])
