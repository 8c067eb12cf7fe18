"""The pipeline flow's order (flows/schedule.py): a call starts only after every call it reads has finished;
fits and the other stages go to their own lanes; the narrowest dataset (fewest features) goes first."""

import pytest

from cleargate.graph import StageCall, plan
from cleargate.params import load_project
from flows import dvc_adapter
from flows.dvc_adapter import Staleness
from flows.schedule import Schedule, lane, may_run
from tests.projects import make_project, tiny_params

DATASET_CHAIN = ("ingest", "validate", "clean", "split")
ROOM = {"fit": 1, "dataset": 1}


WIDTHS = {"digits": 64, "rehab": 240, "breast_cancer": 30}   # features per dataset (pixels, window values, columns)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[StageCall], dict[str, set[str]]]:
    """The planned calls of a tiny three-dataset project (params.yaml's order: digits, rehab, breast_cancer) and
    DVC's own edges between them (a real git + DVC repo with the project's dvc.yaml: the graph the flow
    schedules from)."""
    root = make_project(tmp_path_factory.mktemp("schedule"), tiny_params("rehab", "breast_cancer"))
    project = load_project(root / "params.yaml")
    assert {name: len(project.scope(name).features) for name in project.datasets} == WIDTHS
    return plan(project), dvc_adapter.staleness(root).upstream


def _schedule(graph: tuple[list[StageCall], dict[str, set[str]]]) -> Schedule:
    calls, upstream = graph
    return Schedule.of(calls, Staleness(stale=set(), upstream=upstream), WIDTHS)


def _simulate(schedule: Schedule, room: dict[str, int]) -> list[list[str]]:
    """Start what is ready while a lane has room; then finish everything running (one step)."""
    steps: list[list[str]] = []
    while not schedule.complete:
        running: list[StageCall] = []
        while (call := schedule.next_ready({n for n, k in room.items()
                                            if sum(lane(c) == n for c in running) < k})) is not None:
            schedule.start(call)
            running.append(call)
        assert running, "something is always ready until the graph is done"
        for call in running:
            schedule.finish(call)
        steps.append([c.dvc_name for c in running])
    return steps


def test_every_call_runs_once_after_everything_it_reads(graph):
    calls, upstream = graph
    assert upstream["gate@rehab"] == {"evaluate@lstm", "evaluate@rehab_hgb"}, "DVC's edges, as dvc.yaml has them"
    schedule = _schedule(graph)
    steps = _simulate(schedule, ROOM)
    ran = [name for step in steps for name in step]
    assert sorted(ran) == sorted(c.dvc_name for c in calls), "each call exactly once"
    finished_before: set[str] = set()
    for step in steps:
        for name in step:
            assert upstream.get(name, set()) <= finished_before, f"{name} started before what it reads"
        finished_before |= set(step)
    assert max(sum(n.startswith("train@") for n in s) for s in steps) == 1, "one fit at a time"


def test_the_narrowest_dataset_is_prepared_first_the_next_while_it_fits_and_fits_follow_that_order(graph):
    calls = graph[0]
    first, second, third = "breast_cancer", "digits", "rehab"   # 30, 64 and 240 features; params.yaml: digits first
    schedule = _schedule(graph)
    steps = _simulate(schedule, ROOM)
    step_of = {name: i for i, step in enumerate(steps) for name in step}
    assert steps[:4] == [[f"{s}@{first}"] for s in DATASET_CHAIN], "the narrowest dataset reaches its fits first"
    first_fit = next(c.dvc_name for c in calls if c.stage.name == "train" and c.dataset == first)
    assert set(steps[4]) == {first_fit, f"ingest@{second}"}, "the next dataset is prepared beside the first fit"
    fits = [c for c in calls if c.stage.name == "train"]
    order = [first, second, third]
    assert sorted(fits, key=lambda c: step_of[c.dvc_name]) == sorted(fits, key=lambda c: order.index(c.dataset)), \
        "fits start dataset by dataset, narrowest first (params.yaml's order within one)"
    assert step_of[f"promote@{first}"] <= max(step_of[c.dvc_name] for c in fits), \
        "the first dataset is promoted while the others' models still fit"


def test_without_widths_the_datasets_go_in_params_order(graph):
    calls, upstream = graph
    steps = _simulate(Schedule.of(calls, Staleness(stale=set(), upstream=upstream)), ROOM)
    assert steps[0] == ["ingest@digits"]
    assert [n for step in steps for n in step if n.startswith("split@")] == \
        ["split@digits", "split@rehab", "split@breast_cancer"]


def test_a_lane_without_room_gets_nothing_and_only_planned_calls_count(graph):
    calls, upstream = graph[0], dict(graph[1])
    upstream["ingest@rehab"] = {"ingest@not_planned"}  # DVC's graph may name stages this run does not plan
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=upstream))
    assert schedule.next_ready({"fit"}) is None, "nothing to fit before a split"
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "ingest@digits"
    schedule.start(ready)
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "ingest@rehab", "an unplanned upstream stage does not block"


def test_what_a_fit_waits_for_goes_before_a_verdict(graph):
    """The next dataset's validation before the gate of a dataset whose models are done: fits never idle for a
    promote."""
    calls = graph[0]
    schedule = _schedule(graph)
    for call in calls:
        if (call.dataset == "breast_cancer" and call.stage.name not in ("gate", "promote")) \
                or call.dvc_name == "ingest@digits":
            schedule.start(call)
            schedule.finish(call)
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "validate@digits"
    schedule.start(ready)
    assert schedule.next_ready({"dataset"}).dvc_name == "ingest@rehab"
    assert schedule.next_ready({"fit"}) is None, "every breast_cancer model is done, digits is not split yet"
    assert {lane(c) for c in calls} == {"fit", "dataset"}


def test_a_model_is_evaluated_in_the_fit_lane_before_the_next_dataset_fits(graph):
    schedule = _schedule(graph)
    steps = _simulate(schedule, ROOM)
    fit_lane = [name for step in steps for name in step if name.split("@")[0] in ("train", "evaluate")]
    cancer = [n for n in fit_lane if n.split("@")[1] in ("cancer_hgb", "cancer_rf")]
    assert fit_lane[:len(cancer)] == cancer, "the first dataset's models, trained and evaluated, come first"
    assert cancer == ["train@cancer_hgb", "evaluate@cancer_hgb", "train@cancer_rf", "evaluate@cancer_rf"], \
        "each model evaluated right after its fit, by the worker that holds it"


def test_what_may_run_follows_the_graph_so_a_release_rerun_starts_no_fit_worker(graph):
    """`may_run`: what is stale or asked for, and everything that reads it; the fit workers are warmed (started)
    only when a model stage is among it (`flows.beside.warm_fit_workers`)."""
    calls, upstream = graph

    def running(stale: set[str], rerun: set[str]) -> set[str]:
        return {c.dvc_name for c in may_run(calls, Staleness(stale=stale, upstream=upstream), rerun)}

    assert running(set(), set()) == set()
    assert running(set(), {"promote"}) == {"promote@digits", "promote@rehab", "promote@breast_cancer"}
    assert not any(lane(c) == "fit" for c in calls if c.dvc_name in running(set(), {"gate", "promote"}))
    assert running({"split@rehab"}, set()) == {"split@rehab", "train@lstm", "train@rehab_hgb", "evaluate@lstm",
                                               "evaluate@rehab_hgb", "gate@rehab", "promote@rehab"}
    assert running(set(), {"train@cancer_rf"}) == {"train@cancer_rf", "evaluate@cancer_rf", "gate@breast_cancer",
                                                   "promote@breast_cancer"}
