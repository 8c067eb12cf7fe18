"""A model card in Markdown: what the model is, what it was trained on, how it did, what it is not for."""

from __future__ import annotations

from typing import Any

from cleargate.config import ImageData, Params, SequenceData
from cleargate.datasets.layout import feature_columns
from cleargate.evaluation.gates import GateReport, gate_markdown


def _intended_use(params: Params) -> str:
    data, classes = params.dataset, dict(enumerate(params.dataset.classes))
    columns = feature_columns(data)
    if isinstance(data, ImageData):
        what = (f"{data.image_shape[0]}x{data.image_shape[1]} grey images; input columns `{columns[0]}..{columns[-1]}` "
                f"(values {data.pixel_min:g}-{data.pixel_max:g})")
    elif isinstance(data, SequenceData):
        what = (f"{data.window / data.resample_hz:g}-second windows of {', '.join(data.channels)} at "
                f"{data.resample_hz:g} Hz; input columns `{columns[0]}..{columns[-1]}` (channel-major)")
    else:
        what = f"tabular records with columns {', '.join(f'`{c}`' for c in columns)} (missing values allowed)"
    return f"Classifies {what} from `{data.name}`. Output: the class index; classes {classes}."


def model_card(params: Params, model: str, metrics: dict[str, Any], report: GateReport, lineage: dict[str, str],
               split: dict[str, Any], version: str) -> str:
    config = params.model(model)
    recalls = "\n".join(f"| {c} | {r:.4f} |" for c, r in metrics["per_class_recall"].items())
    champion = next((c for c in report.checks if c.name == "champion_non_inferior"), None)
    lines = [
        f"# {params.registry.model_name} v{version} ({model}, {config.family})",
        "",
        "## Intended use",
        _intended_use(params),
        "",
        "## Limits",
        f"- Trained on {split['sizes']['train']} samples from one source (`{params.dataset.source}`); "
        "performance on other sites, devices or populations is unknown.",
        "- Not for decisions without human review; probabilities are calibrated only to the ECE below.",
        "- Latency figures were measured on the machine that ran the pipeline.",
        "",
        "## Data lineage",
        *(f"- `{k}`: `{v}`" for k, v in lineage.items()),
        f"- split sizes: {split['sizes']}",
        "",
        "## Training parameters",
        *(f"- `{k}`: {v}" for k, v in config.model_dump(mode="json").items()),
        f"- seed: {params.seed}",
        "",
        "## Test metrics",
        f"- accuracy {metrics['accuracy']:.4f}, balanced accuracy {metrics['balanced_accuracy']:.4f}, macro F1 "
        f"{metrics['macro_f1']:.4f}, ROC AUC {metrics['roc_auc']:.4f}, PR AUC {metrics['pr_auc']:.4f}, "
        f"ECE {metrics['ece']:.4f}, n={metrics['n_test']}",
        f"- against the champion: {champion.detail if champion else 'not compared'}",
        "",
        "| class | recall |",
        "|---|---|",
        recalls,
        "",
        "## Gates",
        gate_markdown({model: report}, model),
    ]
    return "\n".join(lines) + "\n"
