"""Fine-tuning: a new backbone starts from another model's weights (the brief's second way to apply deep
learning: keep the learnt features, retrain the head).

Every backbone names its classifier `head` (`backbones.head`); everything else is the backbone proper. Its
weights must fit exactly (same family and layer sizes), or the fit stops with one line naming both models. The
head is loaded when its shapes fit and re-initialised when they do not (another class count). `freeze:
backbone` stops gradients everywhere but the head and keeps BatchNorm statistics as learnt (Lightning's
`BaseFinetuning.freeze`); the optimiser then sees the head's parameters only (`Classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cleargate.errors import ConfigError
from cleargate.models.backbones import HEAD, head


@dataclass(frozen=True)
class InitWeights:
    """Where a fine-tuned model starts: the parent's weights and how the lineage names it."""

    source: str                       # `models:/mnist-classifier/3` or a model of the project, e.g. `mnist_cnn`
    version: str | None               # the registered version it resolved to (None for a project model)
    digest: str                       # sha256 of the parent's saved weights
    state: dict[str, torch.Tensor]


def _is_head(key: str) -> bool:
    return key.startswith(f"{HEAD}.")


def _mismatch(own: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> str | None:
    """The first difference between two state dicts (keys or shapes), described; None when they fit."""
    for key in sorted(set(own) | set(theirs)):
        if key not in theirs:
            return f"{key} is missing"
        if key not in own:
            return f"{key} is not in the new model"
        if own[key].shape != theirs[key].shape:
            return f"{key} is {tuple(theirs[key].shape)}, the new model needs {tuple(own[key].shape)}"
    return None


def warm_start(backbone: nn.Module, init: InitWeights, target: str, freeze: str) -> str:
    """Load `init` into `backbone` (in place); returns what happened to the head (`loaded` or `re-initialised
    (...)`). A backbone that does not fit is one ConfigError naming both models and the first difference."""
    own = backbone.state_dict()
    body = {k: v for k, v in own.items() if not _is_head(k)}
    problem = _mismatch(body, {k: v for k, v in init.state.items() if not _is_head(k)})
    if problem:
        raise ConfigError(f"train.{target}.init_from: {init.source} does not fit {target}: {problem}; "
                          "fine-tuning needs the same family and layer sizes (only the head may differ)")
    heads = {k: v for k, v in init.state.items() if _is_head(k)}
    head_fits = _mismatch({k: v for k, v in own.items() if _is_head(k)}, heads) is None
    backbone.load_state_dict({**own, **{k: init.state[k] for k in body}, **(heads if head_fits else {})})
    if freeze == "backbone":
        from lightning.pytorch.callbacks import BaseFinetuning  # here: a tree's train stage never loads Lightning

        BaseFinetuning.freeze([m for name, m in backbone.named_children() if name != HEAD], train_bn=False)
    if head_fits:
        return "loaded"
    return f"re-initialised ({_classes(heads)} classes in {init.source}, {_classes(head(backbone).state_dict())} here)"


def _classes(head_state: dict[str, torch.Tensor]) -> int:
    """The class count of a head: the length of its last bias."""
    biases = [v for k, v in head_state.items() if k.endswith("bias")]
    return int(biases[-1].shape[0]) if biases else 0

