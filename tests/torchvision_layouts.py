"""torchvision's on-disk layouts, written from the offline copies in ../shared/data: what a grader's data root looks
like after torchvision's downloads (CIFAR-10's official batch file, Omniglot's PNG tree, no notMNIST), so that
the tests can play that machine offline."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

import data

# 30 names for the alphabet folders; the characters are dealt to them in order (the real alphabet sizes vary;
# the reader must not care, as it reads by file name).
ALPHABETS = [f"Alphabet_{i:02d}" for i in range(30)]


def omniglot_png_tree(paper: np.ndarray, root: Path, seed: int = 0) -> Path:
    """Omniglot background (bool (964 * 20, 105, 105), True = paper, in the npz's order) as torchvision's
    `omniglot-py/images_background/<alphabet>/characterNN/CCCC_DD.png`, folders and files created in a shuffled
    order (so that a reader listing them in directory order gets a shuffled set)."""
    rng = np.random.default_rng(seed)
    tree = root / "omniglot-py" / "images_background"
    characters = paper.reshape(-1, 20, 105, 105)
    folders = np.array_split(np.arange(len(characters)), len(ALPHABETS))
    for a in rng.permutation(len(ALPHABETS)):
        for c in rng.permutation(len(folders[a])):
            number = folders[a][c]
            folder = tree / ALPHABETS[a] / f"character{c + 1:02d}"
            folder.mkdir(parents=True)
            for d in rng.permutation(20):
                Image.fromarray(characters[number, d]).save(folder / f"{number + 1:04d}_{d + 1:02d}.png")
    return tree


def cifar10_batch(rgb: np.ndarray, root: Path, seed: int = 0, perturb: bool = False) -> np.ndarray:
    """CIFAR-10 test (RGB (10000, 32, 32, 3) in the canonical class-major order) as torchvision's
    `cifar-10-batches-py/test_batch`, the classes interleaved at random as in the official file, each class's
    images kept in their order. With perturb, every pixel value moves by -1, 0 or +1 (other pixels, as the
    official files' are than the JPEG copy's). Returns the canonical array the file holds."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), len(rgb) // 10)
    if perturb:
        rgb = np.clip(rgb.astype(np.int16) + rng.integers(-1, 2, rgb.shape), 0, 255).astype(np.uint8)
    sequence = rng.permutation(labels)  # the file's labels: 1,000 of each class, interleaved
    order = np.empty(len(labels), np.int64)  # file position -> canonical index, each class in its order
    for k in range(10):
        order[sequence == k] = np.flatnonzero(labels == k)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    entry = {"data": rgb[order].transpose(0, 3, 1, 2).reshape(len(rgb), -1), "labels": sequence.tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(entry))
    return rgb


def idx_gz(path: Path, array: np.ndarray) -> None:
    """An array of unsigned bytes as a gzipped IDX file (MNIST's format)."""
    import gzip

    header = b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + np.ascontiguousarray(array, np.uint8).tobytes()))


def emnist_raw(images: np.ndarray, letters: np.ndarray, root: Path) -> None:
    """EMNIST letters (upright, as MNIST's) as torchvision's `EMNIST/raw/emnist-letters-test-*-ubyte.gz`, the
    images stored transposed as in the official files."""
    raw = root / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    idx_gz(raw / "emnist-letters-test-images-idx3-ubyte.gz", images.transpose(0, 2, 1))
    idx_gz(raw / "emnist-letters-test-labels-idx1-ubyte.gz", letters)


def grader_root(shared: Path, root: Path, perturb_cifar: bool = True) -> Path:
    """A data root as torchvision's downloads leave it, from the offline copies: MNIST, Fashion-MNIST and KMNIST
    (links to the same IDX files), CIFAR-10's batch file, Omniglot's PNG tree, EMNIST's IDX files (of the offline
    sample), and no notMNIST."""
    for name in ("MNIST", "FashionMNIST", "KMNIST"):
        (root / name).mkdir(parents=True)
        (root / name / "raw").symlink_to((shared / name / "raw").resolve())
    cifar10_batch(data._cifar10_test(shared), root, perturb=perturb_cifar)
    omniglot_png_tree(data._omniglot_paper(shared), root)
    emnist_raw(*data._emnist_letters_test(shared), root)
    return root
