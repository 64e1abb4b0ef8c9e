"""Datasets for the OSR project: the MNIST splits, the OOD test sets and the one preprocessing pipeline.

Every set is held in memory in the raw MNIST form (uint8, shape (N, 28, 28), values 0-255);
`normalize` turns such a batch into the network input. The data root comes from the
environment variable OSR_DATA_DIR (default: `data/` next to this file).
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
UNKNOWN = 10
SEED = 0
DATA_ENV = "OSR_DATA_DIR"
OOD_NAMES = ("Fashion-MNIST", "CIFAR-10", "KMNIST", "notMNIST", "Gaussian noise", "Uniform noise")
NOISE_COUNT = 2000
SEED_PROTOCOL_COUNT = 1000  # Fashion-MNIST and CIFAR-10 images each in the seeds' combined set

_SOURCES = {  # where a user with internet gets each set, for the error message
    "MNIST": "torchvision.datasets.MNIST downloads it",
    "FashionMNIST": "torchvision.datasets.FashionMNIST downloads it",
    "KMNIST": "torchvision.datasets.KMNIST downloads it",
    "notMNIST": "t10k-*-ubyte.gz from github.com/davidflanagan/notMNIST-to-MNIST into notMNIST/raw/",
    "CIFAR-10": "torchvision.datasets.CIFAR10 downloads it (or JPEGs in CIFAR10-test-jpg/<class>/)",
}


class MissingDataError(FileNotFoundError):
    """A required dataset is not under the data root and could not be downloaded."""


def data_root() -> Path:
    """The data root: $OSR_DATA_DIR, else `data/` in the project."""
    return Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parent / "data")).expanduser()


def _missing(name: str, folder: Path, why: object = "") -> MissingDataError:
    return MissingDataError(
        f"{name} not found in {folder} (data root from ${DATA_ENV}={data_root()}). "
        f"Point {DATA_ENV} at a folder holding it, or get it online: {_SOURCES[name]}. {why}".strip()
    )


def _torchvision_set(cls, name: str, train: bool):
    """Read a torchvision dataset from the root, downloading only when it is absent."""
    root = data_root()
    try:
        return cls(str(root), train=train, download=False)
    except RuntimeError:
        pass
    try:
        return cls(str(root), train=train, download=True)
    except Exception as err:  # offline, or a read-only root: say what is missing and how to get it
        raise _missing(name, root / name, err) from err


def _read_idx_gz(path: Path) -> np.ndarray:
    """Parse an IDX file (MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx_test_images(name: str) -> np.ndarray:
    """The t10k images of an MNIST-format set (KMNIST, notMNIST) under <root>/<name>/raw/."""
    folder = data_root() / name / "raw"
    for fname in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
        if (folder / fname).exists():
            return _read_idx_gz(folder / fname).copy()
    if name == "KMNIST":  # torchvision can fetch KMNIST; notMNIST has no torchvision class
        import torchvision

        _torchvision_set(torchvision.datasets.KMNIST, name, train=False)
        return _idx_test_images(name)
    raise _missing(name, folder)


def _cifar10_test() -> np.ndarray:
    """CIFAR-10 test as greyscale 28x28 uint8: the JPEG folder if present, else torchvision's CIFAR10."""
    folder = data_root() / "CIFAR10-test-jpg"
    if folder.is_dir():
        paths = sorted(folder.glob("*/*.jpg"))
        images = [Image.open(p) for p in paths]
    else:
        import torchvision

        images = [Image.fromarray(a) for a in _torchvision_set(torchvision.datasets.CIFAR10, "CIFAR-10", False).data]
    if not images:
        raise _missing("CIFAR-10", folder)
    return np.stack([to_mnist_form(im) for im in images])


def to_mnist_form(image: Image.Image) -> np.ndarray:
    """Greyscale, 28x28 (bilinear), uint8: how every non-MNIST image enters the pipeline."""
    return np.asarray(image.convert("L").resize((28, 28), Image.BILINEAR), dtype=np.uint8)


def normalize(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) in 0-255 -> float tensor (N, 1, 28, 28) with the MNIST normalisation."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    return ((x / 255.0 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def noise_images(kind: str, n: int = NOISE_COUNT, seed: int = SEED) -> np.ndarray:
    """Synthetic OOD images: 'gaussian' (mean 128, std 64, clipped) or 'uniform' (0-255)."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return np.clip(rng.normal(128, 64, (n, 28, 28)), 0, 255).round().astype(np.uint8)
    if kind == "uniform":
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    raise ValueError(f"unknown noise kind {kind!r}; use 'gaussian' or 'uniform'")


@dataclass
class Split:
    """Images in the raw MNIST form and their labels (0-9, or 10 for unknown)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def unknown_split(images: np.ndarray) -> Split:
    return Split(images, np.full(len(images), UNKNOWN, dtype=np.int64))


def mnist_splits(seed: int = SEED) -> dict[str, Split]:
    """MNIST train (5/6) and validation (1/6), split with a fixed seed, and the official test set."""
    import torchvision

    train = _torchvision_set(torchvision.datasets.MNIST, "MNIST", train=True)
    test = _torchvision_set(torchvision.datasets.MNIST, "MNIST", train=False)
    images, labels = train.data.numpy(), train.targets.numpy().astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = len(labels) // 6
    val, tr = order[:n_val], order[n_val:]
    return {
        "train": Split(images[tr], labels[tr]),
        "val": Split(images[val], labels[val]),
        "test": Split(test.data.numpy(), test.targets.numpy().astype(np.int64)),
    }


def ood_sets() -> dict[str, Split]:
    """The OOD test sets, every label 10, in OOD_NAMES order."""
    import torchvision

    fashion = _torchvision_set(torchvision.datasets.FashionMNIST, "FashionMNIST", train=False).data.numpy()
    sets = {
        "Fashion-MNIST": fashion,
        "CIFAR-10": _cifar10_test(),
        "KMNIST": _idx_test_images("KMNIST"),
        "notMNIST": _idx_test_images("notMNIST"),
        "Gaussian noise": noise_images("gaussian"),
        "Uniform noise": noise_images("uniform"),
    }
    return {name: unknown_split(images) for name, images in sets.items()}


def seed_protocol_indices(sets: dict[str, Split], seed: int = SEED) -> dict[str, np.ndarray]:
    """The seeds' combined set as indices: all of MNIST test + a fixed 1,000 Fashion-MNIST + 1,000 CIFAR-10."""
    rng = np.random.default_rng(seed)
    picks = {"MNIST test": np.arange(len(sets["MNIST test"]))}
    for name in ("Fashion-MNIST", "CIFAR-10"):
        picks[name] = np.sort(rng.choice(len(sets[name]), SEED_PROTOCOL_COUNT, replace=False))
    return picks
