"""Training of the networks, threshold fitting on the MNIST validation split, and the weights manifest.

Run `python train.py` to retrain everything and rewrite weights/ (the manifest records how long it took).
Only MNIST train is used for fitting, MNIST validation for checkpoint selection and thresholds. Networks train
in float32 and are saved so; thresholds and detectors are fitted on them as `osr` loads them for inference
(`models.for_inference`: each in its inference dtype).
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

import detectors
import helpers
from data import SEED, Split, mnist_splits
from detectors import FeatureScorer, MSEDetector, ReconstructionDetector
from models import Autoencoder, ConvNet, Manifest, SystemB, for_inference, load_network, read_manifest, sha256
from osr import WEIGHTS
from preprocess import batched, normalize

EPOCHS = {"classifier": 10, "autoencoder": 15, "B": 6}
B_THRESHOLD_FROM = "validation"  # or "train", the seed's rule; see fit_system_b
NETS_A = {"classifier": "classifier.pth", "autoencoder": "autoencoder_a.pth"}  # the best system shares A's
CENTRE = True  # the best system moves each image to MNIST's centre of mass (A and B read it as the seeds did)
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
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def half_batch_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """System B's classifier input: the first half of the batch augmented as in the seed (rotation 8 degrees,
    shear 0.3, zoom from a 92-100% crop, shift 8%), the second half clean."""
    half = len(x) // 2
    moved = random_affine(x[:half], generator, degrees=8.0, translate=0.08, scale=(0.92, 1.0), shear=0.3)
    return torch.cat([moved, x[half:]])


def contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Seed B's loss: mean distance of same-label pairs + mean max(0, margin - distance) of different-label
    pairs, divided by the embedding size."""
    sq = (embeddings[:, None] - embeddings[None]).pow(2).sum(-1)
    dist = sq.clamp_min(1e-12).sqrt()  # the clamp keeps the gradient finite for coinciding embeddings
    same = labels[:, None] == labels[None]
    pairs = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos, neg = dist[same & pairs], dist[~same]
    loss = (pos.mean() if pos.numel() else 0.0) + ((margin - neg).clamp_min(0).mean() if neg.numel() else 0.0)
    return loss / embeddings.shape[1]


def system_b_loss(generator: torch.Generator, weight: float = 1.0, margin: float = 1.0):
    """B's joint loss: cross-entropy on the half-augmented batch + autoencoder MSE on the clean batch
    + weight * contrastive loss on the classifier's embedding."""

    def loss_fn(net: SystemB, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
        emb = net.classifier.features(half_batch_augment(x, generator) if net.training else x)
        logits = net.classifier.head(emb)
        loss = (F.cross_entropy(logits, y) + F.mse_loss(net.autoencoder(x), x)
                + weight * contrastive_loss(emb, y, margin))
        return loss, int((logits.argmax(1) == y).sum())

    return loss_fn


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


def cosine(optimizer: torch.optim.Optimizer, epochs: int):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)


def train_network(net: nn.Module, loss_fn, train: Split, val: Split, epochs: int, name: str, augment=None,
                  lr: float = 1e-3, batch_size: int = 128, seed: int = SEED, schedule=cosine, device: str = "cpu"
                  ) -> tuple[nn.Module, dict]:
    """Adam with a per-epoch learning-rate schedule (cosine decay by default) and a per-epoch history; keeps
    the best validation epoch (accuracy, else loss). `augment(batch, generator)` transforms training batches.
    Trains on `device` (e.g. "cuda"); the network comes back on the CPU, where everything after training runs."""
    set_seed(seed)
    net.to(device)
    xt, yt = normalize(train.images).to(device), torch.as_tensor(train.labels).to(device)
    xv, yv = normalize(val.images).to(device), torch.as_tensor(val.labels).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = schedule(optimizer, epochs)
    generator = torch.Generator().manual_seed(seed)
    history = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    best, best_state, best_epoch = -np.inf, None, 0
    start = time.perf_counter()
    for epoch in (bar := tqdm(range(1, epochs + 1), desc=name, unit="epoch")):
        tl, ta = _run_epoch(net, loss_fn, xt, yt, batch_size, optimizer, generator, augment)
        scheduler.step()
        vl, va = _run_epoch(net, loss_fn, xv, yv, 4 * batch_size)
        for k, v in zip(history, (tl, vl, ta, va)):
            history[k].append(v)
        quality = va if va is not None else -vl
        if quality > best:
            best, best_state, best_epoch = quality, copy.deepcopy(net.state_dict()), epoch
        bar.set_postfix(val_loss=f"{vl:.4f}", **({"val_acc": f"{va:.2f}"} if va is not None else {}))
    net.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, epochs=epochs, seconds=time.perf_counter() - start)
    return net.cpu().eval(), history


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
    raw = batched(ReconstructionDetector(autoencoder, {}).raw_scores, val.images)
    return {"l2": helpers.fit_threshold(raw["l2"], z), "otsu": helpers.fit_threshold(raw["otsu"], z), "z": z}


def fit_best_system(classifier: ConvNet, reconstruction: ReconstructionDetector, splits: dict[str, Split],
                    weights_dir: Path, z: float = Z, centre: bool = CENTRE) -> tuple[dict, dict]:
    """Fit the feature detectors on MNIST train, select the detector, threshold it at mean + z*std on validation;
    every image moved to MNIST's centre of mass first when `centre`, as the best system reads its input."""
    features = batched(lambda x: {"f": classifier.features(x).numpy()}, splits["train"].images, centre=centre)["f"]
    scorer = FeatureScorer().fit(torch.as_tensor(features), torch.as_tensor(splits["train"].labels))
    torch.save(scorer.state_dict(), weights_dir / "feature_scorer.pth")
    for_inference(scorer)
    detector, table, val_scores = detectors.select(classifier, reconstruction, scorer, splits["val"], centre)
    threshold = helpers.fit_threshold(val_scores, z)
    spec = {**NETS_A, "scorer": "feature_scorer.pth", "centre_by_mass": centre,
            "components": list(detector.components), "stats": detector.stats,
            "threshold": threshold, "z": z,
            "selection": {det: {"mean proxy AUROC": float(table.loc[det, ("mean", "AUROC")]),
                                "mean proxy FPR95": float(table.loc[det, ("mean", "FPR95")])} for det in table.index}}
    entry = {"sha256": sha256(weights_dir / "feature_scorer.pth"), "fitted_on": "MNIST train features"}
    return spec, entry


def step_lr(optimizer: torch.optim.Optimizer, epochs: int):
    """Seed B's StepLR (x0.4 every 25 of 300 epochs on a GPU), scaled to a 6-epoch CPU run: x0.4 every 2 epochs."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.4)


def fit_system_b(splits: dict[str, Split], epochs: int, weights_dir: Path, z: float = Z, device: str = "cpu"
                 ) -> tuple[dict, dict, dict]:
    """Train B jointly; thresholds = mean + z*std of per-image MSE on the training set (the seed's adaptive rule,
    computed with the final weights) and on the validation split (the project's protocol, used by default)."""
    net, history = train_network(SystemB(), system_b_loss(torch.Generator().manual_seed(SEED)), splits["train"],
                                 splits["val"], epochs, "system B", lr=0.01, batch_size=200, schedule=step_lr,
                                 device=device)
    files = {"classifier_b.pth": save_network(net.classifier, "classifier_b.pth", history, weights_dir),
             "autoencoder_b.pth": save_network(net.autoencoder, "autoencoder_b.pth", history, weights_dir)}
    mse = {name: batched(MSEDetector(for_inference(net.autoencoder)).raw_scores, splits[name].images)["mse"]
           for name in ("train", "val")}
    thresholds = {"train": helpers.fit_threshold(mse["train"], z), "validation": helpers.fit_threshold(mse["val"], z),
                  "z": z}
    spec = {"classifier": "classifier_b.pth", "autoencoder": "autoencoder_b.pth", "thresholds": thresholds,
            "threshold_from": B_THRESHOLD_FROM, "threshold": thresholds[B_THRESHOLD_FROM]}
    return spec, files, history


def refit(weights_dir: Path = WEIGHTS) -> Manifest:
    """Refit the best system (feature detectors, selection, threshold) on the networks in weights_dir, without
    retraining them; rewrites feature_scorer.pth and the best system's entry of the manifest."""
    manifest = read_manifest(weights_dir)
    classifier = load_network(ConvNet(), weights_dir, NETS_A["classifier"], manifest)
    autoencoder = load_network(Autoencoder(), weights_dir, NETS_A["autoencoder"], manifest)
    reconstruction = ReconstructionDetector(autoencoder, manifest["systems"]["A"]["thresholds"])
    best, manifest["files"]["feature_scorer.pth"] = fit_best_system(classifier, reconstruction, mnist_splits(),
                                                                    weights_dir)
    manifest["systems"]["best"] = best
    (weights_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(weights_dir: Path = WEIGHTS, epochs: dict[str, int] = EPOCHS, device: str = "cpu") -> Manifest:
    """Train every network, fit thresholds and detectors, rewrite weights_dir (state_dicts, history, manifest)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    splits = mnist_splits()
    torch.manual_seed(SEED)
    classifier, h_clf = train_network(ConvNet(), classifier_loss, splits["train"], splits["val"],
                                      epochs["classifier"], "classifier", augment=random_affine, device=device)
    autoencoder, h_ae = train_network(Autoencoder(), autoencoder_loss, splits["train"], splits["val"],
                                      epochs["autoencoder"], "autoencoder", device=device)
    files = {"classifier.pth": save_network(classifier, "classifier.pth", h_clf, weights_dir),
             "autoencoder_a.pth": save_network(autoencoder, "autoencoder_a.pth", h_ae, weights_dir)}
    classifier, autoencoder = for_inference(classifier), for_inference(autoencoder)
    thresholds_a = fit_reconstruction_thresholds(autoencoder, splits["val"])
    best, files["feature_scorer.pth"] = fit_best_system(
        classifier, ReconstructionDetector(autoencoder, thresholds_a), splits, weights_dir)
    spec_b, files_b, h_b = fit_system_b(splits, epochs["B"], weights_dir, device=device)
    files |= files_b
    manifest: Manifest = {
        "seed": SEED,
        "files": files,
        "systems": {"A": {**NETS_A, "thresholds": thresholds_a},
                    "best": best,
                    "B": spec_b},
        "history": "history.json",
        # B's two networks share one run: count it once
        "train_seconds": round(h_clf["seconds"] + h_ae["seconds"] + h_b["seconds"], 1),
    }
    history = {"classifier": h_clf, "autoencoder_a": h_ae, "system_b": h_b}
    (weights_dir / "history.json").write_text(json.dumps(history, indent=1))
    (weights_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="output folder (default: weights/)")
    parser.add_argument("--device", default="cpu",
                        help="where to train: cpu (default, the committed run) or cuda (e.g. on Colab)")
    parser.add_argument("--refit", action="store_true",
                        help="keep the trained networks; refit only the best system's detector and threshold")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA GPU is available here")
    manifest = refit(args.weights) if args.refit else main(args.weights, device=args.device)
    print(json.dumps(manifest, indent=2))
