"""Backbone builders by `family`: the one place training and serving construct a network from config.

Adding an architecture is one module and one entry here; params.yaml then selects it by `family`, and the
kind's `deep_families` says which data it can train on. Image backbones take their input channels from the
data (`image_shape` [c, h, w]; [h, w] is one channel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from cleargate.config.hyperparameters import (
    CNNConfig,
    DeepConfig,
    RecurrentConfig,
    SequenceTransformerConfig,
    ViTConfig,
)
from cleargate.kinds.image import ImageData
from cleargate.kinds.sequence import SequenceData


def _convnet(config: CNNConfig, data: ImageData) -> nn.Module:
    from cleargate.models.cnn import ConvNet

    return ConvNet((data.height, data.width), len(data.classes), config.channels, config.hidden, config.dropout,
                   in_channels=data.n_channels, normalize=config.normalize_inputs)


def _resnet(config: CNNConfig, data: ImageData) -> nn.Module:
    from cleargate.models.resnet import SmallResNet

    return SmallResNet(len(data.classes), config.channels, config.dropout, in_channels=data.n_channels,
                       normalize=config.normalize_inputs)


def _vit(config: ViTConfig, data: ImageData) -> nn.Module:
    from cleargate.models.vit import VisionTransformer

    return VisionTransformer((data.n_channels, data.height, data.width), len(data.classes), config.patch_size,
                             config.dim, config.depth, config.heads, config.ff_dim, config.dropout, config.pooling,
                             config.positions, config.normalize_inputs)


def _recurrent(config: RecurrentConfig, data: SequenceData) -> nn.Module:
    from cleargate.models.recurrent import RecurrentNet

    return RecurrentNet(len(data.channels), len(data.classes), config.hidden, config.layers,
                        config.bidirectional, config.dropout, cell=config.family)


def _sequence_transformer(config: SequenceTransformerConfig, data: SequenceData) -> nn.Module:
    from cleargate.models.transformer import SequenceTransformer

    return SequenceTransformer(len(data.channels), data.window, len(data.classes), config.patch_size, config.dim,
                               config.depth, config.heads, config.ff_dim, config.dropout, config.pooling,
                               config.positions)


BACKBONES: dict[str, Callable[[Any, Any], nn.Module]] = {
    "cnn": _convnet,
    "resnet": _resnet,
    "vit": _vit,
    "rnn": _recurrent,
    "lstm": _recurrent,
    "gru": _recurrent,
    "transformer": _sequence_transformer,
}


HEAD = "head"   # every backbone names its classifier `head`: what fine-tuning re-initialises or trains alone


def build_backbone(config: DeepConfig, data: Any) -> nn.Module:
    return BACKBONES[config.family](config, data)


def head(backbone: nn.Module) -> nn.Module:
    """The classifier on top of the learnt features (the part fine-tuning retrains)."""
    return getattr(backbone, HEAD)
