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


SliceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class SliceSpec(Strict):
    """One way to cut the test rows into slices: one slice per value of a stored column (`column`), per band of a
    numeric one (`column` and `bands`), or per group (`group: true`: the dataset's patients or subjects). The
    column may be a feature or an attribute the data contract keeps for judging only (never a model input)."""

    column: str | None = None
    bands: Annotated[list[float], Field(min_length=2)] | None = None   # edges: [a, b) bands, the last one closed
    group: bool = False

    @model_validator(mode="after")
    def _check(self) -> SliceSpec:
        if (self.column is None) == (not self.group):
            raise ValueError("a slice names either a column or group: true")
        if self.bands is not None and (self.column is None or sorted(set(self.bands)) != self.bands):
            raise ValueError("bands are strictly ascending edges of a numeric column")
        return self


class SlicesConfig(Strict):
    """Judged subgroups: the primary metric on each slice of the test rows, with a bootstrap interval."""

    by: Annotated[dict[SliceName, SliceSpec], Field(min_length=1)]
    min_rows: Annotated[int, Field(ge=1)]          # smaller slices are reported, never gated nor ranked
    n_resamples: Annotated[int, Field(ge=20, le=100_000)]   # percentile bootstrap of each judged slice's metric
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)]


class AttributionConfig(Strict):
    """Attribution maps of networks on images (captum's integrated gradients), one per class."""

    images_per_class: Annotated[int, Field(ge=1)]  # test images of the class averaged (a seeded choice)
    steps: Annotated[int, Field(ge=2, le=1024)]    # integrated-gradients steps per image


class ExplainConfig(Strict):
    """What drives a model's decisions, bounded in cost: permutation importance on the test split for every
    model, and (with `attribution`) an attribution map per class for networks on images."""

    max_rows: Annotated[int, Field(ge=10)]         # test rows scored per shuffle (a seeded, stratified sample)
    repeats: Annotated[int, Field(ge=1, le=100)]   # shuffles per feature (or channel, or image region)
    top: Annotated[int, Field(ge=1)]               # features shown in the model card and the plot
    attribution: AttributionConfig | None = None   # none: no attribution map


class EvaluateConfig(Strict):
    primary_metric: MetricName
    calibration_bins: Annotated[int, Field(ge=2, le=100)]     # expected calibration error (ECE) bins
    # perturbation of the kind (kinds.<kind>.perturbations) -> its strength: the primary metric is measured on a
    # perturbed copy of the test split for each; empty: none measured
    robustness: dict[str, Annotated[float, Field(ge=0.0)]] = {}
    slices: SlicesConfig | None = None          # none: no subgroup is judged
    explain: ExplainConfig | None = None        # none: no importance or attribution is measured


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
    min_slice: Unit | None = None               # primary metric: floor for every slice of at least min_rows rows
    max_slice_gap: Unit | None = None           # primary metric: largest difference between slices of one slicing
    slice_vs_champion: bool = False             # no slice significantly worse than the champion's same slice


class RegistryConfig(Strict):
    model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class ReleaseConfig(Strict):
    """Who moves `champion` once every gate passed: the pipeline itself (`auto`), or a person (`required`: the
    version waits as `challenger` with `approval=pending` until `cleargate approve` or `reject`; one left
    undecided for `approval_timeout_h` hours is rejected by the next pipeline run)."""

    approval: Literal["auto", "required"]
    approval_timeout_h: Annotated[float, Field(gt=0.0, le=24 * 365)]
