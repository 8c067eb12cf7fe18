"""Backbone builders by `family`: the one place training and serving construct a network from config.

Adding an architecture is one module and one entry here; params.yaml then selects it by `family`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from cleargate.config import CNNConfig, DeepConfig, ImageData, RecurrentConfig, SequenceData


def _convnet(config: CNNConfig, dataset: ImageData) -> nn.Module:
    from cleargate.models.cnn import ConvNet

    return ConvNet(dataset.image_shape, len(dataset.classes), config.channels, config.hidden, config.dropout)


def _resnet(config: CNNConfig, dataset: ImageData) -> nn.Module:
    from cleargate.models.resnet import SmallResNet

    return SmallResNet(len(dataset.classes), config.channels, config.dropout)


def _recurrent(config: RecurrentConfig, dataset: SequenceData) -> nn.Module:
    from cleargate.models.recurrent import RecurrentNet

    return RecurrentNet(len(dataset.channels), len(dataset.classes), config.hidden, config.layers,
                        config.bidirectional, config.dropout, cell=config.family)


BACKBONES: dict[str, Callable[[Any, Any], nn.Module]] = {
    "cnn": _convnet,
    "resnet": _resnet,
    "lstm": _recurrent,
    "gru": _recurrent,
}


def build_backbone(config: DeepConfig, dataset: ImageData | SequenceData) -> nn.Module:
    return BACKBONES[config.family](config, dataset)
