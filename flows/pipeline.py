"""The cleargate pipeline as a Prefect flow: the stages of `cleargate.graph`, in dvc.yaml's order.

Run it: `python flows/pipeline.py` (what `make run` does). Uses Prefect's ephemeral API unless
PREFECT_API_URL points at a server. Per dataset: ingest, validate, clean, split; then every
(dataset, model) fit, `orchestration.fit_workers` at a time, each in its own process (seeded there, so
results equal a sequential run); then evaluate, gate and promote. A dataset whose stage fails stops
there; the other datasets go on, and the run exits non-zero naming every failure. The flow only wires:
each task calls a stage's `run`, and DVC decides what is stale.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import suppress
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

from cleargate.errors import CleargateError  # noqa: E402
from cleargate.graph import StageCall, plan  # noqa: E402
from cleargate.params import ProjectParams, load_project  # noqa: E402
from cleargate.records import ReleaseDecision  # noqa: E402
from cleargate.reporting import summary_table  # noqa: E402
from cleargate.runtime import apply_offline_env  # noqa: E402
from cleargate.stages.entry import run_stage  # noqa: E402
from flows import dvc_state  # noqa: E402


@task(cache_policy=NO_CACHE)
def execute(call: StageCall, project: ProjectParams) -> Any:
    """The stage function itself; DVC bookkeeping stays in the flow's process (one writer of dvc.lock)."""
    extra = {"flow_run_id": flow_run.get_id()} if call.stage.name == "promote" else {}
    return run_stage(call.stage, project, call.dataset, call.model, **extra)


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


class RunLedger:
    """Bookkeeping of one flow run: what ran, what was skipped, which datasets failed or were blocked."""

    def __init__(self, root: Path, rerun: set[str]) -> None:
        self.root = root
        self.rerun = rerun
        self.outcomes: dict[str, str] = {}
        self.failed: dict[str, CleargateError] = {}  # dataset -> the first error that stopped it
        self.blocked: dict[str, str] = {}  # dataset -> why its candidate was not promoted

    def stale(self, call: StageCall) -> bool:
        if call.dvc_name in self.rerun or call.stage.name in self.rerun:
            return True
        if dvc_state.is_up_to_date(self.root, call.dvc_name):
            self.outcomes[call.dvc_name] = "skipped"
            return False
        return True

    def done(self, call: StageCall, result: Any) -> None:
        dvc_state.commit(self.root, call.dvc_name)
        outcome = "ran"
        if isinstance(result, ReleaseDecision) and result.blocked:  # a verdict, recorded; not a failure
            self.blocked[call.dataset] = result.message()
            outcome = "blocked"
        self.outcomes[call.dvc_name] = outcome

    def fail(self, call: StageCall, exc: CleargateError) -> None:
        self.failed.setdefault(call.dataset, exc)
        self.outcomes[call.dvc_name] = "failed"

    def skip_failed(self, call: StageCall) -> bool:
        if call.dataset in self.failed:
            self.outcomes[call.dvc_name] = "not run"
            return True
        return False

    def raise_failures(self) -> None:
        """One failure: re-raised as it is (same type). Several: one error naming each dataset."""
        if len(self.failed) == 1:
            dataset, error = next(iter(self.failed.items()))
            raise type(error)(f"[{dataset}] {error}")
        if self.failed:
            raise CleargateError("; ".join(f"[{d}] {e}" for d, e in self.failed.items()))


def _task(call: StageCall):  # noqa: ANN202 - a configured Prefect task
    return execute.with_options(name=call.dvc_name, retries=1 if call.stage.fit else 0, retry_delay_seconds=5)


def _execute_one(call: StageCall, project: ProjectParams, ledger: RunLedger) -> None:
    if ledger.skip_failed(call):
        return
    try:
        if ledger.stale(call):
            ledger.done(call, _task(call)(call, project))
    except CleargateError as exc:
        ledger.fail(call, exc)
    finally:
        publish_report(call, project)


def _execute_fits(calls: list[StageCall], project: ProjectParams, ledger: RunLedger) -> None:
    """Submitted to the flow's process pool; dvc.lock is written here, as each finishes."""
    futures: list[tuple[StageCall, PrefectFuture]] = [
        (call, _task(call).submit(call, project)) for call in calls
        if not ledger.skip_failed(call) and ledger.stale(call)]
    for call, future in futures:
        try:
            ledger.done(call, future.result())
        except CleargateError as exc:
            ledger.fail(call, exc)


@flow(name="cleargate-pipeline", log_prints=True, task_runner=ProcessPoolTaskRunner(max_workers=1))
def pipeline(params_path: str = "params.yaml", rerun: list[str] | None = None,
             datasets: list[str] | None = None) -> dict[str, str]:
    """`rerun` names stages to run even when DVC finds them up to date (`promote` or `promote@mnist`);
    `datasets` restricts the run to some datasets (default: all)."""
    project = load_project(Path(params_path))
    calls = plan(project, datasets)
    unknown = set(rerun or []) - ({c.dvc_name for c in calls} | {c.stage.name for c in calls})
    if unknown:
        raise CleargateError(f"--rerun: unknown stage(s) {sorted(unknown)}; see dvc.yaml")
    ledger = RunLedger(project.root, set(rerun or []))
    logger = get_run_logger()
    first_fit = next((i for i, c in enumerate(calls) if c.stage.fit), len(calls))
    fits = [c for c in calls if c.stage.fit]
    for call in calls[:first_fit]:
        _execute_one(call, project, ledger)
        logger.info("%s: %s", call.dvc_name, ledger.outcomes.get(call.dvc_name))
    _execute_fits(fits, project, ledger)
    for call in calls[first_fit:]:
        if not call.stage.fit:
            _execute_one(call, project, ledger)
        logger.info("%s: %s", call.dvc_name, ledger.outcomes.get(call.dvc_name))
    for name in dict.fromkeys(c.dataset for c in calls):
        create_markdown_artifact(key=f"run-summary-{name.replace('_', '-')}",
                                 markdown=summary_table(project.scope(name)), description=f"{name}: outcome")
    ledger.raise_failures()
    return ledger.outcomes


def pipeline_with_workers(params_path: str, rerun: list[str], datasets: list[str] | None = None) -> dict[str, str]:
    """The flow with a process pool sized from params.yaml (`orchestration.fit_workers`)."""
    workers = load_project(Path(params_path)).orchestration.fit_workers
    configured = pipeline.with_options(task_runner=ProcessPoolTaskRunner(max_workers=workers))
    return configured(params_path, rerun=rerun, datasets=datasets)


def _summaries(project: ProjectParams, datasets: list[str] | None) -> str:
    return "\n\n".join(summary_table(project.scope(d)) for d in (datasets or project.datasets))


def _blocked(project: ProjectParams, datasets: list[str] | None) -> list[str]:
    """Datasets whose latest verdict (this run's or an earlier, unchanged one) blocked the candidate."""
    paths = {d: project.scope(d).layout.promotion for d in (datasets or project.datasets)}
    return [d for d, path in paths.items() if path.is_file() and ReleaseDecision.load(path).blocked]


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
        outcomes = pipeline_with_workers(args.params, args.rerun, args.dataset)
        project = load_project(Path(args.params))
        ran = [name for name, outcome in outcomes.items() if outcome in ("ran", "blocked")]
        print(f"stages ran: {len(ran)} ({', '.join(ran) or 'none'}); up to date, skipped: {len(outcomes) - len(ran)}")
        print(_summaries(project, args.dataset))
        blocked = _blocked(project, args.dataset)
        if blocked:
            print(f"\nblocked at the gate (champion unchanged): {', '.join(blocked)}; see the FAIL checks above",
                  file=sys.stderr)
            return 3 if args.strict else 0
    except CleargateError as exc:
        with suppress(CleargateError):  # e.g. params.yaml itself is invalid: the error below says so
            print(_summaries(load_project(Path(args.params)), args.dataset))  # what did run, which check blocked
        print(f"\ncleargate: run stopped: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
