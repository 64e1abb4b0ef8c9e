"""Scoring for open-set recognition: reconstruction L2 norm, Otsu binary diff, thresholds, decision, accuracy.

Scores are oriented "higher = more unknown". Inputs are batches shaped (N, 1, 28, 28) or (N, 28, 28),
as numpy arrays or torch tensors, in whatever space the autoencoder reconstructs (here: MNIST-normalised).
"""
from __future__ import annotations

import numpy as np
import torch
from skimage.filters import threshold_otsu

UNKNOWN = 10


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


def otsu_binary(image: np.ndarray) -> np.ndarray:
    """One image binarised at its own Otsu threshold (pixels above it are True)."""
    return image > threshold_otsu(image)


def otsu_diff(x: np.ndarray | torch.Tensor, recon: np.ndarray | torch.Tensor) -> np.ndarray:
    """Per-image count of pixels where the Otsu-binarised input and reconstruction differ."""
    xs, rs = _as_images(x), _as_images(recon)
    return np.array([np.count_nonzero(otsu_binary(a) != otsu_binary(b)) for a, b in zip(xs, rs)], dtype=np.float64)


def fit_threshold(scores: np.ndarray, z: float = 3.0) -> float:
    """mean + z * std of in-distribution scores (the seeds' rule), as a plain float."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 or not np.all(np.isfinite(scores)):
        raise ValueError("fit_threshold needs a non-empty array of finite scores")
    return float(scores.mean() + z * scores.std())


def osr_decision(digits: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Open-set labels: the classifier's digit, or UNKNOWN (10) where the score exceeds the threshold."""
    return np.where(np.asarray(scores) > threshold, UNKNOWN, np.asarray(digits)).astype(np.int64)


def osr_accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """OSR accuracy in % on known images, on unknown images, in total, and binary known/unknown."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    known = labels != UNKNOWN
    correct = preds == labels
    binary = (preds == UNKNOWN) == (labels == UNKNOWN)

    def pct(mask: np.ndarray) -> float:
        return float(100.0 * mask.mean()) if mask.size else float("nan")

    return {
        "known": pct(correct[known]),
        "unknown": pct(correct[~known]),
        "total": pct(correct),
        "binary": pct(binary),
    }
