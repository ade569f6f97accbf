"""The bundled documents stand alone and say exactly what the schema files say."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from schema_corpus import INVALID, VALID
from taskchat.schemas.validation import FORMAT_CHECKER

from taskchat import asyncapi, openapi
from taskchat.bundle import bundle, component_key
from taskchat.schemas_cmd import iter_refs


@cache
def _components(kind: str) -> dict[str, Any]:
    text = asyncapi.render() if kind == "asyncapi" else openapi.render()
    data: dict[str, Any] = json.loads(text)["components"]["schemas"]
    return data


def _valid_in_bundle(rel: str, payload: Any) -> bool:
    kind = "openapi" if rel.startswith("http/") else "asyncapi"  # where each schema is used
    # the document as the root resource: its #/components/… references resolve in it alone
    root = {"$ref": "#/components/schemas/" + component_key(rel),
            "components": {"schemas": _components(kind)}}
    return Draft202012Validator(root, format_checker=FORMAT_CHECKER).is_valid(payload)


@pytest.mark.parametrize("kind", ["asyncapi", "openapi"])
def test_documents_refer_to_nothing_outside_themselves(kind: str) -> None:
    doc = json.loads(asyncapi.render() if kind == "asyncapi" else openapi.render())
    external = [(p, r) for p, r in iter_refs(doc) if not r.startswith("#/")]
    assert external == []
    assert not any("$id" in s for s in doc["components"]["schemas"].values())


@pytest.mark.parametrize(("rel", "payload"), [pytest.param(s, p, id=f"{s}: {label}")
                                              for s, label, p in VALID])
def test_the_bundled_documents_accept_every_valid_payload(rel: str, payload: Any) -> None:
    assert _valid_in_bundle(rel, payload)


@pytest.mark.parametrize("bad", INVALID, ids=lambda b: b.id)
def test_the_bundled_documents_refuse_every_invalid_payload(bad: Any) -> None:
    assert not _valid_in_bundle(bad.schema, bad.payload)


def test_bundling_rewrites_relative_and_local_references() -> None:
    files = {
        "a/x.json": {"$id": "https://e/a/x.json", "$schema": "s", "$ref": "../b/y.json#/$defs/n",
                     "properties": {"self": {"$ref": "#/$defs/m"}}, "$defs": {"m": {}}},
        "b/y.json": {"$defs": {"n": {"$ref": "z.json"}}},
        "b/z.json": {"type": "string"},
    }
    doc = bundle({"payload": {"$ref": "../schemas/a/x.json"}}, "../schemas/", files.__getitem__)
    assert doc["payload"] == {"$ref": "#/components/schemas/a.x"}
    schemas = doc["components"]["schemas"]
    assert schemas["a.x"]["$ref"] == "#/components/schemas/b.y/$defs/n"
    assert schemas["a.x"]["properties"]["self"] == {"$ref": "#/components/schemas/a.x/$defs/m"}
    assert schemas["b.y"]["$defs"]["n"] == {"$ref": "#/components/schemas/b.z"}
    assert "$id" not in schemas["a.x"] and "$schema" not in schemas["a.x"]
