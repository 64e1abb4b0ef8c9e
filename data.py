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


def _to_array(images) -> np.ndarray:
    """numpy view of a numpy array, torch tensor, PIL image or list of PIL images."""
    if isinstance(images, Image.Image):
        return np.asarray(images)
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], Image.Image):
        return np.stack([to_mnist_form(im) for im in images])
    if isinstance(images, torch.Tensor):
        return images.detach().cpu().numpy()
    return np.asarray(images)


def _channels_last(x: np.ndarray) -> np.ndarray:
    """Any accepted layout as (N, H, W, C): a single image (H, W) or (H, W, C); a batch (N, H, W),
    (N, C, H, W) or (N, H, W, C), with C = 1 (grey), 3 (RGB) or 4 (RGBA)."""
    if x.ndim == 2:
        return x[None, :, :, None]
    if x.ndim == 3:
        return x[None] if x.shape[-1] in (3, 4) and x.shape[0] > 4 else x[..., None]
    if x.ndim == 4:
        return x.transpose(0, 2, 3, 1) if x.shape[1] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4) else x
    raise ValueError(f"images must have 2 to 4 dimensions (H, W), (N, H, W) or (N, C, H, W); got shape {x.shape}")


def _to_unit_range(x: np.ndarray) -> np.ndarray:
    """Pixel values as float64 in 0-1: integers are 0-255, floats in 0-1 are kept, floats with negatives are taken
    as already MNIST-normalised, other non-negative floats as 0-255."""
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise ValueError("integer images must hold values 0-255")
        return x / 255.0
    x = x.astype(np.float64)
    if x.min() < 0:
        x = x * MNIST_STD + MNIST_MEAN  # undo the MNIST normalisation
    elif x.max() > 1:
        x = x / 255.0
    if x.min() < -1e-3 or x.max() > 1 + 1e-3:
        raise ValueError("float images must be 0-1, 0-255, or MNIST-normalised ((x/255 - 0.1307) / 0.3081)")
    return np.clip(x, 0.0, 1.0)


def normalize(images) -> torch.Tensor:
    """Any plausible image input -> the network input: float tensor (N, 1, 28, 28) with the MNIST normalisation.

    Accepts a numpy array, torch tensor, PIL image or list of PIL images; one image or a batch, with or without
    a channel axis; uint8 0-255, float 0-1 or already normalised floats. RGB(A) becomes greyscale (ITU-R 601-2,
    as PIL converts), other sizes are resized to 28x28 (bilinear). Raises ValueError for empty, non-numeric or
    non-finite input and for unsupported shapes.
    """
    x = _to_array(images)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"images must be numeric (uint8 0-255 or float), got dtype {x.dtype}")
    x = _channels_last(x)
    if x.size == 0:
        raise ValueError(f"images is empty (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels; got shape {x.shape}")
    unit = _to_unit_range(x)
    if unit.shape[-1] > 1:  # RGB(A): the luma PIL's convert("L") uses
        unit = unit[..., :3] @ np.array([0.299, 0.587, 0.114])
    else:
        unit = unit[..., 0]
    t = torch.as_tensor(unit, dtype=torch.float32)
    if t.shape[1:] != (28, 28):
        t = torch.nn.functional.interpolate(t[:, None], size=(28, 28), mode="bilinear", antialias=True,
                                            align_corners=False)[:, 0]
    return ((t - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


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


PROXY_NAMES = ("jigsaw", "overlay", "pixel shuffle", "inverted")


def proxy_unknowns(images: np.ndarray, n: int = 2000, seed: int = SEED) -> dict[str, np.ndarray]:
    """Non-digits made from MNIST images alone, to choose a detector without looking at any OOD set.

    jigsaw: the 7x7 tiles of a digit shuffled; overlay: two digits superimposed (pixel maximum);
    pixel shuffle: a digit's pixels permuted; inverted: white background, black stroke.
    """
    rng = np.random.default_rng(seed)
    base = images[rng.choice(len(images), n, replace=False)]
    tiles = base.reshape(n, 4, 7, 4, 7).transpose(0, 1, 3, 2, 4).reshape(n, 16, 7, 7)
    tiles = np.take_along_axis(tiles, rng.permuted(np.tile(np.arange(16), (n, 1)), axis=1)[:, :, None, None], 1)
    jigsaw = tiles.reshape(n, 4, 4, 7, 7).transpose(0, 1, 3, 2, 4).reshape(n, 28, 28)
    pixels = rng.permuted(base.reshape(n, -1), axis=1).reshape(n, 28, 28)
    return {"jigsaw": jigsaw, "overlay": np.maximum(base, np.roll(base, 1, axis=0)),
            "pixel shuffle": pixels, "inverted": 255 - base}


CORRUPTIONS = ("rotate 15", "rotate 30", "shift 3 px", "noise 0.2", "noise 0.4", "blur", "inverted")


def corrupt(images: np.ndarray, kind: str, seed: int = SEED) -> np.ndarray:
    """MNIST digits under one corruption, still uint8 (N, 28, 28): rotations (degrees), a 3-pixel shift,
    Gaussian noise (sigma in 0-1 pixel units), a Gaussian blur (sigma 1 px) or inverted contrast."""
    from scipy.ndimage import gaussian_filter, rotate, shift

    x = images.astype(np.float64)
    if kind.startswith("rotate"):
        out = rotate(x, float(kind.split()[1]), axes=(1, 2), reshape=False, order=1)
    elif kind == "shift 3 px":
        out = shift(x, (0, 3, 3), order=0)
    elif kind.startswith("noise"):
        out = x + np.random.default_rng(seed).normal(0, 255 * float(kind.split()[1]), x.shape)
    elif kind == "blur":
        out = gaussian_filter(x, sigma=(0, 1, 1))
    elif kind == "inverted":
        out = 255 - x
    else:
        raise ValueError(f"unknown corruption {kind!r}; choose one of {CORRUPTIONS}")
    return np.clip(out, 0, 255).round().astype(np.uint8)
