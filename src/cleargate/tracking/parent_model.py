"""The parent of a fine-tuned model (`train.<m>.init_from`), resolved to weights and a name for the lineage.

`models:/<name>@<alias>` and `models:/<name>/<version>` are resolved once, to a version number, through the
registry (what the lineage records, so the new version names the one it started from; the alias may move
later), and that version's bundle is downloaded; a model of this project is read from its folder (the
flow trains it first: params.yaml declares it before the fine-tuned one).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cleargate.errors import ConfigError
from cleargate.layout import BundleFiles, DatasetLayout
from cleargate.models.bundle import ModelBundle
from cleargate.params import DatasetParams
from cleargate.tracking.lineage import model_digest
from cleargate.tracking.registry import alias_version
from cleargate.tracking.store import connect, store_errors

if TYPE_CHECKING:  # torch: imported by a fine-tuned model's train stage only, not a tree's
    from cleargate.training.finetune import InitWeights

REGISTRY = "models:/"


def resolve_init(params: DatasetParams, model: str) -> InitWeights | None:
    """The weights `model` starts from, or None when it trains from scratch."""
    source = getattr(params.model(model), "init_from", None)
    if source is None:
        return None
    if source.startswith(REGISTRY):
        with tempfile.TemporaryDirectory() as scratch:
            found = _download(params, model, source, Path(scratch))
            if found is None:   # this dataset's own registered model has no version yet: the first run
                return None
            name, version, folder = found
            return _weights(model, f"{REGISTRY}{name}/{version}", version, folder)
    return _weights(model, source, None, _project_model(params, model, source))


def _project_model(params: DatasetParams, model: str, parent: str) -> Path:
    """The parent's folder, in whichever dataset's models it was trained (Fashion-MNIST -> MNIST)."""
    datasets = sorted(p.name for p in params.paths.models.iterdir() if p.is_dir()) if params.paths.models.is_dir() \
        else []
    for dataset in [params.dataset.name, *datasets]:
        folder = DatasetLayout(params.paths, dataset).model(parent).dir
        if folder.is_dir():
            return folder
    raise ConfigError(f"train.{model}.init_from: {parent} has no trained model under {params.paths.models}; "
                      f"train it first (`dvc repro train@{parent}`)")


def _download(params: DatasetParams, model: str, source: str, into: Path) -> tuple[str, str, Path] | None:
    """`models:/name@alias` or `models:/name/version` -> (name, version, local bundle folder); None when it is
    this dataset's own registered model and nothing is registered yet (a first run trains from scratch, so
    `init_from: models:/<own name>@champion` can stay in params.yaml from the start)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    ref = source.removeprefix(REGISTRY)
    name, alias = ref.split("@", 1) if "@" in ref else (ref.partition("/")[0], None)
    client = connect(params)
    with store_errors(params):
        try:
            versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        except MlflowException:
            versions = []
        if not versions and name == params.registry.model_name:
            return None
        version = alias_version(client, name, alias) if alias else ref.partition("/")[2]
        if not versions or version is None or not version.isdigit() or int(version) not in versions:
            known = f"versions {versions[0]}-{versions[-1]}" if versions else "no registered version"
            raise ConfigError(f"train.{model}.init_from: {source} names nothing in {params.tracking.uri} "
                              f"({name}: {known}); use models:/<name>@<alias> or models:/<name>/<version>")
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{REGISTRY}{name}/{version}",
                                                             dst_path=str(into)))
        except (MlflowException, OSError) as exc:
            raise ConfigError(f"train.{model}.init_from: could not download {source} (v{version}): {exc}") from None
    manifests = sorted(local.rglob(BundleFiles(local).manifest.name))
    if not manifests:
        raise ConfigError(f"train.{model}.init_from: {source} (v{version}) holds no cleargate model bundle")
    return name, version, manifests[0].parent


def _weights(model: str, source: str, version: str | None, folder: Path) -> InitWeights:
    from cleargate.training.finetune import InitWeights

    bundle = ModelBundle.load(folder)
    if bundle.manifest.flavour != "torch":
        raise ConfigError(f"train.{model}.init_from: {source} is a {bundle.manifest.family} model; only a deep "
                          "model's weights can start a fine-tuned one")
    return InitWeights(source, version, model_digest(folder), bundle.model.state_dict())
