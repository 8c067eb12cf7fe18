"""What the monitoring decided about one batch: the record written next to it (`<batch>.report.json`)."""

from __future__ import annotations

from typing import Literal

from cleargate.records import Record

Outcome = Literal["scored", "scored, drift flagged", "refused: drift", "refused: validation", "refused: unreadable"]


class BatchReport(Record):
    """One batch, from claim to its final folder. Written atomically after each step that changes it."""

    dataset: str
    batch: str                      # the name it arrived with in inbox/<dataset>/
    claimed: str                    # its name from the claim on: <UTC time>-<batch>, unique
    sha256: str | None = None
    model: str
    version: str
    outcome: Outcome
    message: str                    # one line: what happened and why
    rows: int | None = None
    drifted_fraction: float | None = None
    drifted_features: list[str] = []
    psi_max: float | None = None    # the highest PSI of any feature
    prediction_psi: float | None = None  # the predicted classes' shares against the test split's
    drift_page: str | None = None   # per drifted feature, reference and batch histograms (HTML)
    live: dict[str, float] = {}     # metrics on the batch's labels (labelled batches only)
    champion_test: dict[str, float] = {}
    degraded: list[str] = []        # live metrics that dropped more than monitoring.max_metric_drop
    challenger: str | None = None   # the `challenger` version scored in shadow on the labelled batch
    challenger_live: dict[str, float] = {}
    challenger_note: str = ""       # why the shadow scoring gave no metrics
    slices: dict[str, dict[str, float]] = {}   # `<slicing>=<value>` -> rows and (min_rows or more) live metrics
    retrain_reasons: list[str] = []  # drift / degradation, as far as monitoring.retrain_on asks
    retrain_key: str | None = None  # the idempotency key of the training run it asks for (set before the ask)
    retrain_run: str | None = None  # the Prefect flow run of the training deployment it started
    retrain_error: str | None = None
    mlflow_run_id: str | None = None
    scores_dir: str | None = None
    decided_at: str

    @property
    def destination(self) -> Literal["done", "refused"]:
        return "refused" if self.outcome.startswith("refused") else "done"

    @property
    def drifted(self) -> bool:
        return self.outcome in ("refused: drift", "scored, drift flagged")

    @property
    def wants_retrain(self) -> bool:
        return bool(self.retrain_reasons) and self.retrain_run is None and self.retrain_error is None
