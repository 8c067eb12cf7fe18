"""Monitoring of the batches that arrive in `paths.inbox/<dataset>/` (the `cleargate-monitor` flow drives it).

Each batch is claimed (`inbox.py`, one atomic rename), scored with the champion through `cleargate.scoring`
(validation, drift, predictions), judged (`decision.py`: drift, live metrics against the champion's test
metrics), logged as one MLflow run (`tracking.py`), and moved with its report to `done/` or `refused/`.
Every step is idempotent and leaves a file behind, so a run killed midway is resumed by the next one: a batch
is never scored twice and never lost. Starting a retraining is the flow's job (Prefect); this package only
says which batches ask for one and records the run that was started.
"""
