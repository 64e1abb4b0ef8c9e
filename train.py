"""Training of the networks, threshold fitting on the MNIST validation split, and the weights manifest.

Run `python train.py` to retrain everything and rewrite weights/ (the manifest records how long it took).
Only MNIST train is used for fitting (with outliers drawn by a program for the digit-or-not network), MNIST
validation for checkpoint selection and thresholds. Networks train
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
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

import detectors
import helpers
import metrics
import models
import outliers
import protocols
from data import SEED, Split, mnist_splits, proxy_unknowns
from detectors import FeatureScorer, MSEDetector, ReconstructionDetector
from models import Autoencoder, ConvNet, DigitOrNot, Manifest, SystemB, for_inference, load_network, sha256
from osr import WEIGHTS
from preprocess import MNIST_MEAN, MNIST_STD, batched, centre_by_mass, normalize

EPOCHS = {"classifier": 10, "autoencoder": 15, "B": 6, "digit_or_not": 5, "split": 5}
B_THRESHOLD_FROM = "validation"  # or "train", the seed's rule; see fit_system_b
NETS_A = {"classifier": "classifier.pth", "autoencoder": "autoencoder_a.pth"}  # the best system shares A's
DIGIT_OR_NOT = "digit_or_not.pth"
DRAWN = {"strokes": 30000, "blobs": 15000}  # drawn outliers per training family of the digit-or-not network
OE_DRAWN = {"strokes": 15000, "blobs": 5000}  # drawn outliers shown to each literature split network
OE_WEIGHT = 0.5  # weight of the flat-softmax term on drawn outliers (outlier exposure)
SPLIT_LR = 3e-3  # set on known-validation accuracy and the held-out proxies (1e-3 did worse on both)
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


def style_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random pen and finish for a normalised batch, digits and outliers alike, so that the digit-or-not network
    cannot tell them apart by how they were drawn: the ink thickened (30%) or thinned (30%) by a 3x3 grey-level
    dilation or erosion, blended in at a random strength; blurred (30%); peak rescaled to white; then rotated up
    to 10 degrees, scaled 0.85-1.1, sheared up to 0.2, and moved to MNIST's centre of mass as the best system
    reads every input."""
    n = len(x)
    ink = x * MNIST_STD + MNIST_MEAN
    # drawn from the CPU generator whatever the device, so a GPU run draws what a CPU run draws
    pen = torch.rand(n, generator=generator)[:, None, None, None].to(x.device)
    strength = torch.rand(n, 1, 1, 1, generator=generator).to(x.device)
    thick, thin = F.max_pool2d(ink, 3, 1, 1), -F.max_pool2d(-ink, 3, 1, 1)
    ink = torch.where(pen < 0.3, ink + (thick - ink) * strength,
                      torch.where(pen > 0.7, ink + (thin - ink) * strength, ink))
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None] / 16).to(ink)[None, None]
    blur = torch.rand(n, generator=generator)[:, None, None, None].to(x.device) < 0.3
    ink = torch.where(blur, F.conv2d(ink, kernel, padding=1), ink)
    ink = ink / ink.amax((1, 2, 3), keepdim=True).clamp_min(1e-6)
    moved = random_affine((ink - MNIST_MEAN) / MNIST_STD, generator, degrees=10.0, translate=0.0, scale=(0.85, 1.1),
                          shear=0.2)
    return centre_by_mass(moved)


def digit_or_not_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Binary cross-entropy of "not a digit" (label 1 = drawn outlier) and the number of correct decisions."""
    logits = net(x)
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype)), ((logits > 0) == (y > 0)).sum()


def outlier_split(digits: Split, counts: dict[str, int], seed: int) -> Split:
    """MNIST digits (label 0) and drawn outliers of the given families (label 1), for the digit-or-not network."""
    drawn = [outliers.draw(family, n, seed + i) for i, (family, n) in enumerate(counts.items())]
    return Split(np.concatenate([digits.images, *drawn]),
                 np.r_[np.zeros(len(digits), np.int64), np.ones(sum(counts.values()), np.int64)])


def digit_or_not_splits(splits: dict[str, Split]) -> tuple[Split, Split]:
    """The digit-or-not network's data: MNIST train against drawn outliers of the training families
    (`outliers.TRAINED`, DRAWN of each), and MNIST validation against a tenth as many fresh ones."""
    return (outlier_split(splits["train"], DRAWN, SEED + 1),
            outlier_split(splits["val"], {f: n // 10 for f, n in DRAWN.items()}, SEED + 11))


def train_digit_or_not(splits: dict[str, Split], epochs: int, device: str = "cpu") -> tuple[DigitOrNot, dict]:
    """The digit-or-not network on `digit_or_not_splits`, its epoch kept by validation accuracy."""
    return train_network(DigitOrNot(), digit_or_not_loss, *digit_or_not_splits(splits), epochs, "digit-or-not",
                         augment=style_augment, device=device)


def outlier_exposure_loss(drawn: torch.Tensor, generator: torch.Generator, weight: float = OE_WEIGHT):
    """Cross-entropy on the known digits + `weight` x cross-entropy to the flat softmax on as many drawn outliers
    (picked at random, under the same random pen, `style_augment`): the network learns to say "none of mine"
    to shapes that are no digit of its split. Counts the digits classified right."""

    def loss_fn(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        if net.training:
            pick = torch.randint(len(drawn), (len(x),), generator=generator)
            flat = -net(style_augment(drawn[pick].to(x.device), generator)).log_softmax(1).mean()
            loss = loss + weight * flat
        return loss, (logits.argmax(1) == y).sum()

    return loss_fn


def drawn_for_splits(counts: dict[str, int] = OE_DRAWN, seed: int = SEED + 21) -> torch.Tensor:
    """The drawn outliers every split network is exposed to (normalised; the training families only)."""
    return normalize(np.concatenate([outliers.draw(f, n, seed + i) for i, (f, n) in enumerate(counts.items())]))


def train_split_network(splits: dict[str, Split], known: tuple[int, ...], drawn: torch.Tensor, epochs: int,
                        device: str = "cpu") -> tuple[ConvNet, dict]:
    """One literature split's network: the known digits of MNIST train (their positions in `known` as labels)
    with outlier exposure to `drawn`, both style-augmented; its epoch kept by accuracy on the known validation
    digits. No unknown digit is ever seen."""
    return train_network(ConvNet(classes=len(known)), outlier_exposure_loss(drawn, torch.Generator().manual_seed(SEED)),
                         protocols.known_split(splits["train"], known), protocols.known_split(splits["val"], known),
                         epochs, f"split {''.join(map(str, known))}", augment=style_augment, lr=SPLIT_LR,
                         device=device)


def fit_literature(nets: list[ConvNet], splits: dict[str, Split]) -> dict:
    """The scores of the split networks and the one detector chosen among `protocols.CANDIDATES` on held-out
    proxies (made from each split's known validation digits, and the drawn family never trained on): the
    manifest's literature entry, less the file names."""
    drawn = {f"{f} (drawn)": outliers.draw(f, detectors.PROXY_COUNT, SEED + 100) for f in outliers.HELD_OUT}
    stats, tables = [], []
    for net, known in zip(nets, protocols.SPLITS):
        scorer = protocols.fit_scorer(net, protocols.bank_images(splits["train"], known))
        val = protocols.known_digits(splits["val"], known)
        raw = {"val": protocols.raw_scores(net, scorer, val.images)[1]}
        proxies = proxy_unknowns(val, detectors.PROXY_COUNT) | drawn
        raw |= {name: protocols.raw_scores(net, scorer, images)[1] for name, images in proxies.items()}
        stats.append(detectors.fit_stats(raw["val"]))
        scores = {name: protocols.with_candidates(r, stats[-1]) for name, r in raw.items()}
        tables.append(protocols.selection_table(scores.pop("val"), scores))
    detector, selection = protocols.select(tables)
    return {"splits": [list(known) for known in protocols.SPLITS], "detector": detector, "stats": stats,
            "selection": selection, "drawn": OE_DRAWN, "bank": protocols.BANK}


def train_literature(splits: dict[str, Split], weights_dir: Path, epochs: int, device: str = "cpu"
                     ) -> tuple[dict, dict, dict]:
    """Train and fit the five split networks of the literature's protocol 1 (`protocols.SPLITS`); returns the
    manifest's literature entry, the files' entries and the histories."""
    drawn = drawn_for_splits()
    nets, files, histories = [], {}, {}
    for i, known in enumerate(protocols.SPLITS, 1):
        net, histories[f"split_{i}"] = train_split_network(splits, known, drawn, epochs, device)
        files[f"split_{i}.pth"] = save_network(net, f"split_{i}.pth", histories[f"split_{i}"], weights_dir)
        nets.append(for_inference(net))
    spec = {"files": list(files), **fit_literature(nets, splits),
            "train_seconds": round(sum(h["seconds"] for h in histories.values()), 1)}
    return spec, files, histories


def contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Seed B's loss: mean distance of same-label pairs + mean max(0, margin - distance) of different-label
    pairs, divided by the embedding size."""
    sq = (embeddings[:, None] - embeddings[None]).pow(2).sum(-1)
    dist = sq.clamp_min(1e-12).sqrt()  # the clamp keeps the gradient finite for coinciding embeddings
    same = labels[:, None] == labels[None]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    neg = ~same
    # masked means (0 where a batch has no such pair), without boolean indexing: its size depends on the data
    loss = ((dist * pos).sum() / pos.sum().clamp_min(1)
            + ((margin - dist).clamp_min(0) * neg).sum() / neg.sum().clamp_min(1))
    return loss / embeddings.shape[1]


def system_b_loss(generator: torch.Generator, weight: float = 1.0, margin: float = 1.0):
    """B's joint loss: cross-entropy on the half-augmented batch + autoencoder MSE on the clean batch
    + weight * contrastive loss on the classifier's embedding."""

    def loss_fn(net: SystemB, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
        emb = net.classifier.features(half_batch_augment(x, generator) if net.training else x)
        logits = net.classifier.head(emb)
        loss = (F.cross_entropy(logits, y) + F.mse_loss(net.autoencoder(x), x)
                + weight * contrastive_loss(emb, y, margin))
        return loss, (logits.argmax(1) == y).sum()

    return loss_fn


def classifier_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cross-entropy and the number of correct predictions."""
    logits = net(x)
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).sum()


def autoencoder_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """Pixel MSE of the reconstruction (labels unused)."""
    return F.mse_loss(net(x), x), None


def _epoch_sums(net, loss_fn, x, y, batch_size, optimizer=None, generator=None, augment=None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass over (x, y) on their device: trains (augmenting each batch) when an optimizer is given. The summed
    loss and number right stay tensors on that device (no wait for the GPU per batch)."""
    net.train(optimizer is not None)
    order = torch.randperm(len(x), generator=generator) if optimizer else torch.arange(len(x))
    exact = torch.float32 if x.device.type == "mps" else torch.float64  # as the loss's Python float sum was
    total_loss, correct = torch.zeros((), dtype=exact, device=x.device), torch.zeros((), dtype=torch.long,
                                                                                  device=x.device)
    with torch.set_grad_enabled(optimizer is not None):
        for i in range(0, len(x), batch_size):
            idx = order[i: i + batch_size].to(x.device)
            xb = augment(x[idx], generator) if optimizer and augment else x[idx]
            loss, n_correct = loss_fn(net, xb, y[idx])
            if optimizer:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss = total_loss + loss.detach().to(exact) * len(idx)
            correct = None if n_correct is None else correct + n_correct
    return total_loss, correct


def _run_epoch(net, loss_fn, x, y, batch_size, optimizer=None, generator=None, augment=None
               ) -> tuple[float, float | None]:
    """`_epoch_sums` as the history keeps it: mean loss, and accuracy in % or None."""
    total_loss, correct = _epoch_sums(net, loss_fn, x, y, batch_size, optimizer, generator, augment)
    return float(total_loss) / len(x), None if correct is None else 100.0 * int(correct) / len(x)


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


def selection_row(held_out: pd.DataFrame, trained: pd.DataFrame, detector: str) -> dict[str, float]:
    """One candidate's line of the selection record: the share rejected @1% of each proxy family, the means it was
    ranked by (held-out proxies), and the mean over the families the digit-or-not network was trained on."""
    row = {name: float(table.loc[detector, (name, "rejected @1%")]) for table in (held_out, trained)
           for name in dict.fromkeys(column for column, _ in table.columns) if name != "mean"}
    return row | {"held-out mean": float(held_out.loc[detector, ("mean", "rejected @1%")]),
                  "held-out mean AUROC": float(held_out.loc[detector, ("mean", "AUROC")]),
                  "trained-on mean": float(trained.loc[detector, ("mean", "rejected @1%")])}


def fit_best_system(classifier: ConvNet, reconstruction: ReconstructionDetector, digit_or_not: DigitOrNot,
                    splits: dict[str, Split], weights_dir: Path, rate: float = metrics.FALSE_ALARMS,
                    centre: bool = CENTRE) -> tuple[dict, dict]:
    """Fit the feature detectors on MNIST train, select the detector, threshold it where it rejects `rate` of the
    validation split; every image moved to MNIST's centre of mass first when `centre`, as the best system reads
    its input."""
    features = batched(lambda x: {"f": classifier.features(x).numpy()}, splits["train"].images, centre=centre)["f"]
    scorer = FeatureScorer().fit(torch.as_tensor(features), torch.as_tensor(splits["train"].labels))
    torch.save(scorer.state_dict(), weights_dir / "feature_scorer.pth")
    for_inference(scorer)
    detector, table, seen, val_scores = detectors.select(classifier, reconstruction, scorer, digit_or_not,
                                                         splits["val"], centre)
    spec = {**NETS_A, "scorer": "feature_scorer.pth", "digit_or_not": DIGIT_OR_NOT, "centre_by_mass": centre,
            "components": list(detector.components), "stats": detector.stats,
            "threshold": helpers.quantile_threshold(val_scores, rate), "false_alarms": rate,
            "selection": {det: selection_row(table, seen, det) for det in table.index}}
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


def refit(weights_dir: Path = WEIGHTS, digit_or_not: bool = False, device: str = "cpu") -> Manifest:
    """Refit the best system (feature detectors, selection, threshold) on the networks in weights_dir, without
    retraining them, or after retraining the digit-or-not network alone (`digit_or_not`); rewrites
    feature_scorer.pth (and digit_or_not.pth, its history and the total training time) and the manifest.
    The best system's entry is rewritten, so only the rest of the manifest has to be in today's layout."""
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    if missing := [key for key in models.missing_keys(manifest, Manifest) if not key.startswith("systems.best")]:
        raise ValueError(f"{weights_dir / 'manifest.json'} lacks {', '.join(missing)}: {models.RETRAIN_HINT}")
    splits = mnist_splits()
    if digit_or_not:
        history = json.loads((weights_dir / manifest["history"]).read_text())
        manifest["train_seconds"] -= history.get("digit_or_not", {}).get("seconds", 0.0)
        net, history["digit_or_not"] = train_digit_or_not(splits, EPOCHS["digit_or_not"], device)
        manifest["files"][DIGIT_OR_NOT] = save_network(net, DIGIT_OR_NOT, history["digit_or_not"], weights_dir)
        manifest["train_seconds"] = round(manifest["train_seconds"] + history["digit_or_not"]["seconds"], 1)
        (weights_dir / manifest["history"]).write_text(json.dumps(history, indent=1))
    classifier = load_network(ConvNet(), weights_dir, NETS_A["classifier"], manifest)
    autoencoder = load_network(Autoencoder(), weights_dir, NETS_A["autoencoder"], manifest)
    reconstruction = ReconstructionDetector(autoencoder, manifest["systems"]["A"]["thresholds"])
    judge = load_network(DigitOrNot(), weights_dir, DIGIT_OR_NOT, manifest)
    best, manifest["files"]["feature_scorer.pth"] = fit_best_system(classifier, reconstruction, judge, splits,
                                                                    weights_dir)
    manifest["systems"]["best"] = best
    (weights_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def retrain_literature(weights_dir: Path = WEIGHTS, device: str = "cpu") -> Manifest:
    """Retrain only the five split networks of the literature's protocol 1 and rewrite their files, their
    histories, their manifest entry and the total training time; the rest of weights_dir is kept."""
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    history = json.loads((weights_dir / manifest["history"]).read_text())
    manifest["train_seconds"] -= manifest.get("literature", {}).get("train_seconds", 0.0)
    literature, files, h_lit = train_literature(mnist_splits(), weights_dir, EPOCHS["split"], device)
    manifest["files"] |= files
    manifest["literature"] = literature
    manifest["train_seconds"] = round(manifest["train_seconds"] + literature["train_seconds"], 1)
    (weights_dir / manifest["history"]).write_text(json.dumps(history | h_lit, indent=1))
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
    judge, h_judge = train_digit_or_not(splits, epochs["digit_or_not"], device)
    files = {"classifier.pth": save_network(classifier, "classifier.pth", h_clf, weights_dir),
             "autoencoder_a.pth": save_network(autoencoder, "autoencoder_a.pth", h_ae, weights_dir),
             DIGIT_OR_NOT: save_network(judge, DIGIT_OR_NOT, h_judge, weights_dir)}
    classifier, autoencoder, judge = for_inference(classifier), for_inference(autoencoder), for_inference(judge)
    thresholds_a = fit_reconstruction_thresholds(autoencoder, splits["val"])
    best, files["feature_scorer.pth"] = fit_best_system(
        classifier, ReconstructionDetector(autoencoder, thresholds_a), judge, splits, weights_dir)
    spec_b, files_b, h_b = fit_system_b(splits, epochs["B"], weights_dir, device=device)
    literature, files_lit, h_lit = train_literature(splits, weights_dir, epochs["split"], device)
    files |= files_b | files_lit
    manifest: Manifest = {
        "seed": SEED,
        "files": files,
        "systems": {"A": {**NETS_A, "thresholds": thresholds_a},
                    "best": best,
                    "B": spec_b},
        "literature": literature,
        "history": "history.json",
        # B's two networks share one run: count it once
        "train_seconds": round(h_clf["seconds"] + h_ae["seconds"] + h_judge["seconds"] + h_b["seconds"]
                               + literature["train_seconds"], 1),
    }
    history = {"classifier": h_clf, "autoencoder_a": h_ae, "digit_or_not": h_judge, "system_b": h_b, **h_lit}
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
    parser.add_argument("--digit-or-not", action="store_true",
                        help="retrain only the digit-or-not network (about 5 minutes), then refit as --refit does")
    parser.add_argument("--literature", action="store_true",
                        help="retrain only the five split networks of the literature's protocol 1 (about 10 minutes)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA GPU is available here")
    if args.literature:
        manifest = retrain_literature(args.weights, args.device)
    elif args.refit or args.digit_or_not:
        manifest = refit(args.weights, args.digit_or_not, args.device)
    else:
        manifest = main(args.weights, device=args.device)
    print(json.dumps(manifest, indent=2))
