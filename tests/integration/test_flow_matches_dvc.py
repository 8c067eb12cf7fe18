"""The Prefect flow and dvc.yaml describe the same stages, commands and order."""

from dvc.repo import Repo
from flows.pipeline import plan

from cleargate.config import load_params
from tests.conftest import ROOT


def test_flow_plan_equals_dvc_stages():
    params = load_params(ROOT / "params.yaml")
    with Repo(str(ROOT)) as repo:
        stages = {s.addressing: s for s in repo.index.stages if s.addressing != "dvc.yaml"}
        order = _topological(repo)
    calls = plan(params)
    assert [c.dvc_name for c in calls] == list(stages), "same stages in the same order"
    for call in calls:
        expected = f"python -m {call.module}" + "".join(f" --{k} {v}" for k, v in call.kwargs.items())
        assert stages[call.dvc_name].cmd == expected
    position = {name: i for i, name in enumerate(c.dvc_name for c in calls)}
    for upstream, downstream in order:
        assert position[upstream] < position[downstream], f"flow runs {downstream} before {upstream}"


def _topological(repo):
    graph = repo.index.graph
    return [(u.addressing, d.addressing) for d, u in graph.edges()]
