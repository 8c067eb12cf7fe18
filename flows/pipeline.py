"""The cleargate pipeline as a Prefect flow: the stages of dvc.yaml, in the same order, same functions.

Run it: `python flows/pipeline.py` (what `make run` does). Uses Prefect's ephemeral API unless
PREFECT_API_URL points at a server. Per dataset: ingest, validate, clean, split; then every
(dataset, model) fit, `orchestration.fit_workers` at a time, each in its own process (seeded there, so
results equal a sequential run); then evaluate, gate and promote. A dataset whose stage fails stops
there; the other datasets go on, and the run exits non-zero naming every failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ProcessPoolTaskRunner

if __package__ in (None, ""):  # `python flows/pipeline.py` from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleargate.config import Params, ProjectParams, load_project  # noqa: E402
from cleargate.errors import CleargateError, GateError  # noqa: E402
from cleargate.io import read_json  # noqa: E402
from cleargate.reporting import summary_table  # noqa: E402
from cleargate.runtime import apply_offline_env  # noqa: E402
from cleargate.stages import clean, evaluate, gate, ingest, promote, split, train, validate  # noqa: E402
from cleargate.stages.entry import stage_paths  # noqa: E402
from flows import dvc_state  # noqa: E402

PER_DATASET = [("ingest", ingest.run), ("validate", validate.run), ("clean", clean.run), ("split", split.run)]
PER_MODEL = [("train", train.run), ("evaluate", evaluate.run)]
CLOSING = [("gate", gate.run), ("promote", promote.run)]


@dataclass(frozen=True)
class StageCall:
    """One stage of dvc.yaml: its DVC name, the module dvc.yaml runs, its dataset's params and CLI args."""

    dvc_name: str
    run: Callable[..., Any]
    params: Params
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0

    @property
    def module(self) -> str:
        return self.run.__module__

    @property
    def dataset(self) -> str:
        return self.params.dataset.name

    @property
    def stage(self) -> str:
        return self.dvc_name.split("@")[0]

    @property
    def cli_args(self) -> dict[str, str]:
        """What dvc.yaml passes: --model for per-model stages, --dataset otherwise."""
        return {"model": self.kwargs["model"]} if "model" in self.kwargs else {"dataset": self.dataset}


def plan(project: ProjectParams, datasets: list[str] | None = None) -> list[StageCall]:
    """The stages in dvc.yaml's order: each per-dataset stage for every dataset, then per model, ..."""
    names = datasets or list(project.datasets)
    calls = [StageCall(f"{stage}@{d}", run, project.scope(d)) for stage, run in PER_DATASET for d in names]
    calls += [StageCall(f"{stage}@{m}", run, project.scope(c.dataset), {"model": m},
                        retries=1 if stage == "train" else 0)
              for stage, run in PER_MODEL for m, c in project.train.items() if c.dataset in names]
    calls += [StageCall(f"{stage}@{d}", run, project.scope(d)) for stage, run in CLOSING for d in names]
    return calls


@task(cache_policy=NO_CACHE)
def run_stage(call: StageCall) -> None:
    """The stage function itself; DVC bookkeeping stays in the flow's process (one writer of dvc.lock)."""
    extra = {"flow_run_id": flow_run.get_id()} if call.run is promote.run else {}
    call.run(call.params, **call.kwargs, **extra)


REPORTS = {"validate": ("validation/summary.md", "validation-report", "Great Expectations checks"),
           "gate": ("gate.md", "gate-report", "Offline acceptance gates"),
           "promote": ("release_gate.md", "release-gate-report", "All gates, incl. latency, size, champion")}


def publish_report(call: StageCall) -> None:
    """The gate tables as Prefect artifacts, also when the stage failed (that is when they matter)."""
    if call.stage in REPORTS:
        filename, key, description = REPORTS[call.stage]
        path = call.params.paths.reports / call.dataset / filename
        if path.is_file():
            create_markdown_artifact(key=f"{key}-{call.dataset.replace('_', '-')}", markdown=path.read_text(),
                                     description=f"{call.dataset}: {description}")
    if call.stage == "gate":
        board = stage_paths(call.params)["leaderboard_csv"]
        if board.is_file():
            import pandas as pd

            create_table_artifact(key=f"leaderboard-{call.dataset.replace('_', '-')}",
                                  table=pd.read_csv(board).fillna("-").to_dict("records"),
                                  description=f"{call.dataset}: every model ranked on the primary metric")


class Run:
    """Bookkeeping of one flow run: what ran, what was skipped, which datasets failed and why."""

    def __init__(self, rerun: set[str]) -> None:
        self.rerun = rerun
        self.outcomes: dict[str, str] = {}
        self.failed: dict[str, CleargateError] = {}  # dataset -> the first error that stopped it
        self.blocked: dict[str, str] = {}  # dataset -> why its candidate was not promoted

    def stale(self, call: StageCall) -> bool:
        if call.dvc_name in self.rerun or call.stage in self.rerun:
            return True
        if dvc_state.is_up_to_date(call.params.root, call.dvc_name):
            self.outcomes[call.dvc_name] = "skipped"
            return False
        return True

    def done(self, call: StageCall, outcome: str = "ran") -> None:
        dvc_state.commit(call.params.root, call.dvc_name)
        self.outcomes[call.dvc_name] = outcome

    def fail(self, call: StageCall, exc: CleargateError) -> None:
        self.failed.setdefault(call.dataset, exc)
        self.outcomes[call.dvc_name] = "failed"

    def raise_failures(self) -> None:
        """One failure: re-raised as it is (same type). Several: one error naming each dataset."""
        if len(self.failed) == 1:
            dataset, error = next(iter(self.failed.items()))
            raise type(error)(f"[{dataset}] {error}")
        if self.failed:
            raise CleargateError("; ".join(f"[{d}] {e}" for d, e in self.failed.items()))


def _options(call: StageCall):  # noqa: ANN202 - a configured Prefect task
    return run_stage.with_options(name=call.dvc_name, retries=call.retries, retry_delay_seconds=5)


def _run_in_flow(call: StageCall, state: Run) -> None:
    if call.dataset in state.failed:
        state.outcomes[call.dvc_name] = "not run"
        return
    try:
        if state.stale(call):
            _options(call)(call)
            state.done(call)
    except GateError as exc:  # a verdict: recorded (registry, promotion.json, dvc.lock), not a failure
        state.blocked[call.dataset] = str(exc)
        state.done(call, "blocked")
    except CleargateError as exc:
        state.fail(call, exc)
    finally:
        publish_report(call)


def _run_fits(calls: list[StageCall], state: Run) -> None:
    """Submitted to the flow's process pool; dvc.lock is written here, as each finishes."""
    futures: list[tuple[StageCall, PrefectFuture]] = []
    for call in calls:
        if call.dataset in state.failed:
            state.outcomes[call.dvc_name] = "not run"
        elif state.stale(call):
            futures.append((call, _options(call).submit(call)))
    for call, future in futures:
        try:
            future.result()
            state.done(call)
        except CleargateError as exc:
            state.fail(call, exc)


@flow(name="cleargate-pipeline", log_prints=True, task_runner=ProcessPoolTaskRunner(max_workers=1))
def pipeline(params_path: str = "params.yaml", rerun: list[str] | None = None,
             datasets: list[str] | None = None) -> dict[str, str]:
    """`rerun` names stages to run even when DVC finds them up to date (`promote` or `promote@mnist`);
    `datasets` restricts the run to some datasets (default: all)."""
    project = load_project(Path(params_path))
    calls = plan(project, datasets)
    known = {c.dvc_name for c in calls} | {c.stage for c in calls}
    unknown = set(rerun or []) - known
    if unknown:
        raise CleargateError(f"--rerun: unknown stage(s) {sorted(unknown)}; see dvc.yaml")
    state = Run(set(rerun or []))
    logger = get_run_logger()
    fits = [c for c in calls if c.stage == "train"]
    _run_each([c for c in calls if c.stage in ("ingest", "validate", "clean", "split")], state, logger)
    _run_fits(fits, state)
    for call in fits:
        logger.info("%s: %s", call.dvc_name, state.outcomes.get(call.dvc_name))
    _run_each([c for c in calls if c.stage in ("evaluate", "gate", "promote")], state, logger)
    for name in dict.fromkeys(c.dataset for c in calls):
        create_markdown_artifact(key=f"run-summary-{name.replace('_', '-')}",
                                 markdown=summary_table(project.scope(name)), description=f"{name}: outcome")
    state.raise_failures()
    return state.outcomes


def _run_each(calls: list[StageCall], state: Run, logger: Any) -> None:
    for call in calls:
        _run_in_flow(call, state)
        logger.info("%s: %s", call.dvc_name, state.outcomes.get(call.dvc_name))


def run_pipeline(params_path: str, rerun: list[str], datasets: list[str] | None = None) -> dict[str, str]:
    """The flow with a process pool sized from params.yaml (`orchestration.fit_workers`)."""
    workers = load_project(Path(params_path)).orchestration.fit_workers
    configured = pipeline.with_options(task_runner=ProcessPoolTaskRunner(max_workers=workers))
    return configured(params_path, rerun=rerun, datasets=datasets)


def _summaries(params_path: str, datasets: list[str] | None) -> str:
    project = load_project(Path(params_path))
    return "\n\n".join(summary_table(project.scope(d)) for d in (datasets or project.datasets))


def _blocked(params_path: str, datasets: list[str] | None) -> list[str]:
    """Datasets whose latest verdict (this run's or an earlier, unchanged one) blocked the candidate."""
    project = load_project(Path(params_path))
    verdicts = {d: stage_paths(project.scope(d))["promotion"] for d in (datasets or project.datasets)}
    return [d for d, path in verdicts.items() if path.is_file() and not read_json(path)["passed"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rerun", action="append", default=[], metavar="STAGE",
                        help="run this stage even if it is up to date (repeatable), e.g. --rerun promote")
    parser.add_argument("--dataset", action="append", default=None, metavar="NAME",
                        help="run only this dataset (repeatable); default: every dataset in params.yaml")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when a candidate is blocked at its gates (CI, release schedules)")
    args = parser.parse_args(argv)
    apply_offline_env()
    try:
        outcomes = run_pipeline(args.params, args.rerun, args.dataset)
        ran = [name for name, outcome in outcomes.items() if outcome in ("ran", "blocked")]
        print(f"stages ran: {len(ran)} ({', '.join(ran) or 'none'}); up to date, skipped: {len(outcomes) - len(ran)}")
        print(_summaries(args.params, args.dataset))
        blocked = _blocked(args.params, args.dataset)
        if blocked:
            print(f"\nblocked at the gate (champion unchanged): {', '.join(blocked)}; see the FAIL checks above",
                  file=sys.stderr)
            return 3 if args.strict else 0
    except CleargateError as exc:
        with suppress(CleargateError):  # e.g. params.yaml itself is invalid: the error below says so
            print(_summaries(args.params, args.dataset))  # what did run, and which check blocked
        print(f"\ncleargate: run stopped: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
