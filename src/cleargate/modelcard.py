"""A model card in Markdown: what the model is, what it was trained on, how it did, what it is not for."""

from __future__ import annotations

from typing import Any

from cleargate.config import Params
from cleargate.evaluation.gates import GateReport, gate_markdown


def model_card(params: Params, model: str, metrics: dict[str, Any], report: GateReport, lineage: dict[str, str],
               split: dict[str, Any], version: str) -> str:
    config = params.model(model)
    recalls = "\n".join(f"| {c} | {r:.4f} |" for c, r in metrics["per_class_recall"].items())
    champion = next((c for c in report.checks if c.name == "champion_non_inferior"), None)
    lines = [
        f"# {params.registry.model_name} v{version} ({model}, {config.family})",
        "",
        "## Intended use",
        f"Classifies {params.dataset.image_shape[0]}x{params.dataset.image_shape[1]} grey images of the "
        f"`{params.dataset.name}` kind into classes {params.dataset.classes}. Input: raw records with columns "
        f"`pixel_0..pixel_{params.dataset.n_pixels - 1}` (values {params.dataset.pixel_min:g}-"
        f"{params.dataset.pixel_max:g}); output: the class label.",
        "",
        "## Limits",
        f"- Trained on {split['sizes']['train']} images from one source (`{params.dataset.source}`); "
        "accuracy on other scanners, pens or preprocessing is unknown.",
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
        f"- accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}, ROC AUC (OvR) "
        f"{metrics['roc_auc_ovr']:.4f}, ECE {metrics['ece']:.4f}, n={metrics['n_test']}",
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
