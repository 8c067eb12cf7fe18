"""Model hyper-parameters, one class per family group; `family` picks the class (a discriminated union).

`flavour` says how a fitted model is stored and served: `torch` (a backbone trained with Lightning) or
`sklearn` (a scikit-learn pipeline). Which kinds of data a deep family can train on is the kind's to say
(`cleargate.kinds.<kind>.deep_families`).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from cleargate.config.common import DatasetName, Strict

Flavour = Literal["torch", "sklearn"]


class _ModelBase(Strict):
    flavour: ClassVar[Flavour]
    dataset: DatasetName
    role: Literal["candidate", "baseline"]


class Optimisation(Strict):
    """How a deep model's weights are updated: the optimiser and its learning-rate schedule, built from these
    values by `cleargate.models.optim` (torch.optim and torch.optim.lr_scheduler).

    - `optimizer`: `adamw` (decoupled weight decay) or `sgd` (`momentum`, `nesterov`; weight decay as L2).
    - `lr_schedule`: `plateau` halves the rate when the validation loss has not improved for one epoch
      (ReduceLROnPlateau(factor=0.5, patience=1)); `none` keeps it constant; `cosine` anneals it to 0 over
      `max_epochs`; `onecycle` rises to `learning_rate` then anneals (OneCycleLR, momentum not cycled).
      `none` and `cosine` ramp up linearly over the first `warmup_epochs`; `onecycle` rises over them.
    """

    optimizer: Literal["adamw", "sgd"]
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)]
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0     # sgd only
    nesterov: bool = False                                      # sgd with momentum only
    lr_schedule: Literal["plateau", "none", "cosine", "onecycle"]
    warmup_epochs: Annotated[int, Field(ge=0, le=1000)] = 0
    max_epochs: Annotated[int, Field(gt=0, le=1000)]

    @model_validator(mode="after")
    def _check_optimisation(self) -> Optimisation:
        if self.optimizer != "sgd" and (self.momentum or self.nesterov):
            raise ValueError("momentum and nesterov apply to optimizer 'sgd' only")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if self.lr_schedule == "plateau" and self.warmup_epochs:
            raise ValueError("warmup_epochs does not apply to lr_schedule 'plateau' (use none, cosine or onecycle)")
        if self.lr_schedule == "onecycle" and not 0 < self.warmup_epochs < self.max_epochs:
            raise ValueError("lr_schedule 'onecycle' needs 0 < warmup_epochs < max_epochs (its rising phase)")
        if self.warmup_epochs >= self.max_epochs:
            raise ValueError("warmup_epochs must be less than max_epochs")
        return self


class _DeepBase(Optimisation, _ModelBase):
    """A network trained by the one LightningModule (`cleargate.models.classifier`); the optimisation fields
    are the model's own (stated per model in params.yaml)."""

    flavour: ClassVar[Flavour] = "torch"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)]
    batch_size: Annotated[int, Field(gt=0, le=65536)]
    patience: Annotated[int, Field(gt=0, le=1000)]
    limit_train_batches: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    # Fine-tuning: start from another model's weights (`models:/<name>@<alias>`, `models:/<name>/<version>`, or
    # a model of this project's `train`); the head is re-initialised when the class count differs. `freeze:
    # backbone` trains the head only. The entry's own `learning_rate` (and schedule) is the fine-tuning rate.
    init_from: Annotated[str, Field(min_length=1)] | None = None
    freeze: Literal["backbone", "none"] = "none"

    @model_validator(mode="after")
    def _check_fine_tuning(self) -> _DeepBase:
        if self.freeze != "none" and self.init_from is None:
            raise ValueError("freeze: backbone needs init_from (a frozen random backbone learns nothing)")
        return self

    @property
    def optimisation(self) -> Optimisation:
        """The optimiser and schedule settings alone (what the LightningModule needs)."""
        return Optimisation(**self.model_dump(include=set(Optimisation.model_fields)))


class _ImageAugmentation(Strict):
    """Training-time jitter of images (`cleargate.kinds.image.augmentation`): rotation, shift and zoom for
    digits; random crop with zero padding and horizontal flip for photographs. 0 / false: off."""

    augment_degrees: Annotated[float, Field(ge=0.0, le=45.0)] = 0.0
    augment_shift: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_crop_padding: Annotated[int, Field(ge=0, le=64)] = 0    # pad by this many pixels, crop back at random
    augment_flip: bool = False                                      # mirror left-right with probability 1/2
    normalize_inputs: bool = False  # per-channel mean/std of the training images, saved with the weights


class CNNConfig(_ImageAugmentation, _DeepBase):
    """Image backbones trained with Lightning; `family` picks one in cleargate.models.backbones."""

    family: Literal["cnn", "resnet"]
    channels: Annotated[list[Annotated[int, Field(gt=0, le=1024)]], Field(min_length=1, max_length=4)]
    hidden: Annotated[int, Field(gt=0, le=8192)]


class _EncoderFields(Strict):
    """A small transformer encoder (torch.nn.TransformerEncoder, pre-norm, GELU) over patch tokens."""

    patch_size: Annotated[int, Field(ge=1, le=256)]     # pixels per side of an image patch / time steps per token
    dim: Annotated[int, Field(ge=4, le=4096)]           # token width
    depth: Annotated[int, Field(ge=1, le=24)]           # encoder layers
    heads: Annotated[int, Field(ge=1, le=64)]
    ff_dim: Annotated[int, Field(ge=4, le=16384)]       # feed-forward width inside each layer
    pooling: Literal["cls", "mean"]                     # a class token, or the mean of the patch tokens
    positions: Literal["learned", "sinusoidal"]

    @model_validator(mode="after")
    def _check_heads(self) -> _EncoderFields:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        return self


class ViTConfig(_ImageAugmentation, _EncoderFields, _DeepBase):
    """Vision transformer: square patches embedded linearly, the encoder, a linear head."""

    family: Literal["vit"]


class RecurrentConfig(_DeepBase):
    """Sequence backbones (Elman RNN, LSTM or GRU over the window's time steps)."""

    family: Literal["rnn", "lstm", "gru"]
    hidden: Annotated[int, Field(gt=0, le=4096)]
    layers: Annotated[int, Field(ge=1, le=8)]
    bidirectional: bool
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0    # training-time gain jitter per channel
    augment_noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0    # Gaussian noise, fraction of channel std


class SequenceTransformerConfig(_EncoderFields, _DeepBase):
    """Transformer encoder over a window: `patch_size` time steps x all channels make one token."""

    family: Literal["transformer"]
    augment_scale: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    augment_noise: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


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


ImageConfig = CNNConfig | ViTConfig
SequenceConfig = RecurrentConfig | SequenceTransformerConfig
DeepConfig = CNNConfig | ViTConfig | RecurrentConfig | SequenceTransformerConfig
TreeConfig = HGBConfig | RFConfig
ModelConfig = Annotated[CNNConfig | ViTConfig | RecurrentConfig | SequenceTransformerConfig | HGBConfig | RFConfig,
                        Field(discriminator="family")]
