"""gate: every candidate's test metrics against the dataset's `gates`, and the dataset's leaderboard.

Writes reports/<dataset>/gate.json and gate.md (verdicts), leaderboard.md/.csv and leaderboard.json
(a DVC metrics file).
"""

from __future__ import annotations

from typing import Any

from cleargate.config import Params
from cleargate.evaluation.gates import evaluate_gates, gate_markdown, select_candidate
from cleargate.evaluation.leaderboard import leaderboard, leaderboard_markdown, leaderboard_metrics
from cleargate.io import read_json, write_json
from cleargate.stages.entry import model_paths, stage_main, stage_paths


def run(params: Params) -> dict[str, Any]:
    """Records verdicts only; `promote` refuses to move champion unless the selected model passed."""
    metrics = {name: read_json(model_paths(params, name)["metrics"]) for name in params.train}
    baselines = {n: m for n, m in metrics.items() if params.train[n].role == "baseline"}
    primary = params.evaluate.primary_metric
    reports = {n: evaluate_gates(n, m, baselines, params.gates, primary)
               for n, m in metrics.items() if params.train[n].role == "candidate"}
    selected = select_candidate(reports, metrics, primary)
    result = {"primary_metric": primary, "selected": selected, "passed": reports[selected].passed,
              "candidates": {n: r.to_dict() for n, r in reports.items()},
              "baselines": {n: m.get(primary) for n, m in baselines.items()}}
    paths = stage_paths(params)
    write_json(result, paths["gate"])
    paths["gate"].with_suffix(".md").write_text(gate_markdown(reports, selected))
    board = leaderboard(metrics, primary, {n: r.passed for n, r in reports.items()})
    board.to_csv(paths["leaderboard_csv"], index=False)
    paths["leaderboard"].write_text(leaderboard_markdown(board, f"{params.dataset.name}: ranked by {primary} "
                                                                f"(test set, n={metrics[selected]['n_test']})"))
    write_json(leaderboard_metrics(board, primary), paths["leaderboard_json"])
    return result


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
