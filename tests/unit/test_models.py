import lightning as L
import pytest
import torch
from sklearn.base import clone

from cleargate.config.models import CNNConfig, HGBConfig, RecurrentConfig, RFConfig
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


def test_every_image_family_has_a_builder_and_the_right_output_shape():
    families = CNNConfig.model_fields["family"].annotation.__args__
    sequence_families = RecurrentConfig.model_fields["family"].annotation.__args__
    assert set(families) | set(sequence_families) == set(BACKBONES)
    dataset = ImageData(name="d", kind="image", source="sklearn_digits", image_shape=(28, 28),
                        classes=list(range(10)), min_class_count=1)
    for family in families:
        config = CNNConfig(dataset="d", family=family, role="candidate", channels=[8, 16], hidden=32, dropout=0.1,
                           max_epochs=1, batch_size=8, learning_rate=0.01, patience=1, weight_decay=0)
        assert build_backbone(config, dataset)(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    windows = SequenceData(name="s", kind="sequence", source="parquet", source_path="x.parquet", classes=["a", "b"],
                           channels=["x", "y"], sample_rate_hz=50, resample_hz=25, window=20, stride=10,
                           value_abs_max=10, min_class_count=1)
    for family in sequence_families:
        config = RecurrentConfig(dataset="s", family=family, role="candidate", hidden=8, dropout=0.0, max_epochs=1,
                                 batch_size=8, learning_rate=0.01, patience=1, weight_decay=0, layers=1,
                                 bidirectional=False)
        assert build_backbone(config, windows)(torch.zeros(3, 20, 2)).shape == (3, 2)


@pytest.mark.parametrize("backbone", [ConvNet((8, 8), 10, [16, 32], 64, 0.0), SmallResNet(10, [16, 32], 0.0)],
                         ids=["cnn", "resnet"])
def test_backbone_overfits_one_batch(backbone):
    """If it cannot memorise 32 images, something in the model or loss is broken."""
    L.seed_everything(0, verbose=False)
    x, y = torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,))
    module = Classifier(backbone, 10, learning_rate=0.01, weight_decay=0.0)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.01)
    module.train()
    for _ in range(150):
        optimiser.zero_grad()
        loss = module.loss(module(x), y)
        loss.backward()
        optimiser.step()
    module.eval()
    assert loss.item() < 0.05
    assert (module(x).argmax(1) == y).float().mean() == 1.0


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
