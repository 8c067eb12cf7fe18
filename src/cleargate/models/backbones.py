"""Backbone builders by `family`: the one place training and serving construct a network from config.

Adding an architecture is one module and one entry here; params.yaml then selects it by `family`, and the
kind's `deep_families` says which data it can train on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from cleargate.config.models import CNNConfig, DeepConfig, RecurrentConfig
from cleargate.kinds.image import ImageData
from cleargate.kinds.sequence import SequenceData


def _convnet(config: CNNConfig, data: ImageData) -> nn.Module:
    from cleargate.models.cnn import ConvNet

    return ConvNet(data.image_shape, len(data.classes), config.channels, config.hidden, config.dropout)


def _resnet(config: CNNConfig, data: ImageData) -> nn.Module:
    from cleargate.models.resnet import SmallResNet

    return SmallResNet(len(data.classes), config.channels, config.dropout)


def _recurrent(config: RecurrentConfig, data: SequenceData) -> nn.Module:
    from cleargate.models.recurrent import RecurrentNet

    return RecurrentNet(len(data.channels), len(data.classes), config.hidden, config.layers,
                        config.bidirectional, config.dropout, cell=config.family)


BACKBONES: dict[str, Callable[[Any, Any], nn.Module]] = {
    "cnn": _convnet,
    "resnet": _resnet,
    "lstm": _recurrent,
    "gru": _recurrent,
}


def build_backbone(config: DeepConfig, data: Any) -> nn.Module:
    return BACKBONES[config.family](config, data)
