"""params.yaml as typed objects: `ProjectParams` (the whole file) and `DatasetParams` (one dataset's view).

Loaded once by an entry point (`load_project`) and passed down; nothing global. Every section is strict,
so a typo or a bad value fails before any work with the key path and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, model_validator

from cleargate.config.common import DatasetName, ModelName, Strict
from cleargate.config.hyperparameters import ModelConfig
from cleargate.config.judging import (
    EvaluateConfig,
    GateThresholds,
    RegistryConfig,
    ReleaseConfig,
    SplitConfig,
    ValidationConfig,
)
from cleargate.config.monitoring import MonitoringConfig
from cleargate.config.notifications import NotificationsConfig
from cleargate.config.orchestration import OrchestrationConfig
from cleargate.config.paths import Paths
from cleargate.config.retention import RetentionConfig
from cleargate.config.schedules import Schedules
from cleargate.config.scoring import DriftConfig, ScoringConfig
from cleargate.config.serving import ServingConfig
from cleargate.config.storage import StorageConfig
from cleargate.config.tracking import Tracking
from cleargate.config.trainer import TrainerConfig
from cleargate.config.tuning import TuningConfig
from cleargate.errors import ConfigError
from cleargate.kinds import KINDS, DatasetConfig, Kind, kind_of
from cleargate.layout import DatasetLayout
from cleargate.schema import GROUP


class DatasetEntry(Strict):
    """One dataset: its data contract and everything judged per dataset (gates, registered model)."""

    data: DatasetConfig
    validation: ValidationConfig
    split: SplitConfig
    evaluate: EvaluateConfig
    gates: GateThresholds
    registry: RegistryConfig
    release: ReleaseConfig


class _Anchored(Strict):
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


class DatasetParams(_Anchored):
    """What one dataset's stages see: the shared sections plus that dataset's entry and its models."""

    seed: int
    paths: Paths
    tracking: Tracking
    trainer: TrainerConfig
    drift: DriftConfig
    monitoring: MonitoringConfig
    scoring: ScoringConfig
    dataset: DatasetConfig
    validation: ValidationConfig
    split: SplitConfig
    evaluate: EvaluateConfig
    gates: GateThresholds
    registry: RegistryConfig
    release: ReleaseConfig
    train: dict[ModelName, ModelConfig]

    @property
    def experiment(self) -> str:
        return f"{self.tracking.experiment}-{self.dataset.name}"

    @property
    def layout(self) -> DatasetLayout:
        """Where every file of this dataset lives."""
        return DatasetLayout(self.paths, self.dataset.name)

    @property
    def kind(self) -> Kind:
        return kind_of(self.dataset)

    @property
    def features(self) -> list[str]:
        """The model's input columns, in the order the model expects them."""
        return self.kind.feature_columns(self.dataset)

    def model(self, name: str) -> ModelConfig:
        """The config of one of this dataset's models, with an error that lists the known names."""
        try:
            return self.train[name]
        except KeyError:
            known = ", ".join(sorted(self.train))
            raise ConfigError(f"unknown model '{name}': params.yaml train defines {known} for dataset "
                              f"'{self.dataset.name}'") from None


def _check_slices(name: str, entry: DatasetEntry) -> None:
    """Each slice cuts by a column the kind keeps for it; a slice gate needs slices to judge."""
    slices, gates, data = entry.evaluate.slices, entry.gates, entry.data
    for key, spec in (slices.by.items() if slices is not None else ()):
        allowed = kind_of(data).slice_columns(data)
        column = GROUP if spec.group else spec.column
        if column not in allowed:
            what = "has no groups (patients or subjects)" if spec.group else f"keeps no column '{column}'"
            raise ValueError(f"datasets.{name}.evaluate.slices.by.{key}: {data.kind} dataset '{name}' {what}; "
                             f"slice by one of {allowed or 'nothing'} (a tabular column that must not be a "
                             "feature goes under data.attributes)")
    wanted = [g for g, on in (("min_slice", gates.min_slice is not None),
                              ("max_slice_gap", gates.max_slice_gap is not None),
                              ("slice_vs_champion", gates.slice_vs_champion)) if on]
    if wanted and slices is None:
        raise ValueError(f"datasets.{name}.gates: {', '.join(wanted)} judge slices, but datasets.{name}.evaluate"
                         ".slices is not set")


class ProjectParams(_Anchored):
    """The whole params.yaml."""

    seed: Annotated[int, Field(ge=0)]
    paths: Paths
    tracking: Tracking
    trainer: TrainerConfig
    orchestration: OrchestrationConfig = OrchestrationConfig()
    drift: DriftConfig
    monitoring: MonitoringConfig
    schedules: Schedules
    notifications: NotificationsConfig = NotificationsConfig()   # none: nothing is sent
    scoring: ScoringConfig
    serving: ServingConfig
    storage: StorageConfig | None = None        # the DVC remote (make push / make pull)
    datasets: Annotated[dict[DatasetName, DatasetEntry], Field(min_length=1)]
    train: dict[ModelName, ModelConfig]
    tuning: TuningConfig | None = None      # `cleargate tune` (hyper-parameter search); none: not set up
    retention: RetentionConfig = RetentionConfig()   # `cleargate gc` and the stack's Prefect vacuum

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
        deep = {f for kind in KINDS.values() for f in kind.deep_families}
        for name, model in self.train.items():
            if model.dataset not in self.datasets:
                raise ValueError(f"train.{name}.dataset: unknown dataset '{model.dataset}' "
                                 f"(datasets: {', '.join(self.datasets)})")
            kind = kind_of(self.datasets[model.dataset].data)
            if model.family in deep and model.family not in kind.deep_families:
                data = self.datasets[model.dataset].data
                raise ValueError(f"train.{name}: family '{model.family}' cannot train on {data.kind} dataset "
                                 f"'{model.dataset}' (use {sorted(kind.deep_families) or 'a tree family'})")
        self._check_init_from()
        for name, entry in self.datasets.items():
            known = kind_of(entry.data).perturbations(entry.data)
            unknown = sorted(set(entry.evaluate.robustness) - set(known))
            if unknown:
                raise ValueError(f"datasets.{name}.evaluate.robustness: unknown perturbation(s) {unknown} for "
                                 f"{entry.data.kind} data (known: {', '.join(known)})")
            _check_slices(name, entry)
            roles = {m.role for m in self.train.values() if m.dataset == name}
            if "candidate" not in roles:
                raise ValueError(f"datasets.{name}: no model in train has role 'candidate' for it")
            if entry.gates.must_beat_baselines and "baseline" not in roles:
                raise ValueError(f"datasets.{name}.gates.must_beat_baselines is true but no model in train "
                                 "has role 'baseline' for it")
        for key, deployment in (("pipeline", self.schedules.pipeline), ("monitor", self.schedules.monitor)):
            unknown = sorted(set(deployment.datasets or []) - set(self.datasets))
            if unknown:
                raise ValueError(f"schedules.{key}.datasets: unknown dataset(s) {unknown} "
                                 f"(datasets: {', '.join(self.datasets)})")
        registered = self.registered_models()
        if len(set(registered)) != len(registered):
            raise ValueError("datasets: two datasets register the same registry.model_name")
        unknown = sorted(set(self.serving.stack) - set(registered))
        if unknown:
            raise ValueError(f"serving.stack: {unknown} not registered by any dataset (registry.model_name: "
                             f"{', '.join(registered)})")
        return self

    def _check_init_from(self) -> None:
        """A fine-tuned model's parent in this project is a deep model declared before it (trained first)."""
        names = list(self.train)
        for name, model in self.train.items():
            parent = getattr(model, "init_from", None)
            if parent is None or parent.startswith("models:/"):
                continue
            if parent not in self.train or self.train[parent].flavour != "torch" or \
                    names.index(parent) >= names.index(name):
                raise ValueError(f"train.{name}.init_from: '{parent}' is not a deep model declared before "
                                 f"'{name}' in train (nor a registered model: models:/<name>@<alias>)")

    def resolve(self, root: Path) -> ProjectParams:
        return self.model_copy(update=self._resolved(root))

    def scope(self, dataset: str) -> DatasetParams:
        """The view one dataset's stages work with."""
        if dataset not in self.datasets:
            raise ConfigError(f"unknown dataset '{dataset}': params.yaml datasets defines "
                              f"{', '.join(self.datasets)}")
        entry = self.datasets[dataset]
        return DatasetParams(seed=self.seed, paths=self.paths, tracking=self.tracking, trainer=self.trainer,
                             drift=self.drift, monitoring=self.monitoring, dataset=entry.data,
                             validation=entry.validation, split=entry.split, evaluate=entry.evaluate,
                             gates=entry.gates, registry=entry.registry, release=entry.release, scoring=self.scoring,
                             train={n: m for n, m in self.train.items() if m.dataset == dataset}, root=self.root)

    def scope_registered(self, model_name: str | None) -> DatasetParams:
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

