"""Every file dvc.yaml declares is one the stage code writes (paths are derived once, from params.yaml)."""

from dvc.repo import Repo

from cleargate.config import load_project
from cleargate.stages.entry import model_paths, stage_paths
from tests.conftest import ROOT


def test_dvc_outputs_are_the_files_the_stages_write():
    project = load_project(ROOT / "params.yaml")
    written, plots = set(), set()
    for name in project.datasets:
        params = project.scope(name)
        written |= {str(p) for p in stage_paths(params).values()}
        written.add(str(stage_paths(params)["gate"].with_suffix(".md")))  # beside gate.json
        for model in params.train:
            written |= {str(p) for p in model_paths(params, model).values()}
            plots.add(str(model_paths(params, model)["plots"]))
    with Repo(str(ROOT)) as repo:
        declared = [(stage.addressing, str(out.fs_path)) for stage in repo.index.stages for out in stage.outs]
    assert len(declared) > 60, "every dataset and every model has its stages"
    for stage, path in declared:
        assert path in written or any(path.startswith(p + "/") for p in plots), \
            f"dvc.yaml {stage} declares {path}, which no stage path names"
