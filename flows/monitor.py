"""The monitoring flow (`cleargate-monitor`): new batches in `paths.inbox/<dataset>/`, scored by the champion.

`python flows/monitor.py [--dataset NAME] [--no-retrain]`; scheduled hourly as `cleargate-monitor/hourly`
(`make serve`, `make stack-up`). Per dataset: `cleargate.monitoring.cycle` claims each batch, scores it through
`cleargate.scoring` (validation, drift, predictions), compares live metrics with the champion's test metrics
when the batch has labels, and logs one MLflow run per batch. Batches that drifted or degraded start the
training deployment (`cleargate-pipeline/<name>` for that dataset, run by the worker or `serve`), once:
the run's idempotency key is made of those batches, so a pass resumed after a kill gets the same run back.
Then every batch moves with its report to done/ or refused/, a drifted or refused batch is told (a Prefect event,
`flows/notices.py`), and a markdown artifact summarises the pass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

from cleargate.errors import CleargateError
from cleargate.monitoring import cycle
from cleargate.monitoring.batch_notices import batch_notices
from cleargate.params import DatasetParams, ProjectParams, load_project
from cleargate.tracking import connect, server_errors, tracking_uri
from flows.notices import emit

PIPELINE_FLOW = "cleargate-pipeline"


@task(cache_policy=NO_CACHE)
def check_inbox(params: DatasetParams) -> cycle.Pass:
    """Claim, score, judge and log every batch of one dataset (resuming what a killed pass left)."""
    with server_errors(params, f"monitoring of {params.dataset.name}"):
        return cycle.prepare(params, connect(params))


def start_retraining(project: ProjectParams, params: DatasetParams, batches: cycle.Pass, enabled: bool) -> None:
    """The training deployment for this dataset, once per key (see `cycle.plan_retrain`); recorded in the
    batches' reports and MLflow runs."""
    deployment, logger = f"{PIPELINE_FLOW}/{project.schedules.pipeline.name}", get_run_logger()
    for key, names in cycle.plan_retrain(params, batches).items():
        reasons = sorted({r for b in batches.retrain if b.report.retrain_key == key for r in b.report.retrain_reasons})
        run_id, error = None, "not started: the flow ran with retrain=False"
        if enabled:
            try:
                run = run_deployment(deployment, parameters={"datasets": [params.dataset.name]}, timeout=0,
                                     as_subflow=False, idempotency_key=key,
                                     tags=["triggered-by:cleargate-monitor", *(f"reason:{r}" for r in reasons)])
                run_id, error = str(run.id), None
            except ObjectNotFound:
                error = f"deployment {deployment} not found: start `make serve` or `make stack-up`"
        logger.info("%s: %s in %s -> %s", params.dataset.name, "/".join(reasons), ", ".join(names),
                    f"started {deployment} (flow run {run_id})" if run_id else error)
        cycle.record_retrain(params, connect(params), batches, key, run_id, error)


@flow(name="cleargate-monitor", log_prints=True)
def monitor(params_path: str = "params.yaml", datasets: list[str] | None = None,
            retrain: bool = True) -> dict[str, list[str]]:
    """Returns, per dataset, each batch's outcome line."""
    project = load_project(Path(params_path))
    passes = []
    for name in datasets or list(project.datasets):
        params = project.scope(name)
        batches = check_inbox(params)
        if batches.retrain:
            start_retraining(project, params, batches, retrain)
        cycle.finish(params, batches)
        emit([n for b in batches.batches for n in batch_notices(b.report, tracking_uri(params))])
        passes.append(batches)
        for report in (b.report for b in batches.batches):
            print(f"{name}: {report.batch}: {report.message}")
        if batches.note:
            print(f"{name}: {batches.note}")
    create_markdown_artifact(key="monitoring-summary", markdown=cycle.summary_markdown(passes),
                             description="Batches scored by the champion this pass, drift, live metrics")
    return {p.dataset: [f"{b.report.batch}: {b.report.outcome}" for b in p.batches] for p in passes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dataset", action="append", default=None, metavar="NAME")
    parser.add_argument("--no-retrain", action="store_true", help="judge and record, start no training")
    args = parser.parse_args(argv)
    try:
        outcomes = monitor(args.params, args.dataset, not args.no_retrain)
    except CleargateError as exc:
        print(f"cleargate: monitoring stopped: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"batches: {sum(len(v) for v in outcomes.values())}")
    return 0

