"""Images with channels: contract, columns, tensors, crop/flip augmentation, per-channel normalisation.
(Their validation: tests/data/test_validation_colour.py.)"""


import numpy as np
import pytest
import torch

from cleargate.config.hyperparameters import CNNConfig
from cleargate.kinds import image
from cleargate.kinds.image import ImageData, random_affine, random_crop, random_flip
from cleargate.models.normalise import ChannelStandardiser


def colour(**extra) -> ImageData:
    return ImageData(**{"name": "c", "kind": "image", "source": "npz", "source_path": "x.npz",
                        "image_shape": (3, 4, 5), "classes": [0, 1], "min_class_count": 1, **extra})


def test_image_shape_names_channels_and_grey_stays_as_it_was():
    grey = ImageData(name="g", kind="image", source="sklearn_digits", image_shape=(28, 28), classes=[0, 1],
                     min_class_count=1)
    assert (grey.n_channels, grey.height, grey.width, grey.n_pixels) == (1, 28, 28, 784)
    assert image.feature_columns(grey)[-1] == "pixel_783" and "grey" in image.describe(grey)
    data = colour()
    assert (data.n_channels, data.height, data.width, data.n_pixels) == (3, 4, 5, 60)
    assert [c[0] for c in image.channel_columns(data)] == ["pixel_0", "pixel_20", "pixel_40"]
    assert "channel-major" in image.describe(data)


def test_records_and_tensors_are_channel_major():
    images = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    frame = image.records_from_arrays(images, np.array([0, 1]))
    assert frame.at[1, "pixel_27"] == images[1, 1, 1, 2], "pixel_i: channel i // (h*w), row, column"
    tensor = image.to_tensor(frame, colour(pixel_max=255))
    assert torch.allclose(tensor * 255, torch.tensor(images, dtype=torch.float32))


def test_random_crop_cuts_each_padded_image_at_its_own_offset():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 6, 6)
    assert torch.equal(random_crop(x, 0), x)
    cropped = random_crop(x, 2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(16):
        matches = [(t, left) for t in range(5) for left in range(5)
                   if torch.equal(cropped[i], padded[i, :, t:t + 6, left:left + 6])]
        assert matches, f"image {i} is not a crop of its padded self"
        offsets.add(matches[0])
    assert len(offsets) > 3, "offsets differ between images"


def test_random_flip_mirrors_about_half_of_the_images():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 4, 4)
    flipped = random_flip(x)
    mirrored = [torch.equal(f, i.flip(-1)) for f, i in zip(flipped, x, strict=True)]
    kept = [torch.equal(f, i) for f, i in zip(flipped, x, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True)) and 16 < sum(mirrored) < 48


def cnn(**augment) -> CNNConfig:
    return CNNConfig(dataset="c", family="cnn", role="candidate", channels=[4], hidden=4, dropout=0, max_epochs=1,
                     batch_size=4, optimizer="adamw", learning_rate=0.01, weight_decay=0, lr_schedule="plateau",
                     patience=1, **augment)


def test_augmentation_is_set_per_model_and_off_by_default():
    assert image.augmentation(cnn()) is None
    x = torch.rand(8, 3, 8, 8)
    torch.manual_seed(1)
    jittered = image.augmentation(cnn(augment_crop_padding=2, augment_flip=True))(x)
    torch.manual_seed(1)
    assert jittered.shape == x.shape and torch.equal(jittered, random_flip(random_crop(x, 2)))
    torch.manual_seed(2)
    affine = image.augmentation(cnn(augment_degrees=10, augment_shift=0.1))(x)
    torch.manual_seed(2)
    assert torch.equal(affine, random_affine(x, 10, 0.1, 0.0)), "grey digits keep exactly their old jitter"


def test_channel_statistics_come_from_the_training_tensor():
    torch.manual_seed(0)
    x = torch.stack([torch.rand(50, 6, 6) * 0.1, torch.rand(50, 6, 6) * 0.5 + 0.5, torch.full((50, 6, 6), 0.3)], 1)
    norm = ChannelStandardiser(3, channel_dim=1)
    norm.fit(x)
    out = norm(x)
    assert torch.allclose(out[:, :2].mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(out[:, :2].std(dim=(0, 2, 3), unbiased=False), torch.ones(2), atol=1e-4)
    assert norm.std[2] == 1.0 and set(norm.state_dict()) == {"mean", "std"}, "a constant channel is not blown up"
    windows = ChannelStandardiser(2, channel_dim=-1)
    windows.fit(torch.tensor([[[0.0, 10.0], [2.0, 30.0]]]))
    assert windows.mean.tolist() == [1.0, 20.0] and windows.std.tolist() == [1.0, 10.0]


def test_an_npz_of_colour_images_loads_in_the_declared_shape(tmp_path):
    from cleargate.datasets import load
    from cleargate.errors import DataError

    images = np.random.default_rng(0).integers(0, 256, (4, 3, 4, 5), dtype=np.uint8)
    np.savez(tmp_path / "x.npz", images=images, labels=np.array([0, 1, 0, 1]))
    frame = load(colour(source_path=tmp_path / "x.npz"))
    assert frame.shape == (4, 61) and frame.at[2, "pixel_25"] == images[2, 1, 1, 0]
    with pytest.raises(DataError, match=r"images have shape \(3, 4, 5\), expected \(4, 5\)"):
        load(colour(source_path=tmp_path / "x.npz", image_shape=(4, 5)))
