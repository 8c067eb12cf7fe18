"""Retention: what of the project's history `cleargate gc` deletes, and what it always keeps.

MLflow runs of the kinds that pile up (monitoring batches, scored batches, tuning searches, stability
measurements: `run_kinds`) go once they ended longer ago than their `retention.keep_days` (`expired_runs`), unless
a registered version rests on them (`registered_runs`); they are deleted and purged with `mlflow gc`
(`run_purge`). The DVC cache keeps what the workspace, HEAD and every registered version's lineage name
(`cache_keep`), and loses the rest (`cache_sweep`). `gc_plan` works it all out before deleting anything;
`gc_report` says what went.
"""

from cleargate.retention.gc_plan import GcPlan, collect, plan
from cleargate.retention.gc_report import GcReport

__all__ = ["GcPlan", "GcReport", "collect", "plan"]
