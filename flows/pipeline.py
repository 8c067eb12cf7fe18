"""The cleargate pipeline as a Prefect flow: the stages of `cleargate.graph`, in dvc.yaml's order.

Run it: `python flows/pipeline.py` (what `make run` does; `-v` shows third-party logs). Uses Prefect's
ephemeral API unless PREFECT_API_URL points at a server. Per dataset: ingest, validate, clean, split; then
every (dataset, model) fit, `orchestration.fit_workers` at a time, each in its own process (seeded there, so
results equal a sequential run); then evaluate, gate and promote. A dataset whose stage fails stops there;
the other datasets go on, and the run exits non-zero naming every failure. The flow only wires: each task
calls a stage's `run`, and DVC decides what is stale.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ProcessPoolTaskRunner
from rich.console import Console

if __package__ in (None, ""):  # `python flows/pipeline.py` from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleargate.errors import CleargateError  # noqa: E402
from cleargate.evaluation.stability import seed_evidence  # noqa: E402
from cleargate.graph import StageCall, plan  # noqa: E402
from cleargate.layout import run_timings  # noqa: E402
from cleargate.params import ProjectParams, load_project  # noqa: E402
from cleargate.records import ReleaseDecision, RunTimings  # noqa: E402
from cleargate.reporting import summary_markdown, summary_table, timings_line  # noqa: E402
from cleargate.runtime import apply_offline_env, limit_threads, quiet_third_party  # noqa: E402
from cleargate.stages.entry import run_stage  # noqa: E402
from cleargate.tracking import check_store  # noqa: E402
from flows import dvc_state  # noqa: E402
from flows.console import quiet_prefect_console  # noqa: E402
from flows.ephemeral_api import EphemeralApi  # noqa: E402
from flows.fits import fit_command, own_process_tree  # noqa: E402
from flows.ledger import RunLedger  # noqa: E402
from flows.runners import task_runner  # noqa: E402


@task(cache_policy=NO_CACHE)
def execute(call: StageCall, project: ProjectParams, threads: int | None = None) -> tuple[Any, float]:
    """The stage function itself, timed; DVC bookkeeping stays in the flow's process (one writer of dvc.lock).
    `threads`: the CPU threads a model stage may use (cores shared by the fits running side by side)."""
    quiet_third_party()  # a pool worker starts fresh: the same quiet output as the flow's process
    if threads is not None:
        limit_threads(threads)
    extra = {"flow_run_id": flow_run.get_id()} if call.stage.name == "promote" else {}
    started = time.perf_counter()
    if own_process_tree(call, project):  # a multi-process (ddp) fit: the stage's command, its own process tree
        return fit_command(call, project), time.perf_counter() - started
    result = run_stage(call.stage, project, call.dataset, call.model, **extra)
    return result, time.perf_counter() - started


REPORTS = {"validate": ("validation_summary", "validation-report", "Great Expectations checks"),
           "gate": ("gate_md", "gate-report", "Offline acceptance gates"),
           "promote": ("release_gate", "release-gate-report", "All gates, incl. latency, size, champion")}


def publish_report(call: StageCall, project: ProjectParams) -> None:
    """The gate tables as Prefect artifacts, also when the stage failed (that is when they matter)."""
    layout, slug = project.scope(call.dataset).layout, call.dataset.replace("_", "-")
    if call.stage.name in REPORTS:
        attribute, key, description = REPORTS[call.stage.name]
        path = getattr(layout, attribute)
        if path.is_file():
            create_markdown_artifact(key=f"{key}-{slug}", markdown=path.read_text(),
                                     description=f"{call.dataset}: {description}")
    if call.stage.name == "gate" and layout.leaderboard_csv.is_file():
        import pandas as pd

        create_table_artifact(key=f"leaderboard-{slug}",
                              table=pd.read_csv(layout.leaderboard_csv).fillna("-").to_dict("records"),
                              description=f"{call.dataset}: every model ranked on the primary metric")


def _task(call: StageCall):  # noqa: ANN202 - a configured Prefect task
    return execute.with_options(name=call.dvc_name, retries=1 if call.stage.fit else 0, retry_delay_seconds=5)


def _execute_one(call: StageCall, project: ProjectParams, ledger: RunLedger, state: dvc_state.Staleness) -> None:
    if ledger.skip_failed(call):
        return
    try:
        if ledger.stale(call, state):
            ledger.done(call, *_task(call)(call, project))
    except CleargateError as exc:
        ledger.fail(call, exc)
    finally:
        publish_report(call, project)


def _execute_models(calls: list[StageCall], project: ProjectParams, ledger: RunLedger,
                    state: dvc_state.Staleness, threads: int) -> None:
    """Every model's chain of per-model stages (train, then evaluate) through the flow's process pool, the
    models side by side: a model is evaluated in a worker that has already imported torch and the model code,
    right after its fit. dvc.lock is written here, in the flow's process, as each stage finishes."""
    chains: dict[str, list[StageCall]] = {}
    for call in calls:
        chains.setdefault(call.model or "", []).append(call)

    def submit(call: StageCall) -> PrefectFuture | None:
        if ledger.skip_failed(call) or not ledger.stale(call, state):
            return None
        return _task(call).submit(call, project, threads)

    running = [(chain, 0, submit(chain[0])) for chain in chains.values()]
    while running:
        chain, position, future = running.pop(0)
        call = chain[position]
        if future is not None:
            try:
                ledger.done(call, *future.result())
            except CleargateError as exc:
                ledger.fail(call, exc)
        if position + 1 < len(chain):
            running.append((chain, position + 1, submit(chain[position + 1])))


def _measure_stability(project: ProjectParams, calls: list[StageCall], ledger: RunLedger, seeds: int) -> None:
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
            summary = run_seeds(project, model, seeds, project.orchestration.fit_workers)
        except CleargateError as exc:
            ledger.fail(call, exc)
            continue
        ledger.rerun.add(f"gate@{call.dataset}")
        ledger.console.print(f"  stability@{model}: {seeds} seeds in {summary.seconds:.0f} s")


@flow(name="cleargate-pipeline", task_runner=ProcessPoolTaskRunner(max_workers=1))
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
    check_store(project.scope(calls[0].dataset))  # a stopped tracking server: one line now, not after training
    ledger = RunLedger(project.root, set(rerun or []), logger=get_run_logger())
    state = dvc_state.staleness(project.root)
    threads = max(1, (os.cpu_count() or 1) // project.orchestration.fit_workers)
    per_model = [c for c in calls if c.stage.per == "model"]
    first = calls.index(per_model[0]) if per_model else len(calls)
    try:
        for call in calls[:first]:
            _execute_one(call, project, ledger, state)
        ledger.record()
        _execute_models(per_model, project, ledger, state, threads)
        ledger.record()
        if stability_seeds:
            _measure_stability(project, per_model, ledger, stability_seeds)
        for call in calls[first:]:
            if call.stage.per == "dataset":
                _execute_one(call, project, ledger, state)
    finally:
        ledger.record()
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
    from cleargate.tracking.runs import log_run_timings

    for name in project.datasets:
        decision = project.scope(name).layout.promotion
        if f"promote@{name}" in timings.stage_seconds and decision.is_file():
            with suppress(CleargateError):
                log_run_timings(project.scope(name), ReleaseDecision.load(decision).pipeline_run_id, timings)


def pipeline_with_workers(params_path: str, rerun: list[str], datasets: list[str] | None = None,
                          stability_seeds: int = 0) -> dict[str, str]:
    """The flow with the task runner of params.yaml (`orchestration`: a process pool or Dask, flows/runners.py)."""
    configured = pipeline.with_options(task_runner=task_runner(load_project(Path(params_path))))
    return configured(params_path, rerun=rerun, datasets=datasets, stability_seeds=stability_seeds)


def _prepare(params_path: str, datasets: list[str] | None) -> None:
    """The flow's slow first steps, done while Prefect's API server starts (`flows.ephemeral_api`): check the
    tracking store (one line now if it is down, before any flow run) and ask DVC what is stale
    (`dvc_state.prefetch`: the flow then finds DVC's answer ready)."""
    project = load_project(Path(params_path))
    check_store(project.scope(plan(project, datasets)[0].dataset))
    dvc_state.prefetch(project.root)


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
    apply_offline_env()
    quiet_third_party(args.verbose)
    quiet_prefect_console(args.verbose)
    _start_watchdog()
    console, errors = Console(highlight=False, soft_wrap=True), Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        with EphemeralApi() as api:  # with no PREFECT_API_URL: Prefect's temporary server, started now
            _prepare(args.params, args.dataset)
            api.ready()
            outcomes = pipeline_with_workers(args.params, args.rerun, args.dataset, args.stability_seeds)
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
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
