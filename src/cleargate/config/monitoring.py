"""What the monitoring flow watches in every new batch (`monitoring:`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cleargate.config.common import Strict

# Metrics computable from predicted labels alone (the served model returns labels, not probabilities).


LiveMetric = Literal["accuracy", "balanced_accuracy", "macro_f1", "positive_recall", "positive_precision"]


class MonitoringConfig(Strict):
    """What the monitoring flow watches in each batch that arrives in `paths.inbox/<dataset>/`."""

    metrics: Annotated[list[LiveMetric], Field(min_length=1)]
    max_metric_drop: Annotated[float, Field(gt=0.0, lt=1.0)]    # live below champion's test value by more
    retrain_on: list[Literal["drift", "degradation"]]           # what starts the training deployment
