"""The verdict for people (a terminal table) and for machines (JSON, JUnit XML for CI)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taskchat.about import revision, stamp, version
from taskchat.gate.compare import Verdict
from taskchat.gate.rules import Finding

ARROW = {"client-to-server": "c→s", "server-to-client": "s→c"}
WIDTHS = (9, 20, 4, 30, 0)


def _status(f: Finding) -> str:
    if f.breaking and f.allowed:
        return "allowed"
    return "BREAKING" if f.breaking else "ok"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(text: str, width: int) -> str:
    """Fixed-width columns, but a long path pushes the row right rather than being cut."""
    return text.ljust(width) if width else text


def _compact(value: Any, limit: int = 160) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, separators=(",", ":")), limit)


def _what(f: Finding) -> str:
    return f"{f.change} ({f.detail})" if f.detail else f.change


def table(verdict: Verdict, check_version: bool = False) -> str:
    lines = [f"taskchat gate: {verdict.base_label} → {verdict.head_label}"]
    header = ("VERDICT", "EVENT", "DIR", "PATH", "CHANGE")
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, WIDTHS, strict=True)).rstrip())
    order = {"BREAKING": 0, "allowed": 1, "ok": 2}
    for f in sorted(verdict.findings, key=lambda f: order[_status(f)]):
        cells = (_status(f), f.subject, ARROW.get(f.direction, "?"), f.path or "-", _what(f))
        lines.append("  ".join(_cell(c, w) for c, w in zip(cells, WIDTHS, strict=True)).rstrip())
        indent = " " * (WIDTHS[0] + 2)
        if f.counterexample:
            ce = f.counterexample
            lines.append(f"{indent}counterexample: {_compact(ce['instance'])}")
            lines.append(
                f"{indent}  accepted by {ce['acceptedBy']}, refused by {ce['refusedBy']} at "
                f"{ce['refusedAt']}: {_cut(ce['refusal'], 120)}"
            )
        elif f.note:
            lines.append(f"{indent}({f.note})")
        if f.allowed:
            lines.append(f"{indent}allowed: {f.reason}")
    if not verdict.findings:
        lines.append("(no changes to events, payloads, acks, connect schemas or error codes)")
    for a in verdict.allowances:
        if not a.used:
            lines.append(f"note: --allow {a.event}:{a.change} matched no breaking change")
    broken = len(verdict.breaking)
    lines.append("")
    lines.append(
        f"{broken} breaking, {sum(1 for f in verdict.findings if f.breaking and f.allowed)} allowed, "
        f"{sum(1 for f in verdict.findings if not f.breaking)} compatible "
        f"({len(verdict.compared)} schemas compared in {verdict.elapsed:.1f} s)"
    )
    if verdict.required_version is not None:
        need = (
            "no change: the version may stay"
            if verdict.bump.value == "none"
            else f"this change needs a {verdict.bump.value} bump: at least {verdict.required_version}"
        )
        line = f"version: base {verdict.base_version}, head {verdict.head_version}; {need}"
        if check_version:
            line += " — OK" if verdict.version_ok else " — head's version is too low"
        lines.append(line)
    return "\n".join(lines) + "\n"


def to_json(verdict: Verdict, check_version: bool = False) -> dict[str, Any]:
    data = verdict.to_json()
    data["tool"] = "taskchat gate"
    data["toolkit"] = {"version": version(), "revision": revision()}
    data["generatedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data["checkVersion"] = check_version
    data["exitCode"] = verdict.exit_code(check_version)
    return data


def junit(verdict: Verdict, check_version: bool = False) -> str:
    """One test case per compared schema and per declaration, so CI lists every event."""
    cases: dict[str, list[Finding]] = {s: [] for s in verdict.compared}
    for f in verdict.findings:
        cases.setdefault(f.subject, []).append(f)
    suite = ET.Element(
        "testsuite", name="taskchat gate", tests=str(len(cases) + int(check_version))
    )
    failures = 0
    for subject, findings in cases.items():
        direction = verdict.compared.get(subject) or next((f.direction for f in findings), "event")
        case = ET.SubElement(suite, "testcase", classname=f"gate.{direction}", name=subject)
        broken = [f for f in findings if f.fails]
        if broken:
            failures += 1
            fail = ET.SubElement(
                case, "failure", message="; ".join(_what(f) for f in broken), type="breaking change"
            )
            fail.text = "\n".join(_finding_text(f) for f in broken)
        rest = [f for f in findings if not f.fails]
        if rest:
            ET.SubElement(case, "system-out").text = "\n".join(_finding_text(f) for f in rest)
    if check_version:
        case = ET.SubElement(suite, "testcase", classname="gate.version", name="version")
        if verdict.version_ok is False:
            failures += 1
            ET.SubElement(
                case,
                "failure",
                message=(
                    f"head version {verdict.head_version} is below {verdict.required_version} "
                    f"({verdict.bump.value} bump needed)"
                ),
                type="version",
            )
    suite.set("failures", str(failures))
    ET.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
    )


def _finding_text(f: Finding) -> str:
    text = f"[{_status(f)}] {f.subject} {f.path} {_what(f)} ({f.effect}; read by {f.reader})"
    if f.counterexample:
        ce = f.counterexample
        text += (
            f"\n  counterexample: {_compact(ce['instance'], 2000)}"
            f"\n  accepted by {ce['acceptedBy']}, refused by {ce['refusedBy']} at "
            f"{ce['refusedAt']}: {ce['refusal']}"
        )
    elif f.note:
        text += f"\n  ({f.note})"
    if f.allowed:
        text += f"\n  allowed: {f.reason}"
    return text


def default_dir(root: Path | None = None) -> Path:
    return (root or Path("reports")) / f"gate-{stamp()}"


def write(verdict: Verdict, directory: Path, check_version: bool = False) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {
        directory / "gate.json": json.dumps(
            to_json(verdict, check_version), indent=2, ensure_ascii=False
        )
        + "\n",
        directory / "junit.xml": junit(verdict, check_version),
        directory / "table.txt": table(verdict, check_version),
    }
    for path, text in out.items():
        path.write_text(text, encoding="utf-8")
    return list(out)
