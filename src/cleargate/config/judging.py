"""How each dataset is judged: validation policy, split, evaluation, acceptance gates, registered name."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cleargate.config.common import Fraction, Strict, Unit

CheckName = Literal["columns", "dtypes", "labels", "duplicates", "values", "categories", "recordings",
                    "class_balance", "identifiers", "channels"]
ROW_LEVEL_CHECKS = {"labels", "duplicates", "values", "categories"}


class ValidationConfig(Strict):
    policy: dict[CheckName, Literal["fail", "quarantine"]] = {}
    max_quarantine_fraction: Annotated[float, Field(ge=0.0, le=0.5)]
    max_class_share: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @model_validator(mode="after")
    def _check(self) -> ValidationConfig:
        table_level = sorted(c for c, p in self.policy.items() if p == "quarantine" and c not in ROW_LEVEL_CHECKS)
        if table_level:
            raise ValueError(f"validation.policy: {table_level} judge the whole table and can only 'fail'")
        return self

    def policy_for(self, check: str) -> str:
        """Unlisted checks fail: closed by default."""
        return self.policy.get(check, "fail")  # type: ignore[call-overload]


class SplitConfig(Strict):
    """Fractions of the whole; of groups (subjects, patients) when the dataset has them."""

    test_size: Fraction
    val_size: Fraction

    @model_validator(mode="after")
    def _check(self) -> SplitConfig:
        if self.test_size + self.val_size >= 0.9:
            raise ValueError("split.test_size + split.val_size must leave at least 10% for training")
        return self


MetricName = Literal["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall",
                     "positive_precision"]


class EvaluateConfig(Strict):
    primary_metric: MetricName
    calibration_bins: Annotated[int, Field(ge=2, le=100)]     # expected calibration error (ECE) bins
    # perturbation of the kind (kinds.<kind>.perturbations) -> its strength: the primary metric is measured on a
    # perturbed copy of the test split for each; empty: none measured
    robustness: dict[str, Annotated[float, Field(ge=0.0)]] = {}


class ChampionGate(Strict):
    metric: Literal["accuracy", "macro_f1", "balanced_accuracy"]
    margin: Annotated[float, Field(ge=0.0, le=0.5)]
    n_resamples: Annotated[int, Field(ge=100, le=100_000)]
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)]


class GateThresholds(Strict):
    """Every threshold that decides a release is stated in params.yaml; only 'off' values have defaults."""

    minimum: dict[MetricName, Unit] = {}        # metric -> floor on the test set
    min_class_recall: Unit = 0.0
    max_ece: Unit = 1.0
    must_beat_baselines: bool
    max_latency_p95_ms_single: Annotated[float, Field(gt=0.0)]
    max_latency_p95_ms_batch: Annotated[float, Field(gt=0.0)]
    max_model_size_mb: Annotated[float, Field(gt=0.0)]
    latency_batch_size: Annotated[int, Field(ge=1, le=100_000)]
    latency_repeats: Annotated[int, Field(ge=3, le=10_000)]
    champion: ChampionGate
    max_robustness_drop: Unit | None = None     # primary metric: clean minus its worst perturbed value
    max_seed_std: dict[MetricName, Unit] = {}    # metric -> largest std over seeds (`cleargate stability`)


class RegistryConfig(Strict):
    model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ReleaseConfig(Strict):
    """Who moves `champion` once every gate passed: the pipeline itself (`auto`), or a person (`required`: the
    version waits as `challenger` with `approval=pending` until `cleargate approve` or `reject`; one left
    undecided for `approval_timeout_h` hours is rejected by the next pipeline run)."""

    approval: Literal["auto", "required"]
    approval_timeout_h: Annotated[float, Field(gt=0.0, le=24 * 365)]
