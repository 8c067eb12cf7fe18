"""The cleargate pipeline as a Prefect flow: the stages of dvc.yaml, in the same order, same functions.

Run it: `python flows/pipeline.py` (what `make run` does). Uses Prefect's ephemeral API unless
PREFECT_API_URL points at a server.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

if __package__ in (None, ""):  # `python flows/pipeline.py` from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleargate.config import Params, load_params  # noqa: E402
from cleargate.errors import CleargateError, GateError  # noqa: E402
from cleargate.reporting import summary_table  # noqa: E402
from cleargate.runtime import apply_offline_env  # noqa: E402
from cleargate.stages import clean, evaluate, gate, ingest, promote, split, train, validate  # noqa: E402
from flows import dvc_state  # noqa: E402


@dataclass(frozen=True)
class StageCall:
    """One stage of dvc.yaml: its DVC name, the module dvc.yaml runs, and the keyword args it gets."""

    dvc_name: str
    run: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    retries: int = 0

    @property
    def module(self) -> str:
        return self.run.__module__


def plan(params: Params) -> list[StageCall]:
    """The stages in dvc.yaml's order; `train` and `evaluate` once per model in params.yaml."""
    calls = [StageCall("ingest", ingest.run), StageCall("validate", validate.run),
             StageCall("clean", clean.run), StageCall("split", split.run)]
    calls += [StageCall(f"train@{m}", train.run, {"model": m}, retries=1) for m in params.train]
    calls += [StageCall(f"evaluate@{m}", evaluate.run, {"model": m}) for m in params.train]
    calls += [StageCall("gate", gate.run), StageCall("promote", promote.run)]
    return calls


@task(cache_policy=NO_CACHE)
def run_stage(call: StageCall, params: Params, force: bool = False) -> str:
    """Skip the stage if DVC says it is up to date (unless forced); else run it and record it in dvc.lock."""
    logger = get_run_logger()
    if not force and dvc_state.is_up_to_date(params.root, call.dvc_name):
        logger.info("%s: up to date, skipped", call.dvc_name)
        return "skipped"
    extra = {"flow_run_id": flow_run.get_id()} if call.run is promote.run else {}
    call.run(params, **call.kwargs, **extra)
    dvc_state.commit(params.root, call.dvc_name)
    logger.info("%s: ran", call.dvc_name)
    return "ran"


REPORTS = {"validate": ("validation/{name}/summary.md", "validation-report", "Great Expectations checks"),
           "gate": ("gate.md", "gate-report", "Offline acceptance gates"),
           "promote": ("release_gate.md", "release-gate-report", "All gates, incl. latency, size, champion")}


def publish_report(call: StageCall, params: Params) -> None:
    """The gate tables as Prefect artifacts, also when the stage failed (that is when they matter)."""
    if call.dvc_name in REPORTS:
        filename, key, description = REPORTS[call.dvc_name]
        path = params.paths.reports / filename.format(name=params.dataset.name)
        if path.is_file():
            create_markdown_artifact(key=key, markdown=path.read_text(), description=description)


@flow(name="cleargate-pipeline", log_prints=True)
def pipeline(params_path: str = "params.yaml", rerun: list[str] | None = None) -> dict[str, str]:
    """`rerun` names stages to run even when DVC finds them up to date (e.g. `promote` to re-judge)."""
    params = load_params(Path(params_path))
    unknown = set(rerun or []) - {c.dvc_name for c in plan(params)}
    if unknown:
        raise CleargateError(f"--rerun: unknown stage(s) {sorted(unknown)}; see dvc.yaml")
    outcomes: dict[str, str] = {}
    for call in plan(params):
        stage = run_stage.with_options(name=call.dvc_name, retries=call.retries, retry_delay_seconds=5)
        try:
            outcomes[call.dvc_name] = stage(call, params, force=call.dvc_name in (rerun or []))
        finally:
            publish_report(call, params)
    create_markdown_artifact(key="run-summary", markdown=summary_table(params), description="Models and outcome")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--rerun", action="append", default=[], metavar="STAGE",
                        help="run this stage even if it is up to date (repeatable), e.g. --rerun promote")
    args = parser.parse_args(argv)
    apply_offline_env()
    try:
        outcomes = pipeline(args.params, rerun=args.rerun)
        ran = [name for name, outcome in outcomes.items() if outcome == "ran"]
        print(f"stages ran: {len(ran)} ({', '.join(ran) or 'none'}); up to date, skipped: {len(outcomes) - len(ran)}")
        print(summary_table(load_params(Path(args.params))))
    except CleargateError as exc:
        if isinstance(exc, GateError):  # blocked at the gate: this run's table shows which check failed
            print(summary_table(load_params(Path(args.params))))
        print(f"\ncleargate: run stopped: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
