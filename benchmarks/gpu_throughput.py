"""Training throughput on this machine's device: cleargate's Lightning fit against a plain PyTorch loop on the same
model, data, batches, epochs, optimiser, device and precision, in one run.

Run:  .venv/bin/python benchmarks/gpu_throughput.py [--model mnist_cnn] [--epochs 5] [--rows N]
      [--source debian_fashion_mnist]   # Fashion-MNIST, 70,000 images (apt-get install dataset-fashion-mnist)
On a GPU both sides keep the data on the device and run at the precision cleargate picks (`precision: auto`:
bf16-mixed where supported, channels-last images); without one, on the CPU. Prints images per second of each
side, seconds per epoch of the fit, and the ratio cleargate / plain (goal on a GPU: >= 0.9; on an H100 a
Fashion-MNIST CNN epoch under 1 s). The plain loop is `lightning_parity.plain_loop`.
"""

from __future__ import annotations

import argparse
import json

from common import ROOT, seconds, splits
from lightning_parity import plain_loop


def measure(model: str, epochs: int, rows: int | None, params_path: str = "params.yaml",
            source: str | None = None) -> dict:
    import torch

    from cleargate.kinds import kind_of
    from cleargate.params import load_project
    from cleargate.schema import LABEL
    from cleargate.training.devices import precision_for
    from cleargate.training.lightning import fit_deep

    project = load_project(params_path)
    params = project.scope(project.dataset_of(model))
    if source is not None:  # the same image model on another source, e.g. Fashion-MNIST (28x28, 10 classes)
        params = params.model_copy(update={"dataset": params.dataset.model_copy(update={"source": source})})
    config = params.model(model).model_copy(update={"max_epochs": epochs, "patience": epochs + 1})
    parts = splits(params)
    train = parts["train"].head(rows) if rows else parts["train"]
    val = parts["val"].head(rows) if rows else parts["val"]
    kind, data = kind_of(params.dataset), params.dataset
    x, y = kind.to_tensor(train, data), torch.tensor(train[LABEL].to_numpy("int64"))
    vx, vy = kind.to_tensor(val, data), torch.tensor(val[LABEL].to_numpy("int64"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = params.trainer.model_copy(update={"accelerator": "gpu" if device == "cuda" else "cpu", "devices": 1,
                                                "strategy": "auto"})
    precision = precision_for(trainer.precision, torch.device(device))
    warm = config.model_copy(update={"max_epochs": 1})
    seconds(lambda: plain_loop(warm, data, x[:256], y[:256], vx[:256], vy[:256], 0, device, precision))
    seconds(lambda: fit_deep(model, warm, trainer, data, train.head(256), val.head(256), 0))
    plain, _ = seconds(lambda: plain_loop(config, data, x, y, vx, vy, params.seed, device, precision))
    ours, bundle = seconds(lambda: fit_deep(model, config, trainer, data, train, val, params.seed))
    images = len(train) * epochs
    return {"model": model, "source": data.source, "device": bundle.record.device, "precision": precision,
            "epochs": epochs, "train_rows": len(train), "plain_s": plain, "cleargate_s": ours,
            "plain_images_per_s": images / plain, "cleargate_images_per_s": images / ours,
            "ratio": plain / ours, "epoch_s": ours / epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=None, help="first N training rows only (a quick check)")
    parser.add_argument("--source", default=None, help="another image source for the model's dataset, e.g. "
                                                       "debian_fashion_mnist")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    args = parser.parse_args()
    from cleargate.runtime import apply_offline_env, quiet_third_party

    apply_offline_env()
    quiet_third_party(False)
    r = measure(args.model, args.epochs, args.rows, args.params, args.source)
    print(f"{r['model']} on {r['source']}, {r['device']} {r['precision']}: {r['epochs']} epochs of "
          f"{r['train_rows']} images; plain loop {r['plain_images_per_s']:.0f} img/s, cleargate fit "
          f"{r['cleargate_images_per_s']:.0f} img/s ({r['epoch_s']:.2f} s/epoch): ratio {r['ratio']:.3f} "
          "(goal on a GPU >= 0.9)")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
