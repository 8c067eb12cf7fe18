"""Model hyper-parameters, one class per family group; `family` picks the class (a discriminated union).

`flavour` says how a fitted model is stored and served: `torch` (a backbone trained with Lightning) or
`sklearn` (a scikit-learn pipeline). Which kinds of data a deep family can train on is the kind's to say
(`cleargate.kinds.<kind>.deep_families`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from cleargate.config.base import DatasetName, Strict

Flavour = Literal["torch", "sklearn"]


class _ModelBase(Strict):
    flavour: ClassVar[Flavour]
    dataset: DatasetName
    role: Literal["candidate", "baseline"]


class _DeepBase(_ModelBase):
    flavour: ClassVar[Flavour] = "torch"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]
    max_epochs: Annotated[int, Field(gt=0, le=1000)]
    batch_size: Annotated[int, Field(gt=0, le=65536)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)]
    patience: Annotated[int, Field(gt=0, le=1000)]
    limit_train_batches: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0


class CNNConfig(_DeepBase):
    """Image backbones trained with Lightning; `family` picks one in cleargate.models.backbones."""

    family: Literal["cnn", "resnet"]
    channels: Annotated[list[Annotated[int, Field(gt=0, le=1024)]], Field(min_length=1, max_length=4)]
    hidden: Annotated[int, Field(gt=0, le=8192)]
    augment_degrees: Annotated[float, Field(ge=0.0, le=45.0)] = 0.0   # training-time rotation, shift, zoom
    augment_shift: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0


class RecurrentConfig(_DeepBase):
    """Sequence backbones (LSTM or GRU over the window's time steps)."""

    family: Literal["lstm", "gru"]
    hidden: Annotated[int, Field(gt=0, le=4096)]
    layers: Annotated[int, Field(ge=1, le=8)]
    bidirectional: bool
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0    # training-time gain jitter per channel
    augment_noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0    # Gaussian noise, fraction of channel std


class HGBConfig(_ModelBase):
    flavour: ClassVar[Flavour] = "sklearn"
    family: Literal["hist_gradient_boosting"]
    max_iter: Annotated[int, Field(gt=0, le=10000)]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    max_leaf_nodes: Annotated[int, Field(ge=2, le=4096)]
    class_weight: Literal["balanced"] | None = None     # imbalance: weight classes by inverse frequency


class RFConfig(_ModelBase):
    flavour: ClassVar[Flavour] = "sklearn"
    family: Literal["random_forest", "extra_trees"]
    n_estimators: Annotated[int, Field(gt=0, le=10000)]
    max_features: Literal["sqrt", "log2"] | float
    min_samples_leaf: Annotated[int, Field(ge=1, le=100_000)]
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    n_jobs: Annotated[int, Field(ge=-1, le=256)] = 1    # threads: changes speed, not the fitted trees


DeepConfig = CNNConfig | RecurrentConfig
TreeConfig = HGBConfig | RFConfig
ModelConfig = Annotated[CNNConfig | RecurrentConfig | HGBConfig | RFConfig, Field(discriminator="family")]
