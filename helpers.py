"""The card's scoring for open-set recognition: reconstruction L2 norm, Otsu binary diff, thresholds, decision.

Scores are oriented "higher = more unknown"; the metrics that judge them are in `metrics`. Inputs are batches shaped (N, 1, 28, 28) or (N, 28, 28),
as numpy arrays or torch tensors, in whatever space the autoencoder reconstructs (here: MNIST-normalised).
"""
from __future__ import annotations

import numpy as np
import torch

from data import UNKNOWN


def _as_images(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """A batch as float64 numpy (N, 28, 28)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), x.shape[-2], x.shape[-1])


def l2_norm(x: np.ndarray | torch.Tensor, recon: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image L2 norm of input minus reconstruction."""
    diff = _as_images(x) - _as_images(recon)
    return np.sqrt((diff**2).sum(axis=(1, 2)))


def otsu_thresholds(images: np.ndarray, nbins: int = 256) -> np.ndarray:
    """`skimage.filters.threshold_otsu` of every image of a batch (N, H, W) at once, bit for bit the same.

    It repeats skimage's steps (numpy's 256-bin histogram over each image's range, then the threshold that
    maximises the between-class variance) on all images together: 20-50x faster than a loop over skimage.
    """
    x = _as_images(images).reshape(len(images), -1)
    n, rows = len(x), np.arange(len(x))
    lo, hi = x.min(1), x.max(1)
    flat = lo == hi  # skimage returns a constant image's value
    hi = np.where(flat, lo + 1.0, hi)
    edges = np.linspace(lo, hi, nbins + 1, axis=1)
    # np.histogram's bin index, with its corrections for values within an ulp of a bin edge
    idx = ((x - lo[:, None]) / (hi - lo)[:, None] * nbins).astype(np.intp)
    idx[idx == nbins] -= 1
    idx[x < np.take_along_axis(edges, idx, 1)] -= 1
    idx[(x >= np.take_along_axis(edges, idx + 1, 1)) & (idx != nbins - 1)] += 1
    counts = np.bincount((idx + rows[:, None] * nbins).ravel(), minlength=n * nbins).reshape(n, nbins)
    centers = (edges[:, :-1] + edges[:, 1:]) / 2.0
    weight1 = np.cumsum(counts, 1)
    weight2 = np.cumsum(counts[:, ::-1], 1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):  # only flat images divide by zero; they are replaced
        mean1 = np.cumsum(counts * centers, 1) / weight1
        mean2 = (np.cumsum((counts * centers)[:, ::-1], 1) / weight2[:, ::-1])[:, ::-1]
    variance12 = weight1[:, :-1] * weight2[:, 1:] * (mean1[:, :-1] - mean2[:, 1:]) ** 2
    return np.where(flat, lo, centers[rows, np.argmax(variance12, 1)])


def otsu_diff(x: np.ndarray | torch.Tensor, recon: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image count of pixels where the Otsu-binarised input and reconstruction differ
    (each image binarised at its own Otsu threshold: pixels above it are foreground)."""
    xs, rs = _as_images(x), _as_images(recon)
    bx = xs > otsu_thresholds(xs)[:, None, None]
    br = rs > otsu_thresholds(rs)[:, None, None]
    return np.count_nonzero(bx != br, axis=(1, 2)).astype(np.float64)


def _finite(scores: np.ndarray, who: str) -> np.ndarray:
    """Scores as float64, refused when empty or not all finite (a threshold fitted on them would be meaningless)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError(f"{who} needs a non-empty array of finite scores")
    return scores


def fit_threshold(scores: np.ndarray, z: float = 3.0) -> float:
    """mean + z * std of in-distribution scores (the seeds' rule), as a plain float."""
    scores = _finite(scores, "fit_threshold")
    return float(scores.mean() + z * scores.std())


def quantile_threshold(scores: np.ndarray, rate: float = 0.01) -> float:
    """The score above which a share `rate` of in-distribution scores lies (the best model's rule: its scores
    combine detectors of different tails, which mean + z std would weigh unevenly)."""
    if not 0 < rate < 1:
        raise ValueError(f"quantile_threshold needs 0 < rate < 1, got {rate}")
    return float(np.quantile(_finite(scores, "quantile_threshold"), 1 - rate))


def osr_decision(digits: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Open-set labels: the classifier's digit, or UNKNOWN (10) where the score exceeds the threshold."""
    return np.where(np.asarray(scores) > threshold, UNKNOWN, np.asarray(digits)).astype(np.int64)
