"""Backbone builders by `family`: the one place training and serving construct a network from config.

Adding an architecture is one module and one entry here; params.yaml then selects it by `family`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cleargate.config import CNNConfig, DatasetConfig
from cleargate.models.cnn import ConvNet
from cleargate.models.resnet import SmallResNet


def _convnet(config: CNNConfig, dataset: DatasetConfig) -> nn.Module:
    return ConvNet(dataset.image_shape, len(dataset.classes), config.channels, config.hidden, config.dropout)


def _resnet(config: CNNConfig, dataset: DatasetConfig) -> nn.Module:
    return SmallResNet(len(dataset.classes), config.channels, config.dropout)


BACKBONES: dict[str, Callable[[CNNConfig, DatasetConfig], nn.Module]] = {
    "cnn": _convnet,
    "resnet": _resnet,
}


def build_backbone(config: CNNConfig, dataset: DatasetConfig) -> nn.Module:
    return BACKBONES[config.family](config, dataset)
