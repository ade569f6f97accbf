"""The checks and the requirements each one tests.

A check names the requirement ids it tests; its area and level come from the index, never from
the check, so the spec stays the single source of truth. The coverage test reads this registry:
a requirement that no check names fails the build.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from taskchat.schemas import REQUIREMENTS, Level, requirement

if TYPE_CHECKING:
    from taskchat.conformance.context import Ctx

# The modules that hold the checks, one per area of the spec.
CHECK_MODULES: tuple[str, ...] = (
    "transport",
    "auth",
    "data",
    "permissions",
    "rooms",
    "messages",
    "typing",
    "presence",
    "backend",
    "errors",
    "ordering",
    "storage",
    "http_api",
    "isolation",
    "stateful",
)

# What a check may need from the target; without it the check is skipped, and says why.
NEEDS: dict[str, str] = {
    "control": "the target has no control adapter (adapter = 'none'): set adapter = "
               "'admin-api' (with tokens.admin_api) or 'pkg.module:Class' in the --config file",
    "secret": "minting tokens needs the server's JWT secret: pass --jwt-secret, set "
              "TASKCHAT_JWT_SECRET, or jwt_secret in the --config file",
    "restart": "no way to restart the server: set restart_command = \"<shell command>\" in the "
               "--config file",
    "http": "the target offers no HTTP API (http_api = false in the config): set http_api = "
            "true if it serves CONTRACT §9's endpoints",
    "rs256": "no RS256 private key: set rs256_private_key = \"key.pem\" in the --config file "
             "(the server must hold its public key)",
    "admin_api": "the admin API checks need the HTTP admin API: set adapter = 'admin-api' in "
                 "the --config file",
}


@dataclass(frozen=True)
class Check:
    name: str
    func: Callable[[Ctx], None]
    requirements: tuple[str, ...]
    needs: frozenset[str] = field(default_factory=frozenset)
    # runs alone, after the concurrent checks (a restart, a rate limit shared by all users)
    exclusive: bool = False
    doc: str = ""

    @property
    def area(self) -> str:
        return requirement(self.requirements[0]).area

    @property
    def level(self) -> Level:
        levels = {requirement(r).level for r in self.requirements}
        return Level.MUST if Level.MUST in levels else Level.SHOULD

    @property
    def areas(self) -> frozenset[str]:
        return frozenset(requirement(r).area for r in self.requirements)


_CHECKS: dict[str, Check] = {}


def check(
    *requirements: str, needs: Iterable[str] = (), exclusive: bool = False
) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    """Register a check: ``@check("MSG-1", "MSG-9", needs=["control"])``."""
    for rid in requirements:
        requirement(rid)  # KeyError at import for an id the spec does not define
    unknown = set(needs) - set(NEEDS)
    if unknown or not requirements:
        raise ValueError(f"bad check declaration: requirements={requirements} needs={needs}")

    def register(func: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        module = func.__module__.rsplit(".", 1)[-1]
        name = f"{module}.{func.__name__}"
        if name in _CHECKS:
            raise ValueError(f"check {name} registered twice")
        _CHECKS[name] = Check(
            name=name,
            func=func,
            requirements=tuple(requirements),
            needs=frozenset(needs),
            exclusive=exclusive,
            doc=" ".join((func.__doc__ or "").split()),
        )
        return func

    return register


def all_checks() -> dict[str, Check]:
    """Every registered check, by name, once the check modules are imported."""
    for module in CHECK_MODULES:
        importlib.import_module(f"taskchat.conformance.checks.{module}")
    return dict(_CHECKS)


def coverage() -> dict[str, list[str]]:
    """Requirement id -> the checks that test it (an empty list is a gap in the suite)."""
    out: dict[str, list[str]] = {rid: [] for rid in REQUIREMENTS}
    for c in all_checks().values():
        for rid in c.requirements:
            out[rid].append(c.name)
    return out


def select(
    checks: Iterable[Check],
    only: Iterable[str] = (),
    requirement_ids: Iterable[str] = (),
    level: str | None = None,
) -> list[Check]:
    """The checks a run asked for: by area, by requirement id, by level (``must`` / ``should``)."""
    only_set = {a.upper() for a in only}
    req_set = {r.upper() for r in requirement_ids}
    want_level = Level(level.upper()) if level else None
    out = []
    for c in checks:
        if only_set and not (c.areas & only_set):
            continue
        if req_set and not (set(c.requirements) & req_set):
            continue
        if want_level and not any(requirement(r).level == want_level for r in c.requirements):
            continue
        out.append(c)
    return out
