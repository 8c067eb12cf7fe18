"""Fine-tuning mechanics on real backbones: the head is re-initialised on another class count, a frozen
backbone does not move, a backbone of other sizes is one clear error, and init_from is checked at load."""

from __future__ import annotations

import pytest
import torch

from cleargate.errors import ConfigError
from cleargate.models.backbones import build_backbone, head
from cleargate.params import ProjectParams
from cleargate.training.finetune import InitWeights, warm_start
from tests.projects import tiny_params


def _params(**cnn):
    raw = tiny_params()
    raw["train"]["cnn"].update(cnn)
    return ProjectParams.model_validate(raw).scope("digits")


def _parent(classes: int, **cnn) -> tuple[torch.nn.Module, InitWeights]:
    params = _params(**cnn)
    data = params.dataset.model_copy(update={"classes": list(range(classes))})
    torch.manual_seed(1)
    network = build_backbone(params.model("cnn"), data)
    return network, InitWeights("models:/digits-classifier/1", "1", "sha", network.state_dict())


def test_same_shapes_load_every_weight_head_included():
    parent, init = _parent(10)
    torch.manual_seed(2)
    child = build_backbone(_params().model("cnn"), _params().dataset)
    assert warm_start(child, init, "cnn", "none") == "loaded"
    for key, value in parent.state_dict().items():
        assert torch.equal(child.state_dict()[key], value), key
    assert sum(p.numel() for p in child.parameters() if p.requires_grad) == sum(p.numel() for p in child.parameters())


def test_other_class_count_keeps_the_backbone_and_reinitialises_the_head():
    parent, init = _parent(5)
    torch.manual_seed(2)
    child = build_backbone(_params().model("cnn"), _params().dataset)
    fresh_head = {k: v.clone() for k, v in head(child).state_dict().items()}
    note = warm_start(child, init, "cnn", "none")
    assert note == "re-initialised (5 classes in models:/digits-classifier/1, 10 here)"
    assert torch.equal(child.state_dict()["features.0.0.weight"], parent.state_dict()["features.0.0.weight"])
    assert all(torch.equal(head(child).state_dict()[k], v) for k, v in fresh_head.items())


def test_frozen_backbone_gets_no_gradient_and_keeps_its_weights():
    _, init = _parent(5)
    params = _params()
    child = build_backbone(params.model("cnn"), params.dataset)
    warm_start(child, init, "cnn", "backbone")
    trainable = sum(p.numel() for p in child.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in head(child).parameters())
    before = {k: v.clone() for k, v in child.state_dict().items()}
    child.train()
    optimizer = torch.optim.AdamW([p for p in child.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(child(torch.rand(16, 1, 8, 8)), torch.arange(16) % 10).backward()
        optimizer.step()
    after = child.state_dict()
    assert all(p.grad is None for name, p in child.named_parameters() if not name.startswith("head."))
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("head.") for k in moved), moved   # BatchNorm statistics stay as learnt


def test_a_backbone_of_other_sizes_is_one_line_naming_both_models():
    _, init = _parent(10, channels=[8, 32])
    params = _params()
    child = build_backbone(params.model("cnn"), params.dataset)
    with pytest.raises(ConfigError) as caught:
        warm_start(child, init, "cnn", "none")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("train.cnn.init_from: models:/digits-classifier/1 does not fit cnn: "
                              "features.0.0.weight is (8, 1, 3, 3), the new model needs (16, 1, 3, 3)")


@pytest.mark.parametrize(("change", "error"), [
    ({"freeze": "backbone"}, "freeze: backbone needs init_from"),
    ({"init_from": "rf"}, "train.cnn.init_from: 'rf' is not a deep model declared before 'cnn'"),
    ({"init_from": "cnn"}, "train.cnn.init_from: 'cnn' is not a deep model declared before 'cnn'"),
])
def test_bad_init_from_fails_when_params_load(change, error):
    raw = tiny_params()
    raw["train"]["cnn"].update(change)
    with pytest.raises(ValueError, match=error):
        ProjectParams.model_validate(raw)
