"""Bookkeeping of one pipeline flow run: what ran (and how long it took), what DVC found up to date, which
datasets failed and which were blocked at their gates. Each outcome is one line on the console as it happens
and one log line for the Prefect UI."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from cleargate.errors import CleargateError
from cleargate.graph import StageCall
from cleargate.records import Evaluation, ReleaseDecision, RunTimings, TrainRecord
from flows import dvc_adapter
from flows.schedule import asked_for

STYLE = {"ran": "green", "skipped": "dim", "blocked": "yellow", "failed": "red", "not run": "dim"}


@dataclass
class RunLedger:
    root: Path
    rerun: set[str]
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    logger: Any = None
    started: float = field(default_factory=time.perf_counter)
    outcomes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    explain_seconds: float = 0.0                                      # explanations, inside the evaluate stages
    pending: list[str] = field(default_factory=list)                  # ran, not yet recorded in dvc.lock
    lock: dvc_adapter.LockRecorder = field(init=False, repr=False)      # what records them (hashing early)
    failed: dict[str, CleargateError] = field(default_factory=dict)   # dataset -> the first error that stopped it
    blocked: dict[str, str] = field(default_factory=dict)             # dataset -> why its candidate was not promoted
    runner: str = "process pool"                                      # what ran the fits (flows.runners.describe)
    dask_dashboard: str | None = None

    def _say(self, call: StageCall, outcome: str, detail: str = "") -> None:
        self.outcomes[call.dvc_name] = outcome
        took = f"{self.seconds[call.dvc_name]:6.1f} s" if call.dvc_name in self.seconds else " " * 8
        self.console.print(f"  {call.dvc_name:<28} {took}  [{STYLE[outcome]}]{outcome}[/]{detail}")
        if self.logger is not None:
            self.logger.info("%s: %s%s", call.dvc_name, outcome, detail)

    def stale(self, call: StageCall, state: dvc_adapter.Staleness) -> bool:
        """Run when asked to (`--rerun`), when DVC finds the stage stale, or when a stage it reads ran."""
        ran = [name for name, outcome in self.outcomes.items() if outcome in ("ran", "blocked")]
        if asked_for(call, self.rerun) or state.needs_run(call.dvc_name, ran):
            return True
        self._say(call, "skipped")
        return False

    def __post_init__(self) -> None:
        self.lock = dvc_adapter.LockRecorder(self.root)

    def done(self, call: StageCall, result: Any, seconds: float) -> None:
        self.pending.append(call.dvc_name)
        # a dataset's models are judged (gate) or it is done (promote): hash what ran so far while the next one fits
        # or, for the last dataset, while it is promoted (its stages took 2.3 s to hash after its promote)
        if call.stage.name in ("gate", "promote"):
            self.lock.hash_soon(self.pending)
        self.seconds[call.dvc_name] = seconds
        if isinstance(result, TrainRecord):
            self.fit_seconds += result.fit_seconds
        if isinstance(result, Evaluation):
            self.explain_seconds += result.explain_seconds or 0.0
        if isinstance(result, ReleaseDecision) and result.blocked:  # a verdict, recorded; not a failure
            self.blocked[call.dataset] = result.message()
            self._say(call, "blocked", f": {result.reason}")
            return
        self._say(call, "ran")

    def record_soon(self) -> None:
        """Start `record`'s write on the recorder's thread, so dvc.lock is written while this process waits for
        something else (the dataset worker's exit: 1.5 s); `record` then waits for it."""
        names, self.pending = self.pending, []
        self.pending = self.lock.write_soon(names)

    def record(self) -> None:
        """What ran goes into dvc.lock, in one write (DVC re-reads and rewrites the whole lock file each time),
        called before each promote (the version it registers carries the dvc.lock entries of the stages that made
        it, as `dvc repro` would have recorded them by then) and at the end of every run, also a failed one: a
        stage recorded there is never re-run by the next run or by `dvc repro`. Most of it was hashed already,
        as each dataset was gated."""
        names, self.pending = self.pending, []
        self.lock.write(names)

    def fail(self, call: StageCall, exc: CleargateError) -> None:
        self.failed.setdefault(call.dataset, exc)
        self._say(call, "failed", f": {str(exc).splitlines()[0]}")

    def skip_failed(self, call: StageCall) -> bool:
        if call.dataset in self.failed:
            self._say(call, "not run")
            return True
        return False

    def timings(self) -> RunTimings:
        return RunTimings(wall_seconds=time.perf_counter() - self.started, fit_seconds=self.fit_seconds,
                          stage_seconds=dict(self.seconds), explain_seconds=self.explain_seconds,
                          skipped=sum(1 for o in self.outcomes.values() if o == "skipped"),
                          runner=self.runner, dask_dashboard=self.dask_dashboard)

    def raise_failures(self) -> None:
        """One failure: re-raised as it is (same type). Several: one error naming each dataset."""
        if len(self.failed) == 1:
            dataset, error = next(iter(self.failed.items()))
            raise type(error)(f"[{dataset}] {error}")
        if self.failed:
            error = CleargateError("; ".join(f"[{d}] {e}" for d, e in self.failed.items()))
            error.exit_code = max(e.exit_code for e in self.failed.values())  # the gravest kind decides
            raise error
