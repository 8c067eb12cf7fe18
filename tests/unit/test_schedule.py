"""The pipeline flow's order (flows/schedule.py): a call starts only after every call it reads has finished;
fits and the other stages go to their own lanes; the first dataset goes first."""

from pathlib import Path

from flows.dvc_state import Staleness
from flows.schedule import Schedule, lane

from cleargate.graph import StageCall, plan
from cleargate.params import load_project
from tests.conftest import tiny_params, write_params

DATASET_CHAIN = ("ingest", "validate", "clean", "split")
ROOM = {"fit": 1, "dataset": 1}


def _upstream(calls: list[StageCall]) -> dict[str, set[str]]:
    """dvc.yaml's edges, written out: each dataset stage reads the one before, a fit reads the split, an
    evaluation its fit, the gate every evaluation of its dataset, promote the gate and every model."""
    edges: dict[str, set[str]] = {}
    for call in calls:
        mine = [c for c in calls if c.dataset == call.dataset]
        name = call.stage.name
        if name in DATASET_CHAIN[1:]:
            edges[call.dvc_name] = {f"{DATASET_CHAIN[DATASET_CHAIN.index(name) - 1]}@{call.dataset}"}
        elif name == "train":
            edges[call.dvc_name] = {f"split@{call.dataset}"}
        elif name == "evaluate":
            edges[call.dvc_name] = {f"train@{call.model}"}
        elif name == "gate":
            edges[call.dvc_name] = {c.dvc_name for c in mine if c.stage.name == "evaluate"}
        elif name == "promote":
            edges[call.dvc_name] = {f"gate@{call.dataset}"} | {c.dvc_name for c in mine if c.stage.per == "model"}
    return edges


def _calls(tmp_path: Path) -> list[StageCall]:
    return plan(load_project(write_params(tmp_path / "params.yaml", tiny_params("rehab", "breast_cancer"))))


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


def test_every_call_runs_once_after_everything_it_reads(tmp_path: Path):
    calls = _calls(tmp_path)
    upstream = _upstream(calls)
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=upstream))
    steps = _simulate(schedule, ROOM)
    ran = [name for step in steps for name in step]
    assert sorted(ran) == sorted(c.dvc_name for c in calls), "each call exactly once"
    finished_before: set[str] = set()
    for step in steps:
        for name in step:
            assert upstream.get(name, set()) <= finished_before, f"{name} started before what it reads"
        finished_before |= set(step)
    assert max(sum(n.startswith("train@") for n in s) for s in steps) == 1, "one fit at a time"


def test_a_dataset_is_prepared_while_the_first_one_fits_and_fits_go_first_dataset_first(tmp_path: Path):
    calls = _calls(tmp_path)
    first, second = list(dict.fromkeys(c.dataset for c in calls))[:2]
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=_upstream(calls)))
    steps = _simulate(schedule, ROOM)
    step_of = {name: i for i, step in enumerate(steps) for name in step}
    assert steps[:4] == [[f"{s}@{first}"] for s in DATASET_CHAIN], "the first dataset reaches its fits first"
    first_fit = next(c.dvc_name for c in calls if c.stage.name == "train" and c.dataset == first)
    assert set(steps[4]) == {first_fit, f"ingest@{second}"}, "the next dataset is prepared beside the first fit"
    fits = [c for c in calls if c.stage.name == "train"]
    assert sorted(fits, key=lambda c: step_of[c.dvc_name]) == fits, "fits start in params.yaml's order"
    assert step_of[f"promote@{first}"] <= max(step_of[c.dvc_name] for c in fits), \
        "the first dataset is promoted while the other's models still fit"


def test_a_lane_without_room_gets_nothing_and_only_planned_calls_count(tmp_path: Path):
    calls = _calls(tmp_path)
    upstream = _upstream(calls)
    upstream["ingest@rehab"] = {"ingest@not_planned"}  # DVC's graph may name stages this run does not plan
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=upstream))
    assert schedule.next_ready({"fit"}) is None, "nothing to fit before a split"
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "ingest@digits"
    schedule.start(ready)
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "ingest@rehab", "an unplanned upstream stage does not block"
    assert not schedule.dataset_finished("rehab")


def test_what_a_fit_waits_for_goes_before_a_verdict(tmp_path: Path):
    """The next dataset's validation before the gate of a dataset whose models are done: fits never idle for a
    promote."""
    calls = _calls(tmp_path)
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=_upstream(calls)))
    for call in calls:
        if (call.dataset == "digits" and call.stage.name not in ("gate", "promote")) or call.dvc_name == "ingest@rehab":
            schedule.start(call)
            schedule.finish(call)
    ready = schedule.next_ready({"dataset"})
    assert ready is not None and ready.dvc_name == "validate@rehab"
    schedule.start(ready)
    assert schedule.next_ready({"dataset"}).dvc_name == "ingest@breast_cancer"
    assert schedule.next_ready({"fit"}) is None, "every digits model is done, rehab is not split yet"
    assert {lane(c) for c in calls} == {"fit", "dataset"}


def test_a_model_is_evaluated_in_the_fit_lane_before_the_next_dataset_fits(tmp_path: Path):
    calls = _calls(tmp_path)
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream=_upstream(calls)))
    steps = _simulate(schedule, ROOM)
    fit_lane = [name for step in steps for name in step if name.split("@")[0] in ("train", "evaluate")]
    digits = [n for n in fit_lane if n.split("@")[1] in ("cnn", "hgb", "rf")]
    assert fit_lane[:len(digits)] == digits, "the first dataset's models, trained and evaluated, come first"
    assert digits[:3] == ["train@cnn", "train@hgb", "train@rf"]
