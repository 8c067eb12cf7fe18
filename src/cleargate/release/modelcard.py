"""A model card in Markdown: what the model is, what it was trained on, how it did, what it is not for."""

from __future__ import annotations

from cleargate.evaluation.gates import gate_markdown
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, GateReport, SplitReport, StabilitySummary


def robustness_lines(params: DatasetParams, metrics: Evaluation) -> list[str]:
    """The primary metric clean and under each of the dataset's perturbations (params.yaml strengths)."""
    primary, perturbed = params.evaluate.primary_metric, metrics.robustness
    clean = metrics.dump().get(primary)
    if not perturbed or clean is None:
        return ["- not measured (params.yaml `evaluate.robustness` is empty)"]
    lines = [f"| perturbation | strength | {primary} | drop |", "|---|---|---|---|", f"| none | - | {clean:.4f} | - |"]
    strengths = params.evaluate.robustness
    lines += [f"| {name} | {strengths.get(name, float('nan')):g} | {value:.4f} | {clean - value:+.4f} |"
              for name, value in perturbed.items()]
    return lines


def stability_lines(summary: StabilitySummary | None) -> list[str]:
    """Each test metric's mean +- std and range over the seeds, when `cleargate stability` measured them."""
    if summary is None:
        return ["- not measured (run `cleargate stability <model> --seeds N`)"]
    shown = [m for m in ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall", "ece")
             if m in summary.metrics]
    return [f"Fitted with {len(summary.seeds)} seeds ({', '.join(map(str, summary.seeds))}), same data and params:",
            "", "| metric | mean | std | min | max |", "|---|---|---|---|---|",
            *(f"| {m} | {summary.metrics[m].mean:.4f} | {summary.metrics[m].std:.4f} | {summary.metrics[m].min:.4f} "
              f"| {summary.metrics[m].max:.4f} |" for m in shown)]


APPROVAL = "## Approval"


def with_approval(card: str, lines: list[str]) -> str:
    """The card with its approval section (the last one) replaced by `lines`, or added."""
    head = card.split(f"\n{APPROVAL}\n", 1)[0].rstrip("\n")
    return "\n".join([head, "", APPROVAL, *lines]) + "\n"


def model_card(params: DatasetParams, model: str, metrics: Evaluation, report: GateReport, lineage: dict[str, str],
               split: SplitReport, version: str, stability: StabilitySummary | None = None,
               approval: list[str] | None = None) -> str:
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
        "## Robustness (test set, perturbed copies)",
        *robustness_lines(params, metrics),
        "",
        "## Stability over seeds",
        *stability_lines(stability),
        "",
        "## Gates",
        gate_markdown({model: report}, model),
    ]
    card = "\n".join(lines) + "\n"
    return card if approval is None else with_approval(card, approval)
