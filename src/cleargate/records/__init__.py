"""Typed hand-offs: what one stage writes and the next one reads, as pydantic records with save/load.

Each record is one JSON file named by `cleargate.layout`; loading validates it, so a stale or hand-edited
file fails with the file named instead of a KeyError three modules later. In the order they are written:
IngestRecord -> ValidationRecord -> CleaningReport -> SplitReport (`inputs`) -> TrainRecord (`fits`) ->
Evaluation (+ Predictions, Explanation: `evidence`) -> GateDecision -> ReleaseDecision (`verdicts`); a run's
cost is a RunTimings (`run_timings`).
"""

from cleargate.records.evidence import (
    Evaluation,
    Explanation,
    FeatureImportance,
    Predictions,
    SliceFigure,
    SliceReport,
    slice_key,
)
from cleargate.records.fits import SeedSpread, StabilitySummary, TrainRecord
from cleargate.records.inputs import CleaningReport, IngestRecord, SplitReport, ValidationRecord
from cleargate.records.record import Record
from cleargate.records.run_timings import RunTimings
from cleargate.records.verdicts import Check, GateDecision, GateReport, Operational, Outcome, ReleaseDecision

__all__ = ["Check", "CleaningReport", "Evaluation", "Explanation", "FeatureImportance", "GateDecision",
           "GateReport", "IngestRecord", "Operational", "Outcome", "Predictions", "Record", "ReleaseDecision",
           "RunTimings", "SeedSpread", "SliceFigure", "SliceReport", "SplitReport", "StabilitySummary",
           "TrainRecord", "ValidationRecord", "slice_key"]
