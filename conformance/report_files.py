"""The report files of a run: JSON for machines, JUnit XML for CI, HTML for a person.

The HTML is one self-contained file (inline CSS, no scripts, no external assets) so it can be
attached to a CI run and opened anywhere. It is written to be read at a glance: the verdict and
what ran where first, requirement texts rendered from their Markdown, the first failure's frames
open and the others folded, and runs of identical frames (a client's retries) shown once with a
count.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from taskchat.conformance.results import (
    DESELECTED,
    ERROR,
    FAIL,
    PASS,
    SKIP,
    WARN,
    CheckResult,
    Finding,
    RunResult,
)
from taskchat.schemas import Level, areas, requirement

from taskchat.about import revision, stamp, version


def default_dir(base: Path = Path("reports")) -> Path:
    return base / f"conformance-{stamp()}"


def write_all(run: RunResult, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": directory / "results.json",
        "junit": directory / "junit.xml",
        "html": directory / "report.html",
    }
    data = {**run.to_dict(), "toolkit": {"version": version(), "revision": revision()}}
    paths["json"].write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    paths["junit"].write_bytes(junit_xml(run))
    paths["html"].write_text(html_report(run), encoding="utf-8")
    return paths


def finding_text(f: Finding) -> str:
    return f"[{f.requirement}] expected: {f.expectation}\nobserved: {f.observed}"


@dataclass(frozen=True)
class FrameRun:
    """Consecutive frames with the same socket, direction and data: one line in a transcript."""

    first: dict[str, Any]
    count: int
    last_t: float

    def line(self) -> str:
        x = self.first
        text = f"{x['t']:>8.3f}s  {x['socket']:<14} {x['direction']:<8} {x['data']}"
        if self.count > 1:
            text += f"   ({self.count} times, the last at {self.last_t:.3f}s)"
        return text


def collapse(frames: list[dict[str, Any]]) -> list[FrameRun]:
    runs: list[FrameRun] = []
    for x in frames:
        key = (x.get("socket"), x.get("direction"), x.get("data"))
        if runs:
            prev = runs[-1].first
            if (prev.get("socket"), prev.get("direction"), prev.get("data")) == key:
                runs[-1] = FrameRun(prev, runs[-1].count + 1, x["t"])
                continue
        runs.append(FrameRun(x, 1, x["t"]))
    return runs


def frames_text(frames: list[dict[str, Any]]) -> str:
    return "\n".join(run.line() for run in collapse(frames))


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
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:96em;padding:0 1.5em;color:#222}
h1{margin:0 0 .3em;font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
h3{margin:1.2em 0 .3em;padding:.2em .5em;border-radius:3px}
.facts{color:#444;margin:.2em 0 1em}.facts b{color:#222}
table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 7px;vertical-align:top;text-align:left}
.pass{background:#d8f5d8}.fail{background:#f9c9c9}.warn{background:#fde9b0}.skip{background:#e6e6e6}
.error{background:#f9c9c9}.deselected{background:#fff;color:#888}
.verdict-pass{color:#176f2c}.verdict-fail{color:#b00020}
.matrix td{min-width:4.5em;text-align:center;font-size:12px}.matrix th.area{text-align:right}
.matrix a{color:inherit;font-weight:600}
code{background:#f1f1f1;padding:0 .25em;border-radius:3px;font-size:92%}
pre{background:#f6f6f6;padding:.6em;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0}
.summary span{display:inline-block;padding:2px 10px;margin-right:6px;border-radius:3px}
.finding{margin:.3em 0 .3em 1em}.observed{word-break:break-all}
details{margin:.3em 0 1em 1em}summary{cursor:pointer;color:#0b57d0}
.doc{color:#444;margin:.2em 0 .4em 1em}
.broken{list-style:none;padding:0}.broken li{margin:.25em 0}
.broken span{display:inline-block;min-width:3.5em;text-align:center;border-radius:3px;font-size:12px}
"""


@cache
def _markdown() -> MarkdownIt:
    # CommonMark without raw HTML: a requirement's text cannot inject markup into the report
    return MarkdownIt("commonmark", {"html": False})


def md(text: str) -> str:
    """Inline Markdown (code spans, emphasis, links) as HTML; docstrings' ``x`` is a code span."""
    return _markdown().renderInline(" ".join(text.split()))


def _plain(text: str) -> str:
    """For a title attribute, which shows no markup."""
    return " ".join(text.replace("`", "").split())


def _e(text: object) -> str:
    return html.escape(str(text))


def _date(started: str) -> str:
    try:
        return datetime.fromisoformat(started).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return started


def _facts(run: RunResult) -> str:
    rev = revision()
    return (f"<p class='facts'><b>Date</b> {_e(_date(run.started))} · <b>Target</b> "
            f"<code>{_e(run.url)}</code> · <b>Toolkit</b> taskchat {_e(version())} · "
            "<b>Revision</b> "
            f"{_e(rev) if rev else 'none (not run from a git checkout)'} · "
            f"{run.duration:.1f} s, {len(run.checks)} checks</p>")


def _failure_order(c: CheckResult) -> int:
    return 0 if c.status in (FAIL, ERROR) else 1


def html_report(run: RunResult) -> str:
    counts = run.counts()
    verdict = "FAIL: a MUST requirement is broken" if run.must_failed else "PASS: every MUST holds"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>taskchat conformance: "
           f"{_e(verdict)} — {_e(run.url)}</title><style>{_CSS}</style></head><body>",
           f"<h1 class='verdict-{'fail' if run.must_failed else 'pass'}'>taskchat conformance — "
           f"{_e(verdict)}</h1>", _facts(run), "<p class='summary'>"]
    for status in (PASS, FAIL, WARN, SKIP, DESELECTED):
        out.append(f"<span class='{status}'>{status}: {counts[status]}</span>")
    out.append("<small>requirements</small></p>")
    broken = [r for r in run.requirements if r.status in (FAIL, WARN)]
    if broken:
        out.append("<ul class='broken'>" + "".join(
            f"<li><span class='{r.status}'>{r.status.upper()}</span> <a href='#{r.id}'>"
            f"<b>{_e(r.id)}</b></a> ({_e(r.level)}): {md(r.text)}</li>" for r in broken) + "</ul>")
    out.append("<h2>Requirement matrix</h2><table class='matrix'>")
    by_area: dict[str, list[Any]] = {}
    for r in run.requirements:
        by_area.setdefault(r.area, []).append(r)
    for key, area in areas().items():
        reqs = by_area.get(key, [])
        cells = "".join(
            f"<td class='{r.status}' title='{_e(_plain(r.text))}'><a href='#{r.id}'>{_e(r.id)}</a>"
            f"<br><small>{_e(r.level)} · {r.status}</small></td>" for r in reqs)
        out.append(f"<tr><th class='area'>{_e(area.title)}<br><small>{key}</small></th>{cells}</tr>")
    out.append("</table>")
    out.append("<h2>Failures and warnings</h2>")
    failed = sorted((c for c in run.checks if c.findings), key=_failure_order)
    if not failed:
        out.append("<p>None.</p>")
    for i, c in enumerate(failed):
        out.append(f"<h3 class='{c.status}' id='check-{_e(c.name)}'>{_e(c.name)} "
                   f"<small>({_e(', '.join(c.requirements))}) · {c.status}</small></h3>"
                   f"<div class='doc'>{md(c.doc)}</div>")
        for f in c.findings:
            out.append(f"<div class='finding'><b><a href='#{_e(f.requirement)}'>"
                       f"{_e(f.requirement)}</a></b> — expected: {md(f.expectation)}<br>"
                       f"observed: <code class='observed'>{_e(f.observed)}</code></div>")
        if c.replay:
            out.append(f"<p>rerun: <code>{_e(c.replay)}</code></p>")
        if c.frames:
            runs = collapse(c.frames)
            shown = f"{len(c.frames)} frames" + (
                f", {len(runs)} lines after repeats are collapsed" if len(runs) < len(c.frames)
                else "")
            out.append(f"<details{' open' if i == 0 else ''}><summary>frames sent and received "
                       f"({shown})</summary><pre>{_e(frames_text(c.frames))}</pre></details>")
    out.append("<h2>Requirements</h2><table><tr><th>id</th><th>level</th><th>status</th>"
               "<th>requirement</th><th>checks</th></tr>")
    for r in run.requirements:
        out.append(f"<tr id='{r.id}'><td>{_e(r.id)}</td><td>{_e(r.level)}</td>"
                   f"<td class='{r.status}'>{r.status}"
                   + (f"<br><small>{_e(r.note)}</small>" if r.note else "")
                   + f"</td><td>{md(r.text)}</td>"
                   f"<td>{'<br>'.join(_e(c) for c in r.checks)}</td></tr>")
    out.append("</table><h2>Checks</h2><table><tr><th>check</th><th>requirements</th>"
               "<th>status</th><th>time</th><th>note</th></tr>")
    for c in run.checks:
        note = _e(c.skip_reason) if c.skip_reason else md(c.doc)
        out.append(f"<tr><td>{_e(c.name)}</td><td>{_e(', '.join(c.requirements))}</td>"
                   f"<td class='{c.status}'>{c.status}</td><td>{c.duration:.2f}s</td>"
                   f"<td>{note}"
                   + "".join(f"<br><i>note: {md(n)}</i>" for n in c.notes) + "</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
