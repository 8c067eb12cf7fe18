"""promote: track this dataset's models in MLflow, then release the selected candidate.

Tracking: one parent run with the lineage and reports, one nested run per model with its logged model.
Release: the release checks (latency and size of the logged model, non-inferiority against the champion)
join the offline verdicts; the candidate becomes a version aliased `challenger`, and `champion` moves only
when every gate passed. A blocked candidate is a decision recorded in promotion.json, the registry and the
runs; the stage's command still exits 0 (one blocked dataset never stops `dvc repro` for the others).
"""

from __future__ import annotations

import os

from cleargate.io import read_table
from cleargate.lineage import lineage_tags
from cleargate.params import DatasetParams
from cleargate.records import GateDecision, IngestRecord, ReleaseDecision, SplitReport
from cleargate.release import publish, release
from cleargate.tracking import connect, log_dataset_runs, server_errors


def run(params: DatasetParams, flow_run_id: str | None = None) -> ReleaseDecision:
    layout = params.layout
    gate = GateDecision.load(layout.gate)
    test = read_table(layout.split("test"))
    lineage = lineage_tags(params, params.root, IngestRecord.load(layout.raw_meta).sha256,
                           SplitReport.load(layout.split_report).digest)
    flow_run_id = flow_run_id or os.environ.get("PREFECT__FLOW_RUN_ID") or "none"
    with server_errors(params, f"promote@{params.dataset.name}"):
        client = connect(params)
        runs = log_dataset_runs(params, test, lineage, flow_run_id)
        decision = release(params, client, gate, runs, test, {**lineage, "prefect.flow_run_id": flow_run_id})
        publish(params, client, decision, lineage)
    decision.save(layout.promotion)
    return decision
