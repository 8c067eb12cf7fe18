"""Gate verdicts and the release decision: each check with its threshold and value, the selected candidate,
where `champion` stands."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

from cleargate.records.record import Record


class Check(BaseModel):
    """One gate: its threshold, the measured value and the verdict (a missing value fails)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    threshold: float | None
    value: float | None
    passed: bool
    detail: str = ""
    slice_name: str | None = None    # the slice that decided a slice gate: the verdict names it


class GateReport(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)   # `passed` is derived, written for readers
    model: str
    checks: tuple[Check, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


class GateDecision(Record):
    """reports/<d>/gate.json: every candidate's offline verdict and the one selected for release."""

    primary_metric: str
    selected: str
    passed: bool
    candidates: dict[str, GateReport]
    baselines: dict[str, float | None]


class Operational(Record):
    """Latency and size of the logged model as production loads it, measured on this machine."""

    latency_p95_ms_single: float
    latency_p95_ms_batch: float
    batch_size: int
    model_size_mb: float
    load_seconds: float


Outcome = Literal["promoted", "blocked", "unchanged", "pending"]


class ReleaseDecision(Record):
    """reports/<d>/promotion.json: the registered version, its full verdict, and where `champion` stands."""

    model_name: str
    version: str
    selected: str
    passed: bool
    champion: str | None
    previous_champion: str | None
    moved: bool
    reason: str
    run_id: str
    pipeline_run_id: str
    operational: Operational
    gate: GateReport
    approval: Literal["auto", "pending"] = "auto"   # pending: passed, waits for `cleargate approve` / `reject`
    registry: str = ""                              # the store it is registered in (no password)

    @property
    def outcome(self) -> Outcome:
        """promoted: champion moved; blocked: a gate failed; pending: passed, awaits a person's approval;
        unchanged: passed, identical to the champion."""
        if self.moved:
            return "promoted"
        if not self.passed:
            return "blocked"
        return "pending" if self.approval == "pending" else "unchanged"

    @property
    def blocked(self) -> bool:
        return self.outcome == "blocked"

    def message(self) -> str:
        champion = f"v{self.champion}" if self.champion else "none"
        alias = "champion" if self.moved else "challenger"
        return (f"{self.model_name} v{self.version} ({self.selected}) registered as {alias}: {self.reason}; "
                f"champion is {champion}")
