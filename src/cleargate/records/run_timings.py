"""What one pipeline run cost (written by the flow, not by a stage)."""

from __future__ import annotations

from cleargate.records.record import Record


class RunTimings(Record):
    """reports/run_timings.json: what one pipeline run cost, stage by stage, against the fitting it did."""

    wall_seconds: float
    fit_seconds: float                 # sum of this run's fits (TrainRecord.fit_seconds)
    stage_seconds: dict[str, float]    # dvc stage name -> wall time of the stage, as the flow saw it
    skipped: int                       # stages DVC found up to date
    runner: str = "process pool"       # what ran the fits: "process pool of 2", "Dask at tcp://host:8786"
    dask_dashboard: str | None = None  # the Dask scheduler's dashboard, when Dask ran them
    explain_seconds: float = 0.0       # explanations (permutation importance, attribution maps) of the evaluations

    @property
    def overhead(self) -> float:
        """(wall - fitting) / fitting: what the orchestration, I/O and judging cost per second of fitting."""
        return (self.wall_seconds - self.fit_seconds) / self.fit_seconds if self.fit_seconds else float("nan")

    def by_stage(self) -> dict[str, float]:
        """Wall time summed per stage name (every dataset's validate together, ...), fits not counted."""
        totals: dict[str, float] = {}
        for name, seconds in self.stage_seconds.items():
            totals[name.split("@")[0]] = totals.get(name.split("@")[0], 0.0) + seconds
        return totals
