"""promote: group this dataset's runs in MLflow, then release the selected candidate.

Tracking: a run per dataset and pipeline run with the lineage and reports, next to the models' training runs
(opened when they fit), and the selected candidate's bundle logged into its run with what a rebuild needs
(`tracking.lineage`: its commit, params.yaml, dvc.lock entries and environment).
Release: the release checks (latency and size of the logged model, non-inferiority against the champion)
join the offline verdicts; the candidate becomes a version aliased `challenger`, and `champion` moves only
when every gate passed (or, where `release.approval` is `required`, waits for a person; undecided versions past
`approval_timeout_h` are rejected first). A blocked candidate is a decision recorded in promotion.json, the
registry and the runs; the stage's command still exits 0 (one blocked dataset never stops `dvc repro` for the
others). promotion.json names the store it registered in: a project pointed at another tracking store (the
embedded one, then a team's server) finds there none of the runs it fitted with, and its release starts new ones.
"""

from __future__ import annotations

import os

from cleargate.io import read_table
from cleargate.params import DatasetParams
from cleargate.records import GateDecision, IngestRecord, ReleaseDecision, SplitReport, TrainRecord
from cleargate.release import approval
from cleargate.release.promotion import publish, release
from cleargate.tracking import connect, server_errors
from cleargate.tracking.lineage import (
    LOCK_ARTIFACT,
    PARAMS_ARTIFACT,
    PARAMS_FILE,
    lineage_tags,
    lock_entries,
    parent_tags,
)
from cleargate.tracking.model_runs import held_runs, log_pipeline_run, log_release_model


def run(params: DatasetParams, flow_run_id: str | None = None) -> ReleaseDecision:
    layout = params.layout
    gate = GateDecision.load(layout.gate)
    test = read_table(layout.split("test"))
    trained = {m: TrainRecord.load(layout.model(m).bundle.train_record) for m in params.train}
    lock = lock_entries(params.root, params.dataset.name, list(params.train))
    params_file = (params.root / PARAMS_FILE).read_bytes()
    lineage = lineage_tags(params, params.root, IngestRecord.load(layout.raw_meta).sha256,
                           SplitReport.load(layout.split_report).digest, lock, params_file)
    flow_run_id = flow_run_id or os.environ.get("PREFECT__FLOW_RUN_ID") or "none"
    with server_errors(params, f"promote@{params.dataset.name}"):
        client = connect(params)
        if params.release.approval == "required":
            approval.expire(client, params.registry.model_name, params.release.approval_timeout_h)
        runs = held_runs(client, {m: r.run_id for m, r in trained.items() if r.run_id})
        parent_id = log_pipeline_run(params, test, lineage, flow_run_id, runs)
        logged = log_release_model(params, gate.selected, runs.get(gate.selected), test)
        if lock is not None:  # the dvc.lock entries whose digest is tagged: `cleargate reproduce` restores by them
            client.log_text(logged.run_id, lock.decode(), LOCK_ARTIFACT)
        client.log_text(logged.run_id, params_file.decode(), PARAMS_ARTIFACT)  # applied in the rebuild's checkout
        decision = release(params, client, gate, logged, parent_id, test,
                           {**lineage, **parent_tags(trained[gate.selected]), "prefect.flow_run_id": flow_run_id})
        publish(params, client, decision, lineage)
    decision.save(layout.promotion)
    return decision
