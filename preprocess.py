"""The one input pipeline: any plausible image input -> the network input, a normalised (N, 1, 28, 28) tensor.

`prepare` validates a whole input once without copying it (dtype, shape, value range); `Images.tensor` then
converts any slice of it, so `batched` streams large inputs batch by batch with a memory cost per batch only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
MNIST_CENTRE = 14.0  # where MNIST puts a digit's centre of mass, in pixel indices (measured: 14.0 +- 0.5)
TIE = 1e-6  # px: how close to a half pixel a centre must be to count as exactly on it (see `whole_pixels`)
# The pipeline's batches are float64 (exact normalisation and whole-pixel moves); each network casts them to its
# own inference dtype (models.FAST / models.FLOAT64).
DTYPE = torch.float64
BATCH = 128  # inference batch: small enough that a layer's activations stay in cache (larger ones ran slower)
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as PIL's convert("L")


def to_mnist_form(image: Image.Image) -> np.ndarray:
    """Greyscale, 28x28 (bilinear), uint8: how every non-MNIST image enters the pipeline."""
    return np.asarray(image.convert("L").resize((28, 28), Image.BILINEAR), dtype=np.uint8)


def _to_array(images) -> np.ndarray:
    """numpy view of a numpy array, torch tensor, PIL image or list of PIL images."""
    if isinstance(images, Image.Image):  # as lists of them: any mode (palette, RGBA...) through PIL's own "L"
        return to_mnist_form(images)
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], Image.Image):
        return np.stack([to_mnist_form(im) for im in images])
    if isinstance(images, torch.Tensor):
        return images.detach().cpu().numpy()
    return np.asarray(images)


def _channels_last(x: np.ndarray, tensor: bool = False) -> np.ndarray:
    """Any accepted layout as a (N, H, W, C) view: a single image (H, W) or (H, W, C); a batch (N, H, W),
    (N, C, H, W) or (N, H, W, C), with C = 1 (grey), 3 (RGB) or 4 (RGBA). A 3-d array whose last axis is a
    channel count and whose first is not (e.g. (28, 28, 1), (28, 28, 3)) is one image; else a batch of grey
    images (N, H, W), as README documents for arrays. A 3-d torch tensor whose first axis is 3 or 4 is refused
    as ambiguous: torchvision's ToTensor gives one RGB image as (3, H, W), a batch of grey images looks the same."""
    if x.ndim == 2:
        return x[None, :, :, None]
    if x.ndim == 3:
        if x.shape[-1] in (1, 3, 4) and x.shape[0] > 4:
            return x[None]
        if tensor and x.shape[0] in (3, 4):
            n = x.shape[0]
            raise ValueError(f"a tensor of shape {tuple(x.shape)} is ambiguous: one {n}-channel image (C, H, W) or "
                             f"{n} grey images (N, H, W)? Pass one colour image as (1, {n}, H, W), or grey images "
                             f"as ({n}, 1, H, W)")
        return x[..., None]
    if x.ndim == 4:
        return x.transpose(0, 2, 3, 1) if x.shape[1] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4) else x
    raise ValueError(f"images must have 2 to 4 dimensions (H, W), (N, H, W) or (N, C, H, W); got shape {x.shape}")


def _value_rule(x: np.ndarray) -> str:
    """How the pixel values map to 0-1, decided once for the whole input from its minimum and maximum:
    '255' (integers, or floats above 1), 'unit' (floats in 0-1) or 'normalised' (floats with negatives)."""
    lo, hi = x.min(), x.max()  # NaN propagates into both, and inf shows in one: no full-size mask needed
    if np.issubdtype(x.dtype, np.integer):
        if lo < 0 or hi > 255:
            raise ValueError("integer images must hold values 0-255")
        return "255"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("images contain NaN or infinite values")
    rule = "normalised" if lo < 0 else "255" if hi > 1 else "unit"
    unit_lo, unit_hi = (_to_unit(np.array([lo, hi], np.float64), rule))
    if unit_lo < -1e-3 or unit_hi > 1 + 1e-3:
        raise ValueError("float images must be 0-1, 0-255, or MNIST-normalised ((x/255 - 0.1307) / 0.3081)")
    return rule


def _to_unit(x: np.ndarray, rule: str) -> np.ndarray:
    """Pixel values as float64 in 0-1 (not yet clipped) under a rule of `_value_rule`."""
    x = x.astype(np.float64)
    if rule == "255":
        return x / 255.0
    if rule == "normalised":
        return x * MNIST_STD + MNIST_MEAN  # undo the MNIST normalisation
    return x


@dataclass(frozen=True)
class Images:
    """A validated input: the caller's pixels as a (N, H, W, C) view and the rule that maps them to 0-1."""

    pixels: np.ndarray
    rule: str

    def __len__(self) -> int:
        return len(self.pixels)

    def tensor(self, start: int = 0, stop: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Images start..stop as the network input: greyscale, 28x28, MNIST-normalised, (n, 1, 28, 28)."""
        unit = np.clip(_to_unit(self.pixels[start:stop], self.rule), 0.0, 1.0)
        unit = unit[..., :3] @ _LUMA if unit.shape[-1] > 1 else unit[..., 0]
        t = torch.as_tensor(unit, dtype=torch.float64)
        if t.shape[1:] != (28, 28):
            t = torch.nn.functional.interpolate(t[:, None], size=(28, 28), mode="bilinear", antialias=True,
                                                align_corners=False)[:, 0]
        return ((t - MNIST_MEAN) / MNIST_STD).unsqueeze(1).to(dtype)


def prepare(images) -> Images:
    """Validate any plausible image input without converting it; raises ValueError saying what is wrong.

    Accepts a numpy array, torch tensor, PIL image or list of PIL images; one image or a batch, with or without
    a channel axis; integers 0-255, floats 0-1, floats 0-255 or already normalised floats. RGB(A) becomes
    greyscale, other sizes are resized to 28x28. Refused: empty, non-numeric, boolean or non-finite input,
    out-of-range values and unsupported shapes.
    """
    x = _to_array(images)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"images must be numeric (uint8 0-255 or float), got dtype {x.dtype}")
    x = _channels_last(x, tensor=isinstance(images, torch.Tensor))
    if x.size == 0:
        raise ValueError(f"images is empty (shape {x.shape})")
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels; got shape {x.shape}")
    return Images(x, _value_rule(x))


def normalize(images, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Any plausible image input (see `prepare`) -> the network input for all of it at once (for training)."""
    return prepare(images).tensor(dtype=dtype)


def whole_pixels(offset):
    """Offsets (numpy, torch or float) rounded to whole pixels, a half pixel always down. A symmetric shape's
    centre of mass falls exactly on a half pixel, where plain rounding would follow the last bits of the float
    sums, and those depend on the CPU's kernels (seen: Omniglot characters that moved one pixel under MKL's AVX2
    kernels and not under AVX-512). Anything within TIE of a half pixel counts as on it."""
    return (offset + 0.5 - TIE) // 1


def shift(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Each image of an (N, H, W) batch moved by whole pixels, dy[i] down and dx[i] right, the uncovered border
    filled with `fill`: the one way pixels are moved here (values copied, never interpolated)."""
    n, h, w = images.shape
    dy, dx = dy.long().clamp(-h, h), dx.long().clamp(-w, w)
    padded = torch.nn.functional.pad(images, (w, w, h, h), value=fill)
    rows = torch.arange(h, device=images.device) + h - dy[:, None]
    cols = torch.arange(w, device=images.device) + w - dx[:, None]
    return padded[torch.arange(n, device=images.device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def mass_offsets(ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image of an (N, H, W) batch of non-negative ink, the whole-pixel (dy, dx) that brings its centre of
    mass to MNIST_CENTRE (`whole_pixels`); (0, 0) for a blank image."""
    ink = ink.double()
    mass = ink.sum((1, 2))
    blank = mass == 0
    safe = torch.where(blank, 1.0, mass)

    def offset(profile: torch.Tensor) -> torch.Tensor:
        centre = profile @ torch.arange(profile.shape[1], dtype=ink.dtype, device=ink.device) / safe
        return torch.where(blank, 0.0, whole_pixels(MNIST_CENTRE - centre)).long()

    return offset(ink.sum(2)), offset(ink.sum(1))


def box_offsets(ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image of an (N, H, W) boolean batch, the whole-pixel (dy, dx) that centres its ink's bounding box
    (exact halves to even, as Python rounds); (0, 0) for a blank image."""
    def offset(along: torch.Tensor) -> torch.Tensor:
        size = along.shape[1]
        idx = torch.arange(size, device=along.device)
        first = torch.where(along, idx, size).min(1).values
        last = torch.where(along, idx, -1).max(1).values
        return torch.where(along.any(1), torch.round((size - 1 - first - last) / 2), 0.0).long()

    return offset(ink.any(2)), offset(ink.any(1))


def centre_by_mass(x: torch.Tensor) -> torch.Tensor:
    """A normalised batch with each image moved by whole pixels so that its ink's centre of mass sits where
    MNIST's digits have it (MNIST_CENTRE): MNIST's own canonical position, so a digit moved or centred by its
    bounding box is read where it was made. Whole pixels keep every value exact; blank images stay put."""
    background = -MNIST_MEAN / MNIST_STD
    dy, dx = mass_offsets((x[:, 0] - background).clamp_min(0))  # ink in 0-1, scaled by 1/STD: same centre
    if x.device.type == "cpu" and not (dy.any() or dx.any()):  # MNIST's own digits: nothing to move (a GPU
        return x  # would wait for this answer; there the move is cheaper than the wait)
    return shift(x[:, 0], dy, dx, background).unsqueeze(1)


@torch.inference_mode()
def batched(fn, images, desc: str | None = None, centre: bool = False, device: str | torch.device = "cpu"
            ) -> dict[str, np.ndarray]:
    """fn (normalised DTYPE batch on `device` -> dict of per-image tensors, on any device, or numpy arrays) over
    all images, in order, its results brought to numpy here, once; with centre, each batch is first moved by
    `centre_by_mass`. The input is validated once and converted one batch at a time,
    and results are written into arrays allocated once, so memory grows with the batch and the results, not
    with the input."""
    x = prepare(images)

    def batch(i: int) -> torch.Tensor:
        t = x.tensor(i, i + BATCH, DTYPE).to(device)
        return centre_by_mass(t) if centre else t

    out: dict[str, np.ndarray] = {}
    for i in tqdm(range(0, len(x), BATCH), desc=desc, unit="batch", disable=desc is None):
        part = {k: v.cpu().numpy() if torch.is_tensor(v) else v for k, v in fn(batch(i)).items()}
        if not out:  # the results' arrays for the whole input, allocated once: no per-batch pieces are kept
            out = {k: np.empty((len(x),) + v.shape[1:], v.dtype) for k, v in part.items()}
        for k, v in part.items():
            out[k][i: i + len(v)] = v
    return out
