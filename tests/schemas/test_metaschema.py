"""Every schema file is a valid draft 2020-12 schema, and every ``$ref`` in it resolves offline."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable
from taskchat.schemas import INDEX
from taskchat.schemas.validation import load_schema, registry, schema_files

from taskchat.schemas_cmd import iter_refs

FILES = schema_files()


@pytest.mark.parametrize("rel", FILES)
def test_schema_passes_the_2020_12_metaschema(rel: str) -> None:
    Draft202012Validator.check_schema(load_schema(rel))


@pytest.mark.parametrize("rel", FILES)
def test_schema_id_is_its_path(rel: str) -> None:
    # the relative $refs resolve against $id, so an $id that disagrees with the file's place
    # would send them to the wrong file
    assert load_schema(rel)["$id"] == INDEX["schemaBase"] + rel


@pytest.mark.parametrize("rel", [r for r in FILES if any(True for _ in iter_refs(load_schema(r)))])
def test_every_ref_resolves_through_the_registry(rel: str) -> None:
    resolver = registry().resolver(base_uri=load_schema(rel)["$id"])
    unresolved = []
    for pointer, ref in iter_refs(load_schema(rel)):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            unresolved.append(f"{pointer}: {ref}")
    assert unresolved == []


def test_registry_holds_every_file_and_nothing_is_fetched() -> None:
    # a $ref to a schema outside the registry must fail, not go to the network
    with pytest.raises(Unresolvable):
        registry().resolver(base_uri=INDEX["schemaBase"]).lookup("defs/nope.json")
