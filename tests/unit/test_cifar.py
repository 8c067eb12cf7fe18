"""The CIFAR-10 binary reader on fixtures written in the exact format (tests/cifar_fixture.py)."""

from pathlib import Path

import numpy as np
import pytest

from cleargate.datasets import load
from cleargate.datasets.cifar import read_cifar10
from cleargate.errors import DataError
from cleargate.kinds.image import ImageData, to_tensor
from cleargate.stages.entry import main
from tests.cifar_fixture import FILES, archive, colour_images, read_records, records, write_cifar10
from tests.commented import uncommented
from tests.projects import tiny_params, write_params


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_cifar10(tmp_path / "cifar", per_class=1)


def contract(path: Path) -> ImageData:
    return ImageData(name="cifar10", kind="image", source="cifar10_binary", source_path=path,
                     image_shape=(3, 32, 32), classes=list(range(10)), min_class_count=1)


def one_line_error(path: Path) -> str:
    with pytest.raises(DataError) as err:
        read_cifar10(path)
    message = str(err.value)
    assert "\n" not in message, message
    return message


def test_the_folder_its_parent_and_the_archive_give_the_same_records(folder: Path, tmp_path: Path):
    images, labels = read_cifar10(folder)
    assert images.shape == (60, 3, 32, 32) and images.dtype == np.uint8
    expected_labels, expected_pixels = zip(*(read_records(folder / f) for f in FILES), strict=True)
    assert np.array_equal(labels, np.concatenate(expected_labels)), "batches in order, labels as written"
    assert np.array_equal(images.reshape(60, -1), np.concatenate(expected_pixels))
    assert np.bincount(labels).tolist() == [6] * 10
    for other in (folder.parent, archive(folder, tmp_path / "cifar-10-binary.tar.gz")):
        again, again_labels = read_cifar10(other)
        assert np.array_equal(again, images) and np.array_equal(again_labels, labels)


def test_records_keep_the_byte_order_as_pixel_columns(folder: Path):
    """pixel_i is byte i of the record's image: red plane, then green, then blue, each row-major."""
    frame = load(contract(folder))
    assert list(frame.columns[:2]) == ["pixel_0", "pixel_1"] and frame.columns[-2:].tolist() == ["pixel_3071", "label"]
    assert frame["pixel_0"].dtype == np.uint8 and len(frame) == 60
    labels, pixels = read_records(folder / "data_batch_1.bin")
    assert np.array_equal(frame.iloc[0, :3072].to_numpy(), pixels[0]) and frame.at[0, "label"] == labels[0]
    tensor = to_tensor(frame.head(1), contract(folder))
    assert tensor.shape == (1, 3, 32, 32)
    green_row2_col5 = pixels[0][1024 + 2 * 32 + 5]
    assert tensor[0, 1, 2, 5].item() == pytest.approx(green_row2_col5 / 255)


def test_missing_data_says_where_to_put_it(tmp_path: Path, folder: Path):
    message = one_line_error(tmp_path / "nowhere")
    assert "not found" in message and "cifar-10-binary.tar.gz" in message and "source_path" in message
    (folder / "test_batch.bin").unlink()
    (folder / "data_batch_3.bin").unlink()
    message = one_line_error(folder)
    assert f"{folder}: missing data_batch_3.bin, test_batch.bin" in message and "cifar-10-batches-bin" in message


def test_a_truncated_file_is_a_one_line_error(folder: Path):
    path = folder / "data_batch_2.bin"
    path.write_bytes(path.read_bytes()[:-100])
    message = one_line_error(folder)
    assert message.startswith(f"{path}: 30,630 bytes are not whole 3,073-byte records")
    assert "9 records and 2,973 bytes over" in message and "truncated" in message


def test_a_wrong_record_size_is_a_one_line_error(folder: Path, tmp_path: Path):
    rng = np.random.default_rng(1)
    labels = np.arange(10)
    path = folder / "data_batch_4.bin"
    path.write_bytes(records(labels, colour_images(labels, rng), label_bytes=2))   # CIFAR-100's layout
    assert "3,074-byte records (CIFAR-100's layout" in one_line_error(folder)
    packed = archive(folder, tmp_path / "cifar-10-binary.tar.gz")
    assert one_line_error(packed).startswith(f"{packed}:data_batch_4.bin: 30,740 bytes are 3,074-byte records")
    path.write_bytes(np.zeros((4, 3072), np.uint8).tobytes())   # pixels without label bytes
    assert "not whole 3,073-byte records" in one_line_error(folder)
    path.write_bytes(b"\xff" * 3073 * 2)   # the right size, but not CIFAR-10
    assert "record 0 has label byte 255 (CIFAR-10 labels are 0-9" in one_line_error(folder)
    path.write_bytes(b"")
    assert "empty file" in one_line_error(folder)


def test_an_archive_without_the_binary_batches_is_refused(tmp_path: Path):
    """The python version's members (data_batch_1, ...) are pickles: never opened."""
    pickled = tmp_path / "cifar-10-batches-py"
    pickled.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (pickled / name).write_bytes(b"\x80\x04not read")
    message = one_line_error(archive(pickled, tmp_path / "cifar-10-python.tar.gz"))
    assert "lacks data_batch_1.bin" in message and "pickles, which are never read" in message
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert "not a readable .tar.gz archive" in one_line_error(tmp_path / "junk.tar.gz")


def test_the_contract_needs_a_path_and_cifar_shape(folder: Path):
    with pytest.raises(ValueError, match="source_path is required when source is 'cifar10_binary'"):
        contract(folder).model_validate({**contract(folder).model_dump(), "source_path": None})
    with pytest.raises(ValueError, match=r"set image_shape: \[3, 32, 32\]"):
        contract(folder).model_validate({**contract(folder).model_dump(), "image_shape": [32, 32]})


def test_the_ingest_stage_prints_one_line_and_no_traceback(tmp_path: Path, capsys):
    params = tiny_params()
    params["datasets"]["digits"]["data"].update(source="cifar10_binary", source_path=str(tmp_path / "absent"),
                                                image_shape=[3, 32, 32])
    assert main(["ingest", "--params", str(write_params(tmp_path / "params.yaml", params))]) == 4  # refused input
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {tmp_path / 'absent'}: not found; put the six .bin")


def test_the_commented_cifar10_entries_are_valid_params_and_ingest_a_cifar_folder(folder: Path, tmp_path: Path):
    """Uncommenting the params.yaml entries is all it takes (with source_path pointing at the data)."""
    import yaml

    from cleargate.params import load_project
    from cleargate.stages import ingest
    from tests.projects import ROOT

    text = (ROOT / "params.yaml").read_text()
    params = yaml.safe_load(text)
    dataset = yaml.safe_load(uncommented(text, "cifar10"))["cifar10"]
    assert dataset["data"]["source"] == "cifar10_binary"
    dataset["data"]["source_path"] = str(archive(folder, tmp_path / "cifar-10-binary.tar.gz"))
    models = {k: yaml.safe_load(uncommented(text, k))[k] for k in ("cifar10_resnet", "cifar10_hgb", "cifar10_rf")}
    resnet = models["cifar10_resnet"]
    assert (resnet["optimizer"], resnet["momentum"], resnet["weight_decay"], resnet["batch_size"]) == \
        ("sgd", 0.9, 0.0005, 128), "the brief's recipe"
    params["datasets"] = {"cifar10": dataset}
    params["train"] = models
    project = load_project(write_params(tmp_path / "params.yaml", params))
    record = ingest.run(project.scope("cifar10"))
    assert record.rows == 60 and record.columns == 3073
