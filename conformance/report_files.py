"""The report files of a run: JSON for machines, JUnit XML for CI, HTML for a person.

The HTML is one self-contained file (inline CSS, no scripts, no external assets) so it can be
attached to a CI run and opened anywhere.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taskchat.conformance.results import (
    DESELECTED,
    FAIL,
    PASS,
    SKIP,
    WARN,
    CheckResult,
    Finding,
    RunResult,
)
from taskchat.schemas import Level, areas, requirement


def default_dir(base: Path = Path("reports")) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base / f"conformance-{stamp}"


def write_all(run: RunResult, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "results.json",
        "junit": directory / "junit.xml",
        "html": directory / "report.html",
    }
    paths["json"].write_text(json.dumps(run.to_dict(), indent=2, default=str), encoding="utf-8")
    paths["junit"].write_bytes(junit_xml(run))
    paths["html"].write_text(html_report(run), encoding="utf-8")
    return paths


def finding_text(f: Finding) -> str:
    return f"[{f.requirement}] expected: {f.expectation}\nobserved: {f.observed}"


def frames_text(frames: list[dict[str, Any]]) -> str:
    return "\n".join(f"{x['t']:>8.3f}s  {x['socket']:<14} {x['direction']:<8} {x['data']}"
                     for x in frames)


def check_text(c: CheckResult) -> str:
    """A check's findings and then its frames, once."""
    text = "\n\n".join(finding_text(f) for f in c.findings)
    if c.replay:
        text += f"\n\nrerun: {c.replay}"
    if c.frames:
        text += "\n\nframes sent and received:\n" + frames_text(c.frames)
    return text


def _is_should_only(c: CheckResult) -> bool:
    return all(requirement(f.requirement).level == Level.SHOULD
               for f in c.findings if f.requirement != "*") and not any(
        f.requirement == "*" for f in c.findings)


def junit_xml(run: RunResult) -> bytes:
    """One testsuite per area, one testcase per check; a SHOULD-only failure is a warning in
    system-out, not a JUnit failure, because it does not fail the run."""
    root = ET.Element("testsuites", name="taskchat conformance", time=f"{run.duration:.2f}")
    by_area: dict[str, list[CheckResult]] = {}
    for c in run.checks:
        by_area.setdefault(c.area, []).append(c)
    for area, checks in by_area.items():
        suite = ET.SubElement(root, "testsuite", name=area, tests=str(len(checks)))
        failures = skipped = errors = 0
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{area}", name=c.name,
                                 time=f"{c.duration:.3f}")
            ET.SubElement(case, "properties").extend(
                ET.Element("property", name="requirement", value=r) for r in c.requirements)
            if c.status == SKIP:
                skipped += 1
                ET.SubElement(case, "skipped", message=c.skip_reason or "")
            if c.notes:
                ET.SubElement(case, "system-out").text = "\n".join(c.notes)
            if c.status == SKIP:
                pass
            elif c.findings and _is_should_only(c):
                out = ET.SubElement(case, "system-out")
                out.text = "WARNING (SHOULD)\n" + check_text(c)
            elif c.findings:
                kind = "error" if c.status == "error" else "failure"
                errors += kind == "error"
                failures += kind == "failure"
                el = ET.SubElement(case, kind, message="; ".join(
                    f"{f.requirement}: {f.expectation}" for f in c.findings)[:1000])
                el.text = check_text(c)
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
h1{margin:0 0 .2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 7px;vertical-align:top;text-align:left}
.pass{background:#d8f5d8}.fail{background:#f9c9c9}.warn{background:#fde9b0}.skip{background:#e6e6e6}
.error{background:#f9c9c9}.deselected{background:#fff;color:#888}
.matrix td{min-width:4.5em;text-align:center}.matrix th.area{text-align:right}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:12px;white-space:pre-wrap}
.summary span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:3px}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def html_report(run: RunResult) -> str:
    counts = run.counts()
    verdict = "FAIL: a MUST requirement is broken" if run.must_failed else "PASS: every MUST holds"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>taskchat conformance: "
           f"{_e(run.url)}</title><style>{_CSS}</style></head><body>",
           f"<h1>taskchat conformance — {_e(verdict)}</h1>",
           f"<p>Server <code>{_e(run.url)}</code>, started {_e(run.started)}, "
           f"{run.duration:.1f} s, {len(run.checks)} checks.</p><p class='summary'>"]
    for status in (PASS, FAIL, WARN, SKIP, DESELECTED):
        out.append(f"<span class='{status}'>{status}: {counts[status]}</span>")
    out.append("</p><h2>Requirement matrix</h2><table class='matrix'>")
    by_area: dict[str, list] = {}
    for r in run.requirements:
        by_area.setdefault(r.area, []).append(r)
    for key, area in areas().items():
        reqs = by_area.get(key, [])
        cells = "".join(
            f"<td class='{r.status}' title='{_e(r.text)}'><a href='#{r.id}'>{_e(r.id)}</a><br>"
            f"<small>{_e(r.level)} · {r.status}</small></td>" for r in reqs)
        out.append(f"<tr><th class='area'>{_e(area.title)}<br><small>{key}</small></th>{cells}</tr>")
    out.append("</table><h2>Requirements</h2><table><tr><th>id</th><th>level</th><th>status</th>"
               "<th>requirement</th><th>checks</th></tr>")
    for r in run.requirements:
        out.append(f"<tr id='{r.id}'><td>{_e(r.id)}</td><td>{_e(r.level)}</td>"
                   f"<td class='{r.status}'>{r.status}"
                   + (f"<br><small>{_e(r.note)}</small>" if r.note else "")
                   + f"</td><td>{_e(r.text)}</td>"
                   f"<td>{'<br>'.join(_e(c) for c in r.checks)}</td></tr>")
    out.append("</table><h2>Failures and warnings</h2>")
    failed = [c for c in run.checks if c.findings]
    if not failed:
        out.append("<p>None.</p>")
    for c in failed:
        out.append(f"<h3 class='{c.status}'>{_e(c.name)} <small>({_e(', '.join(c.requirements))})"
                   f"</small></h3><p>{_e(c.doc)}</p>")
        for f in c.findings:
            out.append(f"<p><b>{_e(f.requirement)}</b> — expected: {_e(f.expectation)}<br>"
                       f"observed: <code>{_e(f.observed)}</code></p>")
        if c.replay:
            out.append(f"<p>rerun: <code>{_e(c.replay)}</code></p>")
        if c.frames:
            out.append("<details open><summary>frames sent and received</summary>"
                       f"<pre>{_e(frames_text(c.frames))}</pre></details>")
    out.append("<h2>Checks</h2><table><tr><th>check</th><th>requirements</th><th>status</th>"
               "<th>time</th><th>note</th></tr>")
    for c in run.checks:
        out.append(f"<tr><td>{_e(c.name)}</td><td>{_e(', '.join(c.requirements))}</td>"
                   f"<td class='{c.status}'>{c.status}</td><td>{c.duration:.2f}s</td>"
                   f"<td>{_e(c.skip_reason or c.doc)}"
                   + "".join(f"<br><i>note: {_e(n)}</i>" for n in c.notes) + "</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
