"""Fine-tuning against training from scratch: epochs until validation accuracy first reaches 98 % of the best
the from-scratch fit reached, on the bundled 8x8 digits (docs/models.md, "Fine-tuning").

Run:  .venv/bin/python benchmarks/warm_start.py
Same config (the tiny CNN of the tests), seed and 300 validation images for every row: from scratch; warm from
the same model fitted on older data (40 % of the rows: a monitoring retrain from the champion); transferred
from a model of digits 0-4 only with a new 10-class head; the same with the backbone frozen.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]


def main() -> None:
    import numpy as np

    from cleargate.datasets import load
    from cleargate.params import ProjectParams
    from cleargate.runtime import quiet_third_party
    from cleargate.training.finetune import InitWeights
    from cleargate.training.fit import fit_model
    from tests.projects import tiny_params

    quiet_third_party()
    params = ProjectParams.model_validate(tiny_params()).scope("digits")
    raw = load(params.dataset)
    order = np.random.default_rng(0).permutation(len(raw))
    val, rows = raw.iloc[order[:300]].reset_index(drop=True), raw.iloc[order[300:]].reset_index(drop=True)
    config = params.model("cnn")

    def fit(frame, data=params.dataset, check=val, init=None, **changes):
        started = time.perf_counter()
        bundle = fit_model("cnn", config.model_copy(update=changes), params.trainer, data, frame, check,
                           params.seed, init=init)
        return bundle, time.perf_counter() - started

    def reached(history, target: float) -> str:
        hit = history.index[history["val_accuracy"] >= target]
        return str(int(history.loc[hit[0], "epoch"]) + 1) if len(hit) else "never"

    cold, cold_s = fit(rows)
    target = 0.98 * cold.history["val_accuracy"].max()
    older, _ = fit(rows.iloc[: len(rows) * 4 // 10])
    five = params.dataset.model_copy(update={"classes": [0, 1, 2, 3, 4]})
    small, _ = fit(rows[rows["label"] < 5].reset_index(drop=True), five,
                   val[val["label"] < 5].reset_index(drop=True))
    rows_out = [("from scratch", cold, cold_s)]
    for label, parent, freeze in (("warm, from the model fitted on older data", older, "none"),
                                  ("transfer from digits 0-4, new head", small, "none"),
                                  ("the same, freeze: backbone", small, "backbone")):
        init = InitWeights("parent", None, "-", parent.model.state_dict())
        bundle, seconds = fit(rows, init=init, init_from="parent", freeze=freeze)
        rows_out.append((label, bundle, seconds))
    print(f"epochs to val accuracy {target:.3f} (98 % of the from-scratch best):")
    for label, bundle, seconds in rows_out:
        first = bundle.history["val_accuracy"].iloc[0]
        print(f"  {label:<44} {reached(bundle.history, target):>5}   epoch 1: {first:.3f}   "
              f"fit {seconds:.1f} s, {bundle.record.epochs} epochs")


if __name__ == "__main__":
    main()
