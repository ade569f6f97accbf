"""Load a schema tree (a directory or the ``schemas/`` tree at a git revision) into memory.

Each tree gets its own ``referencing`` registry: old and new schemas share their ``$id``s, so a
single registry would silently resolve the old tree's ``$ref`` into the new tree's files.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DEFAULT_BASE = "https://taskchat.example/schemas/"
FORMAT_CHECKER = FormatChecker()


class GateError(Exception):
    """The gate cannot run (bad revision, unreadable schemas): exit code 2, not a verdict."""


@dataclass(frozen=True)
class SchemaTree:
    """One version of the protocol: its index, its schema files and a registry of its own."""

    label: str
    index: dict[str, Any]
    files: dict[str, Any]  # path relative to the tree's root -> parsed JSON
    base: str = DEFAULT_BASE
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict, compare=False)

    @property
    def version(self) -> str | None:
        v = self.index.get("version")
        return v if isinstance(v, str) else None

    def uri(self, rel: str) -> str:
        """The URI a file is registered under: its own ``$id``, else where it sits under base."""
        contents = self.files[rel]
        if isinstance(contents, dict) and isinstance(contents.get("$id"), str):
            return str(contents["$id"])
        return self.base + rel

    @cached_property
    def registry(self) -> Registry:
        resources = []
        for rel, contents in self.files.items():
            resource = Resource.from_contents(contents, default_specification=DRAFT202012)
            resources.append((self.uri(rel), resource))
        registry: Registry = Registry().with_resources(resources).crawl()
        return registry

    @cached_property
    def rel_by_uri(self) -> dict[str, str]:
        return {self.uri(rel): rel for rel in self.files}

    def has(self, rel: str) -> bool:
        return rel in self.files

    def validator(self, rel: str) -> Draft202012Validator:
        """A validator for one file that resolves ``$ref`` in this tree's registry only.

        It validates against ``{"$ref": <the file's URI>}`` so that a file without ``$id`` still
        resolves its relative references from where it sits in the tree.
        """
        if rel not in self._validators:
            self._validators[rel] = Draft202012Validator(
                {"$ref": self.uri(rel)}, registry=self.registry, format_checker=FORMAT_CHECKER
            )
        return self._validators[rel]


def _parse(rel: str, raw: bytes, label: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GateError(f"{label}: {rel} is not valid JSON: {exc}") from None


def _tree(label: str, raw_files: dict[str, bytes]) -> SchemaTree:
    if "index.json" not in raw_files:
        raise GateError(f"{label}: no index.json (is this a schemas/ tree?)")
    files = {rel: _parse(rel, raw, label) for rel, raw in sorted(raw_files.items())}
    index = files.pop("index.json")
    if not isinstance(index, dict) or not isinstance(index.get("events"), dict):
        raise GateError(f"{label}: index.json has no 'events' object")
    base = index.get("schemaBase")
    return SchemaTree(
        label=label,
        index=index,
        files=files,
        base=base if isinstance(base, str) and base else DEFAULT_BASE,
    )


def load_dir(path: Path, label: str | None = None) -> SchemaTree:
    """A directory holding ``index.json`` (or a repository holding ``schemas/index.json``)."""
    root = path / "schemas" if not (path / "index.json").exists() else path
    label = label or str(path)
    if not (root / "index.json").is_file():
        raise GateError(f"{label}: no index.json in {root}")
    raw: dict[str, bytes] = {}
    try:
        for p in sorted(root.rglob("*.json")):
            raw[p.relative_to(root).as_posix()] = p.read_bytes()
    except OSError as exc:
        raise GateError(f"{label}: cannot read {exc.filename}: {exc.strerror}") from None
    return _tree(label, raw)


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GateError(f"cannot run git in {repo}: {exc}") from None
    if done.returncode != 0:
        msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GateError(f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return done.stdout


def load_rev(repo: Path, rev: str, subdir: str = "schemas") -> SchemaTree:
    """The ``schemas/`` tree at a git revision, read from ``git archive`` without a checkout."""
    label = f"{rev} ({subdir}/)"
    if rev.startswith("-"):
        raise GateError(f"{rev!r} is not a revision")
    try:
        commit = (
            _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
        )
    except GateError:
        raise GateError(
            f"{rev!r} is neither a directory nor a git revision of {repo.resolve()}"
        ) from None
    # from the top of the checkout: git archive in a subdirectory archives only that subdirectory
    top = Path(_git(repo, "rev-parse", "--show-toplevel").decode().strip())
    archive = _git(top, "archive", "--format=tar", f"{commit}:{subdir}")
    raw: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".json"):
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                raw[PurePosixPath(member.name).as_posix()] = extracted.read()
    if not raw:
        raise GateError(f"{label}: no schemas at that revision")
    return _tree(label, raw)


def default_head(repo: Path) -> str:
    """The working tree's ``schemas/``: under ``repo``, else at the top of its git checkout."""
    if (repo / "schemas").is_dir():
        return str(repo / "schemas")
    try:
        top = _git(repo, "rev-parse", "--show-toplevel").decode().strip()
    except GateError:
        return str(repo / "schemas")
    return str(Path(top) / "schemas")


def load(spec: str, repo: Path) -> SchemaTree:
    """``spec`` is a directory if one exists at that path, otherwise a git revision of ``repo``."""
    path = Path(spec)
    if path.is_dir():
        return load_dir(path, label=spec)
    return load_rev(repo, spec)
