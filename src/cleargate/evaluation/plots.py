"""Plot data for DVC (CSV) and images for people and MLflow (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from cleargate.layout import PLOT_IMAGES, ModelLayout
from cleargate.records import Explanation, Predictions


def confusion_rows(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """One row per sample: DVC's confusion template counts (actual, predicted) pairs."""
    return pd.DataFrame({"actual": y_true.astype(int), "predicted": y_pred.astype(int)})


def roc_rows(y_true: np.ndarray, proba: np.ndarray, classes: list[int]) -> pd.DataFrame:
    frames = []
    for i, c in enumerate(classes):
        fpr, tpr, _ = roc_curve(y_true == c, proba[:, i])
        frames.append(pd.DataFrame({"class": str(c), "fpr": fpr, "tpr": tpr}))
    return pd.concat(frames, ignore_index=True)


DPI = 100


def _figure(plt: Any) -> tuple[Any, Any]:
    """A 5 x 5 inch figure with fixed margins that fit the titles and axis labels drawn here. Not
    `bbox_inches="tight"`: that draws every figure twice to measure it, a third of the plots' cost."""
    fig, ax = plt.subplots(figsize=(5, 5))
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.11, top=0.93)
    return fig, ax


def save_pngs(out_dir: Path, title: str, confusion: list[list[int]], roc: pd.DataFrame,
              y_true: np.ndarray, proba: np.ndarray, classes: list[int]) -> list[Path]:
    """Confusion matrix, ROC curves and a reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in PLOT_IMAGES]  # confusion, roc, reliability

    fig, ax = _figure(plt)
    ax.imshow(np.asarray(confusion), cmap="Blues")
    ax.set(title=f"{title}: confusion", xlabel="predicted", ylabel="actual",
           xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes)
    for (r, c), v in np.ndenumerate(np.asarray(confusion)):
        ax.text(c, r, str(v), ha="center", va="center", fontsize=7)
    fig.savefig(paths[0], dpi=DPI)
    plt.close(fig)

    fig, ax = _figure(plt)
    for cls, part in roc.groupby("class"):
        ax.plot(part["fpr"], part["tpr"], label=str(cls), linewidth=1)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.5)
    ax.set(title=f"{title}: ROC (one-vs-rest)", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(fontsize=6, ncol=2)
    fig.savefig(paths[1], dpi=DPI)
    plt.close(fig)

    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y_true
    frac, mean_conf = calibration_curve(correct, confidence, n_bins=10, strategy="uniform")
    fig, ax = _figure(plt)
    ax.plot(mean_conf, frac, marker="o")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.5)
    ax.set(title=f"{title}: reliability (top-1)", xlabel="confidence", ylabel="accuracy")
    fig.savefig(paths[2], dpi=DPI)
    plt.close(fig)
    return paths


def write_plots(layout: ModelLayout, predictions: Predictions, confusion: list[list[int]]) -> None:
    """The DVC plot tables (confusion pairs, ROC points) and the PNGs, under the model's plots folder."""
    y_true, proba, classes = predictions.y_true, predictions.proba, predictions.classes
    roc = roc_rows(y_true, proba, classes)
    layout.plots.mkdir(parents=True, exist_ok=True)
    confusion_rows(y_true, predictions.labels()).to_csv(layout.plot("confusion.csv"), index=False)
    roc.to_csv(layout.plot("roc.csv"), index=False)
    save_pngs(layout.plots, layout.name, confusion, roc, y_true, proba, classes)


def importance_png(path: Path, title: str, explanation: Explanation, top: int) -> Path:
    """The `top` largest drops of the primary metric, each with its range over the shuffles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = explanation.importance[:top][::-1]   # largest at the top
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.28 * max(len(shown), 1)))
    fig.subplots_adjust(left=0.42, right=0.97, bottom=0.5 / (0.6 + 0.28 * max(len(shown), 1)), top=0.9)
    means = np.asarray([f.mean for f in shown])
    spread = np.asarray([[f.mean - f.low for f in shown], [f.high - f.mean for f in shown]]).reshape(2, -1)
    ax.barh([f.name for f in shown], means, xerr=spread, color="tab:blue", ecolor="black", capsize=2)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.tick_params(labelsize=7)
    ax.set(title=f"{title}: permutation importance", xlabel=f"drop in {explanation.metric}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def attribution_png(path: Path, title: str, maps: dict[str, list[list[float]]]) -> Path:
    """One map per class, on one colour scale per map: red speaks for the class, blue against it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(5, len(maps))
    rows = -(-len(maps) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 1.9 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, values) in zip(axes.flat, maps.items(), strict=False):
        grid = np.asarray(values)
        bound = float(np.abs(grid).max()) or 1.0
        ax.imshow(grid, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(str(name), fontsize=8)
    fig.suptitle(f"{title}: mean attribution per class", fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
