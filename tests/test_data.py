"""The data pipeline: shapes, ranges, fixed splits, clear errors for missing sets."""
import numpy as np
import pytest
import torch
from PIL import Image

import data
import preprocess


def test_normalize_gives_one_channel_float_with_the_mnist_statistics():
    x = preprocess.normalize(np.array([np.zeros((28, 28)), np.full((28, 28), 255)], dtype=np.uint8))
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert float(x[0].max()) == pytest.approx(-preprocess.MNIST_MEAN / preprocess.MNIST_STD)
    assert float(x[1].min()) == pytest.approx((1 - preprocess.MNIST_MEAN) / preprocess.MNIST_STD)


def test_rgb_32px_images_become_greyscale_28px_uint8():
    rgb = Image.fromarray(np.full((32, 32, 3), (255, 0, 0), dtype=np.uint8))
    out = preprocess.to_mnist_form(rgb)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0, 0] == 76  # ITU-R 601-2 luma of pure red, as PIL converts


def test_noise_sets_are_fixed_by_the_seed_and_span_the_pixel_range():
    a, b = data.noise_images("uniform"), data.noise_images("uniform")
    assert a.shape == (data.NOISE_COUNT, 28, 28) and np.array_equal(a, b)
    g = data.noise_images("gaussian")
    assert g.dtype == np.uint8 and 100 < g.mean() < 156
    with pytest.raises(ValueError):
        data.noise_images("pink")


def test_missing_dataset_error_names_the_variable_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    with pytest.raises(data.MissingDataError) as err:
        data._idx_test_images("notMNIST", data.data_root())  # notMNIST: the one set torchvision never downloads
    assert f"${data.DATA_ENV}={tmp_path}" in str(err.value) and str(tmp_path / "notMNIST" / "raw") in str(err.value)


def test_a_root_passed_in_is_used_and_named_as_passed(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, "/nowhere")
    with pytest.raises(data.MissingDataError, match="as passed") as err:
        data._idx_test_images("notMNIST", data.data_root(tmp_path))
    assert str(tmp_path / "notMNIST" / "raw") in str(err.value) and "/nowhere" not in str(err.value)


def test_missing_dataset_error_says_when_the_default_root_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(data, "__file__", str(tmp_path / "data.py"))  # the default root: data/ beside the module
    with pytest.raises(data.MissingDataError) as err:
        data._idx_test_images("notMNIST", data.data_root())
    message = str(err.value)
    assert "the default" in message and f"${data.DATA_ENV} is not set" in message
    assert f"${data.DATA_ENV}=" not in message and str(tmp_path / "data" / "notMNIST" / "raw") in message


def test_mnist_split_is_five_sixths_train_one_sixth_validation_and_disjoint(splits):
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (50000, 10000, 10000)
    train_rows = {img.tobytes() for img in splits["train"].images[:2000]}
    assert not any(img.tobytes() in train_rows for img in splits["val"].images[:2000])
    assert set(np.unique(splits["val"].labels)) == set(range(10))


def test_mnist_split_is_the_same_on_every_call(splits):
    again = data.mnist_splits()
    assert np.array_equal(again["val"].labels, splits["val"].labels)


def test_mnist_test_alone_is_the_splits_test_set_with_its_fingerprint(splits, mnist_test):
    assert np.array_equal(mnist_test.images, splits["test"].images)
    assert np.array_equal(mnist_test.labels, splits["test"].labels)
    assert mnist_test.source == splits["test"].source == data.fingerprint(mnist_test.images)


@pytest.mark.thorough
def test_ood_sets_are_uint8_28px_and_all_labelled_unknown(ood, mnist_test):
    sets = ood
    assert list(sets) == [name for name in data.OOD_NAMES if name != "SVHN"]  # SVHN: not to be had offline
    for name, split in sets.items():
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (28, 28), name
        assert (split.labels == data.UNKNOWN).all(), name
    assert len(sets["CIFAR-10"]) == len(sets["KMNIST"]) == len(sets["notMNIST"]) == 10000
    fingerprints = data.fingerprints()  # the quick way (no rendering) says what ood_sets carries
    assert fingerprints == {"MNIST test": mnist_test.source} | {name: split.source for name, split in sets.items()}


def test_seed_protocol_is_all_mnist_test_plus_a_fixed_1000_fashion_and_1000_cifar():
    sizes = {"MNIST test": 10000, "Fashion-MNIST": 10000, "CIFAR-10": 10000}
    sets = {k: data.Split(np.zeros((n, 28, 28), np.uint8), np.zeros(n, np.int64)) for k, n in sizes.items()}
    a, b = data.seed_protocol_indices(sets), data.seed_protocol_indices(sets)
    assert {k: len(v) for k, v in a.items()} == {"MNIST test": 10000, "Fashion-MNIST": 1000, "CIFAR-10": 1000}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(np.unique(a["CIFAR-10"])) == 1000


def test_mnist_format_fits_the_ink_in_20px_and_centres_its_mass():
    ink = np.zeros((105, 105), bool)
    ink[10:90, 30:40] = True  # a tall bar, off centre
    ink[10:20, 30:70] = True
    img = data.mnist_format(ink)
    assert img.shape == (28, 28) and img.dtype == np.uint8
    rows, cols = np.flatnonzero(img.max(1) > 25), np.flatnonzero(img.max(0) > 25)
    assert rows[-1] - rows[0] + 1 in (20, 21) and cols[-1] - cols[0] + 1 <= 21
    yy, xx = np.mgrid[:28, :28]
    mass = img.astype(float).sum()
    assert abs((img * yy).sum() / mass - preprocess.MNIST_CENTRE) <= 0.5
    assert abs((img * xx).sum() / mass - preprocess.MNIST_CENTRE) <= 0.5


def test_mnist_format_all_renders_a_batch_as_one_character_at_a_time_and_a_blank_as_black():
    rng = np.random.default_rng(0)
    inks = [np.zeros((105, 105), bool)]
    for size in (8, 30, 90):  # boxes of every shape: tall, wide, square, at random places
        ink = np.zeros((105, 105), bool)
        top, left = rng.integers(0, 105 - size, 2)
        ink[top: top + size, left: left + rng.integers(2, size + 1)] = rng.random((size, 1)) > 0.3
        inks += [ink, ink.T.copy()]
    together = data.mnist_format_all(inks)
    assert together.shape == (7, 28, 28) and not together[0].any()
    assert all(np.array_equal(together[i], data.mnist_format(ink)) for i, ink in enumerate(inks))


@pytest.mark.thorough
def test_omniglot_comes_in_two_renderings_of_all_19280_characters(ood):
    sets = {name: split.images for name, split in ood.items() if name.startswith("Omniglot")}
    assert list(sets) == ["Omniglot dev (MNIST format)", "Omniglot dev (raw)"]
    for name, images in sets.items():
        assert images.shape == (19280, 28, 28) and images.dtype == np.uint8, name
        assert images[:, 0, 0].mean() < 5 and images.max() == 255, name  # white ink on black paper


def _idx(shape: tuple[int, ...], magic: bytes = b"\x00\x00\x08") -> bytes:
    header = magic + bytes([len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    return header + bytes(int(np.prod(shape)))


def test_an_idx_file_is_read_with_the_shape_its_header_announces(tmp_path):
    import gzip

    (tmp_path / "ok.gz").write_bytes(gzip.compress(_idx((2, 3, 4))))
    assert data._read_idx_gz(tmp_path / "ok.gz").shape == (2, 3, 4)


@pytest.mark.parametrize("name, blob, message", [
    ("foreign", b"<html>not found</html>", "not an IDX file"),
    ("floats", _idx((2, 3, 4), magic=b"\x00\x00\x0d"), "not an IDX file"),
    ("truncated", _idx((2, 3, 4))[:-5], "truncated"),
])
def test_a_foreign_or_truncated_idx_file_gets_a_clear_error(tmp_path, name, blob, message):
    (tmp_path / name).write_bytes(blob)
    with pytest.raises(ValueError, match=f"{name}.*{message}"):
        data._read_idx_gz(tmp_path / name)


def test_a_broken_gzip_stream_gets_a_clear_error(tmp_path):
    import gzip

    (tmp_path / "t.gz").write_bytes(gzip.compress(_idx((2, 3, 4)))[:-12])
    with pytest.raises(ValueError, match="t.gz is not a readable IDX file"):
        data._read_idx_gz(tmp_path / "t.gz")
