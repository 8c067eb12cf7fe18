"""cleargate's Lightning fit against a hand-written PyTorch loop: same model, data, batches, epochs, optimiser.

Run:  .venv/bin/python benchmarks/lightning_parity.py [--model mnist_cnn] [--epochs 3] [--rows N]
Both sides train from the same seed on the same tensors in the same batch order with the same training-time
augmentation, validate every epoch and keep per-epoch loss/accuracy; the Lightning side is `fit_deep` itself
(early stopping, best-weights checkpoint, history). Prints each side's wall time and images/s and the ratio
(goal: <= 1.05x).
"""

from __future__ import annotations

import argparse
import json

from common import seconds, splits


def plain_loop(config, data, inputs, labels, val_inputs, val_labels, seed: int,
               device: str = "cpu", precision: str = "32-true") -> None:
    """`device`: the network and the tensors move there first (once); `precision` bf16-mixed runs the forward
    passes under bf16 autocast, as Lightning does."""
    import contextlib

    import lightning as L
    import torch

    from cleargate.kinds import kind_of
    from cleargate.models.backbones import build_backbone
    from cleargate.training.batches import batch_loader

    augment = kind_of(data).augmentation(config)
    L.seed_everything(seed, verbose=False)
    net = build_backbone(config, data)
    if hasattr(net, "fit_normaliser"):
        net.fit_normaliser(inputs)
    net = net.to(device)
    if device != "cpu" and inputs.dim() == 4:
        net = net.to(memory_format=torch.channels_last)
    inputs, labels, val_inputs, val_labels = (t.to(device) for t in (inputs, labels, val_inputs, val_labels))
    autocast = (lambda: torch.autocast(torch.device(device).type, dtype=torch.bfloat16)) \
        if precision == "bf16-mixed" else contextlib.nullcontext
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="min", factor=0.5, patience=1)
    loss_fn = torch.nn.CrossEntropyLoss()
    train, val = (batch_loader(inputs, labels, config.batch_size, True, seed),
                  batch_loader(val_inputs, val_labels, config.batch_size, False, seed))
    for _ in range(config.max_epochs):
        net.train()
        correct = total = 0
        for x, y in train:
            if augment is not None:
                with torch.no_grad():
                    x = augment(x)
            optimiser.zero_grad()
            with autocast():
                logits = net(x)
                loss = loss_fn(logits, y)
            loss.backward()
            optimiser.step()
            correct += int((logits.argmax(1) == y).sum())
            total += len(y)
        net.eval()
        with torch.no_grad(), autocast():
            val_loss = sum(float(loss_fn(net(x), y)) * len(y) for x, y in val) / len(val_labels)
        schedule.step(val_loss)


def measure(model: str, epochs: int, rows: int | None, params_path: str = "params.yaml", repeats: int = 3) -> dict:
    """`repeats` pairs of fits, the two sides alternating which goes first (so a machine that slows down or
    speeds up during the run weighs on both); the ratio is of the two medians. On this shared 2-core machine
    one pair alone ranged 0.88-1.14x on unchanged code."""
    import statistics

    import torch

    from cleargate.kinds import kind_of
    from cleargate.params import load_project
    from cleargate.schema import LABEL
    from cleargate.training.lightning import fit_deep

    project = load_project(params_path)
    params = project.scope(project.dataset_of(model))
    config = params.model(model).model_copy(update={"max_epochs": epochs, "patience": epochs + 1})
    parts = splits(params)
    train = parts["train"].head(rows) if rows else parts["train"]
    val = parts["val"]
    kind, data = kind_of(params.dataset), params.dataset
    x, y = kind.to_tensor(train, data), torch.tensor(train[LABEL].to_numpy("int64"))
    vx, vy = kind.to_tensor(val, data), torch.tensor(val[LABEL].to_numpy("int64"))
    trainer = params.trainer.model_copy(update={"accelerator": "cpu", "devices": 1})
    seconds(lambda: plain_loop(config.model_copy(update={"max_epochs": 1}), data, x[:256], y[:256], vx, vy, 0))
    sides = {"plain": lambda: plain_loop(config, data, x, y, vx, vy, params.seed),
             "cleargate": lambda: fit_deep(model, config, trainer, data, train, val, params.seed).record.fit_seconds}
    times: dict[str, list[float]] = {"plain": [], "cleargate": []}
    fits: list[float] = []
    for repeat in range(repeats):
        for side in (("plain", "cleargate") if repeat % 2 == 0 else ("cleargate", "plain")):
            wall, result = seconds(sides[side])
            times[side].append(wall)
            if side == "cleargate":
                fits.append(result)
    plain, ours = statistics.median(times["plain"]), statistics.median(times["cleargate"])
    images = len(train) * epochs
    return {"model": model, "epochs": epochs, "train_rows": len(train), "repeats": repeats, "plain_s": plain,
            "cleargate_s": ours, "plain_runs_s": times["plain"], "cleargate_runs_s": times["cleargate"],
            "plain_images_per_s": images / plain, "cleargate_images_per_s": images / ours, "ratio": ours / plain,
            "fit_seconds": statistics.median(fits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mnist_cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="pairs of fits; the ratio is of the medians")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    from cleargate.runtime import apply_offline_env, quiet_third_party

    apply_offline_env()
    quiet_third_party(False)
    result = measure(args.model, args.epochs, args.rows, args.params, args.repeats)
    print(f"{result['model']}: {result['epochs']} epochs of {result['train_rows']} rows, medians of {args.repeats}; "
          f"plain loop {result['plain_s']:.2f} s ({result['plain_images_per_s']:.0f} img/s), cleargate fit "
          f"{result['cleargate_s']:.2f} s ({result['cleargate_images_per_s']:.0f} img/s): {result['ratio']:.3f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
