"""Unknown detectors, all oriented "higher = more unknown".

The seeds' reconstruction scores (A: L2 norm and Otsu diff; B: per-image MSE), logit scores (maximum
softmax probability, maximum logit, energy), feature-space scores on the classifier's penultimate layer
(Mahalanobis distance with class means and a shared covariance, k-th nearest-neighbour distance on
L2-normalised features), and sums of z-normalised scores. Everything is fitted on MNIST only: means,
covariance and the neighbour bank on MNIST train, z statistics on the MNIST validation split.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

import helpers
from models import Autoencoder, ConvNet

K_NEIGHBOURS = 10
BANK_SIZE = 5000  # training features kept for kNN: enough for the 10th neighbour, small enough to commit
SINGLE = ("L2 norm", "Otsu diff", "seed rule (A)", "MSP", "max logit", "energy", "Mahalanobis", "kNN")
RECONSTRUCTION = ("L2 norm", "Otsu diff", "seed rule (A)")
COMBINATIONS = (("kNN", "L2 norm"), ("energy", "L2 norm"), ("Mahalanobis", "L2 norm"), ("kNN", "seed rule (A)"))


class ReconstructionDetector:
    """System A's detector: the L2 norm and Otsu binary diff of the autoencoder's reconstruction."""

    def __init__(self, autoencoder: Autoencoder, thresholds: dict[str, float]):
        self.autoencoder = autoencoder.eval()
        self.thresholds = thresholds

    @torch.no_grad()
    def raw_scores(self, x: torch.Tensor, features: torch.Tensor | None = None, otsu: bool = True
                   ) -> dict[str, np.ndarray]:
        """The reconstruction scores of a normalised batch (the Otsu diff only when asked); features unused."""
        recon = self.autoencoder(x)
        raw = {"l2": helpers.l2_norm(x, recon)}
        if otsu:
            raw["otsu"] = helpers.otsu_diff(x, recon)
        return raw

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """One score: the larger of each raw score over its threshold (unknown above 1)."""
        return np.maximum(raw["l2"] / self.thresholds["l2"], raw["otsu"] / self.thresholds["otsu"])


class MSEDetector:
    """System B's detector: the per-image mean squared reconstruction error, compared with its threshold."""

    def __init__(self, autoencoder: nn.Module):
        self.autoencoder = autoencoder.eval()

    @torch.no_grad()
    def raw_scores(self, x: torch.Tensor, features: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Per-image MSE of a normalised batch; features unused."""
        return {"mse": (self.autoencoder(x) - x).pow(2).mean((1, 2, 3)).numpy().astype(np.float64)}

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        return raw["mse"]


def combo_name(parts: tuple[str, ...]) -> str:
    return " + ".join(parts)


class FeatureScorer(nn.Module):
    """Fitted state of the feature-space detectors, kept as buffers so it saves and loads as a state_dict."""

    def __init__(self, dim: int = 128, classes: int = 10, bank: int = BANK_SIZE):
        super().__init__()
        self.register_buffer("means", torch.zeros(classes, dim))
        self.register_buffer("precision", torch.eye(dim))
        self.register_buffer("bank", torch.zeros(bank, dim))

    @torch.no_grad()
    def fit(self, features: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> "FeatureScorer":
        """Class means and shared covariance (Mahalanobis), a seeded bank of normalised features (kNN)."""
        features = features.double()
        means = torch.stack([features[labels == c].mean(0) for c in range(len(self.means))])
        centred = features - means[labels]
        cov = centred.T @ centred / len(features)
        self.means.copy_(means)
        self.precision.copy_(torch.linalg.pinv(cov, hermitian=True))
        pick = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))[: len(self.bank)]
        self.bank.copy_(nn.functional.normalize(features[pick], dim=1))
        return self

    @torch.no_grad()
    def mahalanobis(self, features: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distance to the nearest class mean."""
        diff = features[:, None, :] - self.means[None]  # (N, classes, dim)
        return torch.einsum("ncd,de,nce->nc", diff, self.precision, diff).min(1).values

    @torch.no_grad()
    def knn(self, features: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
        """Distance from the normalised feature to its k-th nearest normalised training feature."""
        dist = torch.cdist(nn.functional.normalize(features, dim=1), self.bank)
        return dist.topk(k, dim=1, largest=False).values[:, -1]


def logit_scores(logits: torch.Tensor) -> dict[str, np.ndarray]:
    """MSP, max logit and energy, negated so that higher = more unknown."""
    return {
        "MSP": -torch.softmax(logits, 1).max(1).values.numpy(),
        "max logit": -logits.max(1).values.numpy(),
        "energy": -torch.logsumexp(logits, 1).numpy(),
    }


class CombinedDetector:
    """Sum of z-normalised detector scores; computes only the scores its components need."""

    def __init__(self, classifier: ConvNet, reconstruction: ReconstructionDetector, scorer: FeatureScorer,
                 components: tuple[str, ...], stats: dict[str, tuple[float, float]] | None = None):
        self.classifier = classifier.eval()
        self.reconstruction = reconstruction
        self.scorer = scorer.eval()
        self.components = tuple(components)
        self.stats = stats or {}

    @torch.no_grad()
    def raw_scores(self, x: torch.Tensor, features: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Every component's score on a normalised batch (features: the classifier's, if already computed)."""
        need = set(self.components)
        feats = self.classifier.features(x) if features is None else features
        out = logit_scores(self.classifier.head(feats))
        if "Mahalanobis" in need:
            out["Mahalanobis"] = self.scorer.mahalanobis(feats).numpy()
        if "kNN" in need:
            out["kNN"] = self.scorer.knn(feats).numpy()
        if need & set(RECONSTRUCTION):
            recon = self.reconstruction.raw_scores(x, otsu=bool(need & {"Otsu diff", "seed rule (A)"}))
            out["L2 norm"] = recon["l2"]
            if "otsu" in recon:
                out.update({"Otsu diff": recon["otsu"], "seed rule (A)": self.reconstruction.combine(recon)})
        return {c: out[c].astype(np.float64) for c in self.components}

    def fit_stats(self, raw: dict[str, np.ndarray]) -> "CombinedDetector":
        """z statistics (mean, std) of each component on in-distribution scores (the MNIST validation split)."""
        self.stats = {c: (float(raw[c].mean()), float(raw[c].std())) for c in self.components}
        return self

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        return sum((raw[c] - self.stats[c][0]) / self.stats[c][1] for c in self.components)


def fit_stats(raw: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """z statistics (mean, std) of each score on in-distribution images (the MNIST validation split)."""
    return {name: (float(s.mean()), float(s.std())) for name, s in raw.items()}


def with_combinations(raw: dict[str, np.ndarray], stats: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """The single scores plus every combination in COMBINATIONS (sum of z-normalised scores)."""
    combos = {combo_name(parts): sum((raw[p] - stats[p][0]) / stats[p][1] for p in parts) for parts in COMBINATIONS}
    return raw | combos
