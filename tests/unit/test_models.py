import lightning as L
import torch
from sklearn.base import clone

from cleargate.config import HGBConfig, RFConfig
from cleargate.models.augment import random_affine
from cleargate.models.classifier import Classifier
from cleargate.models.cnn import ConvNet
from cleargate.models.trees import build_tree


def test_convnet_output_shape_for_mnist_and_digits():
    for shape in ((28, 28), (8, 8)):
        net = ConvNet(shape, 10, [8, 16], 32, 0.1)
        assert net(torch.zeros(5, 1, *shape)).shape == (5, 10)


def test_cnn_overfits_one_batch():
    """If it cannot memorise 32 images, something in the model or loss is broken."""
    L.seed_everything(0, verbose=False)
    x, y = torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,))
    module = Classifier(ConvNet((8, 8), 10, [16, 32], 64, 0.0), 10, learning_rate=0.01, weight_decay=0.0)
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
    hgb = build_tree(HGBConfig(family="hist_gradient_boosting", role="baseline", max_iter=5, learning_rate=0.1), 0)
    rf = build_tree(RFConfig(family="extra_trees", role="baseline", n_estimators=4), 0)
    for est in (hgb, rf):
        assert not hasattr(est, "classes_")
        clone(est)  # a proper sklearn estimator
    assert type(rf).__name__ == "ExtraTreesClassifier" and rf.n_estimators == 4
