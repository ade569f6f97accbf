"""Where the official socket.io-client is, for the check that runs it through Node (TRANS-15).

Looked for, in order: ``--node-modules DIR`` (the target's ``node_modules``), the environment
variable ``TASKCHAT_NODE_MODULES``, the ``tests/node/node_modules`` that ``scripts/bootstrap``
fills in a checkout (beside this package's source, then under the working directory), and last
Node's own search path (``NODE_PATH``, a global install). Not found is a reason to skip, with
the command that installs it: the check never passes without having run the client (D27).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "TASKCHAT_NODE_MODULES"
CHECKOUT_DIR = Path("tests") / "node" / "node_modules"
PROBE = Path(__file__).resolve().parent / "node_probe.js"


@dataclass(frozen=True)
class NodeClient:
    """A Node binary and the environment in which ``require('socket.io-client')`` resolves."""

    node: str
    env: dict[str, str]
    version: str
    where: str

    def probe_command(self, url: str, token: str, task: str, transports: str) -> list[str]:
        return [self.node, str(PROBE), url, token, task, transports]


def candidates(node_modules: Path | None) -> list[Path]:
    out: list[Path] = []
    if node_modules is not None:
        out.append(node_modules)
    if os.environ.get(ENV_VAR):
        out.append(Path(os.environ[ENV_VAR]))
    out.append(Path(__file__).resolve().parent.parent / CHECKOUT_DIR)
    out.append(Path.cwd() / CHECKOUT_DIR)
    return list(dict.fromkeys(p.resolve() for p in out))


def install_hint() -> str:
    return ("in a checkout run `bash scripts/bootstrap` (it installs tests/node/node_modules); "
            "elsewhere run `npm install --prefix ~/.taskchat-node socket.io-client@4` and pass "
            f"`--node-modules ~/.taskchat-node/node_modules` (or set {ENV_VAR})")


def locate(node_modules: Path | None, timeout: float = 10.0) -> NodeClient | str:
    """The client to run, or why there is none (a skip reason with the enabling command)."""
    node = shutil.which("node")
    if node is None:
        return ("node is not on PATH: install Node.js 18 or later (e.g. `apt-get install "
                "nodejs`), then " + install_hint())
    script = "process.stdout.write(require('socket.io-client/package.json').version)"
    dirs = [p for p in candidates(node_modules) if (p / "socket.io-client").is_dir()]
    base = dict(os.environ)
    tried = [*dirs, None]  # None: Node's own search path
    for directory in tried:
        env = dict(base)
        if directory is not None:
            env["NODE_PATH"] = os.pathsep.join(
                p for p in (str(directory), base.get("NODE_PATH", "")) if p)
        try:
            done = subprocess.run([node, "-e", script], capture_output=True, text=True,
                                  env=env, check=False, timeout=timeout, cwd=Path.cwd())
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = done.stdout.strip()
        if done.returncode == 0 and version:
            if not version.startswith("4."):
                return (f"socket.io-client {version} found in {directory or 'NODE_PATH'}, "
                        "not 4.x: " + install_hint())
            return NodeClient(node, env, version, str(directory or "Node's search path"))
    looked = ", ".join(str(p) for p in candidates(node_modules))
    return f"socket.io-client 4.x not found (looked in {looked} and NODE_PATH): {install_hint()}"
