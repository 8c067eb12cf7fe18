"""Every file dvc.yaml declares is one the stage code writes (paths are derived once, from params.yaml)."""

from dvc.repo import Repo

from cleargate.config import load_params
from cleargate.stages.entry import model_paths, stage_paths
from tests.conftest import ROOT


def test_dvc_outputs_are_the_files_the_stages_write():
    params = load_params(ROOT / "params.yaml")
    written = {str(p) for p in stage_paths(params).values()}
    for name in params.train:
        written |= {str(p) for p in model_paths(params, name).values()}
    plots = {str(model_paths(params, m)["plots"]) for m in params.train}
    reports = params.paths.reports
    extra = {str(reports / "gate.md"), str(reports / "release_gate.md")}  # beside gate.json / promotion.json
    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            for out in stage.outs:
                path = str(out.fs_path)
                assert path in written or path in extra or any(path.startswith(p + "/") for p in plots), \
                    f"dvc.yaml {stage.addressing} declares {path}, which no stage path names"
