"""Networks, the OSR model a grader uses, and weight I/O checked against weights/manifest.json.

    from models import load_osr_model
    model = load_osr_model("weights")          # system A
    labels = model.predict(images)             # uint8 (N, 28, 28) -> 0..9, or 10 for unknown
    scores = model.score(images)               # higher = more unknown; predict gives 10 where score > threshold
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

import helpers
from data import normalize

BATCH = 2048  # inference batch: large enough for speed, small enough for a laptop's memory
RETRAIN_HINT = "retrain with `python train.py` (rewrites weights/ and its manifest)"


class ConvNet(nn.Module):
    """Baseline digit classifier: the seed's 2 conv + 2 fully connected layers, wider and with dropout applied."""

    def __init__(self, width: int = 32, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, 10)
        self.drop_conv = nn.Dropout2d(0.25)
        self.drop_fc = nn.Dropout(0.5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (fc1) activations: the classifier's embedding."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = self.drop_conv(F.max_pool2d(F.relu(self.conv2(x)), 2))
        return F.relu(self.fc1(torch.flatten(x, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop_fc(self.features(x)))


class Autoencoder(nn.Module):
    """The seed's autoencoder: conv + max-pool encoder to a 32-d code, mirrored decoder with max-unpool."""

    def __init__(self, code: int = 32):
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 5, padding=1)  # 28 -> 26, pooled to 13
        self.enc = nn.Sequential(nn.Linear(1690, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, code))
        self.dec = nn.Sequential(nn.Linear(code, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1690))
        self.deconv = nn.ConvTranspose2d(10, 1, 5, padding=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code and the max-pool indices the decoder unpools with."""
        h, idx = F.max_pool2d(F.relu(self.conv(x)), 2, return_indices=True)
        return self.enc(torch.flatten(h, 1)), idx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code, idx = self.encode(x)
        h = self.dec(code).unflatten(1, (10, 13, 13))
        return self.deconv(F.relu(F.max_unpool2d(h, idx, 2)))


class ReconstructionDetector:
    """System A's detector: the L2 norm and Otsu binary diff of the autoencoder's reconstruction."""

    def __init__(self, autoencoder: Autoencoder, thresholds: dict[str, float]):
        self.autoencoder = autoencoder.eval()
        self.thresholds = thresholds

    @torch.no_grad()
    def raw_scores(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Both reconstruction scores of a normalised batch."""
        recon = self.autoencoder(x)
        return {"l2": helpers.l2_norm(x, recon), "otsu": helpers.otsu_diff(x, recon)}

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """One score: the larger of each raw score over its threshold (unknown above 1)."""
        return np.maximum(raw["l2"] / self.thresholds["l2"], raw["otsu"] / self.thresholds["otsu"])


@dataclass
class Outputs:
    """What an OSR model says about a batch: closed-set digits, raw detector scores, the score, the labels."""

    digits: np.ndarray
    raw: dict[str, np.ndarray]
    scores: np.ndarray
    preds: np.ndarray

    def take(self, idx: np.ndarray) -> "Outputs":
        """The outputs of a subset of the images."""
        return Outputs(self.digits[idx], {k: v[idx] for k, v in self.raw.items()}, self.scores[idx], self.preds[idx])


class OSRModel:
    """A digit classifier plus an unknown detector, with the contract predict == 10 exactly where score > threshold."""

    def __init__(self, name: str, classifier: ConvNet, detector, threshold: float = 1.0):
        self.name = name
        self.classifier = classifier.eval()
        self.detector = detector
        self.threshold = float(threshold)

    @torch.no_grad()
    def outputs(self, images, desc: str | None = None) -> Outputs:
        """Everything in one pass over the images (a progress bar when desc is given)."""
        x = normalize(images)
        starts = range(0, len(x), BATCH)
        digits, raws = [], []
        for i in tqdm(starts, desc=desc, unit="batch", disable=desc is None):
            digits.append(self.classifier(x[i: i + BATCH]).argmax(1).numpy())
            raws.append(self.detector.raw_scores(x[i: i + BATCH]))
        raw = {k: np.concatenate([r[k] for r in raws]) for k in raws[0]}
        scores = self.detector.combine(raw)
        digits = np.concatenate(digits)
        return Outputs(digits, raw, scores, helpers.osr_decision(digits, scores, self.threshold))

    def score(self, images) -> np.ndarray:
        """One float per image, higher = more unknown."""
        return self.outputs(images).scores

    def predict(self, images) -> np.ndarray:
        """Labels 0-9, or 10 (unknown) where score > threshold."""
        return self.outputs(images).preds


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest(weights_dir: str | Path) -> dict:
    path = Path(weights_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {RETRAIN_HINT}")
    return json.loads(path.read_text())


def read_history(weights_dir: str | Path) -> dict:
    """Per-epoch training history saved next to the weights."""
    return json.loads((Path(weights_dir) / read_manifest(weights_dir)["history"]).read_text())


def load_network(net: nn.Module, weights_dir: str | Path, fname: str, manifest: dict | None = None) -> nn.Module:
    """Load a state_dict into `net` after checking the file's sha256 against the manifest; returns net in eval mode."""
    weights_dir = Path(weights_dir)
    manifest = manifest or read_manifest(weights_dir)
    path = weights_dir / fname
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {RETRAIN_HINT}")
    expected = manifest["files"].get(fname, {}).get("sha256")
    if sha256(path) != expected:
        raise ValueError(f"{path} does not match the sha256 in manifest.json (changed or corrupted): {RETRAIN_HINT}")
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit {type(net).__name__}: {RETRAIN_HINT}") from err
    return net.eval()


SYSTEMS = ("A",)


def load_osr_model(weights_dir: str | Path = "weights", system: str = "A") -> OSRModel:
    """The trained OSR model of a system, from verified weights and the manifest's thresholds."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; choose one of {SYSTEMS}")
    manifest = read_manifest(weights_dir)
    spec = manifest["systems"][system]
    classifier = load_network(ConvNet(), weights_dir, spec["classifier"], manifest)
    autoencoder = load_network(Autoencoder(), weights_dir, spec["autoencoder"], manifest)
    return OSRModel(system, classifier, ReconstructionDetector(autoencoder, spec["thresholds"]))
