"""``taskchat schemas …``: validate captured payloads, list the events, lint the schemas, and
generate the written spec, the AsyncAPI and the OpenAPI documents.

The CLI imports every part's ``register`` to build its help, so this module imports nothing
heavy at the top: jsonschema and the generators load only when a subcommand runs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2

TARGET_HELP = """\
EVENT names the schema to validate against:
  send_message           an event's payload (see `taskchat schemas list`)
  send_message.ack       the ack of a client-to-server event (its ok:true and ok:false forms)
  connect.auth           the CONNECT packet's auth object
  connect.ok             the CONNECT packet of an accepted connection
  connect.error          the CONNECT_ERROR payload of a refused connection
  defs/message.json      any schema file, by its path under schemas/
"""


class UsageError(Exception):
    """Input the command cannot work with (exit 2), as opposed to a payload that is invalid."""


# --------------------------------------------------------------------------------------------
# validate


def schema_target(name: str) -> str:
    """The schema file (relative to ``schemas/``) that ``name`` designates; see TARGET_HELP."""
    from taskchat.schemas.protocol import INDEX, events
    from taskchat.schemas.validation import schema_files

    if name.endswith(".json"):
        if name in schema_files():
            return name
        raise UsageError(f"no schema file {name!r} under schemas/")
    connect = {f"connect.{k}": v for k, v in INDEX["connect"].items() if isinstance(v, str)}
    connect.update({"connect.ok": INDEX["connect"]["accepted"],
                    "connect.error": INDEX["connect"]["refused"]})
    if name in connect:
        return str(connect[name])
    event, _, kind = name.partition(".")
    spec = events().get(event)
    if spec is None or kind not in ("", "ack"):
        known = ", ".join(events())
        raise UsageError(
            f"unknown event {name!r}; events are: {known} (add .ack for an ack), "
            "or connect.auth, connect.ok, connect.error"
        )
    if kind == "ack":
        if spec.ack is None:
            raise UsageError(f"{event!r} is a server-to-client event: it has no ack")
        return spec.ack
    return spec.payload


def _read_text(file: str, stdin: TextIO) -> str:
    if file == "-":
        return stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8-sig")  # tolerate a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None


def _documents(text: str, jsonl: bool, file: str) -> Iterator[tuple[str, Any]]:
    """(where, payload) for the one JSON document, or for each non-blank line of JSON Lines."""
    if not jsonl:
        try:
            yield "", json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{file}: not JSON: {exc}") from None
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}: ", json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{file}: line {number}: not JSON: {exc}") from None


def run_validate(args: argparse.Namespace) -> int:
    from taskchat.schemas.validation import iter_violations

    rel = schema_target(args.event)
    text = _read_text(args.file, sys.stdin)
    # Parse everything first: a broken line makes the whole capture unusable, and a partial
    # report would read as "the rest was valid".
    documents = list(_documents(text, args.jsonl, args.file))
    if args.jsonl and not documents:
        raise UsageError(f"{args.file}: no JSON lines")
    bad = 0
    for where, payload in documents:
        violations = list(iter_violations(rel, payload))
        bad += bool(violations)
        for v in violations:
            print(f"{where}{v}")
    name = "payload" if len(documents) == 1 else "payloads"
    if bad:
        print(f"{bad} of {len(documents)} {name} invalid against {rel}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(documents)} {name} valid against {rel}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# list


def run_list(args: argparse.Namespace) -> int:
    from taskchat.schemas.protocol import INDEX, events

    rows = [("EVENT", "DIRECTION", "RECIPIENTS", "PAYLOAD", "ACK")]
    for spec in events().values():
        rows.append((spec.name, spec.direction.value, spec.recipients or "-",
                     spec.payload, spec.ack or "-"))
    connect = INDEX["connect"]
    rows.append(("connect.auth", "client-to-server", "-", connect["auth"], "-"))
    rows.append(("connect.ok", "server-to-client", "sender", connect["accepted"], "-"))
    rows.append(("connect.error", "server-to-client", "sender", connect["refused"], "-"))
    if args.json:
        keys = [k.lower() for k in rows[0]]
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows[1:]], indent=2))
        return EXIT_OK
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# lint


def iter_refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer of the ``$ref``, its value) for every ``$ref`` in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            if key == "$ref" and isinstance(value, str):
                yield here, value
            else:
                yield from iter_refs(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_refs(value, f"{pointer}/{i}")


def lint(index: dict[str, Any], files: dict[str, Any], base: str) -> list[str]:
    """Every finding about the schema tree ``files`` (path → schema) and its ``index``.

    Pure (no file access), so a test can hand it a broken tree and see the finding.
    """
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable

    from taskchat.schemas.levels import lint_levels

    findings: list[str] = []
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    resources = []
    for rel, schema in sorted(files.items()):
        for err in meta.iter_errors(schema):
            findings.append(f"{rel}: not a valid 2020-12 schema at {err.json_path}: {err.message}")
        if not isinstance(schema, dict):
            continue
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            findings.append(f"{rel}: $schema is not https://json-schema.org/draft/2020-12/schema")
        if schema.get("$id") != base + rel:
            findings.append(f"{rel}: $id is {schema.get('$id')!r}, expected {base + rel!r}")
        resources.append((base + rel, Resource.from_contents(schema)))
        findings.extend(lint_levels(rel, schema))
    registry: Registry = Registry().with_resources(resources)
    for rel, schema in sorted(files.items()):
        resolver = registry.resolver(base_uri=base + rel)
        for pointer, ref in iter_refs(schema):
            try:
                resolver.lookup(ref)
            except Unresolvable as exc:
                findings.append(f"{rel}#{pointer}: $ref {ref!r} does not resolve ({exc})")

    def need_file(owner: str, rel: Any) -> None:
        if not isinstance(rel, str):
            findings.append(f"index.json: {owner} names no schema file")
        elif rel not in files:
            findings.append(f"index.json: {owner} names {rel!r}, which does not exist")

    requirements = index.get("requirements", {})
    carried: set[str] = set()

    def need_requirements(owner: str, ids: list[str]) -> None:
        for rid in ids:
            if rid not in requirements:
                findings.append(f"index.json: {owner} names requirement {rid!r}, which is not defined")
            carried.add(rid)

    for name, event in index.get("events", {}).items():
        need_file(f"event {name!r} payload", event.get("payload"))
        if event.get("direction") == "client-to-server":
            need_file(f"event {name!r} ack", event.get("ack"))
        elif "ack" in event:
            findings.append(f"index.json: server-to-client event {name!r} has an ack")
        elif not event.get("recipients"):
            findings.append(f"index.json: server-to-client event {name!r} names no recipients")
        for emitted in event.get("emits", []):
            if emitted not in index["events"]:
                findings.append(f"index.json: event {name!r} emits unknown event {emitted!r}")
        need_requirements(f"event {name!r}", event.get("requirements", []))
    connect = index.get("connect", {})
    for key in ("auth", "accepted", "refused"):
        need_file(f"connect.{key}", connect.get(key))
    for key, rel in index.get("errorCodes", {}).items():
        need_file(f"errorCodes.{key}", rel)
    need_requirements("connect", connect.get("requirements", []))
    for section in ("transport", "http"):
        need_requirements(section, index.get(section, {}).get("requirements", []))
    areas = index.get("areas", {})
    for rid in requirements:
        if rid.split("-", 1)[0] not in areas:
            findings.append(f"index.json: requirement {rid} belongs to no area of index.areas")
        if rid not in carried:
            findings.append(
                f"index.json: requirement {rid} is carried by no event and not by connect, transport or http"
            )
    return findings


def run_lint(args: argparse.Namespace) -> int:
    from taskchat.schemas.protocol import INDEX
    from taskchat.schemas.validation import load_schema, schema_files

    files = {rel: load_schema(rel) for rel in schema_files()}
    findings = lint(INDEX, files, INDEX["schemaBase"])
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} findings", file=sys.stderr)
        return EXIT_INVALID
    print(f"{len(files)} schema files, {len(INDEX['events'])} events, "
          f"{len(INDEX['requirements'])} requirements: no findings", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# generators


def repo_root() -> Path:
    from taskchat.schemas.protocol import SCHEMA_DIR

    return SCHEMA_DIR.parent


def _generator(kind: str) -> tuple[Callable[..., str], str]:
    """(render, the committed file's path relative to the repository) for a generated doc."""
    if kind == "spec":
        from taskchat import spec

        return spec.render, spec.OUTPUT
    if kind == "asyncapi":
        from taskchat import asyncapi

        return asyncapi.render, asyncapi.OUTPUT
    if kind == "names":
        from taskchat import typed_names

        return typed_names.render, typed_names.OUTPUT
    from taskchat import openapi

    return openapi.render, openapi.OUTPUT


def run_generate(args: argparse.Namespace) -> int:
    render, committed = _generator(args.command_kind)
    text = render(args.bundle) if args.command_kind == "asyncapi" else render()
    if args.check:
        path = repo_root() / committed
        try:
            current = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the committed {committed}: {exc}") from None
        if current == text:
            print(f"{committed} is up to date", file=sys.stderr)
            return EXIT_OK
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"{committed} (committed)", tofile=f"{committed} (generated)",
        ))
        print(f"{committed} is out of date: regenerate it with "
              f"`taskchat schemas {args.command_kind} --output {committed}`", file=sys.stderr)
        return EXIT_INVALID
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# wiring


def run(args: argparse.Namespace) -> int:
    try:
        code: int = args.schemas_func(args)
    except UsageError as exc:
        print(f"taskchat schemas: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    return code


def register(sub: Any) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = sub.add_parser(
        "schemas",
        help="validate payloads against the protocol's schemas; lint them; generate the docs",
        description="The protocol's JSON Schemas (schemas/) and the documents generated from them.",
    )
    parser.set_defaults(func=run)
    cmds = parser.add_subparsers(dest="schemas_command", metavar="SUBCOMMAND", required=True)

    p = cmds.add_parser(
        "validate",
        help="validate a payload (or a JSON Lines capture of many) against an event's schema",
        description="Print each violation as `<json path>: <message>`. "
        "Exit 0 when valid, 1 when invalid, 2 when the input is unusable "
        "(unknown event, unreadable file, not JSON).",
        epilog=TARGET_HELP,
        formatter_class=raw,
    )
    p.add_argument("event", metavar="EVENT", help="what to validate against (see below)")
    p.add_argument("file", metavar="FILE", help="a JSON file, or - for standard input")
    p.add_argument("--jsonl", action="store_true",
                   help="FILE holds one payload per line (JSON Lines); each violation is "
                   "prefixed with its line number")
    p.set_defaults(schemas_func=run_validate)

    p = cmds.add_parser("list", help="the events: direction, recipients, schema files",
                        description="Every event of schemas/index.json, and the CONNECT payloads.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(schemas_func=run_list)

    p = cmds.add_parser(
        "lint", help="check the schemas and the index for consistency",
        description="Every schema passes the 2020-12 metaschema and has the $id of its path; "
        "every $ref resolves; every event has its payload (and, client-to-server, ack) file; "
        "every requirement id named exists; every requirement is carried by an event or by the "
        "connect section. Exit 1 with the findings.",
    )
    p.set_defaults(schemas_func=run_lint)

    for kind, what in (
        ("spec", "the written spec, docs/protocol.md"),
        ("asyncapi", "the AsyncAPI 3.0 document, docs/asyncapi.json"),
        ("openapi", "the OpenAPI 3.1 document of the HTTP API, docs/openapi.json"),
        ("names", "the Event and ErrorCode enums, schemas/names.py"),
    ):
        p = cmds.add_parser(
            kind, help=f"generate {what}",
            description=f"Generate {what} from schemas/index.json (to standard output unless "
            "--output). --check compares the committed file with what would be generated and "
            "exits 1, printing a diff, when they differ.",
        )
        group = p.add_mutually_exclusive_group()
        group.add_argument("--output", metavar="FILE", help="write to FILE (- for stdout)")
        group.add_argument("--check", action="store_true",
                           help="exit 1 if the committed file differs from the generated one")
        if kind == "asyncapi":
            p.add_argument("--bundle", action=argparse.BooleanOptionalAction, default=True,
                           help="inline the schema files under components.schemas so the "
                           "document stands alone (default: bundled; --no-bundle refers to "
                           "../schemas/ as seen from docs/)")
        p.set_defaults(schemas_func=run_generate, command_kind=kind)
