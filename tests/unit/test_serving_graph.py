"""The served image network: a frozen inference graph only where it answers as the eager network does."""

from __future__ import annotations

import torch

from cleargate.kinds.image import ImageData
from cleargate.kinds.sequence import SequenceData
from cleargate.models.cnn import ConvNet
from cleargate.serving.pyfunc import _inference_graph


def test_an_image_network_serves_as_a_graph_with_the_eager_outputs():
    torch.manual_seed(0)
    data = ImageData(name="d", kind="image", source="sklearn_digits", image_shape=(8, 8), classes=list(range(10)),
                     min_class_count=1)
    network = ConvNet((8, 8), 10, [8, 16], 32, 0.25).eval()
    with torch.no_grad():  # BatchNorm with statistics that are not the defaults, so folding it matters
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    graph = _inference_graph(network, data)
    assert isinstance(graph, torch.jit.ScriptModule)
    batch = torch.rand(300, 1, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(graph(batch), network(batch), atol=1e-5, rtol=1e-5)
        assert (graph(batch).argmax(1) == network(batch).argmax(1)).all()


def test_a_sequence_network_stays_eager():
    network = torch.nn.GRU(6, 8, batch_first=True)
    data = SequenceData(name="s", kind="sequence", source="parquet", source_path="x.parquet", classes=["a", "b"],
                        channels=["x", "y"], sample_rate_hz=50, resample_hz=25, window=20, stride=10,
                        value_abs_max=10, min_class_count=1)
    assert _inference_graph(network, data) is network


def test_a_network_whose_trace_answers_differently_stays_eager():
    class Branchy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1) if x.shape[0] > 1 else -x.flatten(1)  # the trace keeps one branch

    data = ImageData(name="d", kind="image", source="sklearn_digits", image_shape=(8, 8), classes=[0, 1],
                     min_class_count=1)
    network = Branchy()
    assert _inference_graph(network, data) is network


def test_a_batch_column_of_a_type_the_model_did_not_learn_is_named():
    import pandas as pd

    from cleargate.serving.pyfunc import type_mismatch

    frame = pd.DataFrame({"pixel_0": [1.0, 2.5], "pixel_1": [1, 2], "sex": ["f", "m"]})
    assert "column pixel_0: float64" in type_mismatch(frame, {"pixel_0": "i"})
    assert type_mismatch(frame, {"pixel_0": "f", "pixel_1": "f", "sex": "O"}) is None, "ints where floats were learnt"
    assert "column sex" in type_mismatch(frame, {"sex": "f"})


def test_the_models_pins_are_compared_with_the_environment(tmp_path):
    """`load_served` skips MLflow's slow requirement check and compares the model's exact pins itself."""
    from importlib.metadata import version

    from cleargate.serving.loading import _pin_mismatches

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"numpy==0.0.1\npandas=={version('pandas').split('+')[0]}\nno-such-package==1.0\n")
    found = _pin_mismatches(requirements)
    assert found[0] == f"the model was logged with numpy==0.0.1, this environment has {version('numpy')}"
    assert found[-1] == "the model was logged with no-such-package==1.0, this environment has not installed"
    assert len(found) == 2
    assert _pin_mismatches(tmp_path / "absent.txt") == []
