import lightning as L
import pytest
import torch
from sklearn.base import clone

from cleargate.config.hyperparameters import (
    CNNConfig,
    HGBConfig,
    Optimisation,
    RecurrentConfig,
    RFConfig,
    SequenceTransformerConfig,
    ViTConfig,
)
from cleargate.kinds import image, sequence
from cleargate.kinds.image import ImageData, random_affine
from cleargate.kinds.sequence import SequenceData, random_amplitude
from cleargate.models.backbones import BACKBONES, build_backbone
from cleargate.models.classifier import Classifier
from cleargate.models.cnn import ConvNet
from cleargate.models.resnet import SmallResNet
from cleargate.models.trees import build_tree


def test_convnet_output_shape_for_mnist_and_digits():
    for shape in ((28, 28), (8, 8)):
        net = ConvNet(shape, 10, [8, 16], 32, 0.1)
        assert net(torch.zeros(5, 1, *shape)).shape == (5, 10)


OPTIMISATION = {"optimizer": "adamw", "learning_rate": 0.01, "weight_decay": 0.0, "lr_schedule": "plateau"}
ENCODER = {"patch_size": 4, "dim": 16, "depth": 1, "heads": 2, "ff_dim": 32, "pooling": "cls", "positions": "learned"}
FAMILY_PARAMS = {
    "cnn": (CNNConfig, {"channels": [8, 16], "hidden": 32}),
    "resnet": (CNNConfig, {"channels": [8, 16], "hidden": 32}),
    "vit": (ViTConfig, ENCODER),
    "rnn": (RecurrentConfig, {"hidden": 8, "layers": 1, "bidirectional": False}),
    "lstm": (RecurrentConfig, {"hidden": 8, "layers": 1, "bidirectional": False}),
    "gru": (RecurrentConfig, {"hidden": 8, "layers": 1, "bidirectional": False}),
    "transformer": (SequenceTransformerConfig, ENCODER),
}


def deep_config(family: str, dataset: str = "d", **extra):
    cls, fields = FAMILY_PARAMS[family]
    return cls(dataset=dataset, family=family, role="candidate", dropout=0.0, max_epochs=1, batch_size=8, patience=1,
               **OPTIMISATION, **{**fields, **extra})


def images(shape) -> ImageData:
    return ImageData(name="d", kind="image", source="sklearn_digits", image_shape=shape, classes=list(range(10)),
                     min_class_count=1)


WINDOWS = SequenceData(name="s", kind="sequence", source="parquet", source_path="x.parquet", classes=["a", "b"],
                       channels=["x", "y"], sample_rate_hz=50, resample_hz=25, window=20, stride=10,
                       value_abs_max=10, min_class_count=1)


def test_every_family_has_a_builder_and_the_right_output_shape():
    assert set(FAMILY_PARAMS) == set(BACKBONES)
    assert set(FAMILY_PARAMS) == set(image.deep_families) | set(sequence.deep_families)
    for family in image.deep_families:
        for shape in ((28, 28), (3, 32, 32), (1, 8, 8)):
            net = build_backbone(deep_config(family), images(shape))
            channels = 1 if len(shape) == 2 else shape[0]
            assert net(torch.zeros(3, channels, *shape[-2:])).shape == (3, 10), (family, shape)
    for family in sequence.deep_families:
        assert build_backbone(deep_config(family, "s"), WINDOWS)(torch.zeros(3, 20, 2)).shape == (3, 2)


def test_a_grey_cnn_keeps_the_weights_it_always_had():
    """Normalisation is opt-in: without it a model's state_dict has the same keys as before (registered
    versions still load), with it the per-channel statistics are saved with the weights."""
    plain = build_backbone(deep_config("cnn"), images((28, 28))).state_dict()
    assert not any("normaliser" in k for k in plain)
    assert ConvNet((28, 28), 10, [8, 16], 32, 0.0).state_dict().keys() == plain.keys()
    normalised = build_backbone(deep_config("resnet", normalize_inputs=True), images((3, 32, 32))).state_dict()
    assert normalised["normaliser.mean"].shape == (3,) and normalised["normaliser.std"].shape == (3,)


def overfit(backbone, x, y, steps=150, lr=0.01) -> tuple[float, float]:
    L.seed_everything(0, verbose=False)
    module = Classifier(backbone, int(y.max()) + 1, Optimisation(**{**OPTIMISATION, "max_epochs": 1}))
    fit = getattr(backbone, "fit_normaliser", None)
    if fit:
        fit(x)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    module.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = module.loss(module(x), y)
        loss.backward()
        optimiser.step()
    module.eval()
    return loss.item(), (module(x).argmax(1) == y).float().mean().item()


@pytest.mark.parametrize(("backbone", "shape"), [
    (lambda: ConvNet((8, 8), 10, [16, 32], 64, 0.0), (1, 8, 8)),
    (lambda: SmallResNet(10, [16, 32], 0.0), (1, 8, 8)),
    (lambda: ConvNet((8, 8), 10, [16, 32], 64, 0.0, in_channels=3, normalize=True), (3, 8, 8)),
    (lambda: SmallResNet(10, [16, 32], 0.0, in_channels=3, normalize=True), (3, 8, 8)),
    (lambda: build_backbone(deep_config("vit", dim=32, ff_dim=64, patch_size=2), images((3, 8, 8))), (3, 8, 8)),
], ids=["cnn", "resnet", "cnn-colour", "resnet-colour", "vit"])
def test_backbone_overfits_one_batch(backbone, shape):
    """If it cannot memorise 32 images, something in the model or loss is broken."""
    torch.manual_seed(0)
    x, y = torch.rand(32, *shape), torch.randint(0, 10, (32,))
    loss, accuracy = overfit(backbone(), x, y)
    assert loss < 0.05 and accuracy == 1.0


@pytest.mark.parametrize("family", ["rnn", "lstm", "gru", "transformer"])
def test_sequence_backbone_overfits_one_batch(family):
    """32 windows of raw-scale sensor values (offset, large spread: the net standardises inside)."""
    torch.manual_seed(0)
    x, y = torch.randn(32, 20, 2) * 5 + 3, torch.randint(0, 4, (32,))
    extra = {"dim": 32, "ff_dim": 64} if family == "transformer" else {"hidden": 32}
    data = WINDOWS.model_copy(update={"classes": ["a", "b", "c", "d"]})
    loss, accuracy = overfit(build_backbone(deep_config(family, "s", **extra), data), x, y)
    assert loss < 0.05 and accuracy == 1.0


def test_augmentation_keeps_shape_and_identity_when_off():
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(random_affine(x, 0, 0, 0), x)
    jittered = random_affine(x, 10, 0.1, 0.1)
    assert jittered.shape == x.shape and not torch.equal(jittered, x)


def test_tree_factory_returns_unfitted_estimators():
    hgb = build_tree(HGBConfig(dataset="d", family="hist_gradient_boosting", role="baseline", max_iter=5,
                               learning_rate=0.1, max_leaf_nodes=31, class_weight="balanced"), 0)
    rf = build_tree(RFConfig(dataset="d", family="extra_trees", role="baseline", n_estimators=4, max_features="sqrt",
                             min_samples_leaf=1), 0)
    for est in (hgb, rf):
        assert not hasattr(est, "classes_")
        clone(est)  # a proper sklearn estimator
    assert type(rf).__name__ == "ExtraTreesClassifier" and rf.n_estimators == 4
    assert hgb.class_weight == "balanced", "class weighting for imbalanced medical data reaches the estimator"


def test_sequence_augmentation_is_identity_when_off_and_jitters_when_on():
    x = torch.randn(4, 30, 6)
    assert torch.equal(random_amplitude(x, 0, 0), x)
    jittered = random_amplitude(x, 0.2, 0.1)
    assert jittered.shape == x.shape and not torch.equal(jittered, x)
    assert (jittered - x).abs().mean() < x.abs().mean(), "a jitter, not a different signal"


def test_evaluation_probabilities_do_not_depend_on_the_rows_per_forward_pass():
    """`TorchPredictor` evaluates EVAL_ROWS rows a pass (2.4x faster than 1,024 for the MNIST CNN here): the
    probabilities must be those of one pass over every row, bit for bit (BatchNorm in eval mode, no dropout)."""
    import numpy as np
    import pandas as pd

    from cleargate.kinds import kind_of
    from cleargate.models.bundle import EVAL_ROWS, TorchPredictor

    torch.manual_seed(0)
    data = images((28, 28))
    columns = kind_of(data).feature_columns(data)
    frame = pd.DataFrame(np.random.default_rng(0).integers(0, 256, (700, len(columns))), columns=columns)
    predictor = TorchPredictor(ConvNet((28, 28), 10, [32, 64], 128, 0.25), data)
    assert predictor.batch_size == EVAL_ROWS < len(frame)
    in_passes = predictor.predict_proba(frame)
    predictor.batch_size = len(frame)
    assert np.array_equal(in_passes, predictor.predict_proba(frame))

    windows = torch.randn(700, 20, 2)
    gru = build_backbone(deep_config("gru", "s", hidden=32), WINDOWS).eval()
    with torch.inference_mode():
        split = torch.cat([gru(windows[i:i + EVAL_ROWS]) for i in range(0, len(windows), EVAL_ROWS)])
        assert torch.equal(split, gru(windows))
