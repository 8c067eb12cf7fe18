"""The cleargate pipeline as a Prefect flow: the stages of `cleargate.graph`, each as soon as what it reads is done.

Run it: `cleargate run` (what `make run` does; `-v` shows third-party logs). Uses the run's own temporary
Prefect API unless PREFECT_API_URL points at a server (`flows.prefect_server`). Each stage call starts when
the stages it reads (DVC's graph of dvc.yaml) have finished (flows/schedule.py): the model stages (train, then
evaluate) on the flow's task runner, `orchestration.fit_workers` at a time, each in a worker process seeded per
call (so results equal a sequential run); the dataset stages (ingest, validate, clean, split; gate, promote)
beside them on one more process, so the next dataset is prepared and a finished one promoted while a model
fits. A dataset whose stage fails stops there; the other datasets go on, and the run exits non-zero naming
every failure. The flow only wires: each task calls a stage's `run`, DVC decides what is stale, and dvc.lock
is written once, by this process, at the end of the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from contextlib import suppress
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture, as_completed, wait
from prefect.task_runners import TaskRunner
from rich.console import Console

from cleargate.errors import CleargateError
from cleargate.evaluation.seed_spread import seed_evidence
from cleargate.graph import StageCall, plan
from cleargate.layout import run_timings
from cleargate.params import ProjectParams, load_project
from cleargate.records import ReleaseDecision, RunTimings
from cleargate.release.summary import summary_markdown, summary_table, timings_line
from cleargate.runtime import threads_for
from cleargate.tracking import check_store
from flows import dvc_adapter
from flows.artifacts import publish_report
from flows.before_run import settle
from flows.beside import Beside, pool_preload, warm_fit_workers
from flows.interrupts import (
    acknowledge_cancellation,
    stop_workers,
    stopped_by,
    terminate_on_sigterm,
)
from flows.ledger import RunLedger
from flows.notices import announce_release
from flows.prefect_adapter import PreloadedProcessPool
from flows.prefect_server import run_api_ready
from flows.runners import describe, preflight, task_runner
from flows.schedule import Schedule, lane
from flows.stage_task import stage_task


def _submit(call: StageCall, project: ProjectParams, threads: int, fits: TaskRunner,
            datasets: TaskRunner) -> PrefectFuture:
    """A model stage on the fits' runner (params.yaml `orchestration`) with the fits' thread count; a dataset stage
    on the dataset lane with its process's own."""
    if lane(call) == "fit":
        return fits.submit(stage_task(call), {"call": call, "project": project, "threads": threads})
    return datasets.submit(stage_task(call), {"call": call, "project": project, "threads": None})


def _run_graph(calls: list[StageCall], project: ProjectParams, ledger: RunLedger, state: dvc_adapter.Staleness,
               threads: int, stability_seeds: int) -> None:
    """Every planned call, each as soon as the stages it reads are done (flows/schedule.py): the model stages on
    the runner params.yaml configures (`task_runner(project)`: a local pool of `fit_workers`, or Dask), whatever
    started the flow (`cleargate run`, a deployment, a test), the dataset stages beside them on one more process."""
    widths = {name: len(project.scope(name).features) for name in dict.fromkeys(c.dataset for c in calls)}
    schedule = Schedule.of(calls, state, widths)  # the narrowest dataset first: the fits start soonest
    room = {"fit": project.orchestration.fit_workers, "dataset": 1}
    in_flight: dict[PrefectFuture, StageCall] = {}
    measured: set[str] = set()
    with task_runner(project, checked=True) as fits, PreloadedProcessPool(1, pool_preload(project)) as datasets:
        ledger.runner, ledger.dask_dashboard = describe(project, fits)
        try:
            warming = warm_fit_workers(fits, project, calls, state, ledger.rerun)
            beside = Beside(project)
            while not schedule.complete:
                busy = Counter(lane(c) for c in in_flight.values())
                call = schedule.next_ready({name for name, n in room.items() if busy[name] < n})
                if call is not None:
                    schedule.start(call)
                    if stability_seeds and call.stage.name == "gate" and call.dataset not in measured:
                        measured.add(call.dataset)
                        _measure_stability(project, [c for c in calls if c.dataset == call.dataset], ledger,
                                           stability_seeds, fits)
                    if ledger.skip_failed(call) or not ledger.stale(call, state):
                        _finish(call, project, schedule)
                    else:
                        if call.stage.name == "promote":  # its version carries its stages' dvc.lock entries
                            ledger.record()
                        in_flight[_submit(call, project, threads, fits, datasets)] = call
                    continue
                if not in_flight:  # cannot happen with dvc.yaml's acyclic graph; never wait on nothing
                    raise RuntimeError(f"stage graph: nothing ready or running, {sorted(schedule.started)} started")
                future = next(as_completed(list(in_flight)))
                call = in_flight.pop(future)
                try:
                    result, seconds = future.result()
                    ledger.done(call, result, seconds)
                    if isinstance(result, ReleaseDecision):
                        announce_release(project.scope(call.dataset), result)
                except CleargateError as exc:
                    ledger.fail(call, exc)
                _finish(call, project, schedule)
                beside.after(call)
            wait(warming)
        except BaseException:  # Ctrl-C, SIGTERM (Prefect's TerminationSignal), a bug: stop the workers by pid
            stop_workers()       # now, before the pools wait for them; `pipeline` records what finished
            raise
        ledger.record_soon()  # dvc.lock is written while the dataset worker exits (`ledger.record` waits for it)


def _finish(call: StageCall, project: ProjectParams, schedule: Schedule) -> None:
    publish_report(call, project)
    schedule.finish(call)


def _measure_stability(project: ProjectParams, calls: list[StageCall], ledger: RunLedger, seeds: int,
                       fits: TaskRunner) -> None:
    """`--stability-seeds N`: each candidate of a dataset still going is fitted with N seeds (through this flow's
    pool; `cleargate stability`), unless its summary is current with N seeds; its gate then re-runs."""
    from flows.stability import run_seeds  # imported here: it loads torch, sklearn and torchmetrics (8 s)

    for call in calls:
        model = call.model or ""
        if call.stage.name != "train" or project.train[model].role != "candidate" or call.dataset in ledger.failed:
            continue
        evidence = seed_evidence(project.scope(call.dataset), model)
        if evidence.summary is not None and not evidence.stale and len(evidence.summary.seeds) == seeds:
            ledger.console.print(f"  stability@{model}: current ({seeds} seeds), skipped", style="dim")
            continue
        try:
            summary = run_seeds(project, model, seeds, project.orchestration.fit_workers, fits)
        except CleargateError as exc:
            ledger.fail(call, exc)
            continue
        ledger.rerun.add(f"gate@{call.dataset}")
        ledger.console.print(f"  stability@{model}: {seeds} seeds in {summary.seconds:.0f} s")


@flow(name="cleargate-pipeline")
def pipeline(params_path: str = "params.yaml", rerun: list[str] | None = None,
             datasets: list[str] | None = None, stability_seeds: int = 0) -> dict[str, str]:
    """`rerun` names stages to run even when DVC finds them up to date (`promote` or `promote@mnist`);
    `datasets` restricts the run to some datasets (default: all); `stability_seeds` (off: 0) fits every
    candidate with that many seeds before the gates, so `max_seed_std` has its evidence."""
    project = load_project(Path(params_path))
    calls = plan(project, datasets)
    unknown = set(rerun or []) - ({c.dvc_name for c in calls} | {c.stage.name for c in calls})
    if unknown:
        raise CleargateError(f"--rerun: unknown stage(s) {sorted(unknown)}; see dvc.yaml")
    # a stopped tracking server: one line now, not after training (a new SQLite store's tables: `flows.beside.warm_up`)
    check_store(project.scope(calls[0].dataset), tables=False)
    preflight(project)  # a team's Dask scheduler and its workers, before anything is asked of DVC
    ledger = RunLedger(project.root, set(rerun or []), logger=get_run_logger())
    settle(project, list(dict.fromkeys(c.dataset for c in calls)), ledger.rerun, ledger.console)
    state = dvc_adapter.staleness(project.root)
    threads = threads_for(project.orchestration.fit_workers)
    try:
        try:
            _run_graph(calls, project, ledger, state, threads, stability_seeds)
        finally:
            ledger.record()
    except BaseException as exc:
        acknowledge_cancellation(exc)  # a Cancel from the UI: the run says Cancelled once it has stopped cleanly
        raise
    for name in dict.fromkeys(c.dataset for c in calls):
        create_markdown_artifact(key=f"run-summary-{name.replace('_', '-')}",
                                 markdown=summary_markdown(project.scope(name)), description=f"{name}: outcome")
    _record_timings(project, ledger.timings())
    ledger.raise_failures()
    return ledger.outcomes


def _record_timings(project: ProjectParams, timings: RunTimings) -> None:
    """What the run cost: reports/run_timings.json, a Prefect artifact, and the parent runs it released."""
    timings.save(run_timings(project.paths))
    create_markdown_artifact(key="run-timings", markdown=timings_line(timings), description="what the run cost")
    from cleargate.tracking.model_runs import log_run_timings

    for name in project.datasets:
        decision = project.scope(name).layout.promotion
        if f"promote@{name}" in timings.stage_seconds and decision.is_file():
            with suppress(CleargateError):
                log_run_timings(project.scope(name), ReleaseDecision.load(decision).pipeline_run_id, timings)


def _prepare(params_path: str, datasets: list[str] | None) -> None:
    """The flow's slow first steps, done while the run's Prefect API server starts (`flows.prefect_server`): check
    the tracking store (one line now if it is down, before any flow run) and ask DVC what is stale
    (`dvc_adapter.prefetch`: the flow then finds DVC's answer ready)."""
    project = load_project(Path(params_path))
    check_store(project.scope(plan(project, datasets)[0].dataset), tables=False)  # tables: `flows.beside.warm_up`
    dvc_adapter.prefetch(project.root)


def _blocked(project: ProjectParams, datasets: list[str] | None) -> list[str]:
    """Datasets whose latest verdict (this run's or an earlier, unchanged one) blocked the candidate."""
    paths = {d: project.scope(d).layout.promotion for d in (datasets or project.datasets)}
    return [d for d, path in paths.items() if path.is_file() and ReleaseDecision.load(path).blocked]


def _print_summaries(console: Console, params_path: str, datasets: list[str] | None) -> None:
    project = load_project(Path(params_path))
    for name in datasets or project.datasets:
        console.print()
        console.print(summary_table(project.scope(name)))
    timings = run_timings(project.paths)
    if timings.is_file():
        console.print(f"\n{timings_line(RunTimings.load(timings))}")


def _start_watchdog() -> None:
    """Nothing outlives this process, even `kill -9`: see flows/watchdog.py."""
    root = Path(__file__).resolve().parent.parent
    subprocess.Popen([sys.executable, "-m", "flows.watchdog", str(os.getpid())], cwd=root, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rerun", action="append", default=[], metavar="STAGE",
                        help="run this stage even if it is up to date (repeatable), e.g. --rerun promote")
    parser.add_argument("--dataset", action="append", default=None, metavar="NAME",
                        help="run only this dataset (repeatable); default: every dataset in params.yaml")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when a candidate is blocked at its gates (CI, release schedules)")
    parser.add_argument("--stability-seeds", type=int, default=0, metavar="N",
                        help="fit every candidate with N seeds before the gates (max_seed_std); default 0: off")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every library's log lines and warnings")
    args = parser.parse_args(argv)
    terminate_on_sigterm()  # like Ctrl-C: the flow unwinds, the workers stop, what finished is recorded
    _start_watchdog()
    console, errors = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        _prepare(args.params, args.dataset)  # while the run's own Prefect API starts (`python -m flows`)
        run_api_ready()
        outcomes = pipeline(args.params, rerun=args.rerun, datasets=args.dataset, stability_seeds=args.stability_seeds)
        ran = [name for name, outcome in outcomes.items() if outcome in ("ran", "blocked")]
        console.print(f"stages ran: {len(ran)}; up to date, skipped: {len(outcomes) - len(ran)}")
        _print_summaries(console, args.params, args.dataset)
        blocked = _blocked(load_project(Path(args.params)), args.dataset)
        if blocked:
            errors.print(f"\nblocked at the gate (champion unchanged): {', '.join(blocked)}; see the FAIL checks above")
            return 3 if args.strict else 0
    except CleargateError as exc:
        with suppress(CleargateError):  # e.g. params.yaml itself is invalid: the error below says so
            _print_summaries(console, args.params, args.dataset)  # what did run, and which check blocked
        errors.print(f"\ncleargate: run stopped: {exc}", markup=False)
        return exc.exit_code
    except BaseException as exc:
        stop = stopped_by(exc)
        if stop is None:
            raise
        code, how = stop
        errors.print(f"\ncleargate: run stopped by {how}; the stages that finished are recorded in dvc.lock, the "
                     "next run goes on from them", markup=False)
        return code
    return 0


