"""What a run found, in the shape every report is written from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from taskchat.schemas import REQUIREMENTS, Level

PASS, FAIL, WARN, SKIP, ERROR = "pass", "fail", "warn", "skip", "error"
# a requirement left out by --only / --requirement / --level: not run on purpose, not skipped
DESELECTED = "deselected"


@dataclass
class Finding:
    """One broken expectation, attributed to the requirement it breaks."""

    requirement: str
    expectation: str
    observed: str
    check: str = ""  # the check that found it, whose frames show it
    t: float = 0.0  # seconds into the check: which frames to show with it


@dataclass
class CheckResult:
    name: str
    area: str
    level: str
    requirements: list[str]
    doc: str
    status: str  # pass, fail (a MUST finding), warn (SHOULD findings only), error, skip
    duration: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    skip_reason: str | None = None
    # requirements the check did not reach because it stopped at an earlier failure ...
    unreached: list[str] = field(default_factory=list)
    # ... of this requirement
    stopped_at: str | None = None
    # the frames its sockets sent and received (kept when it found something)
    frames: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    observations: int = 0
    # the command that reruns just this check's requirement against the same target, and what
    # the check asked that command to add (Ctx.replay_args)
    replay: str | None = None
    replay_args: list[str] = field(default_factory=list)


@dataclass
class RequirementResult:
    id: str
    area: str
    level: str
    text: str
    status: str  # pass, fail (MUST), warn (SHOULD), skip, deselected
    checks: list[str]
    findings: list[Finding]
    # why it was not judged: the skip reason, or the requirement whose failure stopped it
    note: str = ""


@dataclass
class RunResult:
    url: str
    started: str
    duration: float
    checks: list[CheckResult]
    requirements: list[RequirementResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def must_failed(self) -> bool:
        return any(r.status == FAIL for r in self.requirements)

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, WARN: 0, SKIP: 0, DESELECTED: 0}
        for r in self.requirements:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.counts()
        data["exitStatus"] = 1 if self.must_failed else 0
        return data


def summarize(checks: list[CheckResult]) -> list[RequirementResult]:
    """Per requirement: failed if any check found it broken, skipped if no check reached it."""
    by_req: dict[str, list[CheckResult]] = {}
    for c in checks:
        for rid in c.requirements:
            by_req.setdefault(rid, []).append(c)
        for f in c.findings:  # a finding may name a requirement outside the check's list (DATA-1)
            if f.requirement not in c.requirements:
                by_req.setdefault(f.requirement, []).append(c)
    out = []
    for rid, req in REQUIREMENTS.items():
        ran = by_req.get(rid, [])
        if not ran:
            out.append(RequirementResult(id=rid, area=req.area, level=str(req.level),
                                         text=req.text, status=DESELECTED, checks=[],
                                         findings=[], note="not selected for this run"))
            continue
        note = ""
        findings = [f for c in ran for f in c.findings if f.requirement == rid]
        errored = [c for c in ran if c.status == ERROR and rid in c.requirements]
        if findings or errored:
            status = FAIL if req.level == Level.MUST else WARN
            findings = findings + [
                Finding(rid, "the check runs to its end", f.observed, c.name)
                for c in errored
                for f in c.findings
                if f.requirement == "*"
            ]
        elif any(
            c.status in (PASS, FAIL, WARN) and rid in c.requirements and rid not in c.unreached
            for c in ran
        ):
            status = PASS
        else:
            status = SKIP
            note = _why_not_judged(rid, ran)
        out.append(
            RequirementResult(
                id=rid,
                area=req.area,
                level=str(req.level),
                text=req.text,
                status=status,
                checks=sorted({c.name for c in ran}),
                findings=findings,
                note=note,
            )
        )
    return out


def _why_not_judged(rid: str, ran: list[CheckResult]) -> str:
    """The reason a requirement is skip: an earlier failure that stopped its check, or the
    checks' own skip reasons."""
    for c in ran:
        if rid in c.unreached and c.stopped_at:
            return f"not reached: {c.name} stopped when {c.stopped_at} failed first"
    reasons = sorted({c.skip_reason for c in ran if c.status == SKIP and c.skip_reason})
    return "; ".join(reasons)
