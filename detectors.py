"""Unknown detectors, all oriented "higher = more unknown".

The seeds' reconstruction scores (A: L2 norm and Otsu diff; B: per-image MSE) are the project's own; the
standard post-hoc scores come from pytorch-ood: logit scores (maximum softmax probability, maximum logit,
energy, GEN), the energy of logits from edited penultimate activations (ReAct: clipped at their 90th training
percentile; ASH-S: all but the largest 35% per image zeroed, the rest sharpened) and feature-space scores on
the classifier's penultimate layer (Mahalanobis distance to the nearest class mean with a shared covariance,
its relative form RMD, k-th nearest-neighbour distance on L2-normalised features, computed here as pytorch-ood
defines it). One score is trained: the logit of the digit-or-not network (`models.DigitOrNot`), which learnt
from outliers drawn by a program (`outliers`).
Sums of z-normalised scores combine them. Everything is fitted on MNIST only (plus the drawn outliers for the
digit-or-not network): means, covariance and the neighbour bank on MNIST train, z statistics on the MNIST
validation split.
"""
from __future__ import annotations

import copy
import functools
from typing import Protocol

import numpy as np
import pandas as pd
import torch
from pytorch_ood.detector import ASH, GEN, RMD, EnergyBased, Mahalanobis, MaxLogit, MaxSoftmax, ReAct
from torch import nn

import helpers
import metrics
import outliers
from data import SEED, Split, proxy_unknowns
from models import FAST, Autoencoder, ConvNet, DigitOrNot, for_inference
from preprocess import batched

K_NEIGHBOURS = 10
BANK_SIZE = 5000  # training features kept for kNN: enough for the 10th neighbour, small enough to commit
DIGIT_OR_NOT_SCORE = "digit-or-not"
SINGLE = ("L2 norm", "Otsu diff", "seed rule (A)", "MSP", "max logit", "energy", "Mahalanobis", "kNN",
          DIGIT_OR_NOT_SCORE)
# benchmarked, not candidates: they came with pytorch-ood after the candidate list was fixed
BENCHMARKED = SINGLE + ("GEN", "ReAct", "ASH", "RMD")
REACT_PERCENTILE = 90.0  # ReAct's clipping point: this percentile of the training activations (the paper's)
RECONSTRUCTION = ("L2 norm", "Otsu diff", "seed rule (A)")
COMBINATIONS = (("kNN", "L2 norm"), ("energy", "L2 norm"), ("Mahalanobis", "L2 norm"), ("kNN", "seed rule (A)"),
                ("kNN", DIGIT_OR_NOT_SCORE), ("kNN", "L2 norm", DIGIT_OR_NOT_SCORE))
PROXY_COUNT = 2000  # images per proxy family in the selection
# How the best model reads the digit: the weights of the classifier's and the digit-or-not network's digit
# log-probabilities in their sum (train.py picks the rule on the validation split: `digit_rule_accuracies`)
DIGIT_RULES = {"classifier": (1.0, 0.0), "digit-or-not": (0.0, 1.0), "both": (1.0, 1.0)}
DIGIT_READING = "digit log-probabilities"  # raw_scores' extra entry when a rule other than the classifier's is set


class Detector(Protocol):
    """What OSRModel needs of a detector: raw scores of a normalised batch (given the classifier's features,
    which detectors that do not need them ignore) and one combined score per image from them."""

    def raw_scores(self, x: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]: ...

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray: ...


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
    def raw_scores(self, x: torch.Tensor, features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-image MSE of a normalised batch; features unused."""
        return {"mse": (self.autoencoder(x) - x).pow(2).mean((1, 2, 3)).double()}

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        return raw["mse"]


def combo_name(parts: tuple[str, ...]) -> str:
    return " + ".join(parts)


class FeatureScorer(nn.Module):
    """Fitted state of the feature-space detectors, kept as buffers so it saves and loads as a state_dict."""

    INFERENCE = (torch.float32, torch.contiguous_format)  # as the classifier's features it scores

    def __init__(self, dim: int = 128, classes: int = 10, bank: int = BANK_SIZE):
        super().__init__()
        self.register_buffer("means", torch.zeros(classes, dim))
        self.register_buffer("precision", torch.eye(dim))
        self.register_buffer("bank", torch.zeros(bank, dim))
        self.register_buffer("background_mean", torch.zeros(dim))
        self.register_buffer("background_precision", torch.eye(dim))
        self.register_buffer("react_clip", torch.tensor(float("inf")))

    @torch.no_grad()
    def fit(self, features: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> "FeatureScorer":
        """Class means and shared covariance (Mahalanobis), the class-agnostic mean and covariance (RMD's
        background), a seeded bank of normalised features (kNN), ReAct's clipping point. Computed in float64
        (pytorch-ood's own fits compute in float32) and stored in the buffers' dtype, float32 unless the scorer
        was converted; covariances divided by N (the library's are not: the same scores up to a constant
        factor, the same ranking)."""
        features = features.double()
        means = torch.stack([features[labels == c].mean(0) for c in range(len(self.means))])
        centred = features - means[labels]
        self.means.copy_(means)
        self.precision.copy_(torch.linalg.pinv(centred.T @ centred / len(features), hermitian=True))
        mean = features.mean(0)
        self.background_mean.copy_(mean)
        background = features - mean
        self.background_precision.copy_(torch.linalg.pinv(background.T @ background / len(features), hermitian=True))
        pick = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))[: len(self.bank)]
        self.bank.copy_(nn.functional.normalize(features[pick], dim=1))
        self.react_clip.fill_(float(np.percentile(features.numpy(), REACT_PERCENTILE)))
        return self

    def library_detectors(self) -> tuple[Mahalanobis, RMD]:
        """pytorch-ood's Mahalanobis and RMD detectors with this fitted state (their scores: half the squared
        distance to the nearest class mean; the smallest class distance minus the distance to the background
        Gaussian)."""
        maha, rmd = Mahalanobis(None), RMD(None)
        maha.mu, maha.precision = self.means, self.precision
        rmd.mu, rmd.precision = self.means, self.precision
        rmd.background_mu, rmd.background_precision = self.background_mean, self.background_precision
        return maha, rmd

    @torch.no_grad()
    def knn(self, features: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
        """Distance of each normalised feature to its k-th nearest normalised bank feature: pytorch-ood's kNN
        score, as one matrix product and a top-k over the fixed bank (the library queries scikit-learn per
        batch, about 1 ms a call); squared distance of unit vectors = 2 - 2 cos."""
        return knn_distance(features, self.bank, k)


def knn_distance(features: torch.Tensor, bank: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
    """Distance of each feature, normalised, to the k-th nearest row of a bank of normalised features (in the
    bank's dtype)."""
    return kth_distance(nn.functional.normalize(features.to(bank.dtype), dim=1) @ bank.T, k)


def kth_distance(cos: torch.Tensor, k: int = K_NEIGHBOURS) -> torch.Tensor:
    """Per row of cosine similarities between unit vectors, the distance to the k-th most similar."""
    return (2 - 2 * cos.topk(k, dim=1).values[:, -1]).clamp_min(0).sqrt()


LOGIT_SCORES = ("MSP", "max logit", "energy", "GEN")


def logit_scores(logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """pytorch-ood's MSP, max logit, energy and GEN scores (higher = more unknown), computed in float64 so that
    a confident softmax does not round to exactly 1 (ties that would hang on the CPU's float32 rounding)."""
    logits = logits.double()
    return {
        "MSP": MaxSoftmax.score(logits),
        "max logit": MaxLogit.score(logits),
        "energy": EnergyBased.score(logits),
        "GEN": GEN.score(logits),
    }


class CombinedDetector:
    """Sum of z-normalised detector scores; computes only the scores its components need."""

    def __init__(self, classifier: ConvNet, reconstruction: ReconstructionDetector, scorer: FeatureScorer,
                 components: tuple[str, ...], stats: dict[str, tuple[float, float]] | None = None,
                 digit_or_not: DigitOrNot | None = None, digits: str = "classifier"):
        if digits not in DIGIT_RULES:
            raise ValueError(f"unknown digit rule {digits!r}; choose one of {tuple(DIGIT_RULES)}")
        if (DIGIT_OR_NOT_SCORE in components or digits != "classifier") and digit_or_not is None:
            raise ValueError(f"the {DIGIT_OR_NOT_SCORE!r} score and the digit rule {digits!r} need the digit-or-not "
                             "network")
        self.digits = digits
        self.classifier = classifier.eval()
        self.digit_or_not = digit_or_not
        # Its own copy of the autoencoder in float32 (about 3 times faster than A's float64): the sums read the L2
        # norm, a continuous score. A max-pool near-tie can still send an unpooled value to its neighbour under
        # another CPU's kernels: with SSE4.1's, 14 of the 94,039 images of MNIST test and the OOD sets moved their
        # L2 norm by up to 0.1 (0.08 of the validation digits' standard deviation), none of MNIST test.
        self.reconstruction = ReconstructionDetector(
            for_inference(copy.deepcopy(reconstruction.autoencoder), FAST), reconstruction.thresholds)
        self.scorer = scorer.eval()
        self.components = tuple(components)
        self.stats = stats or {}
        self.mahalanobis, self.rmd = scorer.library_detectors()
        # ReAct and ASH score the energy of the head's logits from edited activations (ASH wants 4-d maps)
        self.react = ReAct(None, classifier.head, threshold=float(scorer.react_clip))
        self.ash = ASH(None, lambda maps: classifier.head(maps.flatten(1)), variant="ash-s")
        self.autoencoder = self.reconstruction.autoencoder  # as A's and B's detectors have one

    @torch.no_grad()
    def raw_scores(self, x: torch.Tensor, features: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every component's score on a normalised batch (features: the classifier's, if already computed), in
        float64, where the networks are (the reconstruction scores, numpy from `helpers`, on the CPU); under a
        digit rule other than the classifier's, also DIGIT_READING, the digits' log-probabilities it sums."""
        need = set(self.components)
        reading = {}
        feats = self.classifier.features(x) if features is None else features
        out = logit_scores(self.classifier.head(feats)) if need & set(LOGIT_SCORES) else {}
        if "Mahalanobis" in need:
            out["Mahalanobis"] = self.mahalanobis.predict_features(feats)
        if "kNN" in need:
            out["kNN"] = self.scorer.knn(feats)
        if "RMD" in need:
            out["RMD"] = self.rmd.predict_features(feats)
        if "ReAct" in need:
            out["ReAct"] = self.react.predict_feature_maps(feats)
        if "ASH" in need:
            out["ASH"] = self.ash.predict_feature_maps(feats[:, :, None, None])
        if DIGIT_OR_NOT_SCORE in need or self.digits != "classifier":
            out[DIGIT_OR_NOT_SCORE], digits = self.digit_or_not.read(x)  # one pass for the score and the digit
            if self.digits != "classifier":
                reading[DIGIT_READING] = read_digits(self.classifier.head(feats), digits, self.digits)
        if need & set(RECONSTRUCTION):
            recon = self.reconstruction.raw_scores(x, otsu=bool(need & {"Otsu diff", "seed rule (A)"}))
            out["L2 norm"] = recon["l2"]
            if "otsu" in recon:
                out.update({"Otsu diff": recon["otsu"], "seed rule (A)": self.reconstruction.combine(recon)})
        return {c: torch.as_tensor(out[c]).double() for c in self.components} | reading

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        return z_sum(raw, self.stats, self.components)


def read_digits(logits: torch.Tensor, digit_or_not: torch.Tensor, rule: str) -> torch.Tensor:
    """The digits' summed log-probabilities under `rule` (DIGIT_RULES), from the classifier's logits and the
    digit-or-not network's digit log-probabilities; their argmax is the digit read."""
    weights = DIGIT_RULES[rule]
    return weights[0] * logits.float().log_softmax(1) + weights[1] * digit_or_not.float()


@torch.no_grad()
def digit_rule_accuracies(classifier: ConvNet, digit_or_not: DigitOrNot, digits: Split, centre: bool = False
                          ) -> dict[str, float]:
    """Each digit rule's accuracy (%) on `digits` (the validation split), read through the model's input pipeline
    (`centre`: moved to MNIST's centre of mass)."""
    def step(x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, theirs = classifier(x), digit_or_not.read(x)[1]
        return {rule: read_digits(logits, theirs, rule).argmax(1) for rule in DIGIT_RULES}

    read = batched(step, digits.images, centre=centre)
    return {rule: 100.0 * float(np.mean(read[rule] == digits.labels)) for rule in DIGIT_RULES}


def chosen_rule(accuracies: dict[str, float]) -> str:
    """The digit rule the best model reads with: the most accurate of `digit_rule_accuracies` (the first of equals:
    the classifier alone)."""
    return max(accuracies, key=accuracies.get)


def fit_stats(raw: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """z statistics (mean, std) of each score on in-distribution images (the MNIST validation split)."""
    return {name: (float(s.mean()), float(s.std())) for name, s in raw.items()}


def z_sum(raw: dict[str, np.ndarray], stats: dict[str, tuple[float, float]], parts: tuple[str, ...]) -> np.ndarray:
    """Sum of the z-normalised scores of `parts`."""
    return sum((raw[p] - stats[p][0]) / stats[p][1] for p in parts)


def with_combinations(raw: dict[str, np.ndarray], stats: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """The single scores plus every combination in COMBINATIONS (sum of z-normalised scores)."""
    return raw | {combo_name(parts): z_sum(raw, stats, parts) for parts in COMBINATIONS}


def every_score(detector: CombinedDetector, sets: dict[str, np.ndarray], reference: str = "MNIST validation",
                centre: bool = False) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, np.ndarray]]]:
    """Every score of `detector` and every combination on each set (each image first moved to MNIST's centre of
    mass when `centre`), the combinations z-normalised with the statistics of the `reference` set (the MNIST
    validation split); returns those statistics and the scores."""
    return referenced({name: batched(detector.raw_scores, images, centre=centre) for name, images in sets.items()},
                      reference)


def referenced(raw: dict[str, dict[str, np.ndarray]], reference: str = "MNIST validation"
               ) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, np.ndarray]]]:
    """Raw scores per set plus every combination, z-normalised with the statistics of the `reference` set;
    returns those statistics and the scores."""
    stats = fit_stats(raw[reference])
    return stats, {name: with_combinations(r, stats) for name, r in raw.items()}


@functools.lru_cache(maxsize=2)
def _held_out_drawn(n: int, seed: int) -> dict[str, np.ndarray]:
    """The held-out drawn families (read-only): the same images for every split's selection, drawn once."""
    drawn = {f"{f} (drawn)": outliers.draw(f, n, seed + 100) for f in outliers.HELD_OUT}
    for images in drawn.values():
        images.flags.writeable = False
    return drawn


def held_out_proxies(val: Split, n: int = PROXY_COUNT, seed: int = SEED) -> dict[str, np.ndarray]:
    """The unknowns a detector is chosen on: made from MNIST validation digits (`data.proxy_unknowns`) and the
    drawn family that the digit-or-not network never saw (`outliers.HELD_OUT`)."""
    return proxy_unknowns(val, n, seed) | _held_out_drawn(n, seed)


def trained_proxies(val: Split, n: int = PROXY_COUNT, seed: int = SEED) -> dict[str, np.ndarray]:
    """Fresh images of the families the digit-or-not network was trained on (`outliers.TRAINED`, another seed;
    `outliers.MAKERS`, from the validation digits), shown but never ranked on: a detector looks best on what it
    was trained on."""
    trained = {f"{f} (drawn, trained on)": outliers.draw(f, n, seed + 100) for f in outliers.TRAINED}
    return trained | {f"{f} (made, trained on)": outliers.make(f, val, n, seed + 100) for f in outliers.MAKERS}


def select(classifier: ConvNet, reconstruction: ReconstructionDetector, scorer: FeatureScorer,
           digit_or_not: DigitOrNot, val: Split, centre: bool = False, digits: str = "classifier"
           ) -> tuple[CombinedDetector, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The detector (single or combination) that rejects the most held-out proxy unknowns on average where it
    rejects 1% of the MNIST validation split (ties: higher mean AUROC), z-normalised on that split, with its
    validation scores; images go through the model's input pipeline (`centre`: moved to MNIST's centre of mass);
    the detector reads the digit by the rule `digits` (DIGIT_RULES).
    Returns the ranking table on the held-out proxies and the table on the trained families (not ranked on).
    No OOD test set enters the ranking; the near proxies among them were added after looking at Omniglot, the
    development set."""
    every = CombinedDetector(classifier, reconstruction, scorer, SINGLE, digit_or_not=digit_or_not)
    held_out, trained = held_out_proxies(val), trained_proxies(val)
    stats, scores = every_score(every, {"MNIST validation": val.images, **held_out, **trained}, centre=centre)
    val_scores = scores.pop("MNIST validation")
    table = metrics.benchmark(val_scores, {k: scores[k] for k in held_out})
    seen = metrics.benchmark(val_scores, {k: scores[k] for k in trained})
    components = {combo_name(parts): parts for parts in COMBINATIONS} | {s: (s,) for s in SINGLE}
    chosen = components[metrics.ranked(table)[0]]
    detector = CombinedDetector(classifier, reconstruction, scorer, chosen, {c: stats[c] for c in chosen},
                                digit_or_not if DIGIT_OR_NOT_SCORE in chosen or digits != "classifier" else None,
                                digits)
    return detector, table, seen, detector.combine(val_scores)
