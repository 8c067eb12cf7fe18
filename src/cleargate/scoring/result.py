"""What scoring one batch produced: the outcome, the evidence, and where its files are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cleargate.errors import DataValidationError
from cleargate.evaluation.drift import DriftReport
from cleargate.validation import ValidationReport

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ScoreResult:
    source: str
    input_sha256: str
    model: str
    version: str
    validation: ValidationReport
    drift: DriftReport | None       # None when validation refused the batch first
    refused: bool
    out_dir: Path                   # scores/<input stem>-<sha12>/<model>-v<version>/
    outcome: str = "scored"         # scored | scored, drift flagged | refused: drift | refused: validation | ...
    reason: str = ""                # why it was refused, in one line
    n_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    prediction_psi: float | None = None   # the predicted classes' shares against the test split's (scored only)
    slices: dict[str, Any] = field(default_factory=dict)   # `<slicing>=<value>` -> rows, predicted class shares

    @property
    def predictions_path(self) -> Path | None:
        path = self.out_dir / "predictions.parquet"
        return None if self.refused else path

    @property
    def predictions(self) -> pd.DataFrame | None:
        """The predictions file, read on demand (scoring never holds them all in memory)."""
        import pandas as pd

        return None if self.predictions_path is None else pd.read_parquet(self.predictions_path)

    def summary(self) -> str:
        if self.drift is None:
            return f"{self.source}: REFUSED ({self.outcome}); {self.reason}"
        verdict = "REFUSED (drift)" if self.refused else ("scored, FLAGGED for drift" if self.drift.is_drifted
                                                           else "scored")
        return (f"{self.source}: {verdict}; model {self.model} v{self.version}; {self.n_rows} rows; "
                f"drift: {self.drift.summary()}; report: {self.out_dir / 'report.json'}")


class BatchRefused(DataValidationError):
    """A batch refused before scoring (validation, or a file unreadable part-way); its run is logged and
    its report written; `result` holds the evidence."""

    def __init__(self, message: str, result: ScoreResult | None = None) -> None:
        super().__init__(message)
        self.result = result
