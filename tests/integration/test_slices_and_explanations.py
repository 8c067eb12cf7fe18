"""Subgroups and explanations through the real pipeline, on the golden breast-cancer records (built by the pipeline
flow): every model judged per tumour-size band with the worst band beside the overall figure, its permutation
importance in the card and on its MLflow run at a small share of the run's cost; a crafted candidate poor on one
band is blocked by the real gate and promote stages, the registry's verdict naming the band; a scored batch that
carries the slicing column is counted per band."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cleargate.records import Evaluation, Explanation, RunTimings, SliceFigure
from tests.projects import load_params

pytestmark = pytest.mark.slow   # on the golden records, which the pipeline trains
NAME = "breast-cancer-classifier"


def model_card(client: MlflowClient, run_id: str, folder: Path) -> str:
    """The whole model card, as logged on the version's run."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(run_id, "model_card.md", str(folder))).read_text()


def test_the_champion_is_judged_per_band_and_says_what_drives_it_at_a_small_share_of_the_run(golden_records,
                                                                                             tmp_path: Path):
    params = load_params(golden_records.root / "params.yaml")
    client = MlflowClient(params.tracking.uri, params.tracking.uri)
    champion = client.get_model_version_by_alias(NAME, "champion")
    model = champion.tags["model"]
    evaluation = Evaluation.load(params.layout.model(model).metrics)
    assert evaluation.slices is not None and {f.slicing for f in evaluation.slices.figures} == {"tumour_size"}
    assert sum(f.rows for f in evaluation.slices.figures) == evaluation.n_test
    worst = evaluation.slices.worst()
    assert worst is not None and worst.low is not None and worst.low <= (worst.metric or 0) <= (worst.high or 0)
    board = pd.read_csv(params.layout.leaderboard_csv).set_index("model")
    assert board.loc[model, "worst_slice_name"] == worst.name and board.loc[model, "worst_slice"] == worst.metric
    assert champion.tags["gate.min_slice"] == "pass", "gated on its worst band"

    explanation = Explanation.load(params.layout.model(model).explanation)
    drops = [f.mean for f in explanation.importance]
    assert len(drops) == 30 and drops == sorted(drops, reverse=True) and drops[0] > 0, "every feature, ranked"
    timings = RunTimings.load(params.paths.reports / "run_timings.json")
    share = (evaluation.explain_seconds or 0) / timings.wall_seconds
    print(f"\n[cost] {model}: permutation importance {evaluation.explain_seconds:.2f} s of a "
          f"{timings.wall_seconds:.0f} s run ({share:.1%}); all explanations {timings.explain_seconds:.2f} s; "
          f"top: {', '.join(f.name for f in explanation.importance[:3])}")
    assert 0 < share < 0.10, "the champion's importance costs under a tenth of the run"
    assert "explanations" in golden_records.output and "worst slice" in golden_records.output, "the run says so"

    run = client.get_run(champion.run_id)
    sliced = {k for k in run.data.metrics if k.startswith("test_pr_auc__tumour_size_")}
    judged = {f"test_pr_auc__{f.key}" for f in evaluation.slices.figures if f.metric is not None}
    assert sliced == judged and run.data.metrics["test_worst_slice_pr_auc"] == worst.metric
    artifacts = {a.path for a in client.list_artifacts(champion.run_id, "explanations")}
    assert artifacts == {"explanations/explanation.json", "explanations/importance.png"}
    card = model_card(client, champion.run_id, tmp_path)
    kept = champion.description.split("\n\n... (cut to")[0]
    assert len(champion.description) <= 5000 and card.startswith(kept), "the registry keeps the card's start"
    assert "## Slices (subgroups of the test set)" in card and "**tumour_size**" in card
    assert f"| {worst.value} | {worst.rows} | {worst.metric:.4f} |" in card
    assert f"| {explanation.importance[0].name} | {explanation.importance[0].mean:+.4f} |" in card


def crafted(evaluation: Evaluation, band: str) -> Evaluation:
    """The same model's evidence with `band` poor (0.40, 50 rows) and a 3-row band poorer still (reported only)."""
    assert evaluation.slices is not None
    figures = [f.model_copy(update={"metric": 0.40, "low": 0.30, "high": 0.50, "rows": 50, "judged": True})
               if f.value == band else f for f in evaluation.slices.figures]
    figures.append(SliceFigure(slicing="tumour_size", value="missing", rows=3, metric=0.0, judged=False,
                               note="3 rows < min_rows 30"))
    return evaluation.model_copy(update={"slices": evaluation.slices.model_copy(update={"figures": figures})})


def test_a_candidate_poor_on_one_band_is_blocked_and_the_registry_names_the_band(golden_records, tmp_path: Path):
    from cleargate.stages import gate, promote

    project = golden_records.clone(tmp_path)
    params = load_params(project / "params.yaml")
    params = params.model_copy(update={"gates": params.gates.model_copy(update={"max_ece": 0.2})})  # all else fine
    for name in params.train:
        path = params.layout.model(name).metrics
        crafted(Evaluation.load(path), "15-40").save(path)
    decision = gate.run(params)
    checks = {c.name: c for c in decision.candidates[decision.selected].checks}
    assert not checks["min_slice"].passed and checks["min_slice"].slice_name == "tumour_size=15-40"
    assert [c.name for c in checks.values() if not c.passed] == ["min_slice"], "fine overall, poor on one band"
    release = promote.run(params)
    assert release.blocked and release.champion == release.previous_champion == "1"
    assert "min_slice (tumour_size=15-40)" in release.reason and "min_slice (tumour_size=15-40)" in release.message()
    client = MlflowClient(params.tracking.uri, params.tracking.uri)
    version = client.get_model_version(NAME, release.version)
    assert version.tags["gate.min_slice"] == "fail" and "tumour_size=15-40" in version.tags["gate.min_slice.detail"]
    card = model_card(client, version.run_id, tmp_path / "card")
    assert "| missing | 3 | 0.0000 | - | - | no: 3 rows < min_rows 30 |" in card, "the 3-row band: reported, not gated"


def test_a_scored_batch_that_carries_the_slicing_column_is_counted_per_band(golden_records, tmp_path: Path):
    from cleargate.scoring import score_file
    from cleargate.tracking import connect

    project = golden_records.clone(tmp_path)
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(params.layout.split("test")).drop(columns="label")
    batch = project / "batch.parquet"
    test.to_parquet(batch)
    result = score_file(params, batch, f"{NAME}@champion", connect(params))
    assert not result.refused and sum(s["rows"] for s in result.slices.values()) == len(test)
    report = json.loads((result.out_dir / "report.json").read_text())
    assert set(report["slices"]) == {f"tumour_size={b}" for b in ("0-12", "12-15", "15-40")}
    shares = report["slices"]["tumour_size=15-40"]["predicted"]
    assert set(shares) == {"benign", "malignant"} and shares["malignant"] > 0.5, "large tumours: mostly malignant"


@pytest.fixture(autouse=True)
def _store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
