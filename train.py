"""Training of the networks, threshold fitting on the MNIST validation split, and the weights manifest.

Run `python train.py` to retrain everything and rewrite weights/ (about 10 minutes on 2 CPU cores).
Only MNIST train is used for fitting, MNIST validation for checkpoint selection and thresholds.
"""
from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

import helpers
from data import SEED, Split, mnist_splits, normalize
from models import Autoencoder, ConvNet, ReconstructionDetector, sha256

WEIGHTS = Path(__file__).resolve().parent / "weights"
EPOCHS = {"classifier": 10, "autoencoder": 15}
Z = 3.0


def set_seed(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 10.0, translate: float = 0.08,
                  scale: tuple[float, float] = (0.9, 1.1), shear: float = 0.0) -> torch.Tensor:
    """Each image of a normalised batch rotated, sheared, scaled and shifted at random (bilinear, border fill)."""
    n = len(x)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    angle, s, sh = torch.deg2rad(uniform(-degrees, degrees)), uniform(*scale), uniform(-shear, shear)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([  # s * rotation @ shear, plus a shift (affine_grid's coordinates span 2 per side)
        torch.stack([s * cos, s * (cos * sh - sin), 2 * uniform(-translate, translate)], 1),
        torch.stack([s * sin, s * (sin * sh + cos), 2 * uniform(-translate, translate)], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def classifier_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cross-entropy and the number of correct predictions."""
    logits = net(x)
    return F.cross_entropy(logits, y), int((logits.argmax(1) == y).sum())


def autoencoder_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """Pixel MSE of the reconstruction (labels unused)."""
    return F.mse_loss(net(x), x), None


def _run_epoch(net, loss_fn, x, y, batch_size, optimizer=None, generator=None, augment=None
               ) -> tuple[float, float | None]:
    """One pass over (x, y): trains (augmenting each batch) when an optimizer is given; mean loss, accuracy or None."""
    net.train(optimizer is not None)
    order = torch.randperm(len(x), generator=generator) if optimizer else torch.arange(len(x))
    total_loss, correct = 0.0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for i in range(0, len(x), batch_size):
            idx = order[i: i + batch_size]
            xb = augment(x[idx], generator) if optimizer and augment else x[idx]
            loss, n_correct = loss_fn(net, xb, y[idx])
            if optimizer:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(idx)
            correct = None if n_correct is None else correct + n_correct
    return total_loss / len(x), None if correct is None else 100.0 * correct / len(x)


def train_network(net: nn.Module, loss_fn, train: Split, val: Split, epochs: int, name: str, augment=None,
                  lr: float = 1e-3, batch_size: int = 128, seed: int = SEED) -> tuple[nn.Module, dict]:
    """Adam with a cosine learning-rate decay and a per-epoch history; keeps the best validation epoch
    (accuracy, else loss). `augment(batch, generator)` transforms training batches only."""
    set_seed(seed)
    xt, yt = normalize(train.images), torch.as_tensor(train.labels)
    xv, yv = normalize(val.images), torch.as_tensor(val.labels)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    history = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    best, best_state, best_epoch = -np.inf, None, 0
    start = time.perf_counter()
    for epoch in (bar := tqdm(range(1, epochs + 1), desc=name, unit="epoch")):
        tl, ta = _run_epoch(net, loss_fn, xt, yt, batch_size, optimizer, generator, augment)
        schedule.step()
        vl, va = _run_epoch(net, loss_fn, xv, yv, 4 * batch_size)
        for k, v in zip(history, (tl, vl, ta, va)):
            history[k].append(v)
        quality = va if va is not None else -vl
        if quality > best:
            best, best_state, best_epoch = quality, copy.deepcopy(net.state_dict()), epoch
        bar.set_postfix(val_loss=f"{vl:.4f}", **({"val_acc": f"{va:.2f}"} if va is not None else {}))
    net.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, epochs=epochs, seconds=time.perf_counter() - start)
    return net.eval(), history


def save_network(net: nn.Module, fname: str, history: dict, weights_dir: Path) -> dict:
    """Write the state_dict; return its manifest entry."""
    path = weights_dir / fname
    torch.save(net.state_dict(), path)
    best = history["best_epoch"] - 1
    val = {"val_loss": float(history["val_loss"][best])}
    if history["val_acc"][best] is not None:
        val["val_acc"] = float(history["val_acc"][best])
    return {"sha256": sha256(path), "epochs": history["epochs"], "best_epoch": history["best_epoch"],
            "train_seconds": round(history["seconds"], 1), "validation": val}


def fit_reconstruction_thresholds(autoencoder: Autoencoder, val: Split, z: float = Z) -> dict[str, float]:
    """mean + z*std of the L2 norm and the Otsu diff over the MNIST validation split."""
    raw = ReconstructionDetector(autoencoder, {}).raw_scores(normalize(val.images))
    return {"l2": helpers.fit_threshold(raw["l2"], z), "otsu": helpers.fit_threshold(raw["otsu"], z), "z": z}


def main(weights_dir: Path = WEIGHTS, epochs: dict[str, int] = EPOCHS) -> dict:
    """Train every network, fit thresholds, rewrite weights_dir (state_dicts, history.json, manifest.json)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    splits = mnist_splits()
    torch.manual_seed(SEED)
    classifier, h_clf = train_network(ConvNet(), classifier_loss, splits["train"], splits["val"],
                                      epochs["classifier"], "classifier", augment=random_affine)
    autoencoder, h_ae = train_network(Autoencoder(), autoencoder_loss, splits["train"], splits["val"],
                                      epochs["autoencoder"], "autoencoder")
    manifest = {
        "seed": SEED,
        "files": {
            "classifier.pth": save_network(classifier, "classifier.pth", h_clf, weights_dir),
            "autoencoder_a.pth": save_network(autoencoder, "autoencoder_a.pth", h_ae, weights_dir),
        },
        "systems": {"A": {"classifier": "classifier.pth", "autoencoder": "autoencoder_a.pth",
                          "thresholds": fit_reconstruction_thresholds(autoencoder, splits["val"])}},
        "history": "history.json",
    }
    manifest["train_seconds"] = round(sum(f["train_seconds"] for f in manifest["files"].values()), 1)
    (weights_dir / "history.json").write_text(json.dumps({"classifier": h_clf, "autoencoder_a": h_ae}, indent=1))
    (weights_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="output folder (default: weights/)")
    args = parser.parse_args()
    print(json.dumps(main(args.weights), indent=2))
