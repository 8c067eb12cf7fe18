"""gate: every candidate's test metrics against the dataset's `gates`, and the dataset's leaderboard.

Writes reports/<d>/gate.json and gate.md (verdicts), leaderboard.md/.csv and leaderboard.json (a DVC
metrics file). A model's seed-stability summary (reports/<d>/stability/, `cleargate stability`) is read when
present and current: its spread joins the leaderboard and the `max_seed_std` gate. Records verdicts only;
`promote` moves `champion` only if the selected candidate passes every gate, release checks included.
"""

from __future__ import annotations

from cleargate.evaluation.gates import evaluate_gates, gate_markdown, number, select_candidate
from cleargate.evaluation.leaderboard import leaderboard, leaderboard_markdown, leaderboard_metrics
from cleargate.evaluation.seed_spread import seed_evidence
from cleargate.io import write_json, write_text
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, GateDecision


def run(params: DatasetParams) -> GateDecision:
    layout = params.layout
    evaluations = {name: Evaluation.load(layout.model(name).metrics) for name in params.train}
    metrics = {name: e.dump() for name, e in evaluations.items()}
    baselines = {n: m for n, m in metrics.items() if params.train[n].role == "baseline"}
    primary = params.evaluate.primary_metric
    seeds = {n: seed_evidence(params, n) for n in evaluations}
    reports = {n: evaluate_gates(n, m, baselines, params.gates, primary, seeds=seeds[n])
               for n, m in metrics.items() if params.train[n].role == "candidate"}
    selected = select_candidate(reports, metrics, primary)
    decision = GateDecision(primary_metric=primary, selected=selected, passed=reports[selected].passed,
                            candidates=reports, baselines={n: number(m, primary) for n, m in baselines.items()})
    decision.save(layout.gate)
    write_text(gate_markdown(reports, selected), layout.gate_md)
    stability = {n: e.summary for n, e in seeds.items() if e.summary is not None and not e.stale}
    board = leaderboard(evaluations, primary, {n: r.passed for n, r in reports.items()}, stability)
    board.to_csv(layout.leaderboard_csv, index=False)
    title = f"{params.dataset.name}: ranked by {primary} (test set, n={evaluations[selected].n_test})"
    write_text(leaderboard_markdown(board, title), layout.leaderboard_md)
    write_json(leaderboard_metrics(board, primary), layout.leaderboard_json)
    return decision
