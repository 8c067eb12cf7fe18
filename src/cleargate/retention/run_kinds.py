"""Which MLflow runs are of a kind `cleargate gc` may delete, named where each kind's runs are made:

- monitoring: every run of `<experiment>-<dataset>-monitoring` (`monitoring.monitoring_runs`);
- scoring: every run of `<experiment>-<dataset>-scoring` (`scoring.scoring_runs`);
- tuning: runs of the dataset's experiment tagged `stage` = `tune` (a search) or `tune-trial` (`tuning.trial_runs`);
- stability: runs of the dataset's experiment tagged `stage` = `stability` (`stability.seed_runs`).

Training, evaluation and pipeline runs are never of these kinds: `cleargate gc` leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleargate.config.retention import RunKind
from cleargate.monitoring.monitoring_runs import experiment as monitoring_experiment
from cleargate.params import ProjectParams
from cleargate.scoring.scoring_runs import experiment as scoring_experiment
from cleargate.stability.seed_runs import STAGE as STABILITY_STAGE
from cleargate.tuning.trial_runs import SEARCH_STAGE, TRIAL_STAGE


@dataclass(frozen=True)
class RunQuery:
    """One search for runs of a kind: an experiment, and the tag that picks them out in it (None: every run)."""

    kind: RunKind
    experiment: str
    stage: str | None = None

    def where(self, ended_before_ms: int) -> str:
        """MLflow's filter: of this kind, and ended before the cutoff (a run still open has no end time)."""
        ended = f"attributes.end_time < {ended_before_ms}"
        return f"tags.stage = '{self.stage}' and {ended}" if self.stage else ended


def run_queries(project: ProjectParams) -> list[RunQuery]:
    """Every query of every dataset of the project, in the order of params.yaml."""
    queries = []
    for name in project.datasets:
        params = project.scope(name)
        queries += [RunQuery("monitoring", monitoring_experiment(params)),
                    RunQuery("scoring", scoring_experiment(params)),
                    RunQuery("tuning", params.experiment, SEARCH_STAGE),
                    RunQuery("tuning", params.experiment, TRIAL_STAGE),
                    RunQuery("stability", params.experiment, STABILITY_STAGE)]
    return queries
