"""The file catalog: one typed object per dataset (and per model) says where each file of the pipeline lives.

Every stage, report and test asks the layout; no other module spells a file name of the pipeline. The same
objects render `dvc.yaml` (`cleargate.graph`): built on template roots (`${paths.raw}`) and keys (`${key}`),
they produce DVC's templated paths, so the catalog is declared once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cleargate.config.paths import Paths

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
WEIGHTS = {"torch": "model.pt", "sklearn": "model.skops"}   # by the model's flavour
PLOT_TABLES = ("confusion.csv", "roc.csv")                  # DVC plots (data)
PLOT_IMAGES = ("confusion.png", "roc.png", "reliability.png")


def curves_dir(paths: Paths) -> Path:
    """Every model's training curves, one CSV per model: one DVC plot definition covers the folder."""
    return paths.reports / "curves"


def run_timings(paths: Paths) -> Path:
    """Where the last pipeline run says what its stages cost (project-wide, not per dataset)."""
    return paths.reports / "run_timings.json"


@dataclass(frozen=True)
class BundleFiles:
    """Inside a model folder (`cleargate.models.bundle.ModelBundle` writes and reads it)."""

    dir: Path

    @property
    def manifest(self) -> Path:
        """model.json: what the model is and what it was trained on (enough to rebuild it)."""
        return self.dir / "model.json"

    def weights(self, flavour: str) -> Path:
        return self.dir / WEIGHTS[flavour]

    @property
    def train_record(self) -> Path:
        return self.dir / "train.json"


@dataclass(frozen=True)
class ScoreFiles:
    """One scoring of one input by one model version: written in a temp folder, renamed here when complete."""

    dir: Path            # scores/<input stem>-<sha12>/<model>-v<version>/

    @property
    def predictions(self) -> Path:
        return self.dir / "predictions.parquet"

    @property
    def report(self) -> Path:
        return self.dir / "report.json"

    @property
    def validation_dir(self) -> Path:
        """Great Expectations data docs of a refused batch."""
        return self.dir / "validation"

    @property
    def drift_page(self) -> Path:
        """Per drifted feature, the reference's and the batch's histograms (HTML)."""
        return self.dir / "drift.html"


@dataclass(frozen=True)
class ModelLayout:
    """One trained model: its folder (the bundle) and its evaluation outputs."""

    name: str
    dir: Path            # models/<dataset>/<model>/: the model bundle, written whole or not at all
    metrics: Path        # reports/<dataset>/metrics/<model>.json (a DVC metrics file)
    plots: Path          # reports/<dataset>/plots/<model>/
    predictions: Path    # reports/<dataset>/predictions/<model>.parquet (test-set probabilities)
    curves: Path         # reports/curves/<dataset>/<model>.csv: loss and accuracy per epoch (a DVC plot)
    stability: Path      # reports/<dataset>/stability/<model>.json: test metrics over N seeds (cleargate stability)
    explanations: Path   # reports/<dataset>/explanations/<model>/: what drives its decisions (importance, attribution)

    @property
    def bundle(self) -> BundleFiles:
        return BundleFiles(self.dir)

    @property
    def explanation(self) -> Path:
        """The Explanation record: permutation importance of every feature, attribution maps of a network."""
        return self.explanations / "explanation.json"

    @property
    def importance_plot(self) -> Path:
        return self.explanations / "importance.png"

    @property
    def attribution_plot(self) -> Path:
        """Image networks only: one map per class."""
        return self.explanations / "attribution.png"

    def plot(self, filename: str) -> Path:
        return self.plots / filename


@dataclass(frozen=True)
class DatasetLayout:
    """Every file the pipeline writes for one dataset, under the roots of params.yaml `paths`."""

    paths: Paths         # the roots (params.yaml `paths`); graph.py renders them as DVC templates
    name: str

    @property
    def raw(self) -> Path:
        """Immutable: ingest writes it once and never overwrites it."""
        return self.paths.raw / f"{self.name}.parquet"

    @property
    def raw_meta(self) -> Path:
        return self.paths.raw / f"{self.name}.json"

    @property
    def quarantine(self) -> Path:
        return self.paths.quarantine / f"{self.name}.parquet"

    @property
    def reports(self) -> Path:
        return self.paths.reports / self.name

    @property
    def validation_dir(self) -> Path:
        return self.reports / "validation"

    @property
    def validation_result(self) -> Path:
        return self.validation_dir / "result.json"

    @property
    def validation_summary(self) -> Path:
        return self.validation_dir / "summary.md"

    @property
    def interim(self) -> Path:
        return self.paths.interim / f"{self.name}.parquet"

    @property
    def cleaning(self) -> Path:
        return self.reports / "cleaning.json"

    @property
    def processed(self) -> Path:
        return self.paths.processed / self.name

    def split(self, part: Split) -> Path:
        return self.processed / f"{part}.parquet"

    @property
    def split_report(self) -> Path:
        return self.reports / "split.json"

    @property
    def models(self) -> Path:
        return self.paths.models / self.name

    @property
    def metrics_dir(self) -> Path:
        return self.reports / "metrics"

    @property
    def plots_dir(self) -> Path:
        return self.reports / "plots"

    @property
    def predictions_dir(self) -> Path:
        return self.reports / "predictions"

    @property
    def explanations_dir(self) -> Path:
        return self.reports / "explanations"

    @property
    def stability_dir(self) -> Path:
        """Seed-stability summaries (`cleargate stability`): not a DVC output, read by the gates when present."""
        return self.reports / "stability"

    @property
    def gate(self) -> Path:
        return self.reports / "gate.json"

    @property
    def gate_md(self) -> Path:
        return self.reports / "gate.md"

    @property
    def leaderboard_md(self) -> Path:
        return self.reports / "leaderboard.md"

    @property
    def leaderboard_csv(self) -> Path:
        return self.reports / "leaderboard.csv"

    @property
    def leaderboard_json(self) -> Path:
        return self.reports / "leaderboard.json"

    @property
    def promotion(self) -> Path:
        return self.reports / "promotion.json"

    @property
    def release_gate(self) -> Path:
        return self.reports / "release_gate.md"

    def model(self, name: str) -> ModelLayout:
        return ModelLayout(name=name, dir=self.models / name, metrics=self.metrics_dir / f"{name}.json",
                           plots=self.plots_dir / name, predictions=self.predictions_dir / f"{name}.parquet",
                           curves=curves_dir(self.paths) / self.name / f"{name}.csv",
                           stability=self.stability_dir / f"{name}.json",
                           explanations=self.explanations_dir / name)

    @property
    def inbox(self) -> Path:
        """New batches to monitor (parquet or csv); each is claimed into `inbox_processing`, then moved with
        its report to `inbox_done` or `inbox_refused`."""
        return self.paths.inbox / self.name

    @property
    def inbox_processing(self) -> Path:
        return self.inbox / "processing"

    @property
    def inbox_done(self) -> Path:
        return self.inbox / "done"

    @property
    def inbox_refused(self) -> Path:
        return self.inbox / "refused"

    @property
    def served(self) -> Path:
        """The online model server's record of what it answered (`cleargate serve-model`): one parquet per
        micro-batch sent to the inbox (request id, versions, predictions, the shadow's too), and the rows still
        waiting for their micro-batch when the server stopped (`served_pending`)."""
        return self.paths.served / self.name

    @property
    def served_pending(self) -> Path:
        return self.served / "pending"

    def scores(self, input_stem: str, input_sha256: str, model: str, version: str) -> ScoreFiles:
        """Outputs of scoring one input (by content) with one model version (cleargate score): another model,
        version or input never lands in the same folder."""
        return ScoreFiles(self.paths.scores / f"{input_stem}-{input_sha256[:12]}" / f"{model}-v{version}")
