"""Datasets for the OSR project: the MNIST splits, the OOD test sets, the proxy unknowns made from MNIST and
the corruptions of known digits.

Every set is held in memory in the raw MNIST form (uint8, shape (N, 28, 28), values 0-255);
`preprocess.normalize` turns such a batch into the network input. The data root comes from the
environment variable OSR_DATA_DIR (default: `data/` next to this file). Every set is read into one canonical
order whatever its source (torchvision's download or an offline copy), and carries the fingerprint of the data
it was made from, so that a run knows whether it saw the images the committed numbers come from. MNIST is
required; an OOD set that is missing is skipped with one line saying how to get it.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from preprocess import box_offsets, mass_offsets, shift, to_mnist_form

UNKNOWN = 10
SEED = 0
DATA_ENV = "OSR_DATA_DIR"
# Omniglot background was looked at while designing the best model: its two renderings are the development set,
# reported beside every aggregate, never inside one.
DEVELOPMENT = ("Omniglot dev (MNIST format)", "Omniglot dev (raw)")
OOD_NAMES = ("Fashion-MNIST", "CIFAR-10", "KMNIST", "notMNIST", "EMNIST letters", "SVHN", "Omniglot dev (MNIST format)",
             "Omniglot dev (raw)", "Gaussian noise", "Uniform noise")
# The source each OOD set is made from (both Omniglot renderings come from one); noise sets are made here.
SOURCE_OF = {"Fashion-MNIST": "Fashion-MNIST", "CIFAR-10": "CIFAR-10", "KMNIST": "KMNIST", "notMNIST": "notMNIST",
             "EMNIST letters": "EMNIST letters", "SVHN": "SVHN",
             "Omniglot dev (MNIST format)": "Omniglot", "Omniglot dev (raw)": "Omniglot"}
LETTERS = "abcdefghijklmnopqrstuvwxyz"  # EMNIST letters' labels 1-26
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# notMNIST has no torchvision loader: its MNIST-format files, from the repository's commit that added them, checked
# against the sha256 of the copy the committed numbers come from.
NOTMNIST_URL = ("https://raw.githubusercontent.com/davidflanagan/notMNIST-to-MNIST/"
                "c58c29ff93d7b8c809c449b380a232f9f39909fd/t10k-images-idx3-ubyte.gz")
NOTMNIST_SHA256 = "70ae9e06201f2827e5b0a3781a3169d735dd2efc69996b9eeaee7f10ed4044d7"
MNIST_PEN = 3.0  # px: MNIST's stroke width (ink area / skeleton length of binarised digits, measured)
OMNIGLOT_PEN = 5.5  # px at 105x105: Omniglot's, measured the same way (1.6 px once scaled into 20x20)
NOISE_COUNT = 2000
SEED_PROTOCOL_COUNT = 1000  # Fashion-MNIST and CIFAR-10 images each in the seeds' combined set

_SOURCES = {  # where a user gets each set, for the messages
    "MNIST": "torchvision.datasets.MNIST downloads it",
    "Fashion-MNIST": "torchvision.datasets.FashionMNIST downloads it into FashionMNIST/raw/",
    "KMNIST": "torchvision.datasets.KMNIST downloads it into KMNIST/raw/",
    "notMNIST": f"downloaded from {NOTMNIST_URL} into notMNIST/raw/",
    "CIFAR-10": "torchvision.datasets.CIFAR10 downloads it into cifar-10-batches-py/ (or JPEGs in "
                "CIFAR10-test-jpg/<class>/NNNN.jpg)",
    "Omniglot": "torchvision.datasets.Omniglot(background=True) downloads it into omniglot-py/ (or "
                "Omniglot/images_background.npz)",
    "EMNIST letters": "torchvision.datasets.EMNIST(split='letters') downloads it into EMNIST/raw/ (or a sample "
                      "in EMNIST/emnist_letters_test_sample.npz)",
    "SVHN": "torchvision.datasets.SVHN(split='test') downloads it into SVHN/",
}


class MissingDataError(FileNotFoundError):
    """A dataset is not under the data root and could not be downloaded."""


def data_root(root: str | Path | None = None) -> Path:
    """The data root: `root` when given, else $OSR_DATA_DIR, else `data/` in the project."""
    if root is None:
        root = os.environ.get(DATA_ENV, Path(__file__).resolve().parent / "data")
    return Path(root).expanduser()


def _root_origin(root: Path) -> str:
    """Where the data root came from, for error messages."""
    if DATA_ENV in os.environ and data_root() == root:
        return f"data root from ${DATA_ENV}={root}"
    if data_root() == root:
        return f"data root {root}: the default, since ${DATA_ENV} is not set"
    return f"data root {root}, as passed"


def _missing(name: str, root: Path, folder: Path, why: object = "") -> MissingDataError:
    """The error for a set that is not there, in one line: where it was looked for, how to get it, and the last
    line of what the download said."""
    lines = [line.strip() for line in str(why).splitlines() if line.strip()]
    return MissingDataError(
        f"{name} not found in {folder} ({_root_origin(root)}). Point {DATA_ENV} at a folder holding it, or get it "
        f"online: {_SOURCES[name]}." + (f" (download failed: {lines[-1]})" if lines else "")
    )


def _folders(root: Path) -> set[Path]:
    return {Path(folder) for folder, _, _ in os.walk(root)}


def _download(fetch, name: str, root: Path, folder: Path):
    """`fetch()` (a download into the root); if it fails (offline, a read-only root, a changed file), the
    folders it created are removed again, so that a root it could not fill is left as it was, and the error
    says what is missing and how to get it."""
    before = _folders(root)
    try:
        return fetch()
    except Exception as err:
        for made in sorted(_folders(root) - before, key=lambda f: len(f.parts), reverse=True):
            if not any(made.iterdir()):
                made.rmdir()
        raise _missing(name, root, folder, err) from err


def _torchvision_set(cls, name: str, train: bool, root: Path, **kwargs):
    """Read a torchvision dataset from the root, downloading only when it is absent."""
    try:
        return cls(str(root), train=train, download=False, **kwargs)
    except RuntimeError:
        pass
    return _download(lambda: cls(str(root), train=train, download=True, **kwargs), name, root, root / cls.__name__)


def _read_idx_gz(path: Path) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (MNIST format), gzipped or not; a file that is not one (wrong magic
    number, a size its header does not announce, a broken gzip stream) is a ValueError naming it."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError; a truncated stream an EOFError
        raise ValueError(f"{path} is not a readable IDX file ({err}): download it again") from err
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] not in (1, 3):  # magic: 0, 0, ubyte, dimensions
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic number {raw[:4].hex()}, "
                         f"expected 00000801 or 00000803): download it again")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != 4 + 4 * ndim + int(np.prod(shape)):
        raise ValueError(f"{path} holds {len(raw)} bytes where its header announces shape {shape}: "
                         f"truncated? download it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _download_checked(url: str, path: Path, sha: str) -> None:
    """Fetch `url` into `path` only if its sha256 is `sha` (a partial or foreign file never lands there)."""
    import hashlib
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as response:
        blob = response.read()
    if hashlib.sha256(blob).hexdigest() != sha:
        raise ValueError(f"{url} does not have the expected sha256 {sha}")
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.write_bytes(blob)
    part.replace(path)


def _idx_test_images(name: str, root: Path) -> np.ndarray:
    """The t10k images of an MNIST-format set (KMNIST, notMNIST) under <root>/<name>/raw/, downloaded if absent."""
    folder = root / name / "raw"
    for fname in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
        if (folder / fname).exists():
            return _read_idx_gz(folder / fname).copy()
    if name == "KMNIST":
        import torchvision

        _torchvision_set(torchvision.datasets.KMNIST, name, False, root)
    else:
        _download(lambda: _download_checked(NOTMNIST_URL, folder / "t10k-images-idx3-ubyte.gz", NOTMNIST_SHA256),
                  name, root, folder)
    return _idx_test_images(name, root)


def _fashion_mnist_test(root: Path) -> np.ndarray:
    import torchvision

    return _torchvision_set(torchvision.datasets.FashionMNIST, "Fashion-MNIST", False, root).data.numpy()


def _rgb(path: Path) -> np.ndarray:
    """One image file's pixels as RGB uint8, the file closed at once (10,000 open files exceed macOS's limit)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _cifar10_test(root: Path) -> np.ndarray:
    """CIFAR-10 test as RGB uint8 (10000, 32, 32, 3) in one canonical order, whatever the source: by class
    (CIFAR10_CLASSES, torchvision's label order), and within a class in the order of the official test batch.
    Read from torchvision's `cifar-10-batches-py/test_batch` (downloaded if nothing is there), else from a
    JPEG folder `CIFAR10-test-jpg/<class>/NNNN.jpg` (a lossy re-encoding whose pixels differ a little from the
    official ones; NNNN is taken to be the position within the class)."""
    batch, folder = root / "cifar-10-batches-py" / "test_batch", root / "CIFAR10-test-jpg"
    if not batch.exists() and folder.is_dir():
        paths = [p for cls in CIFAR10_CLASSES for p in sorted((folder / cls).glob("*.jpg"), key=lambda p: int(p.stem))]
        if not paths:
            raise _missing("CIFAR-10", root, folder)
        return np.stack([_rgb(p) for p in paths])
    if not batch.exists():
        import torchvision

        _torchvision_set(torchvision.datasets.CIFAR10, "CIFAR-10", False, root)
    import pickle

    with open(batch, "rb") as f:
        entry = pickle.load(f, encoding="latin1")  # the official file, as torchvision reads it
    order = np.argsort(entry["labels"], kind="stable")  # stable: the official order kept within each class
    return entry["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)[order]


def _omniglot_paper(root: Path) -> np.ndarray:
    """Omniglot background as bool (19280, 105, 105), True = paper, ordered by character number and drawer, as
    the official file names `<alphabet>/characterNN/CCCC_DD.png` give them (the npz is packed in that order):
    from `Omniglot/images_background.npz` if present, else torchvision's PNG tree (downloaded if absent), read
    by file name, whatever order the file system lists folders in."""
    path = root / "Omniglot" / "images_background.npz"
    if path.exists():
        return np.load(path)["images"].reshape(-1, 105, 105)
    tree = root / "omniglot-py" / "images_background"
    if not tree.is_dir():
        import torchvision

        _download(lambda: torchvision.datasets.Omniglot(str(root), background=True, download=True), "Omniglot",
                  root, path)
    pngs = sorted(tree.glob("*/*/*.png"), key=lambda p: p.name)
    if not pngs:
        raise _missing("Omniglot", root, tree)

    def paper(p: Path) -> np.ndarray:
        with Image.open(p) as image:
            return np.asarray(image.convert("1"))

    return np.stack([paper(p) for p in pngs])


def _emnist_letters_test(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """EMNIST letters test as uint8 (N, 28, 28) in MNIST's orientation, and its letters (1-26 = a-z), in the
    official order: torchvision's `EMNIST/raw/emnist-letters-test-*` (20,800 images; stored transposed, turned
    here; downloaded if neither file is there), else the offline sample `EMNIST/emnist_letters_test_sample.npz`
    (1,479 images of a-s, already turned)."""
    raw, sample = root / "EMNIST" / "raw", root / "EMNIST" / "emnist_letters_test_sample.npz"

    def official(kind: str) -> Path | None:
        names = (f"emnist-letters-test-{kind}-ubyte", f"emnist-letters-test-{kind}-ubyte.gz")
        return next((raw / name for name in names if (raw / name).exists()), None)

    if official("images-idx3") is None and sample.exists():
        with np.load(sample) as npz:
            return npz["images"], npz["labels"]
    if official("images-idx3") is None:
        import torchvision

        _torchvision_set(torchvision.datasets.EMNIST, "EMNIST letters", False, root, split="letters")
    images = _read_idx_gz(official("images-idx3")).transpose(0, 2, 1).copy()
    return images, _read_idx_gz(official("labels-idx1")).astype(np.int64)


def _svhn_test(root: Path) -> np.ndarray:
    """SVHN test (house numbers photographed in colour: digits, but not MNIST's, and unknown to this project as to
    seed B) as RGB uint8 (N, 32, 32, 3) in the file's order: torchvision's `SVHN/test_32x32.mat` (downloaded if
    absent)."""
    path = root / "SVHN" / "test_32x32.mat"
    if not path.exists():
        import torchvision

        _download(lambda: torchvision.datasets.SVHN(str(root / "SVHN"), split="test", download=True), "SVHN", root,
                  path.parent)
    from scipy.io import loadmat

    return np.ascontiguousarray(loadmat(path)["X"].transpose(3, 0, 1, 2))  # (32, 32, 3, N) in the file


@dataclass
class Source:
    """One OOD source as read, in its canonical order: its array, and its own labels where a view needs them
    (EMNIST's letters)."""

    data: np.ndarray
    classes: np.ndarray | None = None


_READERS = {"Fashion-MNIST": lambda root: Source(_fashion_mnist_test(root)),
            "CIFAR-10": lambda root: Source(_cifar10_test(root)),
            "KMNIST": lambda root: Source(_idx_test_images("KMNIST", root)),
            "notMNIST": lambda root: Source(_idx_test_images("notMNIST", root)),
            "EMNIST letters": lambda root: Source(*_emnist_letters_test(root)),
            "SVHN": lambda root: Source(_svhn_test(root)),
            "Omniglot": lambda root: Source(_omniglot_paper(root))}


def fingerprint(array: np.ndarray) -> str:
    """A short sha256 of an array's dtype, shape and bytes: the same set from any source has the same one."""
    import hashlib

    a = np.ascontiguousarray(array)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()[:16]


def sources(root: str | Path | None = None, say=print) -> dict[str, Source]:
    """The OOD sources found (or downloaded) under the root, each in its canonical order; a missing one is
    skipped with one line (through `say`) saying how to get it."""
    root, found = data_root(root), {}
    for name, read in _READERS.items():
        try:
            found[name] = read(root)
        except MissingDataError as err:
            say(f"skipped {name}: {err}")
    return found


def _thickened_box(ink: np.ndarray, rows: np.ndarray, cols: np.ndarray, long_side: int) -> np.ndarray:
    """The ink's bounding box, the ink dilated by a disk so the pen is MNIST_PEN wide once the long side is scaled
    to 20 px. Only the box and a margin of the disk's radius are dilated: what lies farther cannot reach the box."""
    from scipy.ndimage import binary_dilation

    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    radius = int(round(max(0.0, (MNIST_PEN * long_side / 20 - OMNIGLOT_PEN) / 2)))
    if radius == 0:
        return ink[top:bottom, left:right]
    y0, x0 = max(top - radius, 0), max(left - radius, 0)
    near = ink[y0: bottom + radius, x0: right + radius]
    yy, xx = np.mgrid[-radius: radius + 1, -radius: radius + 1]
    return binary_dilation(near, structure=xx**2 + yy**2 <= radius**2)[top - y0: bottom - y0, left - x0: right - x0]


def _scaled_box(ink: np.ndarray) -> np.ndarray:
    """One binary character's ink box with the pen thickened to MNIST's, scaled (anti-aliased, aspect kept) to fit
    20x20: float32 in 0-1; empty for a blank image."""
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if rows.size == 0:
        return np.zeros((0, 0), np.float32)
    long_side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    box = _thickened_box(ink, rows, cols, long_side).astype(np.float32)
    scale = 20 / long_side
    size = (max(1, round(box.shape[1] * scale)), max(1, round(box.shape[0] * scale)))
    return np.clip(np.asarray(Image.fromarray(box, mode="F").resize(size, Image.LANCZOS)), 0, 1)


def mnist_format_all(inks) -> np.ndarray:
    """Binary characters (True = ink; any iterable of 2-d arrays) rendered the way MNIST's digits were made:
    strokes thickened to MNIST's pen, the ink's bounding box scaled to fit 20x20 (`_scaled_box`), placed in 28x28
    so that its centre of mass is at the centre (the centres found in one batch). uint8 (N, 28, 28), white ink on
    black."""
    boxes = [_scaled_box(ink) for ink in inks]
    padded = np.zeros((len(boxes), 20, 20), np.float32)  # zeros below and right leave each centre where it is
    for i, box in enumerate(boxes):
        padded[i, : box.shape[0], : box.shape[1]] = box
    dy, dx = mass_offsets(torch.from_numpy(padded))
    out = np.zeros((len(boxes), 28, 28), np.float32)
    for i, box in enumerate(boxes):
        height, width = box.shape
        top, left = min(max(int(dy[i]), 0), 28 - height), min(max(int(dx[i]), 0), 28 - width)
        out[i, top: top + height, left: left + width] = box
    return np.round(out * 255).astype(np.uint8)


def mnist_format(ink: np.ndarray) -> np.ndarray:
    """`mnist_format_all` of one character: uint8 (28, 28)."""
    return mnist_format_all([ink])[0]


def omniglot(paper: np.ndarray) -> dict[str, np.ndarray]:
    """Omniglot background (964 characters x 20 writers, handwritten, none a digit; bool, True = paper), the
    near-OOD development set, in two renderings: "MNIST format" (`mnist_format`) and "raw" (105 -> 28 by area
    averaging, ink white, as drawn)."""
    ink = ~paper
    raw = np.stack([np.asarray(Image.fromarray(i.astype(np.uint8) * 255).resize((28, 28), Image.BOX)) for i in ink])
    return {"Omniglot dev (MNIST format)": mnist_format_all(ink), "Omniglot dev (raw)": raw}


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
    """Images in the raw MNIST form, their labels (0-9, or 10 for unknown), the fingerprint of the data they
    were made from (`fingerprint`), which says whether two runs saw the same images, and the set's own classes
    where a view needs them (EMNIST's letters, 1-26)."""

    images: np.ndarray
    labels: np.ndarray
    source: str = ""
    classes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


def unknown_split(images: np.ndarray, source: str = "", classes: np.ndarray | None = None) -> Split:
    return Split(images, np.full(len(images), UNKNOWN, dtype=np.int64), source, classes)


def mnist_splits(seed: int = SEED, root: str | Path | None = None) -> dict[str, Split]:
    """MNIST train (5/6) and validation (1/6), split with a fixed seed, and the official test set. MNIST is
    required: missing and impossible to download, it is a MissingDataError saying where to put it."""
    import torchvision

    train = _torchvision_set(torchvision.datasets.MNIST, "MNIST", True, data_root(root))
    images, labels = train.data.numpy(), train.targets.numpy().astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_val = len(labels) // 6
    val, tr = order[:n_val], order[n_val:]
    return {"train": Split(images[tr], labels[tr]), "val": Split(images[val], labels[val]), "test": mnist_test(root)}


def mnist_test(root: str | Path | None = None) -> Split:
    """The official 10,000 MNIST test digits with their fingerprint, read without the training files."""
    import torchvision

    test = _torchvision_set(torchvision.datasets.MNIST, "MNIST", False, data_root(root))
    images = test.data.numpy()
    return Split(images, test.targets.numpy().astype(np.int64), fingerprint(images))


def _as_is(images: np.ndarray) -> np.ndarray:
    return images


def _greyscale_28(rgb: np.ndarray) -> np.ndarray:
    """Colour images (N, H, W, 3) as MNIST-form uint8 (N, 28, 28), one by one through `to_mnist_form`."""
    return np.stack([to_mnist_form(Image.fromarray(image)) for image in rgb])


def ood_sets(root: str | Path | None = None, say=print) -> dict[str, Split]:
    """The OOD test sets found under the root (or downloaded), every label 10, in OOD_NAMES order; a missing one
    is skipped with one line saying how to get it (`sources`)."""
    found = sources(root, say)
    made = {"Fashion-MNIST": _as_is, "CIFAR-10": _greyscale_28, "KMNIST": _as_is, "notMNIST": _as_is,
            "EMNIST letters": _as_is, "SVHN": _greyscale_28}
    sets = {name: unknown_split(make(found[name].data), fingerprint(found[name].data), found[name].classes)
            for name, make in made.items() if name in found}
    if "Omniglot" in found:
        sets |= {name: unknown_split(images, fingerprint(found["Omniglot"].data))
                 for name, images in omniglot(found["Omniglot"].data).items()}
    for kind in ("gaussian", "uniform"):
        images = noise_images(kind)
        sets[f"{kind.capitalize()} noise"] = unknown_split(images, fingerprint(images))
    return {name: sets[name] for name in OOD_NAMES if name in sets}


def fingerprints(root: str | Path | None = None) -> dict[str, str]:
    """Each test set's fingerprint as `ood_sets` and `mnist_splits` would give it, without rendering anything:
    what a run on this data root would be compared with (a few seconds)."""
    found = {name: fingerprint(s.data) for name, s in sources(root, say=lambda _: None).items()}
    made = {f"{kind.capitalize()} noise": fingerprint(noise_images(kind)) for kind in ("gaussian", "uniform")}
    return {"MNIST test": mnist_test(root).source,
            **{name: found[SOURCE_OF[name]] for name in OOD_NAMES if SOURCE_OF.get(name) in found}, **made}


def seed_protocol_indices(sets: dict[str, Split], seed: int = SEED) -> dict[str, np.ndarray]:
    """The seeds' combined set as indices: all of MNIST test + a fixed 1,000 Fashion-MNIST + 1,000 CIFAR-10 (of
    those present; a missing one takes its draw all the same, so the other's images stay the same)."""
    rng = np.random.default_rng(seed)
    picks = {"MNIST test": np.arange(len(sets["MNIST test"]))}
    for name in ("Fashion-MNIST", "CIFAR-10"):
        pick = np.sort(rng.choice(len(sets[name]) if name in sets else 10000, SEED_PROTOCOL_COUNT, replace=False))
        if name in sets:
            picks[name] = pick
    return picks


PROXY_NAMES = ("jigsaw", "overlay", "pixel shuffle", "inverted", "chimera", "mirrored", "quarter turn")
MIRRORED = (3, 4, 6, 7, 9)  # digits whose mirror image is no digit (0, 1, 8 stay themselves; 2 and 5 swap looks)
TURNED = (1, 2, 3, 4, 5, 6, 7, 9)  # digits that a quarter turn makes into no digit (0 and 8 stay round)


def proxy_unknowns(digits: Split, n: int = 2000, seed: int = SEED) -> dict[str, np.ndarray]:
    """Non-digits made from MNIST digits alone, to choose a detector without looking at any OOD set.

    Far from the digits: jigsaw (the 7x7 tiles of a digit shuffled), overlay (two digits superimposed, pixel
    maximum), pixel shuffle (a digit's pixels permuted), inverted (white background, black stroke). Near them,
    in MNIST's own pen and format, as unknown handwriting is: chimera (the top half of one digit over the bottom
    half of a digit of another class), mirrored (digits of MIRRORED flipped left-right), quarter turn (digits
    of TURNED turned 90 degrees either way).
    """
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(digits), n, replace=False)
    base, labels = digits.images[pick], digits.labels[pick]
    tiles = base.reshape(n, 4, 7, 4, 7).transpose(0, 1, 3, 2, 4).reshape(n, 16, 7, 7)
    tiles = np.take_along_axis(tiles, rng.permuted(np.tile(np.arange(16), (n, 1)), axis=1)[:, :, None, None], 1)
    jigsaw = tiles.reshape(n, 4, 4, 7, 7).transpose(0, 1, 3, 2, 4).reshape(n, 28, 28)
    pixels = rng.permuted(base.reshape(n, -1), axis=1).reshape(n, 28, 28)
    other = rng.permutation(n)
    chimera = np.concatenate([base[:, :14], base[other, 14:]], axis=1)[labels != labels[other]]
    turnable = base[np.isin(labels, TURNED)]
    turns = np.where(rng.integers(0, 2, len(turnable))[:, None, None] == 1,
                     np.rot90(turnable, 1, axes=(1, 2)), np.rot90(turnable, 3, axes=(1, 2)))
    return {"jigsaw": jigsaw, "overlay": np.maximum(base, np.roll(base, 1, axis=0)),
            "pixel shuffle": pixels, "inverted": 255 - base, "chimera": chimera,
            "mirrored": base[np.isin(labels, MIRRORED), :, ::-1].copy(), "quarter turn": turns}


# Inverted contrast is not among them: the input contract is MNIST's white ink on black, and an inverted digit
# is one of the proxy unknowns (`proxy_unknowns`); one transform cannot be both a known and an unknown.
CORRUPTIONS = ("rotate 15", "rotate 30", "shift 1 px", "shift 2 px", "shift 3 px", "box-centred", "noise 0.2",
               "noise 0.4", "blur")


def centre_by_box(images: np.ndarray) -> np.ndarray:
    """Each digit moved by whole pixels so that its ink's bounding box, not its centre of mass as in MNIST, is
    centred: a 1-2 px move, the way many other digit pipelines centre."""
    x = torch.from_numpy(images)
    return shift(x, *box_offsets(x > 0)).numpy()


def corrupt(images: np.ndarray, kind: str, seed: int = SEED) -> np.ndarray:
    """MNIST digits under one corruption, still uint8 (N, 28, 28): rotations (degrees), a shift by 1-3 pixels
    down and right, centring by bounding box, Gaussian noise (sigma in 0-1 pixel units), a Gaussian blur (sigma
    1 px)."""
    from scipy.ndimage import gaussian_filter, rotate

    x = images.astype(np.float64)
    if kind.startswith("rotate"):
        out = rotate(x, float(kind.split()[1]), axes=(1, 2), reshape=False, order=1)
    elif kind.startswith("shift"):
        step = torch.full((len(images),), int(kind.split()[1]))
        out = shift(torch.from_numpy(x), step, step).numpy()
    elif kind == "box-centred":
        out = centre_by_box(images).astype(np.float64)
    elif kind.startswith("noise"):
        out = x + np.random.default_rng(seed).normal(0, 255 * float(kind.split()[1]), x.shape)
    elif kind == "blur":
        out = gaussian_filter(x, sigma=(0, 1, 1))
    else:
        raise ValueError(f"unknown corruption {kind!r}; choose one of {CORRUPTIONS}")
    return np.clip(out, 0, 255).round().astype(np.uint8)
