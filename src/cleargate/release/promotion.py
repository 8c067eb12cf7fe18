"""Release: evidence -> a typed decision -> the registry.

Inside the promotion lock: read the current champion, gather the release evidence (latency and size of the
logged model as production loads it, a paired bootstrap against the champion on the same test rows), judge
every gate, register the candidate as a new version aliased `challenger` with every verdict as a tag, and
move `champion` only if every gate passed and the model differs from the champion's; where the dataset's
release needs a person's approval, the version waits as `challenger` with `approval=pending` instead
(`release.approval`). A blocked candidate is a decision (`ReleaseDecision.outcome == "blocked"`), not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from cleargate.evaluation.bootstrap import paired_difference
from cleargate.evaluation.drift import PROFILE_ARTIFACT, prediction_reference, reference_profile
from cleargate.evaluation.gates import ChampionComparison, ReleaseEvidence, evaluate_gates, gate_markdown
from cleargate.evaluation.operational import measure
from cleargate.evaluation.seed_spread import seed_evidence
from cleargate.evaluation.slices import slice_rows
from cleargate.io import read_table, write_text
from cleargate.params import DatasetParams
from cleargate.records import (
    Evaluation,
    Explanation,
    GateDecision,
    GateReport,
    Predictions,
    ReleaseDecision,
    SplitReport,
)
from cleargate.release import approval
from cleargate.release.modelcard import model_card, registry_text
from cleargate.schema import LABEL
from cleargate.tracking import registry
from cleargate.tracking.lineage import model_digest
from cleargate.tracking.model_runs import LoggedModel
from cleargate.tracking.promotion_lock import promotion_lock
from cleargate.tracking.store import shown_uri, tracking_uri


@dataclass(frozen=True)
class Registration:
    version: str
    champion: str | None
    previous_champion: str | None
    moved: bool
    report: GateReport
    reason: str
    pending: bool = False   # passed, awaits a person's approval


def verdict_tags(report: GateReport) -> dict[str, str]:
    tags = {"gate.passed": str(report.passed).lower()}
    for check in report.checks:
        tags[f"gate.{check.name}"] = "pass" if check.passed else "fail"
        tags[f"gate.{check.name}.value"] = "missing" if check.value is None else f"{check.value:.6g}"
        tags[f"gate.{check.name}.threshold"] = "none" if check.threshold is None else f"{check.threshold:.6g}"
        if check.detail:
            tags[f"gate.{check.name}.detail"] = check.detail[:500]
    return tags


def failed_reason(report: GateReport) -> str:
    """`failed gate(s): ece, min_slice (age=45-120)`: each failed check, a slice gate with the slice it names."""
    return "failed gate(s): " + ", ".join(f"{c.name} ({c.slice_name})" if c.slice_name else c.name
                                          for c in report.failed)


def register_judged(client: MlflowClient, name: str, model_uri: str, run_id: str, tags: dict[str, str],
                    judge: Callable[[str | None], GateReport], digest: str,
                    lock_wait_seconds: float = 300, approval_required: bool = False) -> Registration:
    """Register the candidate and move `champion` only on a full pass (or, with `approval_required`, leave it
    pending a person's approval); all under the promotion lock."""
    registry.ensure_registered_model(client, name)
    with promotion_lock(client, name, wait_seconds=lock_wait_seconds) as lock:
        champion = registry.alias_version(client, name, registry.CHAMPION)
        report = judge(champion)
        version = registry.register_version(
            client, name, model_uri, run_id, {**tags, **verdict_tags(report), "lineage.model_sha256": digest})
        number = str(version.version)
        if not report.passed:
            return Registration(number, champion, champion, False, report, failed_reason(report))
        if champion is not None and \
                client.get_model_version(name, champion).tags.get("lineage.model_sha256") == digest:
            return Registration(number, champion, champion, False, report, f"identical to champion v{champion}")
        if approval_required:
            superseded = approval.request(client, name, number, champion)
            note = f"; supersedes v{', v'.join(superseded)}" if superseded else ""
            return Registration(number, champion, champion, False, report, f"passed every gate, awaits approval: "
                                f"{approval.commands(name, number)}{note}", pending=True)
        lock.check()  # the judge may have outlived the lease (a stalled process): then another holds it
        previous = registry.set_champion(client, name, number, "gate", "passed every gate")
        return Registration(number, number, previous, True, report, "passed every gate")


def compare_with_champion(params: DatasetParams, champion: str | None, test: pd.DataFrame,
                          candidate_labels: np.ndarray, judged: Sequence[str] = ()) -> ChampionComparison:
    """The champion scored now on the same test rows; any failure to score it fails the check, closed. With
    `gates.slice_vs_champion`, the same paired bootstrap on each judged slice (`judged`: their names)."""
    if champion is None:
        return ChampionComparison(None)
    from cleargate.serving.loading import load_served

    rule = params.gates.champion
    try:
        model, _ = load_served(f"models:/{params.registry.model_name}/{champion}")
        champion_labels = np.asarray(model.predict(test[params.features]))
    except Exception as exc:
        return ChampionComparison(champion, error=f"could not score the champion ({type(exc).__name__}: {exc})")
    y = test[LABEL].to_numpy()
    diff = paired_difference(y, candidate_labels, champion_labels, rule.metric, rule.n_resamples, rule.confidence,
                             params.seed)
    slices = {}
    if params.gates.slice_vs_champion and params.evaluate.slices is not None:
        rows = slice_rows(test, params.evaluate.slices, str(params.layout.split("test")))
        slices = {name: paired_difference(y[r], candidate_labels[r], champion_labels[r], rule.metric,
                                          rule.n_resamples, rule.confidence, params.seed)
                  for name, r in rows.items() if name in judged}
    return ChampionComparison(champion, diff, slices=slices)


def release(params: DatasetParams, client: MlflowClient, gate: GateDecision, logged: LoggedModel, parent_id: str,
            test: pd.DataFrame, tags: dict[str, str]) -> ReleaseDecision:
    """Judge the selected candidate with the release evidence, register it, and say where `champion` stands."""
    layout = params.layout
    selected = gate.selected
    model = layout.model(selected)
    evaluation = Evaluation.load(model.metrics)
    metrics = evaluation.dump()
    judged = [f.name for f in evaluation.slices.judged()] if evaluation.slices is not None else []
    baselines = {n: Evaluation.load(layout.model(n).metrics).dump() for n, c in params.train.items()
                 if c.role == "baseline"}
    operational = measure(logged.model_uri, test[params.features], params.gates.latency_batch_size,
                          params.gates.latency_repeats)
    candidate_labels = Predictions.load(model.predictions).labels()

    def judge(champion: str | None) -> GateReport:
        evidence = ReleaseEvidence(operational.dump(), compare_with_champion(params, champion, test,
                                                                             candidate_labels, judged))
        return evaluate_gates(selected, metrics, baselines, params.gates, params.evaluate.primary_metric,
                              evidence, seed_evidence(params, selected))

    # Everything a version needs to be served and scored is on its run before it is registered: a tracking
    # server lost after this point leaves either no version or a complete one.
    train = read_table(layout.split("train"))
    numeric = [c for c in params.features if pd.api.types.is_numeric_dtype(train[c])]
    profile = {**reference_profile(train, numeric, params.drift.bins),
               "prediction": prediction_reference(candidate_labels, len(params.dataset.classes))}
    client.log_dict(logged.run_id, profile, PROFILE_ARTIFACT)
    client.log_dict(logged.run_id, operational.dump(), "operational.json")
    name = params.registry.model_name
    version_tags = {**tags, "mlflow.run_id": logged.run_id, "model": selected, "pipeline_run_id": parent_id}
    outcome = register_judged(client, name, logged.model_uri, logged.run_id, version_tags, judge,
                              model_digest(model.dir), approval_required=params.release.approval == "required")
    return ReleaseDecision(model_name=name, version=outcome.version, selected=selected,
                           passed=outcome.report.passed, champion=outcome.champion,
                           previous_champion=outcome.previous_champion, moved=outcome.moved, reason=outcome.reason,
                           run_id=logged.run_id, pipeline_run_id=parent_id, operational=operational,
                           gate=outcome.report, approval="pending" if outcome.pending else "auto",
                           registry=shown_uri(tracking_uri(params)))


def held_by_registry(client: MlflowClient, decision: ReleaseDecision) -> bool:
    """Whether the store `client` talks to holds the version `decision` registered: a project moved from one
    registry to another (the embedded store, then a team's server) finds it missing, and registers again."""
    from mlflow.exceptions import MlflowException

    try:
        tags = client.get_model_version(decision.model_name, decision.version).tags
    except MlflowException:
        return False
    return tags.get("pipeline_run_id") == decision.pipeline_run_id


def publish(params: DatasetParams, client: MlflowClient, decision: ReleaseDecision, lineage: dict[str, str]) -> None:
    """The full gate report and the model card in reports/, on the runs and on the version (the training data's
    profile, which batch scoring measures drift against, was logged before registration)."""
    layout = params.layout
    table = gate_markdown({decision.selected: decision.gate}, decision.selected)
    write_text(table, layout.release_gate)
    evaluation = Evaluation.load(layout.model(decision.selected).metrics)
    seeds = seed_evidence(params, decision.selected)
    name = params.registry.model_name
    explained = layout.model(decision.selected).explanation
    card = model_card(params, decision.selected, evaluation, decision.gate, lineage,
                      SplitReport.load(layout.split_report), decision.version,
                      None if seeds.stale else seeds.summary,
                      Explanation.load(explained) if explained.is_file() else None,
                      approval.card_lines(name, decision.version, client.get_model_version(name, decision.version).tags,
                                          params.release.approval == "required"))
    for run_id in (decision.run_id, decision.pipeline_run_id):
        client.log_text(run_id, table, "reports/release_gate.md")
    client.log_text(decision.run_id, card, "model_card.md")
    client.update_model_version(name, decision.version, description=registry_text(card))
