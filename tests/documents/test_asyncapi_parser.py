"""The official AsyncAPI parser (@asyncapi/parser, Node) accepts the AsyncAPI document given only
its text, as AsyncAPI Studio or a registry gets it. Needs ``npm ci --prefix tests/documents``
(scripts/bootstrap does it); skips only when ``node`` is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from taskchat.schemas import events

from taskchat import asyncapi

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[1] / "docs"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _parse(text: str) -> dict[str, Any]:
    assert (HERE / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "run `npm ci --prefix tests/documents` first (scripts/bootstrap does)"
    )
    done = subprocess.run(["node", str(HERE / "validate_asyncapi.mjs"), "-"], input=text,
                          capture_output=True, text=True, check=False, timeout=60, cwd=HERE)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_committed_asyncapi_document_passes_the_official_parser() -> None:
    result = _parse((DOCS / "asyncapi.json").read_text(encoding="utf-8"))
    assert result["errors"] == []
    assert result["warnings"] == []
    # every event and the CONNECT handshake is an operation the parser found
    assert result["operations"] == len(events()) + 1


def test_the_parser_refuses_the_document_that_refers_to_files_it_does_not_have() -> None:
    # the document as it was before bundling: the parser, given only the text, cannot resolve it
    result = _parse(asyncapi.render(bundle=False))
    assert result["errors"], "the parser accepted unresolvable references"
    assert {e["code"] for e in result["errors"]} == {"invalid-ref"}
