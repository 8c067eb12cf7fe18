"""Batch scoring that trusts nothing: validate, check drift against the model's reference, then score.

Order matters: a batch that fails validation is refused before any drift verdict or prediction; a drifted
batch is refused (or scored and flagged, by `drift.on_drift`); only then does the model run. The input
streams through in chunks (`scoring.chunk_rows`), so memory follows the chunk, not the file. Every
outcome writes a report and is one MLflow run; predictions carry the model version and the input's hash.

Modules: `core` (score_file, the two passes), `source` (the file in chunks), `reference_profile` (the training
data's profile drift is checked against), `staging` (the output folder, written whole), `scoring_runs`
(MLflow), `progress` (bar or lines), `result` (ScoreResult, BatchRefused).
"""

from cleargate.scoring.core import score_file
from cleargate.scoring.progress import progress_for
from cleargate.scoring.reference_profile import load_profile
from cleargate.scoring.result import BatchRefused, ScoreResult
from cleargate.scoring.scoring_runs import log_scoring_run

__all__ = ["BatchRefused", "ScoreResult", "load_profile", "log_scoring_run", "progress_for", "score_file"]
