"""A model card in Markdown: what the model is, what it was trained on, how it did, what it is not for."""

from __future__ import annotations

from cleargate.evaluation.gates import gate_markdown
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, GateReport, SplitReport


def model_card(params: DatasetParams, model: str, metrics: Evaluation, report: GateReport, lineage: dict[str, str],
               split: SplitReport, version: str) -> str:
    config, data = params.model(model), params.dataset
    recalls = "\n".join(f"| {c} | {r:.4f} |" for c, r in metrics.per_class_recall.items())
    champion = next((c for c in report.checks if c.name == "champion_non_inferior"), None)
    classes = dict(enumerate(data.classes))
    lines = [
        f"# {params.registry.model_name} v{version} ({model}, {config.family})",
        "",
        "## Intended use",
        f"Classifies {params.kind.describe(data)} from `{data.name}`. Output: the class index; classes {classes}.",
        "",
        "## Limits",
        f"- Trained on {split.sizes['train']} samples from one source (`{data.source}`); "
        "performance on other sites, devices or populations is unknown.",
        "- Not for decisions without human review; probabilities are calibrated only to the ECE below.",
        "- Latency figures were measured on the machine that ran the pipeline.",
        "",
        "## Data lineage",
        *(f"- `{k}`: `{v}`" for k, v in lineage.items()),
        f"- split sizes: {split.sizes}",
        "",
        "## Training parameters",
        *(f"- `{k}`: {v}" for k, v in config.model_dump(mode="json").items()),
        f"- seed: {params.seed}",
        "",
        "## Test metrics",
        f"- accuracy {metrics.accuracy:.4f}, balanced accuracy {metrics.balanced_accuracy:.4f}, macro F1 "
        f"{metrics.macro_f1:.4f}, ROC AUC {metrics.roc_auc:.4f}, PR AUC {metrics.pr_auc:.4f}, "
        f"ECE {metrics.ece:.4f}, n={metrics.n_test}",
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
