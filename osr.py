"""The grader's API: one OSR model = a digit classifier + an unknown detector + a threshold.

    from osr import load_osr_model
    model = load_osr_model()                   # the project's best model (weights/); system="A" for the seed design
                                               # device="cuda" runs it on a GPU (same decisions, scores to ~1e-6)
    labels = model.predict(images)             # uint8 (N, 28, 28) -> 0..9, or 10 for unknown
    scores = model.score(images)               # higher = more unknown; predict gives 10 where score > threshold
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import helpers
from detectors import DIGIT_READING, CombinedDetector, Detector, FeatureScorer, MSEDetector, ReconstructionDetector
from models import Autoencoder, BNAutoencoder, ConvNet, DeepCNN, DigitOrNot
from preprocess import batched
from store import WEIGHTS, load_network, read_manifest

SYSTEMS = ("best", "A", "B")


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

    @staticmethod
    def concat(parts: list["Outputs"]) -> "Outputs":
        """The outputs of several batches of images, one after the other."""
        return Outputs(np.concatenate([p.digits for p in parts]),
                       {k: np.concatenate([p.raw[k] for p in parts]) for k in parts[0].raw},
                       np.concatenate([p.scores for p in parts]), np.concatenate([p.preds for p in parts]))


class OSRModel:
    """A digit classifier plus an unknown detector, with the contract predict == 10 exactly where score > threshold."""

    def __init__(self, name: str, classifier: ConvNet | DeepCNN, detector: Detector, threshold: float = 1.0,
                 centre: bool = False, device: str | torch.device = "cpu"):
        self.name = name
        self.device = torch.device(device)  # where its networks are: each batch is moved there
        self.classifier = classifier.eval()
        self.detector = detector
        self.threshold = float(threshold)
        self.centre = centre  # move each image to MNIST's centre of mass first (preprocess.centre_by_mass)

    def run(self, images, detector: Detector | None = None, desc: str | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The classifier's digits and the raw scores of `detector` (default: the model's own; e.g. a benchmark
        of many detectors on the same networks) in one pass through the model's input pipeline."""
        detector = detector or self.detector

        def step(x: torch.Tensor) -> dict[str, np.ndarray]:
            features = self.classifier.features(x)  # computed once, for the digit and for feature detectors
            raw = detector.raw_scores(x, features)
            reading = raw.pop(DIGIT_READING, None)  # a detector's digit rule (the best model's), else the classifier
            return {"digit": (self.classifier.head(features) if reading is None else reading).argmax(1), **raw}

        raw = batched(step, images, desc, self.centre, self.device)
        return raw.pop("digit"), raw

    def decide(self, digits: np.ndarray, raw: dict[str, np.ndarray]) -> Outputs:
        """The model's outputs from its classifier's digits and its detector's raw scores."""
        scores = self.detector.combine(raw)
        return Outputs(digits, raw, scores, helpers.osr_decision(digits, scores, self.threshold))

    def outputs(self, images, desc: str | None = None) -> Outputs:
        """Everything in one pass over the images (a progress bar when desc is given)."""
        return self.decide(*self.run(images, desc=desc))

    def score(self, images) -> np.ndarray:
        """One float per image, higher = more unknown."""
        return self.outputs(images).scores

    def predict(self, images) -> np.ndarray:
        """Labels 0-9, or 10 (unknown) where score > threshold."""
        return self.outputs(images).preds




def load_osr_model(weights_dir: str | Path = WEIGHTS, system: str = "best", device: str | torch.device = "cpu"
                   ) -> OSRModel:
    """A trained OSR system ("best", "A" or "B") from verified weights and the manifest's fitted thresholds, its
    networks on `device`. The committed numbers are the CPU's; on a GPU the scores differ in the last digits."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; choose one of {SYSTEMS}")
    manifest = read_manifest(weights_dir)
    spec = manifest["systems"][system]

    def load(net, key):  # verified on the CPU, then moved (before any detector holds its buffers)
        return load_network(net, weights_dir, spec[key], manifest).to(device)

    if system == "B":
        detector = MSEDetector(load(BNAutoencoder(), "autoencoder"))
        return OSRModel(system, load(DeepCNN(), "classifier"), detector, spec["threshold"], device=device)
    classifier = load(ConvNet(), "classifier")
    reconstruction = ReconstructionDetector(load(Autoencoder(), "autoencoder"), manifest["systems"]["A"]["thresholds"])
    if system == "A":
        return OSRModel(system, classifier, reconstruction, device=device)
    detector = CombinedDetector(classifier, reconstruction, load(FeatureScorer(), "scorer"), tuple(spec["components"]),
                                {k: tuple(v) for k, v in spec["stats"].items()}, load(DigitOrNot(), "digit_or_not"),
                                spec["digits"])
    return OSRModel(system, classifier, detector, spec["threshold"], spec["centre_by_mass"], device)
