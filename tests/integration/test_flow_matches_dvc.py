"""The Prefect flow and dvc.yaml describe the same stages, commands and order."""

from dvc.repo import Repo

from cleargate.graph import plan
from cleargate.params import load_project
from tests.projects import ROOT


def test_flow_plan_equals_dvc_stages():
    project = load_project(ROOT / "params.yaml")
    with Repo(str(ROOT)) as repo:
        stages = {s.addressing: s for s in repo.index.stages if s.addressing != "dvc.yaml"}
        order = _topological(repo)
    calls = plan(project)
    assert [c.dvc_name for c in calls] == list(stages), "same stages in the same order"
    assert {c.dataset for c in calls} == set(project.datasets)
    for call in calls:
        assert stages[call.dvc_name].cmd == call.command
    position = {name: i for i, name in enumerate(c.dvc_name for c in calls)}
    for upstream, downstream in order:
        assert position[upstream] < position[downstream], f"flow runs {downstream} before {upstream}"


def test_each_dataset_depends_only_on_its_own_upstream():
    """Changing one dataset's data or one model can never re-run another dataset's stages."""
    project = load_project(ROOT / "params.yaml")
    with Repo(str(ROOT)) as repo:
        edges = _topological(repo)
    dataset_of = {call.dvc_name: call.dataset for call in plan(project)}
    crossing = [(u, d) for u, d in edges if dataset_of[u] != dataset_of[d]]
    assert not crossing, crossing
    assert ("train@rehab_lstm", "evaluate@rehab_lstm") in edges and ("evaluate@covid_rf", "gate@covid") in edges


def _topological(repo):
    graph = repo.index.graph
    return [(u.addressing, d.addressing) for d, u in graph.edges()]
