"""The data layer as other machines meet it: torchvision's layouts (CIFAR-10's batch file, Omniglot's PNG tree in
any directory order), a low open-file limit, notMNIST's download, missing sets, and fingerprints."""
import hashlib
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import data
import torchvision_layouts as layouts

SHARED = data.data_root()  # the offline copies (OSR_DATA_DIR)


@pytest.fixture(scope="module")
def cifar_jpeg() -> np.ndarray:
    return data._cifar10_test(SHARED)


@pytest.fixture(scope="module")
def omniglot_npz() -> np.ndarray:
    return data._omniglot_paper(SHARED)


@pytest.fixture(scope="module")
def omniglot_tree(omniglot_npz, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("omniglot_root")
    layouts.omniglot_png_tree(omniglot_npz, root)
    return root


@pytest.fixture
def offline(monkeypatch):
    """No download reaches the network (torchvision's and ours both go through urlopen)."""
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_the_jpeg_folder_is_read_class_by_class_in_file_number_order(cifar_jpeg):
    assert cifar_jpeg.shape == (10000, 32, 32, 3) and cifar_jpeg.dtype == np.uint8
    first_cat = data._rgb(SHARED / "CIFAR10-test-jpg" / "cat" / "0000.jpg")
    tenth_truck = data._rgb(SHARED / "CIFAR10-test-jpg" / "truck" / "0009.jpg")
    assert np.array_equal(cifar_jpeg[3000], first_cat) and np.array_equal(cifar_jpeg[9009], tenth_truck)


def test_cifar10_batch_file_reads_in_the_jpeg_folders_order_and_torchvisions_own_order_differs(
        cifar_jpeg, tmp_path, monkeypatch):
    import torchvision

    layouts.cifar10_batch(cifar_jpeg, tmp_path)
    canonical = data._cifar10_test(tmp_path)
    assert np.array_equal(canonical, cifar_jpeg) and data.fingerprint(canonical) == data.fingerprint(cifar_jpeg)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_load_meta", lambda self: None)  # class names: not needed
    official = torchvision.datasets.CIFAR10(str(tmp_path), train=False, download=False)
    assert not np.array_equal(official.data, canonical)  # read by position, the seeds' 1,000 would be others
    assert np.array_equal(official.data[np.argsort(official.targets, kind="stable")], canonical)


def test_cifar10_from_other_pixels_has_another_fingerprint(cifar_jpeg, tmp_path):
    other = layouts.cifar10_batch(cifar_jpeg, tmp_path, perturb=True)
    assert np.array_equal(data._cifar10_test(tmp_path), other)
    assert data.fingerprint(other) != data.fingerprint(cifar_jpeg)


@pytest.mark.thorough
def test_omniglot_png_tree_in_shuffled_directory_order_reads_as_the_npz_byte_for_byte(
        omniglot_npz, omniglot_tree, monkeypatch):
    import torchvision

    from_pngs = data._omniglot_paper(omniglot_tree)
    assert from_pngs.dtype == omniglot_npz.dtype == bool and from_pngs.shape == (19280, 105, 105)
    assert from_pngs.tobytes() == omniglot_npz.tobytes()
    assert data.fingerprint(from_pngs) == data.fingerprint(omniglot_npz)
    monkeypatch.setattr(torchvision.datasets.Omniglot, "_check_integrity", lambda self: True)
    listed = torchvision.datasets.Omniglot(str(omniglot_tree), background=True, download=False)
    names = [Path(p).name for chars in listed._character_images[:3] for p, _ in chars]
    assert names != sorted(names)  # torchvision lists in directory order: the canonical order must not rely on it


@pytest.mark.thorough
def test_readers_open_one_file_at_a_time_under_a_low_open_file_limit(omniglot_tree):
    script = (
        "import resource, sys\n"
        "import data\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))  # macOS's soft limit is 256\n"
        f"print(len(data._cifar10_test(data.data_root())), len(data._omniglot_paper(data.Path({str(omniglot_tree)!r}))))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["10000", "19280"]


def test_notmnist_is_downloaded_into_the_root_when_its_sha256_matches(tmp_path, monkeypatch):
    blob = (SHARED / "notMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == data.NOTMNIST_SHA256

    class Response:
        def __init__(self, body):
            self.body = body

        def read(self):
            return self.body

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    asked = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: asked.append(url) or Response(blob))
    images = data._idx_test_images("notMNIST", tmp_path)
    assert asked == [data.NOTMNIST_URL] and images.shape == (10000, 28, 28)
    assert np.array_equal(images, data._idx_test_images("notMNIST", SHARED))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(blob[:-10]))
    with pytest.raises(data.MissingDataError, match="sha256"):
        data._idx_test_images("notMNIST", tmp_path / "other")
    assert not (tmp_path / "other" / "notMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()


def test_a_missing_set_is_skipped_with_one_line_saying_how_to_get_it(tmp_path, offline):
    (tmp_path / "FashionMNIST").mkdir()
    (tmp_path / "FashionMNIST" / "raw").symlink_to((SHARED / "FashionMNIST" / "raw").resolve())
    lines = []
    sets = data.ood_sets(tmp_path, say=lines.append)
    assert list(sets) == ["Fashion-MNIST", "Gaussian noise", "Uniform noise"]
    assert [line.split(":")[0] for line in lines] == ["skipped CIFAR-10", "skipped KMNIST", "skipped notMNIST",
                                                      "skipped EMNIST letters", "skipped SVHN", "skipped Omniglot"]
    assert all("\n" not in line and "get it online" in line for line in lines)
    assert data.NOTMNIST_URL in lines[2]
    assert [p.name for p in tmp_path.iterdir()] == ["FashionMNIST"]  # the failed downloads left no folder behind


def test_mnist_is_required_and_its_error_names_the_root(tmp_path, offline):
    with pytest.raises(data.MissingDataError, match=f"MNIST not found in {tmp_path}"):
        data.mnist_splits(root=tmp_path)


def test_the_seed_protocol_keeps_cifars_draw_when_fashion_mnist_is_missing():
    n = 10000
    sets = {k: data.Split(np.zeros((n, 28, 28), np.uint8), np.zeros(n, np.int64))
            for k in ("MNIST test", "Fashion-MNIST", "CIFAR-10")}
    both = data.seed_protocol_indices(sets)
    del sets["Fashion-MNIST"]
    alone = data.seed_protocol_indices(sets)
    assert list(alone) == ["MNIST test", "CIFAR-10"] and np.array_equal(alone["CIFAR-10"], both["CIFAR-10"])


def test_a_fingerprint_changes_with_any_pixel_shape_or_dtype():
    a = np.zeros((4, 28, 28), np.uint8)
    b = a.copy()
    b[3, 27, 27] = 1
    prints = {data.fingerprint(x) for x in (a, b, a.reshape(2, 56, 28), a.astype(bool))}
    assert len(prints) == 4 and data.fingerprint(a.copy()) == data.fingerprint(a)


def test_svhn_from_torchvisions_mat_file_becomes_greyscale_28px_in_the_files_order(tmp_path, offline):
    from scipy.io import savemat

    rgb = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    rgb[2] = (255, 0, 0)  # one pure red image: its grey is red's luma
    (tmp_path / "SVHN").mkdir()
    savemat(tmp_path / "SVHN" / "test_32x32.mat", {"X": rgb.transpose(1, 2, 3, 0), "y": np.arange(1, 6)[:, None]})
    assert np.array_equal(data._svhn_test(tmp_path), rgb)
    lines = []
    sets = data.ood_sets(tmp_path, say=lines.append)
    assert sets["SVHN"].images.shape == (5, 28, 28) and (sets["SVHN"].images[2] == 76).all()
    assert not any(line.startswith("skipped SVHN") for line in lines)
    lines.clear()
    data.ood_sets(tmp_path / "elsewhere", say=lines.append)
    assert any(line.startswith("skipped SVHN: SVHN not found") and "torchvision.datasets.SVHN" in line for line in lines)


def test_emnist_letters_from_torchvisions_idx_files_are_turned_to_mnists_orientation(tmp_path, offline):
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 2, 20] = 255  # stored transposed: row 2, column 20 in the file is row 20, column 2 upright
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    layouts.idx_gz(raw / "emnist-letters-test-images-idx3-ubyte.gz", images)
    layouts.idx_gz(raw / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 9, 26]))
    upright, letters = data._emnist_letters_test(tmp_path)
    assert upright[:, 20, 2].tolist() == [255] * 3 and upright.sum() == 3 * 255
    assert letters.tolist() == [1, 9, 26]
    sets = data.ood_sets(tmp_path, say=lambda _: None)
    assert sets["EMNIST letters"].classes.tolist() == [1, 9, 26]


def test_the_emnist_sample_written_as_torchvisions_files_reads_back_as_the_same_array(tmp_path):
    images, letters = data._emnist_letters_test(SHARED)
    layouts.emnist_raw(images, letters, tmp_path)
    again, letters_again = data._emnist_letters_test(tmp_path)
    assert np.array_equal(again, images) and np.array_equal(letters_again, letters)


def test_the_offline_emnist_sample_is_read_upright_with_its_letters():
    images, letters = data._emnist_letters_test(SHARED)
    assert images.shape == (1479, 28, 28) and images.dtype == np.uint8
    assert set(letters.tolist()) == set(range(1, 20))  # a-s
    ell = images[letters == data.LETTERS.index("l") + 1] > 127
    tall = ell.any(2).sum(1).mean()  # an upright l spans many rows and few columns; a transposed one the reverse
    wide = ell.any(1).sum(1).mean()
    assert tall > 1.5 * wide  # measured: 21.5 rows, 11.3 columns
