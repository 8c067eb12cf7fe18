"""Every file dvc.yaml declares, as DVC itself resolves it from params.yaml, is a path of the typed layout."""

from pathlib import Path

from dvc.repo import Repo

from cleargate.layout import PLOT_IMAGES, PLOT_TABLES, DatasetLayout
from cleargate.params import load_project
from tests.projects import ROOT


def layout_paths(layout: DatasetLayout) -> set[Path]:
    paths = {getattr(layout, name) for name, attr in vars(DatasetLayout).items() if isinstance(attr, property)}
    return {p for p in paths if isinstance(p, Path)}


def test_dvc_outputs_are_the_files_the_layout_names():
    project = load_project(ROOT / "params.yaml")
    written: set[Path] = set()
    for name in project.datasets:
        params = project.scope(name)
        written |= layout_paths(params.layout) | {params.layout.split(p) for p in ("train", "val", "test")}
        for model in params.train:
            m = params.layout.model(model)
            written |= {m.dir, m.metrics, m.plots, m.predictions, m.curves, m.explanations,
                        *(m.plot(f) for f in PLOT_TABLES + PLOT_IMAGES)}
    with Repo(str(ROOT)) as repo:
        declared = [(stage.addressing, Path(out.fs_path)) for stage in repo.index.stages for out in stage.outs]
        deps = [(stage.addressing, Path(dep.fs_path)) for stage in repo.index.stages for dep in stage.deps
                if "src/cleargate" not in str(dep.fs_path) and Path(dep.fs_path).name != "params.yaml"]
    assert len(declared) > 60, "every dataset and every model has its stages"
    for stage, path in declared + deps:
        assert path in written, f"dvc.yaml {stage} names {path}, which the layout does not"
