"""The command line that reruns one requirement's checks: one builder, for the runner's
``rerun`` line and for the stateful phase's own ``replay`` line, so the two never disagree."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

SECRET_ENV = "TASKCHAT_JWT_SECRET"


def replay_command(url: str | None, config: Path | None, secret: bool, requirement: str,
                   seed: int, extra: Sequence[str] = ()) -> str:
    """Reruns one requirement's checks with the same seed against the same target; a secret is
    never printed, the command reads it from the environment. ``extra``: what a check needs
    besides the seed to run the same way again (the stateful phase's session counts)."""
    parts = ["taskchat", "check"]
    if url is not None:
        parts += ["--url", shlex.quote(url)]
    if config is not None:
        parts += ["--config", shlex.quote(str(config))]
    if secret and (url is not None or config is not None):
        parts += ["--jwt-secret", f'"${SECRET_ENV}"']
    parts += ["--requirement", requirement, "--seed", str(seed), *map(shlex.quote, extra)]
    return " ".join(parts)
