"""A model card in Markdown: what the model is, what it was trained on, how it did, what it is not for."""

from __future__ import annotations

import numpy as np

from cleargate.evaluation.gates import gate_markdown
from cleargate.evaluation.slices import by_slicing
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, Explanation, GateReport, SliceReport, SplitReport, StabilitySummary

SMALL_SHOWN = 5      # slices too small to judge listed per slicing (smallest first); the rest are counted
RAMP = " .:-=+*#%@"  # attribution text maps: no evidence for the class .. the most


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
EXPLAINED = "## What drives its decisions"
DESCRIPTION_LIMIT = 5000   # characters of a version's description in MLflow's registry (VARCHAR(5000) on PostgreSQL)


def with_approval(card: str, lines: list[str]) -> str:
    """The card with its approval section replaced by `lines`, or added after the gates (before the explanations and
    slice tables, the longest sections, which the registry's description may cut)."""
    section = "\n".join([APPROVAL, *lines]) + "\n"
    if f"\n{APPROVAL}\n" in card:
        head, rest = card.split(f"\n{APPROVAL}\n", 1)
        after = rest.find("\n## ")
        tail = "\n" + rest[after + 1:] if after >= 0 else ""
        return f"{head.rstrip()}\n\n{section}{tail}"
    if f"\n{EXPLAINED}\n" in card:
        head, rest = card.split(f"\n{EXPLAINED}\n", 1)
        return f"{head.rstrip()}\n\n{section}\n{EXPLAINED}\n{rest}"
    return f"{card.rstrip()}\n\n{section}"


def registry_text(card: str) -> str:
    """The card as the version's description: whole when it fits, else cut at a line with a pointer to the whole
    card (the run's model_card.md); slice tables of many sites can pass the registry's limit."""
    if len(card) <= DESCRIPTION_LIMIT:
        return card
    tail = "\n\n... (cut to the registry's 5,000 characters: the whole card is the run's artifact model_card.md)\n"
    return card[:card.rfind("\n", 0, DESCRIPTION_LIMIT - len(tail))] + tail


def slice_lines(report: SliceReport | None, class_names: list[str]) -> list[str]:
    """A table per slicing: the slices too small (or undefined) to judge first, smallest first, then the judged
    ones, worst first; each with its rows, primary metric, bootstrap interval and per-class recall."""
    if report is None:
        return ["- not measured (params.yaml `evaluate.slices` is empty)"]
    lines = [f"{report.metric} per slice of the test split, with its {report.confidence:.0%} bootstrap interval "
             f"({report.n_resamples} resamples). Slices under {report.min_rows} rows, or where {report.metric} "
             "is undefined, are reported here and never gated."]
    for slicing, figures in by_slicing(report.figures).items():
        small = [f for f in figures if not f.judged]
        shown = small[:SMALL_SHOWN] + [f for f in figures if f.judged]
        lines += ["", f"**{slicing}**", "", f"| slice | rows | {report.metric} | interval | recall per class | gated |",
                  "|---|---|---|---|---|---|"]
        for f in shown:
            value = "-" if f.metric is None else f"{f.metric:.4f}"
            interval = "-" if f.low is None or f.high is None else f"[{f.low:.4f}, {f.high:.4f}]"
            recall = ", ".join(f"{class_names[int(c)]}: {r:.2f}" for c, r in f.recall.items()) or "-"
            lines.append(f"| {f.value} | {f.rows} | {value} | {interval} | {recall} | "
                         f"{'yes' if f.judged else 'no: ' + f.note} |")
        if len(small) > SMALL_SHOWN:
            lines.append(f"| ... {len(small) - SMALL_SHOWN} more slices under {report.min_rows} rows | | | | | no |")
    return lines


def text_map(grid: list[list[float]], size: int = 14) -> list[str]:
    """An attribution map as characters, at most `size` a side: the darker, the more the pixels speak for the class
    (evidence against it is left blank)."""
    values = np.clip(np.asarray(grid, dtype=float), 0, None)
    step = max(1, -(-max(values.shape) // size))
    h, w = -(-values.shape[0] // step) * step, -(-values.shape[1] // step) * step
    padded = np.zeros((h, w))
    padded[:values.shape[0], :values.shape[1]] = values
    cells = padded.reshape(h // step, step, w // step, step).mean(axis=(1, 3))
    top = cells.max() or 1.0
    levels = np.minimum((cells / top * len(RAMP)).astype(int), len(RAMP) - 1)
    return ["".join(RAMP[v] for v in row) for row in levels]


def explanation_lines(explanation: Explanation | None, top: int) -> list[str]:
    """The top features by permutation importance with their range over the shuffles; attribution text maps."""
    if explanation is None or not explanation.importance:
        note = explanation.note if explanation is not None else "not measured"
        return [f"- {note or 'not measured'}"]
    shown = explanation.importance[:top]
    unit = explanation.unit
    lines = [f"Permutation importance: the drop in {explanation.metric} (from {explanation.baseline:.4f} on "
             f"{explanation.rows} test rows) when one {unit}'s values are shuffled across the rows, "
             f"{explanation.repeats} shuffles each; top {len(shown)} of {len(explanation.importance)}. Correlated "
             f"{unit}s share the credit: shuffling one leaves its twins to carry the signal.",
             "", f"| {unit} | drop in {explanation.metric} | std | range over shuffles |", "|---|---|---|---|"]
    lines += [f"| {f.name} | {f.mean:+.4f} | {f.std:.4f} | [{f.low:+.4f}, {f.high:+.4f}] |" for f in shown]
    if explanation.attribution:
        maps = {name: text_map(grid) for name, grid in explanation.attribution.items()}
        lines += ["", f"Mean attribution per class ({explanation.attribution_method}; up to "
                      f"{explanation.attribution_images} test images of the class): darker speaks for the class.",
                  "", "```"]
        names = list(maps)
        for start in range(0, len(names), 5):
            group = names[start:start + 5]
            width = len(maps[group[0]][0])
            lines.append("  ".join(n.ljust(width) for n in group).rstrip())
            lines += ["  ".join(maps[n][i] for n in group).rstrip() for i in range(len(maps[group[0]]))]
            lines.append("")
        lines[-1] = "```"
    return lines


def model_card(params: DatasetParams, model: str, metrics: Evaluation, report: GateReport, lineage: dict[str, str],
               split: SplitReport, version: str, stability: StabilitySummary | None = None,
               explanation: Explanation | None = None, approval: list[str] | None = None) -> str:
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
        # the longest sections last: the registry keeps the first 5,000 characters (release.promotion)
        EXPLAINED,
        *explanation_lines(explanation, params.evaluate.explain.top if params.evaluate.explain else 10),
        "",
        "## Slices (subgroups of the test set)",
        *slice_lines(metrics.slices, [str(c) for c in data.classes]),
    ]
    card = "\n".join(lines) + "\n"
    return card if approval is None else with_approval(card, approval)
