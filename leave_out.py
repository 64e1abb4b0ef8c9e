"""Candidates for a better handwriting signal, judged on outliers they never saw (`../shared/GUIDE.md`, section 3:
a detector is judged on families it was not trained on): leave one family out, and other candidates.

Every family of made outliers is held out in turn: drawn by a program (strokes, blobs, scribbles; `outliers`)
and made from MNIST digits (`outliers.MAKERS` and the proxies of `data.proxy_unknowns`). For each design (the
families it trains on) a digit-or-not network with one "not a digit" output (`binary`) is trained on the
design's families less the held-out one and measured on that one, at the best system's operating point (1% of the
MNIST validation digits rejected): alone, and inside the best system's sum of z-scores (kNN + L2 norm +
digit-or-not, the committed kNN and L2 norm).

The runs are probe-sized so that the whole table trains in about 45 minutes on 2 CPU cores: a quarter of
MNIST train, PROBE["epochs"] epochs, the same number of outliers in every run, spread evenly over its families.
They compare designs; they do not reproduce the committed network. `python leave_out.py` writes
report/leave_one_out.json, which the notebook shows. The other candidates (`OTHERS`, one option each) print their
figures and save them to report/candidates.json, which REPORT shows: per-digit thresholds, a rotation-prediction
signal, outliers pushed towards the digits (ACET), a third pen model (with either network), the ten digits and
"not a digit" in one network (adopted: `models.DigitOrNot`), the reconstruction error as an input, kNN in the
digit-or-not network's features, a larger kNN bank, system A's reconstruction scores in the sum, two digit-or-not
networks, digits with a fragment of another digit as a fifth training family (probe-sized and at full size), at full
size fragments that must add ink, with and without an elastic pen, and with the digit read by two networks,
parts of digits blown up to a digit's size as a fifth family, mirrored and quarter-turned digits as training
families, an autoencoder told which digit to draw, the pixel distance to the nearest training digit, and
training outliers chosen as the ones the best model finds most like digits, narrower digit-or-not networks at
full size, glyphs generated beyond a digit as a fifth family (probe-sized and at full size), the two digit
readers' disagreement, fragments that add ink beside the recipe trained again, the recipe from another seed, the
L2 norm corrected for the image's complexity, a sharper kNN (contrastive features, the digit read's own
neighbours), glyphs written with digits' own strokes as a fifth family (probe-sized and at full size), an
autoencoder that fails on outliers, quarter turns told as a second task, the stroke topology given the digit
read, the image moved a little at test time, the likelihood of the ink under a PixelCNN (and its ratio to a
background model's), the PixelCNN told the digit as a generative classifier, how well the rest of the image tells
a hidden part (inpainting), where the autoencoder's code lies among the digits', a narrower autoencoder code, kNN
in both networks' features (and each network's share in it); and how far the probes move from one seed to another.
"""
from __future__ import annotations

import argparse
import copy
import functools
import json
import time
import zlib
from typing import Callable, Collection

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

import data
import detectors
import evaluate
import helpers
import metrics
import outliers
import osr
import train
from augment import elastic_style, random_affine, style_augment
from data import SEED, UNKNOWN, Split, mnist_splits, proxy_unknowns
from loop import train_network
from losses import autoencoder_loss, classifier_loss, digit_or_not_loss, k_plus_one_loss
from models import FAST, Autoencoder, ConvNet, DigitOrNot, _not_a_digit, for_inference
from preprocess import MNIST_MEAN, MNIST_STD, batched
from report import LEAVE_ONE_OUT, PROBE_NOISE, leave_one_out_table, load_leave_one_out, save_candidate
from train import digits_against

FAMILIES = ("strokes", "blobs", "scribbles", *outliers.MAKERS, *data.PROXY_NAMES)
DESIGNS = {"drawn (before)": ("strokes", "blobs"),
           "drawn + made (today)": ("strokes", "blobs", *outliers.MAKERS),
           "every family": FAMILIES}
PROBE = {"digits": 12500, "outliers": 16000, "epochs": 3, "measured": 2000}
ACET = {"steps": 5, "radius": 0.3}  # the radius ACET used on MNIST
SUM = ("kNN", "L2 norm", detectors.DIGIT_OR_NOT_SCORE)


def binary() -> DigitOrNot:
    """The probes' digit-or-not network: one "not a digit" logit, as the committed network had before it learned
    the ten digits as well (`k_plus_one_candidate`)."""
    return DigitOrNot(outputs=1)


def family_images(family: str, digits: Split, n: int, seed: int) -> np.ndarray:
    """n images of one family: drawn, or made from `digits` (proxies drawn again with new seeds until n)."""
    if family in outliers.GENERATORS:
        return outliers.draw(family, n, seed)
    if family in outliers.MAKERS or family in outliers.MADE_CANDIDATES:
        return outliers.make(family, digits, n, seed)
    made, k = [], 0
    while sum(map(len, made)) < n:
        made.append(proxy_unknowns(digits, min(len(digits), n), seed + 1000 * k)[family])
        k += 1
    return np.concatenate(made)[:n]


def pools(digits: Split, n: int, seed: int, families: tuple[str, ...] = FAMILIES) -> dict[str, np.ndarray]:
    return {family: family_images(family, digits, n, seed + i) for i, family in enumerate(families)}


def family_split(digits: Split, pool: dict[str, np.ndarray], families: tuple[str, ...], total: int) -> Split:
    """The digits (label 0) against `total` outliers (label 1), the same number from each family."""
    return digits_against(digits, [pool[f][: total // len(families)] for f in families])


def development(step: int = 1) -> dict[str, np.ndarray]:
    """The development set (every `step`-th image), where it is found under the data root."""
    dev = data.ood_sets().get(data.DEVELOPMENT[0])
    return {} if dev is None else {data.DEVELOPMENT[0]: dev.images[::step]}


def runs() -> dict[str, tuple[str, ...]]:
    """Every distinct training run the table needs: its families, named by them."""
    needed = {}
    for families in DESIGNS.values():
        for held_out in (None, *families):
            kept = tuple(f for f in families if f != held_out)
            needed[" + ".join(kept)] = kept
    return needed


def measure(net: DigitOrNot, fixed: dict[str, dict[str, np.ndarray]], sets: dict[str, np.ndarray]
            ) -> dict[str, dict[str, float]]:
    """Share rejected @1% of each set by the network alone and by the best system's sum with it."""
    def score(images: np.ndarray) -> np.ndarray:
        return batched(lambda x: {"d": net(x)}, images, centre=True)["d"]

    raw = {name: fixed[name] | {detectors.DIGIT_OR_NOT_SCORE: score(images)} for name, images in sets.items()}
    val = raw["MNIST validation"]
    stats = detectors.fit_stats(val)
    out = {}
    for name, r in raw.items():
        alone = metrics.rejected_at(val[detectors.DIGIT_OR_NOT_SCORE], r[detectors.DIGIT_OR_NOT_SCORE])
        summed = metrics.rejected_at(detectors.z_sum(val, stats, SUM), detectors.z_sum(r, stats, SUM))
        out[name] = {"alone": alone, "sum": summed}
    return out


def probe_digits(splits: dict[str, Split]) -> dict[str, Split]:
    """The probe's digits: PROBE["digits"] of MNIST train at random, a fifth as many of the validation split."""
    keep = np.random.default_rng(SEED).choice(len(splits["train"]), PROBE["digits"], replace=False)
    return {"train": Split(splits["train"].images[keep], splits["train"].labels[keep]),
            "val": Split(splits["val"].images[: PROBE["digits"] // 5], splits["val"].labels[: PROBE["digits"] // 5])}


def measured_sets(splits: dict[str, Split], families: tuple[str, ...] = FAMILIES) -> dict[str, np.ndarray]:
    """What every probe is measured on: the validation digits, PROBE["measured"] of each family made from them,
    the development set."""
    return ({"MNIST validation": splits["val"].images} | pools(splits["val"], PROBE["measured"], SEED + 100, families)
            | development())


def probe(families: tuple[str, ...] = FAMILIES) -> tuple[dict[str, Split], dict[str, dict[str, np.ndarray]],
                                                          dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """The probe's training and validation digits, their pools of each of `families`, the measured sets
    (`measured_sets`) and the committed kNN and L2 norm on those sets."""
    splits = mnist_splits()
    digits = probe_digits(splits)
    pool = {"train": pools(digits["train"], PROBE["outliers"], SEED + 1, families),
            "val": pools(digits["val"], PROBE["outliers"] // 10, SEED + 11, families)}
    sets = measured_sets(splits, families)
    best = osr.load_osr_model(system="best").detector
    fixed_scorer = detectors.CombinedDetector(best.classifier, best.reconstruction, best.scorer, ("kNN", "L2 norm"))
    return digits, pool, sets, {name: batched(fixed_scorer.raw_scores, images, centre=True)
                                for name, images in sets.items()}


def trained_and_measured(net: torch.nn.Module, families: tuple[str, ...], name: str, digits: dict[str, Split],
                         pool: dict[str, dict[str, np.ndarray]], sets: dict[str, np.ndarray],
                         fixed: dict[str, dict[str, np.ndarray]], loss=digit_or_not_loss, seed: int = SEED) -> dict:
    """One probe run: `net` trained with `loss` on the digits against `families` (data order and augmentation
    from `seed`), then measured (`measure`)."""
    start = time.perf_counter()
    net, _ = train_network(net, loss, family_split(digits["train"], pool["train"], families, PROBE["outliers"]),
                           family_split(digits["val"], pool["val"], families, PROBE["outliers"] // 10),
                           PROBE["epochs"], name[:60], augment=style_augment, seed=seed)
    return {"families": list(families), "seconds": round(time.perf_counter() - start, 1),
            "rejected": measure(for_inference(net), fixed, sets)}


def main() -> dict:
    digits, pool, sets, fixed = probe()
    results = {name: trained_and_measured(binary(), families, f"without {len(FAMILIES) - len(families)}: {name}",
                                          digits, pool, sets, fixed) for name, families in runs().items()}
    out = {"probe": PROBE, "designs": {k: list(v) for k, v in DESIGNS.items()}, "runs": results}
    LEAVE_ONE_OUT.write_text(json.dumps(out, indent=1) + "\n")
    return out


def starred(family: str, trained: Collection[str]) -> str:
    """A table's row name: the family, marked * where the runs compared trained on it."""
    return f"{family} *" if family in trained else family


def sums_rejected(raw: dict[str, dict[str, np.ndarray]], rows: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Share rejected (%) of each set of `raw` (scores per set, "MNIST validation" among them: it gives the z
    statistics and the threshold that rejects 1% of it) by each row's sum of z-scores."""
    val = raw["MNIST validation"]
    stats = detectors.fit_stats(val)
    return pd.DataFrame({name: {row: metrics.rejected_at(detectors.z_sum(val, stats, parts),
                                                         detectors.z_sum(r, stats, parts))
                                for row, parts in rows.items()}
                         for name, r in raw.items() if name != "MNIST validation"}).T


def new_score_rows(names: tuple[str, ...], in_place: bool = True) -> dict[str, tuple[str, ...]]:
    """The rows that measure new scores (`sums_rejected`): today's sum, and each score alone, added to the sum and
    (with `in_place`) in the sum in place of the L2 norm."""
    rows = {"today's sum": SUM} | {f"{n} alone": (n,) for n in names} | {f"sum + {n}": (*SUM, n) for n in names}
    return rows | ({f"{n} in place of the L2 norm": (SUM[0], n, SUM[2]) for n in names} if in_place else {})


def no_training_sets(splits: dict[str, Split]) -> dict[str, np.ndarray]:
    """What the candidates measured against today's sum are measured on: the validation digits (the z statistics
    and the threshold), the selection's held-out proxies, MNIST test and the development set (every second
    character)."""
    return ({"MNIST validation": splits["val"].images} | detectors.held_out_proxies(splits["val"])
            | {"MNIST test": splits["test"].images} | development(2))


def per_class_thresholds(rate: float = metrics.FALSE_ALARMS) -> pd.DataFrame:
    """A candidate that needs no training: the best model's one threshold against one per digit read, each
    rejecting `rate` of the validation digits read as that digit (the same false alarms in all). Share rejected
    (%) of the selection's held-out proxies, the development set (every fourth character) and MNIST test."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    val = model.outputs(splits["val"].images)
    per_digit = np.array([np.quantile(val.scores[val.digits == d], 1 - rate) for d in range(10)])
    sets = detectors.held_out_proxies(splits["val"]) | {"MNIST test": splits["test"].images} | development(4)
    rows = {}
    for name, images in sets.items():
        out = model.outputs(images)
        rows[name] = {"one threshold": 100.0 * np.mean(out.scores > model.threshold),
                      "one per digit": 100.0 * np.mean(out.scores > per_digit[out.digits])}
    return pd.DataFrame(rows).T


def feature_knn_candidate() -> pd.DataFrame:
    """A candidate that needs no training: kNN (`detectors.FeatureScorer`'s: the distance to the 10th nearest of
    5,000 training digits) in the committed digit-or-not network's penultimate features, alone, beside its log-odds
    in the best model's sum and instead of them. Share rejected (%) at 1% of the validation digits of the
    selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    net = model.detector.digit_or_not
    train = batched(lambda x: {"f": net.features(x)}, splits["train"].images, centre=True)["f"]
    scorer = detectors.FeatureScorer().fit(torch.as_tensor(train), torch.as_tensor(splits["train"].labels))
    scorer = for_inference(scorer)
    sets = no_training_sets(splits)
    name = f"{detectors.DIGIT_OR_NOT_SCORE} kNN"
    raw = {s: model.run(images)[1] | batched(lambda x: {name: scorer.knn(net.features(x))}, images, centre=True)
           for s, images in sets.items()}
    return sums_rejected(raw, {"today's sum": SUM, f"{name} alone": (name,), f"sum + {name}": (*SUM, name),
                               f"{name} instead of the log-odds": (*SUM[:2], name)})


JOINT = "kNN in both networks' features"
OTHER_PICK = 1  # another seed for the choice of the 5,000 bank digits (the committed bank's is 0)


def network_features(model: osr.OSRModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's and the digit-or-not network's penultimate features of a batch."""
    return model.classifier.features(x), model.detector.digit_or_not.features(x)


def joined(parts: tuple[torch.Tensor, torch.Tensor], share: float = 0.5) -> torch.Tensor:
    """The two networks' features (`network_features`) scaled to lengths sqrt(1 - share) and sqrt(share), side by
    side: the cosine similarity of two such vectors is the networks' cosine similarities weighted 1 - share and
    share (0.5: both alike, as protocol 1's ensembles join their members' features)."""
    return torch.cat([F.normalize(p.float(), dim=1) * w ** 0.5 for p, w in zip(parts, (1 - share, share))], 1)


def joint_knn_candidate() -> pd.DataFrame:
    """No training: kNN (the 10th nearest of 5,000 training digits, `detectors.FeatureScorer`) in the classifier's
    and the digit-or-not network's features joined (`joined`), alone, added to the best model's sum and in
    place of its kNN; and, to show how far the choice of the 5,000 bank digits moves the figures, the same in place
    of the kNN with another choice (OTHER_PICK), beside the committed kNN with that choice. Share rejected (%) at 1%
    of the validation digits of the selection's held-out proxies, MNIST test and the development set (every second
    character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    labels = torch.as_tensor(splits["train"].labels)

    def features(x: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = network_features(model, x)
        return {"joint": joined(parts), "classifier": parts[0]}

    train = batched(features, splits["train"].images, centre=True)
    picked = f"(bank pick {OTHER_PICK})"
    scorers = {name: (part, for_inference(detectors.FeatureScorer(dim=train[part].shape[1]).fit(
        torch.as_tensor(train[part]), labels, seed=seed)))
        for name, part, seed in ((JOINT, "joint", 0), (f"{JOINT} {picked}", "joint", OTHER_PICK),
                                 (f"kNN {picked}", "classifier", OTHER_PICK))}

    def scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        found = features(x)
        return {name: scorer.knn(found[part]) for name, (part, scorer) in scorers.items()}

    raw = {s: model.run(images)[1] | batched(scores, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, {"today's sum": SUM, f"{JOINT} alone": (JOINT,), f"sum + {JOINT}": (*SUM, JOINT),
                               f"{JOINT} in place of the kNN": (JOINT, *SUM[1:]),
                               f"today's sum, kNN {picked}": (f"kNN {picked}", *SUM[1:]),
                               f"{JOINT} {picked} in place of the kNN": (f"{JOINT} {picked}", *SUM[1:])})


def bank_candidate(banks: tuple[int, ...] = (5000, 20000, 50000), ks: tuple[int, ...] = (10, 50)) -> pd.DataFrame:
    """A candidate that needs no training: the best model's kNN with a larger bank of training features (the
    committed one holds 5,000) and its k-th neighbour for other k, in today's sum in place of the committed kNN.
    Share rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the
    development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    features = model.classifier.features
    train = batched(lambda x: {"f": features(x)}, splits["train"].images, centre=True)["f"]
    scorers = {n: for_inference(detectors.FeatureScorer(bank=n).fit(torch.as_tensor(train),
                                                                    torch.as_tensor(splits["train"].labels)))
               for n in banks}
    sets = no_training_sets(splits)

    def knn(x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = features(x)
        return {f"bank {n:,}, k = {k}": scorer.knn(f, k) for n, scorer in scorers.items() for k in ks}

    raw = {s: model.run(images)[1] | batched(knn, images, centre=True) for s, images in sets.items()}
    return sums_rejected(raw, {"today's sum": SUM} | {name: (name, *SUM[1:]) for name in raw["MNIST test"]
                                                       if name.startswith("bank")})


def otsu_candidate() -> pd.DataFrame:
    """A candidate that needs no training: system A's other reconstruction scores in the best model's sum, from
    the same autoencoder pass: the Otsu diff beside today's three scores, and the seed rule (A) in place of the
    L2 norm. Share rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and
    the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    every = detectors.CombinedDetector(model.classifier, model.detector.reconstruction, model.detector.scorer,
                                       (*SUM, "Otsu diff", "seed rule (A)"), digit_or_not=model.detector.digit_or_not)
    sets = no_training_sets(splits)
    raw = {s: model.run(images, every)[1] for s, images in sets.items()}
    return sums_rejected(raw, {"today's sum": SUM, "sum + Otsu diff": (*SUM, "Otsu diff"),
                               "seed rule (A) in place of the L2 norm": (SUM[0], "seed rule (A)", SUM[2])})


def pixel_distance_candidate() -> pd.DataFrame:
    """A candidate that needs no training: the pixel distance from an image to its nearest MNIST training digit (all
    50,000, both centred by mass: `evaluate.nearest_digits`), alone and added to the best model's sum. Share
    rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the development
    set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    sets = no_training_sets(splits)
    found = evaluate.nearest_digits(sets, splits["train"].images)
    name = "pixel distance"
    raw = {s: model.run(images)[1] | {name: found[s][0].astype(np.float64)} for s, images in sets.items()}
    return sums_rejected(raw, {"today's sum": SUM, f"{name} alone": (name,), f"sum + {name}": (*SUM, name)})


DISAGREEMENT, DOUBT = "the readings' disagreement", "the joint reading's doubt"


def readings(classifier: torch.nn.Module, digit_or_not: DigitOrNot, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """How two digit readers of a normalised batch disagree: the classifier's softmax p and the digit-or-not network's
    digit probabilities q (its reading given that the image is a digit). DISAGREEMENT: the chance that draws from p
    and q name different digits, 1 - sum p q; DOUBT: minus the best digit's log p + log q (the best model's joint
    reading, `detectors.read_digits` under "both")."""
    logits, logq = classifier(x), digit_or_not.read(x)[1]
    p = logits.float().softmax(1)
    return {DISAGREEMENT: (1 - (p * logq.float().exp()).sum(1)).double(),
            DOUBT: -detectors.read_digits(logits, logq, "both").max(1).values.double()}


def disagreement_candidate() -> pd.DataFrame:
    """A candidate that needs no training: how far the classifier's digit reading and the digit-or-not network's
    disagree (`readings`), each alone and added to the best model's sum. Share rejected (%) at 1% of the validation
    digits of the selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    read = functools.partial(readings, model.classifier, model.detector.digit_or_not)
    raw = {s: model.run(images)[1] | batched(read, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows((DISAGREEMENT, DOUBT), in_place=False))


CONTRASTIVE = {"epochs": 5, "temperature": 0.1, "batch": 256}  # SupCon's temperature; 512 views a batch


class Contrastive(torch.nn.Module):
    """The classifier's architecture (`models.ConvNet`) with a projection head (128 -> 128 -> 64), for supervised
    contrastive training; its features: the ConvNet's penultimate activations, as the classifier's kNN reads them."""

    INFERENCE = FAST

    def __init__(self):
        super().__init__()
        self.body = ConvNet()
        self.project = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(x))


def supervised_contrastive_loss(generator: torch.Generator):
    """Khosla et al.'s SupCon loss (NeurIPS 2020) over two random affine views of each training image (`augment`'s
    classifier jitter): each view is pulled towards every other view of its digit class and pushed from the rest
    (validation batches: the images as they are)."""
    def loss_fn(net: Contrastive, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
        if net.training:
            x, y = torch.cat([random_affine(x, generator), random_affine(x, generator)]), torch.cat([y, y])
        z = F.normalize(net(x), dim=1)
        self_pair = torch.eye(len(z), dtype=torch.bool, device=z.device)
        similarity = (z @ z.T / CONTRASTIVE["temperature"]).masked_fill(self_pair, -1e9)
        positive = (y[:, None] == y[None]) & ~self_pair
        log_p = similarity - torch.logsumexp(similarity, 1, keepdim=True)
        return (-(log_p * positive).sum(1) / positive.sum(1).clamp_min(1)).mean(), None

    return loss_fn


def knn_variants_candidate(small: int = detectors.BANK_SIZE) -> pd.DataFrame:
    """No outlier family: the best model's kNN made sharper, in its sum in place of the classifier's kNN: among
    the training digits of the digit the model reads only (k = 1 of a seeded `small`-image bank, the committed bank's
    size; k = 3 of all 50,000), and in the features of a network of the classifier's architecture trained with
    `supervised_contrastive_loss` (k = 10 of the small bank and of all; KNN+, after Sun et al., ICML 2022), also
    alone. Share rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the
    development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    contrastive = for_inference(train_network(
        Contrastive(), supervised_contrastive_loss(torch.Generator().manual_seed(SEED)), splits["train"],
        splits["val"], CONTRASTIVE["epochs"], "contrastive network", batch_size=CONTRASTIVE["batch"])[0])
    nets = {"classifier": model.classifier, "contrastive": contrastive}
    train_features = {name: F.normalize(torch.as_tensor(batched(lambda x: {"f": net.features(x)},
                                                                splits["train"].images, centre=True)["f"]), dim=1)
                      for name, net in nets.items()}
    labels = torch.as_tensor(splits["train"].labels)
    pick = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED))[:small]
    own, theirs = "kNN among the digit read", "contrastive kNN"
    raw = {}
    for s, images in no_training_sets(splits).items():
        digits, scores = model.run(images)
        read = torch.as_tensor(digits)

        def step(x: torch.Tensor) -> dict[str, torch.Tensor]:
            f, c = model.classifier.features(x), contrastive.features(x)
            return {f"{theirs}, {small:,} bank": detectors.knn_distance(c, train_features["contrastive"][pick]),
                    f"{theirs}, all": detectors.knn_distance(c, train_features["contrastive"])} | {"f": f}

        found = batched(step, images, centre=True)
        f = torch.as_tensor(found.pop("f"))
        for name, bank, bank_labels, k in ((f"{own}, {small:,} bank, k = 1", pick, labels[pick], 1),
                                           (f"{own}, all, k = 3", slice(None), labels, 3)):
            cos = F.normalize(f, dim=1) @ train_features["classifier"][bank].T
            cos = cos.masked_fill(bank_labels[None, :] != read[:, None], -2.0)  # other digits: never nearest
            found[name] = detectors.kth_distance(cos, k).double().numpy()
        raw[s] = scores | found
    variants = [n for n in raw["MNIST test"] if n.startswith((own, theirs))]
    return sums_rejected(raw, {"today's sum": SUM} | {f"{n} in place of kNN": (n, *SUM[1:]) for n in variants}
                         | {f"{theirs}, {small:,} bank, alone": (f"{theirs}, {small:,} bank",)})


INK, COMPRESSED, GENERIC = "ink", "compressed length", "L2 norm over a generic autoencoder's"
GENERIC_AE = {"epochs": 4, "outliers": 25000}  # per drawn training family


def complexity(images: np.ndarray) -> dict[str, np.ndarray]:
    """Two measures of how much an image holds: its ink (pixels summed, 0-1 each) and its zlib-compressed length
    in bytes (Serra et al., ICLR 2020: an input's complexity sways likelihood-like scores)."""
    pixels = np.asarray(images, np.uint8).reshape(len(images), -1)
    return {INK: pixels.sum(1) / 255.0,
            COMPRESSED: np.array([len(zlib.compress(row.tobytes(), 9)) for row in pixels], np.float64)}


def less_fit(score: np.ndarray, covariate: np.ndarray, val_score: np.ndarray, val_covariate: np.ndarray
             ) -> np.ndarray:
    """score less its least-squares line on covariate, fitted on the validation digits: what is left of a score once
    the part that a covariate explains on digits is taken out."""
    slope, intercept = np.polyfit(val_covariate, val_score, 1)
    return score - (slope * covariate + intercept)


def complexity_candidate() -> pd.DataFrame:
    """No outlier family: the seed autoencoder's L2 norm corrected for the image's complexity, in the best model's
    sum in place of the L2 norm: less its fit on the image's ink or on its compressed length (`complexity`), or as
    the log-ratio to the L2 norm of a generic autoencoder (the seed's architecture trained GENERIC_AE["epochs"]
    epochs on MNIST train and the drawn training families: a background model, after Ren et al.'s likelihood
    ratio, NeurIPS 2019). Share rejected (%) at 1% of the validation digits of the selection's held-out proxies,
    MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    drawn = {family: GENERIC_AE["outliers"] for family in outliers.TRAINED}
    generic, _ = train_network(Autoencoder(), autoencoder_loss, train.outlier_split(splits["train"], drawn, SEED + 1),
                               train.outlier_split(splits["val"], {f: n // 10 for f, n in drawn.items()}, SEED + 11),
                               GENERIC_AE["epochs"], "generic autoencoder")
    background = detectors.ReconstructionDetector(for_inference(generic, FAST), {})
    raw = {}
    for s, images in no_training_sets(splits).items():
        scores = model.run(images)[1]
        theirs = batched(lambda x: background.raw_scores(x, otsu=False), images, centre=True)["l2"]
        raw[s] = scores | complexity(images) | {GENERIC: np.log(scores["L2 norm"]) - np.log(theirs)}
    val = raw["MNIST validation"]
    for r in raw.values():
        r.update({f"L2 norm less its fit on {c}": less_fit(r["L2 norm"], r[c], val["L2 norm"], val[c])
                  for c in (INK, COMPRESSED)})
    corrected = (f"L2 norm less its fit on {INK}", f"L2 norm less its fit on {COMPRESSED}", GENERIC)
    return sums_rejected(raw, {"today's sum": SUM} | {f"{c} in place of the L2 norm": (SUM[0], c, SUM[2])
                                                       for c in corrected} | {f"{GENERIC} alone": (GENERIC,)})


TOPOLOGY = {"ink": 100, "caps": (3, 3, 6, 6)}  # ink from 100 of 255; counts above a cap share its cell
TOPOLOGY_SCORES = ("topology given the digit read", "topology")


def topology(images: np.ndarray, ink: int = TOPOLOGY["ink"]) -> np.ndarray:
    """Each image's stroke topology (N, 4): its pieces of ink (8-connected), its holes (4-connected background
    cut off from the border), and the end points and junction pixels of its skeleton
    (`outliers.skeleton_neighbours`)."""
    from scipy import ndimage

    found = np.empty((len(images), 4), np.int64)
    for n, image in enumerate(np.asarray(images, np.uint8)):
        mask = image >= ink
        pieces = ndimage.label(mask, outliers.EIGHT)[1]
        holes = ndimage.label(np.pad(~mask, 1))[1] - 1  # the padding joins the outside into one region
        skeleton, neighbours = outliers.skeleton_neighbours(mask)
        found[n] = pieces, holes, (skeleton & (neighbours == 1)).sum(), (skeleton & (neighbours >= 3)).sum()
    return found


def topology_cells(images: np.ndarray) -> np.ndarray:
    """Each image's cell of the table of topologies (`topology`, each count capped at TOPOLOGY["caps"])."""
    caps = np.array(TOPOLOGY["caps"])
    return np.ravel_multi_index(np.minimum(topology(images), caps).T, tuple(caps + 1))


def topology_candidate() -> pd.DataFrame:
    """No outlier family: how unlike a digit's an image's stroke topology is (`topology`): minus the log-probability
    of its cell among the training digits read as the same digit (Laplace-smoothed counts over all 50,000), and
    among all of them, alone and added to the best model's sum. Share rejected (%) at 1% of the validation digits
    of the selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    counts = np.ones((10, int(np.prod(np.array(TOPOLOGY["caps"]) + 1))))
    np.add.at(counts, (splits["train"].labels, topology_cells(splits["train"].images)), 1)
    given, overall = np.log(counts / counts.sum(1, keepdims=True)), np.log(counts.sum(0) / counts.sum())
    raw = {}
    for s, images in no_training_sets(splits).items():
        digits, raw[s] = model.run(images)
        cells = topology_cells(images)
        raw[s].update(dict(zip(TOPOLOGY_SCORES, (-given[digits, cells], -overall[cells]))))
    return sums_rejected(raw, new_score_rows(TOPOLOGY_SCORES, in_place=False))


VIEWS = {"count": 8, "degrees": 12.0, "translate": 0.06, "scale": (0.9, 1.1)}
VIEW_SCORES = ("digit-or-not, mean over the views", "digit-or-not, its spread over the views",
               "the classifier's doubt over the views")


def moved_views(model: osr.OSRModel, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """A normalised batch seen VIEWS["count"] times, each moved a little (`augment.random_affine`, seeded): the
    digit-or-not network's log-odds, their mean and spread over the views, and the classifier's doubt (1 - the top
    digit's probability, averaged over the views)."""
    generator = torch.Generator().manual_seed(SEED)
    odds, probabilities = [], []
    for _ in range(VIEWS["count"]):
        view = random_affine(x, generator, VIEWS["degrees"], VIEWS["translate"], VIEWS["scale"])
        odds.append(model.detector.digit_or_not.read(view)[0].float())
        probabilities.append(model.classifier(view).float().softmax(1))
    odds = torch.stack(odds)
    doubt = 1 - torch.stack(probabilities).mean(0).max(1).values
    return dict(zip(VIEW_SCORES, (odds.mean(0).double(), odds.std(0).double(), doubt.double())))


def views_candidate() -> pd.DataFrame:
    """No outlier family: the image moved a little several times at test time (`moved_views`), each score alone,
    added to the best model's sum, and the views' mean in place of the digit-or-not network's one pass. Share
    rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the development
    set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    seen = torch.no_grad()(functools.partial(moved_views, model))
    raw = {s: model.run(images)[1] | batched(seen, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows(VIEW_SCORES, in_place=False)
                         | {f"{VIEW_SCORES[0]} in place of one pass": (*SUM[:2], VIEW_SCORES[0])})


DENSITY = {"width": 32, "layers": 5, "epochs": 3, "noise": 0.15}  # noise: Ren et al.'s 0.1-0.2 of pixels
DENSITY_SCORES = ("PixelCNN NLL", "PixelCNN likelihood ratio")


class MaskedConv(torch.nn.Conv2d):
    """A convolution that sees only the pixels above and to the left of its centre (and the centre itself, unless
    `first`): PixelCNN's masks (van den Oord et al., ICML 2016)."""

    def __init__(self, c_in: int, c_out: int, size: int, first: bool):
        super().__init__(c_in, c_out, size, padding=size // 2)
        mask = torch.ones_like(self.weight)
        mask[:, :, size // 2, size // 2 + (0 if first else 1):] = 0
        mask[:, :, size // 2 + 1:] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(torch.nn.Module):
    """A small PixelCNN over an image's ink (pixels above half ink): each pixel's logit of ink given the pixels
    before it in reading order (a 7x7 first mask, residual 3x3 layers, two 1x1 layers)."""

    def __init__(self, width: int = DENSITY["width"], layers: int = DENSITY["layers"]):
        super().__init__()
        self.first = MaskedConv(1, width, 7, first=True)
        self.body = torch.nn.ModuleList(MaskedConv(width, width, 3, first=False) for _ in range(layers))
        self.out = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(width, width, 1), torch.nn.ReLU(),
                                       torch.nn.Conv2d(width, 1, 1))

    def forward(self, ink: torch.Tensor) -> torch.Tensor:
        h = self.first(2 * ink - 1)
        for layer in self.body:
            h = h + layer(F.relu(h))
        return self.out(h)


def ink_of(x: torch.Tensor) -> torch.Tensor:
    """A normalised batch's ink: 1 where a pixel is above half ink, else 0 (float32)."""
    return (x * MNIST_STD + MNIST_MEAN > 0.5).float()


def pixel_nll(net: PixelCNN, x: torch.Tensor, *told: torch.Tensor) -> torch.Tensor:
    """Each image's negative log-likelihood (nats) of its ink under the PixelCNN (`told`: a conditional one's
    digits)."""
    ink = ink_of(x)
    return F.binary_cross_entropy_with_logits(net(ink, *told), ink, reduction="none").flatten(1).sum(1)


def density_loss(net: PixelCNN, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """The mean negative log-likelihood per image (labels unused)."""
    return pixel_nll(net, x).mean(), None


def with_noise(x: torch.Tensor, generator: torch.Generator, share: float = DENSITY["noise"]) -> torch.Tensor:
    """A normalised batch with `share` of its pixels, at random, set to no ink or full ink at random: what the
    background model of a likelihood ratio learns from (Ren et al., NeurIPS 2019)."""
    replaced = torch.rand(x.shape, generator=generator) < share
    ink = torch.randint(0, 2, x.shape, generator=generator).to(x.dtype)
    return torch.where(replaced, (ink - MNIST_MEAN) / MNIST_STD, x)


def density_candidate() -> pd.DataFrame:
    """No outlier family: how likely an image's ink is under a PixelCNN trained on MNIST train (DENSITY["epochs"]
    epochs), as its negative log-likelihood and as the likelihood ratio to a background PixelCNN trained the same
    way on the digits with DENSITY["noise"] of their pixels made random (Ren et al., NeurIPS 2019), each alone,
    added to the best model's sum and in place of its L2 norm. Share rejected (%) at 1% of the validation digits of
    the selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    nets = [train_network(PixelCNN(), density_loss, splits["train"], splits["val"], DENSITY["epochs"],
                          f"PixelCNN ({name})", augment=noise)[0]
            for name, noise in (("digits", None), ("background", with_noise))]

    def scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        digits, background = (pixel_nll(net, x) for net in nets)
        return dict(zip(DENSITY_SCORES, (digits, digits - background)))

    raw = {s: model.run(images)[1] | batched(scores, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows(DENSITY_SCORES))


GENERATIVE_SCORES = ("PixelCNN NLL given the digit read", "generative doubt", "generative doubt of the digit read")


class ConditionalPixelCNN(PixelCNN):
    """The PixelCNN told the digit: each layer's output moved by a learnt vector of that digit's (van den Oord et
    al., NeurIPS 2016, conditional PixelCNN), so that it models each digit's ink apart: a generative classifier."""

    def __init__(self, width: int = DENSITY["width"], layers: int = DENSITY["layers"]):
        super().__init__(width, layers)
        self.digit = torch.nn.Embedding(UNKNOWN, width * (layers + 1))

    def forward(self, ink: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        shifts = self.digit(digits)[:, :, None, None].chunk(len(self.body) + 1, 1)
        h = self.first(2 * ink - 1) + shifts[0]
        for layer, shift in zip(self.body, shifts[1:]):
            h = h + layer(F.relu(h)) + shift
        return self.out(h)


def conditional_density_loss(net: ConditionalPixelCNN, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """The mean negative log-likelihood per image, told its own digit."""
    return pixel_nll(net, x, y).mean(), None


def digit_likelihoods(net: ConditionalPixelCNN, x: torch.Tensor) -> torch.Tensor:
    """Each image's log-likelihood (nats) of its ink given each digit, (N, 10)."""
    return torch.stack([-pixel_nll(net, x, torch.full((len(x),), d)) for d in range(UNKNOWN)], 1)


def generative_scores(likelihood: np.ndarray, read: np.ndarray) -> dict[str, np.ndarray]:
    """From the ink's log-likelihood given each digit (`digit_likelihoods`): minus the one given the digit `read`,
    and how unsure the generative classifier is (Bayes' rule, every digit alike a priori): minus the log-posterior
    of its most likely digit, and of the digit read."""
    likelihood = torch.as_tensor(likelihood, dtype=torch.float64)
    evidence = likelihood.logsumexp(1)
    given = likelihood.gather(1, torch.as_tensor(read).long()[:, None])[:, 0]
    return {name: score.numpy() for name, score in
            zip(GENERATIVE_SCORES, (-given, evidence - likelihood.max(1).values, evidence - given))}


def generative_candidate() -> pd.DataFrame:
    """No outlier family: a PixelCNN of each digit's ink (`ConditionalPixelCNN`, trained DENSITY["epochs"] epochs on
    MNIST train) read as a generative classifier (`generative_scores`, the digit read: the best model's), each
    score alone, added to the best model's sum and in place of its L2 norm. Share rejected (%) at 1% of the
    validation digits of the selection's held-out proxies, MNIST test and the development set (every second
    character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    net = train_network(ConditionalPixelCNN(), conditional_density_loss, splits["train"], splits["val"],
                        DENSITY["epochs"], "PixelCNN told the digit")[0]
    raw = {}
    for s, images in no_training_sets(splits).items():
        read, raw[s] = model.run(images)
        likelihood = batched(lambda x: {"l": digit_likelihoods(net, x)}, images, centre=True)["l"]
        raw[s] |= generative_scores(likelihood, read)
    return sums_rejected(raw, new_score_rows(GENERATIVE_SCORES))


DIGIT_OR_NOT_SHARES = (0.25, 0.5, 0.75, 1.0)  # 0: the committed kNN; 1: the digit-or-not network's alone


def joint_shares_candidate() -> pd.DataFrame:
    """No training: kNN in the two networks' features joined (`joined`) with the digit-or-not network's
    share of the similarity at each of DIGIT_OR_NOT_SHARES, in place of the best model's kNN. Share rejected (%) at
    1% of the validation digits of the selection's held-out proxies, MNIST test and the development set (every
    second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    names = {share: f"{JOINT}, digit-or-not share {share}" for share in DIGIT_OR_NOT_SHARES}

    def by_share(x: torch.Tensor) -> dict[str, torch.Tensor]:  # each network's pass once for every share
        parts = network_features(model, x)
        return {name: joined(parts, share) for share, name in names.items()}

    train = batched(by_share, splits["train"].images, centre=True)
    scorers = {name: for_inference(detectors.FeatureScorer(dim=train[name].shape[1]).fit(
        torch.as_tensor(train[name]), torch.as_tensor(splits["train"].labels))) for name in names.values()}

    def scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: scorers[name].knn(joint) for name, joint in by_share(x).items()}

    raw = {s: model.run(images)[1] | batched(scores, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, {"today's sum": SUM} | {f"share {share} in place of the kNN": (name, *SUM[1:])
                                                     for share, name in names.items()})


INPAINT = {"width": 16, "epochs": 3, "cell": 7}  # 7x7 cells: a 4x4 grid, masked a quarter at a time
INPAINTED = "inpainting error"


def cell_groups(size: int = 28, cell: int = INPAINT["cell"]) -> torch.Tensor:
    """Four masks (4, 1, size, size) that split the image's cells of cell x cell pixels by the parity of their row
    and column: each mask hides every second cell of every second row, no two hidden cells side by side, and
    together they hide every pixel once."""
    rows = torch.arange(size) // cell % 2
    return torch.stack([((rows[:, None] == r) & (rows[None, :] == c)) for r in (0, 1) for c in (0, 1)])[:, None]


class Inpainter(torch.nn.Module):
    """A small U-Net that draws the hidden cells of a digit from the rest of it (reconstruction by inpainting,
    after Zavrtanik, Kristan and Skocaj, Pattern Recognition 2021): its input is the image with the hidden pixels
    at the background's value and the mask as a second channel; three scales, 28, 14 and 7 pixels, the smallest
    seeing nearly the whole image."""

    def __init__(self, width: int = INPAINT["width"]):
        super().__init__()
        w, conv = width, torch.nn.Conv2d
        self.down = torch.nn.ModuleList([conv(2, w, 3, padding=1), conv(w, 2 * w, 3, stride=2, padding=1),
                                         conv(2 * w, 4 * w, 3, stride=2, padding=1)])
        self.middle = torch.nn.ModuleList([conv(4 * w, 4 * w, 3, padding=1) for _ in range(2)])
        self.up = torch.nn.ModuleList([torch.nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2),
                                       torch.nn.ConvTranspose2d(2 * w, w, 2, stride=2)])
        self.merge = torch.nn.ModuleList([conv(4 * w, 2 * w, 3, padding=1), conv(2 * w, w, 3, padding=1)])
        self.out = conv(w, 1, 1)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        h = torch.cat([torch.where(hidden, -MNIST_MEAN / MNIST_STD, x), hidden.to(x.dtype)], 1)
        skips = []
        for layer in self.down:
            h = F.relu(layer(h))
            skips.append(h)
        for layer in self.middle:
            h = h + F.relu(layer(h))
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = F.relu(merge(torch.cat([F.relu(up(h)), skip], 1)))
        return self.out(h)


def inpainting_loss(net: Inpainter, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """The squared error summed over the hidden pixels, per image; image i hides the cells of group i mod 4, so
    that every batch trains on every group (labels unused)."""
    groups = cell_groups().to(x.device)
    hidden = groups[torch.arange(len(x), device=x.device) % len(groups)]
    return ((net(x, hidden) - x).pow(2) * hidden).flatten(1).sum(1).mean(), None


def inpainting_error(net: Inpainter, x: torch.Tensor) -> torch.Tensor:
    """The L2 norm of the inpainted image minus the image, each pixel drawn by the pass that hid it (four passes,
    one per group of cells)."""
    groups = cell_groups().to(x.device)
    x = x.float()
    drawn = sum(net(x, g.expand(len(x), -1, -1, -1)) * g for g in groups)
    return (drawn - x).flatten(1).norm(dim=1)


def inpainting_candidate() -> pd.DataFrame:
    """No outlier family: how well the rest of an image tells its hidden cells, by a network trained
    INPAINT["epochs"] epochs on MNIST train to inpaint digits (`Inpainter`, `inpainting_error`); alone, added to the
    best model's sum and in place of its L2 norm. Share rejected (%) at 1% of the validation digits of the
    selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    net = train_network(Inpainter(), inpainting_loss, splits["train"], splits["val"], INPAINT["epochs"],
                        "inpainter")[0].eval()
    raw = {s: model.run(images)[1] | batched(lambda x: {INPAINTED: inpainting_error(net, x)}, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows((INPAINTED,)))


CODE_SCORES = ("autoencoder code kNN", "autoencoder code Mahalanobis")


def code_candidate() -> pd.DataFrame:
    """No training: where the committed autoencoder's code (32 values) of an image lies among the codes of MNIST
    train (`detectors.FeatureScorer` fitted on them): kNN (the 10th nearest of 5,000) and the Mahalanobis distance
    to the nearest digit's mean, each alone, added to the best model's sum and in place of its L2 norm. Share
    rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the
    development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    autoencoder = model.detector.reconstruction.autoencoder
    codes = batched(lambda x: {"c": autoencoder.encode(x)[0]}, splits["train"].images, centre=True)["c"]
    scorer = for_inference(detectors.FeatureScorer(dim=codes.shape[1]).fit(
        torch.as_tensor(codes), torch.as_tensor(splits["train"].labels)))
    mahalanobis = scorer.library_detectors()[0]

    def scores(x: torch.Tensor) -> dict[str, torch.Tensor]:
        code = autoencoder.encode(x)[0]
        return dict(zip(CODE_SCORES, (scorer.knn(code), mahalanobis.predict_features(code))))

    raw = {s: model.run(images)[1] | batched(scores, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows(CODE_SCORES))


BOTTLENECKS = (8, 16)  # code sizes below the committed autoencoder's 32


def bottleneck_candidate() -> pd.DataFrame:
    """No outlier family: the seed's autoencoder with a narrower code (BOTTLENECKS), trained as train.py trains the
    committed one (its epochs, MNIST train), its L2 norm alone, added to the best model's sum and in place of the
    committed L2 norm. Share rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST
    test and the development set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()

    def trained(code: int) -> detectors.ReconstructionDetector:
        net = train_network(Autoencoder(code), autoencoder_loss, splits["train"], splits["val"],
                            train.EPOCHS["autoencoder"], f"autoencoder, {code}-value code")[0]
        return detectors.ReconstructionDetector(for_inference(net, FAST), {})

    narrow = {f"L2 norm, {code}-value code": trained(code) for code in BOTTLENECKS}

    def scores(x: torch.Tensor) -> dict[str, np.ndarray]:
        return {name: reconstruction.raw_scores(x, otsu=False)["l2"] for name, reconstruction in narrow.items()}

    raw = {s: model.run(images)[1] | batched(scores, images, centre=True)
           for s, images in no_training_sets(splits).items()}
    return sums_rejected(raw, new_score_rows(tuple(narrow)))


REPELLED = "L2 norm, autoencoder that fails on outliers"


def repelling_loss(margin: float):
    """An autoencoder's loss that reconstructs the digits (per-image summed squared error, normalised pixels) and
    pushes each outlier's error up to at least `margin` (a hinge; after the outlier exposure of Hendrycks et al.,
    ICLR 2019, on a reconstruction score)."""
    def loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
        error = (net(x) - x).pow(2).flatten(1).sum(1)
        digit = y != UNKNOWN
        return (error[digit].sum() + F.relu(margin - error[~digit]).sum()) / len(x), None
    return loss


def repelled_candidate() -> pd.DataFrame:
    """A reconstruction score taught what is not a digit: the committed autoencoder trained on for the probe's
    epochs on the probe's digits against today's families (`repelling_loss`, the margin twice the largest squared
    error of the 99% of validation digits it reconstructs best), its L2 norm in the best model's sum in place of
    the committed one, beside today's sum. Share rejected (%) at 1% of validation digits of each family (* the
    families it trained on, as the committed digit-or-not network did), the development set and the validation
    digits' own threshold."""
    digits, pool, sets, _ = probe()
    model = osr.load_osr_model()
    committed = model.detector.reconstruction
    errors = batched(lambda x: {"e": committed.raw_scores(x, otsu=False)["l2"] ** 2}, digits["val"].images,
                     centre=True)["e"]
    today = DESIGNS["drawn + made (today)"]
    net, _ = train_network(copy.deepcopy(committed.autoencoder).float(), repelling_loss(2 * np.quantile(errors, 0.99)),
                           family_split(digits["train"], pool["train"], today, PROBE["outliers"]),
                           family_split(digits["val"], pool["val"], today, PROBE["outliers"] // 10),
                           PROBE["epochs"], "autoencoder failing on outliers", augment=style_augment)
    repelled = detectors.ReconstructionDetector(for_inference(net, FAST), {})
    raw = {name: model.run(images)[1] | batched(lambda x: {REPELLED: repelled.raw_scores(x, otsu=False)["l2"]},
                                                images, centre=True)
           for name, images in sets.items()}
    rows = {"today's sum": SUM, "L2 norm alone": ("L2 norm",), f"{REPELLED} alone": (REPELLED,),
            f"{REPELLED} in place": (SUM[0], REPELLED, SUM[2])}
    return sums_rejected(raw, rows).rename(index=lambda name: starred(name, today))


class RotationAided(DigitOrNot):
    """The committed digit-or-not network with four more outputs that say which quarter turn a digit was given, an
    auxiliary task while it trains (as OpenOOD's RotPred adds to a classifier); its score is the committed one,
    from its first eleven outputs."""

    def __init__(self):
        super().__init__(outputs=UNKNOWN + 1 + 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _not_a_digit(self.logits(x)[:, : UNKNOWN + 1])


def rotation_aided_loss(net: RotationAided, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """`losses.k_plus_one_loss` on the first eleven outputs, plus the cross-entropy of the last four on the batch's
    digits each turned by a random number of quarter turns."""
    logits = net.logits(x)[:, : UNKNOWN + 1]
    loss = F.cross_entropy(logits, y)
    digits = x[y != UNKNOWN]
    if len(digits):  # a batch of outliers alone has no turn to tell
        turns = torch.randint(4, (len(digits),))
        turned = torch.empty_like(digits)
        for k in range(4):
            turned[turns == k] = torch.rot90(digits[turns == k], k, (2, 3))
        loss = loss + F.cross_entropy(net.logits(turned)[:, UNKNOWN + 1:], turns)
    return loss, (logits.argmax(1) == y).sum()


def rotation_aided_candidate() -> pd.DataFrame:
    """`RotationAided` trained on today's design under the leave-one-out rule, beside the committed eleven outputs
    trained the same way (`design_runs`, every run trained here)."""
    today = DESIGNS["drawn + made (today)"]
    probed = probe()
    plain = design_runs(today, "eleven outputs", probed, DigitOrNot, k_plus_one_loss)
    aided = design_runs(today, "and quarter turns", probed, RotationAided, rotation_aided_loss)
    return designs_side_by_side({"designs": {"today": today, "+ quarter turns told": today}, "runs": plain,
                                 "own runs": {"+ quarter turns told": aided}})


Pen = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # a training batch's augmentation (`augment`)


def recipe(added: dict[str, int] | None = None, pen: Pen = style_augment, width: int = 32
           ) -> tuple[dict[str, int], Pen, int]:
    """A `full_network_table` variant: train.py's digit-or-not recipe (its made families, pen and width), with
    `added` made outliers (family: count) among them, another pen or another width."""
    return train.MADE | (added or {}), pen, width


def full_digit_or_not(splits: dict[str, Split], seed: int, made: dict[str, int], name: str,
                      pen: Pen = style_augment, width: int = 32) -> DigitOrNot:
    """A digit-or-not network trained as train.py trains the committed one (its drawn families, epochs and eleven
    outputs) against `made` of each made family, under the augmentation `pen`, its initial weights and data order
    from `seed`, its first convolution `width` channels wide; for inference."""
    torch.manual_seed(seed)
    return for_inference(train.train_digit_or_not(splits, train.EPOCHS["digit_or_not"], made=made, seed=seed,
                                                  name=f"digit-or-not, {name}", augment=pen, width=width)[0])


def ensemble_candidate(seed: int = SEED + 1) -> pd.DataFrame:
    """A second digit-or-not network, trained as the committed one (its recipe, data and epochs: train.py) from
    another seed (initial weights and data order), in the best model's sum: in place of the committed network (how
    far one seed moves the figures) and as the mean of the two networks' log-odds (a two-member ensemble). Share
    rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and the development
    set (every second character)."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    second = full_digit_or_not(splits, seed, train.MADE, "another seed")
    sets = no_training_sets(splits)
    score = detectors.DIGIT_OR_NOT_SCORE
    raw = {}
    for name, images in sets.items():
        raw[name] = model.run(images)[1] | batched(lambda x: {"another seed": second(x)}, images, centre=True)
        raw[name]["mean of the two"] = (raw[name][score] + raw[name]["another seed"]) / 2
    return sums_rejected(raw, {"today's sum": SUM, "another seed in place": (*SUM[:2], "another seed"),
                               "the two networks' mean": (*SUM[:2], "mean of the two")})


def full_network_table(variants: dict[str, tuple[dict[str, int], Pen, int]], seed: int = SEED + 1) -> pd.DataFrame:
    """Digit-or-not networks at full size (train.py's recipe: its data, eleven outputs and epochs) trained from one
    other seed, one per variant (name: the made families' counts, the augmentation, the width), each put in the best model in
    place of the committed network, its z statistics and threshold (1% of the validation digits) fitted again as
    train.py fits them (and its digit rule chosen as train.py chooses it), beside the committed model. Share
    rejected (%) of MNIST test, of the selection's held-out proxies, the far sets and the development set, the seed
    protocol's total OSR accuracy and the closed-set accuracy (%); EMNIST letters, a test set, is left out."""
    splits = mnist_splits()
    model = osr.load_osr_model()
    sets = {"MNIST test": splits["test"], **{name: data.unknown_split(images) for name, images in
                                             detectors.held_out_proxies(splits["val"]).items()},
            **{name: split for name, split in data.ood_sets().items() if name != "EMNIST letters"}}
    seed_protocol = data.seed_protocol_indices(sets)

    def column(detector: detectors.CombinedDetector) -> dict[str, float]:
        val = detector.combine(batched(detector.raw_scores, splits["val"].images, centre=True))
        candidate = osr.OSRModel("best", model.classifier, detector, helpers.quantile_threshold(val), True)
        outputs = evaluate.run_sets(candidate, sets)
        found = evaluate.system_results(outputs, sets, seed_protocol)
        return ({name: 100.0 * float(np.mean(out.preds == UNKNOWN)) for name, out in outputs.items()}
                | {"seed protocol: total": found["seed_protocol"]["total"], "closed-set accuracy": found["closed_set"]})

    def fitted(net: DigitOrNot) -> detectors.CombinedDetector:  # the committed sum, z statistics on `net`'s scores
        rules = detectors.digit_rule_accuracies(model.classifier, net, splits["val"], centre=True)
        detector = detectors.CombinedDetector(model.classifier, model.detector.reconstruction, model.detector.scorer,
                                              model.detector.components, digit_or_not=net,
                                              digits=detectors.chosen_rule(rules))
        detector.stats = detectors.fit_stats(batched(detector.raw_scores, splits["val"].images, centre=True))
        return detector

    columns = {"committed": column(model.detector)}
    for name, (made, pen, width) in variants.items():
        columns[name] = column(fitted(full_digit_or_not(splits, seed, made, name, pen, width)))
    return pd.DataFrame(columns)


def full_network_candidate() -> pd.DataFrame:
    """The fragment family at full size: `full_network_table` without and with train.MADE's count of digits with a
    fragment of another digit added to the outliers."""
    fragments = {outliers.FRAGMENT: train.MADE["side chimeras"]}
    return full_network_table({"another seed": recipe(), "another seed, + fragments": recipe(fragments)})


def new_ink_candidate() -> pd.DataFrame:
    """Fragments that must add ink where the digit has none, at full size (`full_network_table`), with today's pen
    and with an elastic distortion before it (`augment.elastic_style`)."""
    fragments = {outliers.NEW_INK_FRAGMENT: train.MADE["side chimeras"]}
    return full_network_table({"+ fragments adding ink": recipe(fragments),
                               "+ fragments adding ink, elastic pen": recipe(fragments, elastic_style)})


def reading_candidate() -> pd.DataFrame:
    """Fragments that add ink at full size (`full_network_table`) from the committed seed, 10,000 and 5,000 of them,
    each network reading the digit beside the classifier by train.py's rule: whether the seed protocol's room that
    the two-network reading made lets them in."""
    return full_network_table({f"+ {n:,} fragments adding ink": recipe({outliers.NEW_INK_FRAGMENT: n})
                               for n in (10000, 5000)}, seed=SEED)


def narrow_candidate(widths: tuple[int, ...] = (16, 24)) -> pd.DataFrame:
    """Narrower digit-or-not networks (the committed one is 32 channels wide at its first convolution, 64 at the
    next two), trained at full size from the committed seed on the committed data (`full_network_table`): how much
    of the signal needs the width that makes the best model's `predict` slower than system A's."""
    return full_network_table({f"width {w}": recipe(width=w) for w in widths}, seed=SEED)


def ink_again_candidate() -> pd.DataFrame:
    """Fragments that add ink at full size from the committed seed (`reading_candidate`'s 10,000), measured on the
    machine that trained the committed recipe again (`beyond_full_candidate`'s "the committed seed again"): the
    like-for-like comparison the floors need, retraining's own noise being as large as the margins."""
    return full_network_table({"+ 10,000 fragments adding ink": recipe({outliers.NEW_INK_FRAGMENT: 10000})},
                              seed=SEED)


def recipe_seed_candidate() -> pd.DataFrame:
    """The committed recipe at full size from another seed (`full_network_table`'s default, as `--full-network`'s
    "another seed"), on the machine that trained it again from the committed seed: how far retraining alone moves
    the floors' measures under today's two-network reading."""
    return full_network_table({"the committed recipe, another seed": recipe()})


def quarter_turns(digits: Split) -> Split:
    """Every digit four times, turned by 0, 1, 2 and 3 quarter turns, labelled with the number of turns."""
    turns = np.repeat(np.arange(4), len(digits))
    return Split(np.concatenate([np.rot90(digits.images, k, axes=(1, 2)) for k in range(4)]), turns)


def rotation_candidate() -> pd.DataFrame:
    """A candidate that trains on no outlier family, so that every family is held out from it: a network told
    which quarter turn a digit was given (the rotation head of Hendrycks et al. 2019, here a network of its own:
    the digit-or-not body, four outputs), trained on the probe's digits for the probe's epochs. Its scores: the
    cross-entropy of "not turned" on the image as it is (one pass), and summed over the image's four turns (four
    passes). Share rejected (%) at 1% of the validation digits of each family (PROBE["measured"] made from the
    validation digits; the families marked * trained the committed digit-or-not network), the development set
    and MNIST test: today's sum (kNN + L2 norm + digit-or-not, committed), each rotation score alone, and
    today's sum with it."""
    splits = mnist_splits()
    digits = probe_digits(splits)
    net, _ = train_network(DigitOrNot(outputs=4), classifier_loss, quarter_turns(digits["train"]),
                           quarter_turns(digits["val"]), PROBE["epochs"], "quarter turns", augment=style_augment)
    net = for_inference(net)

    def turned_away(x: torch.Tensor) -> dict[str, torch.Tensor]:
        def loss(k: int) -> torch.Tensor:  # cross-entropy of the truth: k quarter turns
            logits = net(torch.rot90(x, k, (2, 3)).contiguous()).double()
            return torch.logsumexp(logits, 1) - logits[:, k]
        return {"rotation (1 pass)": loss(0), "rotation (4 passes)": sum(loss(k) for k in range(4))}

    sets = measured_sets(splits) | {"MNIST test": splits["test"].images}
    best = osr.load_osr_model(system="best").detector
    today = detectors.CombinedDetector(best.classifier, best.reconstruction, best.scorer, SUM,
                                       digit_or_not=best.digit_or_not)
    raw = {name: batched(today.raw_scores, images, centre=True) | batched(turned_away, images, centre=True)
           for name, images in sets.items()}
    scores = {"today's sum": SUM} | {f"{r} alone": (r,) for r in ("rotation (1 pass)", "rotation (4 passes)")}
    scores |= {f"sum + {r}": SUM + (r,) for r in ("rotation (1 pass)", "rotation (4 passes)")}
    trained = set(DESIGNS["drawn + made (today)"])
    return sums_rejected(raw, scores).rename(index=lambda name: starred(name, trained))


def hardest_candidate(shares: tuple[float, ...] = (1.0, 0.5)) -> pd.DataFrame:
    """Hard negatives chosen, not pushed: today's run trained with each of `shares` of each family's outliers the
    ones of its pool that the committed best model finds most like digits (`beside_todays_run`), beside today's
    run."""
    tables = [beside_todays_run(binary(), f"{share:.0%} hardest", hardest=share) for share in shares]
    return pd.concat([tables[0], *(t.drop(columns=[c for c in t if c.startswith("today")]) for t in tables[1:])],
                     axis=1)


def noise_candidate(seeds: tuple[int, ...] = (SEED, SEED + 1, SEED + 2)) -> pd.DataFrame:
    """How far the probes move by chance: today's design trained as leave_one_out.json's run of it, from each of
    `seeds` (initial weights, data order and augmentation), on the same images; share rejected (%) in the best
    model's sum per seed, and the spread (largest minus smallest) over the seeds."""
    probed = probe()
    today = DESIGNS["drawn + made (today)"]
    runs = {}
    for seed in seeds:
        torch.manual_seed(seed)
        found = trained_and_measured(binary(), today, f"today, seed {seed}", *probed, seed=seed)["rejected"]
        runs[f"seed {seed}"] = {starred(f, today): r["sum"] for f, r in found.items()}
    table = pd.DataFrame(runs)
    return table.assign(spread=table.max(axis=1) - table.min(axis=1))


class ErrorMapped(torch.nn.Module):
    """A candidate input for the digit-or-not network: the image beside its reconstruction error (the image minus
    the committed autoencoder's reconstruction of it, the map behind A's L2 norm), as two channels."""

    INFERENCE = FAST

    def __init__(self, autoencoder: torch.nn.Module):
        super().__init__()
        self.autoencoder = copy.deepcopy(autoencoder).float().requires_grad_(False)
        self.net = DigitOrNot(outputs=1, channels=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().contiguous()
        with torch.no_grad():
            error = x - self.autoencoder(x)
        return self.net(torch.cat([x, error], 1))


def column(run: str, score: str) -> str:
    """A candidate table's column: a run or design and its score, "alone" or "in the sum"."""
    return f"{run}: {'in the sum' if score == 'sum' else score}"


def beside_todays_run(net: torch.nn.Module, name: str, loss=digit_or_not_loss, hardest: float = 0.0
                      ) -> pd.DataFrame:
    """`net` trained with `loss` as leave_one_out.json's run of today's design (strokes, blobs and the made
    families marked *; every other family held out) and measured the same way, beside that run: share rejected
    (%) at 1% of the validation digits, the network alone and inside the best system's sum. With `hardest`, that
    share of each family's training outliers are the ones the committed best model finds most like digits (its
    lowest scores) in the family's whole pool, the rest the pool's first others, as in today's run."""
    digits, pool, sets, fixed = probe()
    today = DESIGNS["drawn + made (today)"]
    if hardest:
        model = osr.load_osr_model()
        n = round(hardest * PROBE["outliers"] / len(today))
        for family in today:
            images = pool["train"][family]
            first = np.argsort(model.score(images), kind="stable")[:n]
            pool["train"][family] = np.concatenate([images[first], np.delete(images, first, axis=0)])
    found = trained_and_measured(net, today, name, digits, pool, sets, fixed, loss)["rejected"]
    before = load_leave_one_out()["runs"][" + ".join(today)]["rejected"]
    return pd.DataFrame({starred(family, today): {
        column(run, score): measured[family][score]
        for run, measured in (("today", before), (name, found)) for score in ("alone", "sum")}
        for family in found}).T


def error_map_candidate() -> pd.DataFrame:
    """The digit-or-not network reading the reconstruction error beside the image (`ErrorMapped`), beside today's
    run (the image alone; `beside_todays_run`)."""
    return beside_todays_run(ErrorMapped(osr.load_osr_model(system="A").detector.autoencoder), "with the error map")


class ClassConditional(torch.nn.Module):
    """A candidate autoencoder told which digit to draw: a convolutional encoder to a 16-value code, and a decoder
    that reads the code under the digit's own scale and shift (FiLM) and draws in pixels (0-1). Unlike the seed's
    autoencoder it gets no max-pool indices, which hand the decoder the input's shape: what it can draw is a digit
    of the class it is told, in the style of the code (after Oza and Patel's C2AE, CVPR 2019)."""

    INFERENCE = FAST

    def __init__(self, code: int = 16, hidden: int = 256):
        super().__init__()
        self.encoder = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 4, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 4, 2, 1), torch.nn.ReLU(),
            torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, code))
        self.film = torch.nn.Embedding(10, 2 * hidden)
        self.fc = torch.nn.Linear(code, hidden)
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(hidden, 64 * 7 * 7), torch.nn.ReLU(), torch.nn.Unflatten(1, (64, 7, 7)),
            torch.nn.ConvTranspose2d(64, 32, 4, 2, 1), torch.nn.ReLU(), torch.nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def draw(self, code: torch.Tensor, digits: torch.Tensor) -> torch.Tensor:
        """Pixels (0-1) of the given digits in the style of `code`."""
        return self.draw_as(code, self.film(digits))

    def draw_as(self, code: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """Pixels (0-1) in the style of `code` of what the digit embeddings `film` (a row per image) stand for."""
        scale, shift = film.chunk(2, 1)
        return torch.sigmoid(self.decoder(F.relu(self.fc(code) * (1 + scale) + shift)))

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 10): the L2 norm (pixels 0-1) between each normalised image and its code drawn as each digit."""
        x = x.to(self.fc.weight.dtype)
        pixels, code = x * MNIST_STD + MNIST_MEAN, self.encoder(x)
        return torch.stack([(self.draw(code, torch.full((len(x),), k)) - pixels).flatten(1).norm(dim=1)
                            for k in range(10)], 1)


CONDITIONAL = {"epochs": 6, "margin": 30.0}  # the hinge: drawn as a wrong digit, 30 squared pixels off or more


def class_conditional_loss(net: ClassConditional, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """The image drawn as its own digit (summed squared pixel error), plus a hinge that pushes its drawing as a
    random other digit at least CONDITIONAL["margin"] away (C2AE's non-match term): the decoder must use the digit
    it is told, not only the code."""
    pixels, code = x * MNIST_STD + MNIST_MEAN, net.encoder(x)
    match = (net.draw(code, y) - pixels).pow(2).flatten(1).sum(1)
    other = (y + torch.randint(1, 10, y.shape)) % 10
    miss = (net.draw(code, other) - pixels).pow(2).flatten(1).sum(1)
    return (match + F.relu(CONDITIONAL["margin"] - miss)).mean(), None


@functools.cache
def conditional_autoencoder() -> ClassConditional:
    """`ClassConditional` trained on MNIST train (`class_conditional_loss`, CONDITIONAL["epochs"] epochs), once per
    process; for inference."""
    splits = mnist_splits()
    return for_inference(train_network(ClassConditional(), class_conditional_loss, splits["train"], splits["val"],
                                       CONDITIONAL["epochs"], "class-conditional autoencoder")[0])


def beyond_the_digit(digits: Split, n: int, rng: np.random.Generator) -> np.ndarray:
    """n glyphs in MNIST's pen that are no digit, drawn by the class-conditional autoencoder (trained on MNIST train
    alone): the code of a random one of `digits` drawn as told a point beyond its own digit a, its embedding moved
    away from another digit b's by as much again (e(a) + (e(a) - e(b))). Outliers generated from the known digits
    alone, as the open-set literature's ARPL+CS and OGFO generate theirs."""
    net = conditional_autoencoder()
    pick = rng.choice(len(digits), n)
    own = torch.as_tensor(digits.labels[pick])
    other = (own + torch.as_tensor(rng.integers(1, 10, n))) % 10
    codes = torch.as_tensor(batched(lambda x: {"code": net.encoder(x.float())}, digits.images[pick])["code"])
    with torch.inference_mode():
        film = net.film.weight
        pixels = net.draw_as(codes, 2 * film[own] - film[other])
    return (pixels[:, 0] * 255).round().to(torch.uint8).numpy()


BEYOND = "beyond a digit (generated)"  # measured by `--beyond` and `--beyond-full`
outliers.MADE_CANDIDATES[BEYOND] = beyond_the_digit  # a made family (`outliers.make`) wherever this module is loaded


def class_conditional_candidate() -> pd.DataFrame:
    """A signal trained on no outlier family, so that every family is held out from it: `conditional_autoencoder`;
    its score, the L2 norm between an image and its drawing as the digit the best model reads, alone, added to the
    best model's sum and in place of the seed autoencoder's L2 norm. Share rejected (%) at 1% of validation digits
    of the selection's held-out proxies, MNIST test and the development set (every second character)."""
    splits = mnist_splits()
    net = conditional_autoencoder()
    model = osr.load_osr_model()
    name = "class-conditional error"
    raw = {}
    for s, images in no_training_sets(splits).items():
        digits, found = model.run(images)
        errors = batched(lambda x: {"e": net.errors(x)}, images, centre=True)["e"]
        raw[s] = found | {name: errors[np.arange(len(images)), digits].astype(np.float64)}
    return sums_rejected(raw, {"today's sum": SUM, f"{name} alone": (name,), f"sum + {name}": (*SUM, name),
                               f"{name} in place of the L2 norm": (SUM[0], name, SUM[2])})


def pushed(net: torch.nn.Module, outliers: torch.Tensor, steps: int = ACET["steps"],
           radius: float = ACET["radius"]) -> torch.Tensor:
    """`outliers` (normalised images) moved in the manner of ACET (Hein, Andriushchenko and Bitterwolf, CVPR
    2019): `steps` signed-gradient steps from a random start within `radius` (in 0-1 ink per pixel, inside the 0-1
    range) to where `net` is surest they are digits (its "not a digit" logit lowered)."""
    low, high = -MNIST_MEAN / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD
    r = radius / MNIST_STD
    moved = (outliers + r * (2 * torch.rand_like(outliers) - 1)).clamp(low, high)
    was_training = net.training
    net.eval()  # no dropout while searching
    for _ in range(steps):
        moved.requires_grad_(True)
        grad, = torch.autograd.grad(net(moved).sum(), moved)
        moved = torch.minimum(torch.maximum(moved.detach() - 2.5 * r / steps * grad.sign(), outliers - r),
                              outliers + r).clamp(low, high)
    net.train(was_training)
    return moved.detach()


def pushed_towards_digits(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A binary network's training loss with hard negatives: each batch's outliers (y == UNKNOWN) also moved
    towards the digits (`pushed`), and the network taught to say "not a digit" to those too; the correct decisions
    counted on the batch as given. In evaluation, `digit_or_not_loss`."""
    if not net.training:
        return digit_or_not_loss(net, x, y)
    outlier = y == UNKNOWN
    moved = pushed(net, x[outlier])
    logits = net(torch.cat([x, moved]))
    target = torch.cat([outlier, torch.ones(len(moved), dtype=torch.bool, device=y.device)]).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, target), ((logits[: len(x)] > 0) == outlier).sum()


def acet_candidate() -> pd.DataFrame:
    """The probes' one-output network (`binary`) trained with outliers pushed towards the digits
    (`pushed_towards_digits`), beside today's run (`beside_todays_run`)."""
    return beside_todays_run(binary(), "pushed outliers", pushed_towards_digits)


def design_runs(design: tuple[str, ...], name: str, probed: tuple, make=binary, loss=digit_or_not_loss,
                done: dict | None = None) -> dict[str, dict]:
    """The runs the leave-one-out rule needs for `design`: the whole design and the design less each family, each
    a new network `make()` trained with `loss` (`trained_and_measured`) on `probed` (`probe`'s four parts); runs
    already `done` are not trained again."""
    runs = {}
    for held_out in (None, *design):
        kept = tuple(f for f in design if f != held_out)
        if " + ".join(kept) not in (done or {}):
            runs[" + ".join(kept)] = trained_and_measured(make(), kept, f"{name}, without {held_out}", *probed, loss)
    return runs


def designs_side_by_side(found: dict) -> pd.DataFrame:
    """`report.leave_one_out_table` of each design, alone and in the sum, as columns side by side."""
    tables = {score: leave_one_out_table(found, score) for score in ("alone", "sum")}
    return pd.DataFrame({column(design, score): tables[score][design]
                         for design in found["designs"] for score in tables})


def added_family_candidate(added: tuple[str, ...], name: str, eleven: bool = False) -> pd.DataFrame:
    """Today's design with the `added` families beside today's, under the leave-one-out rule: each family read
    from the run of that design that did not train on it (`report.leave_one_out_table`). With the probes'
    one-output network, the runs the new design needs are trained here, today's whole design among them (the one
    run that measures the new families for today's column), and today's other runs are leave_one_out.json's; with
    the committed eleven outputs (`eleven`), today's runs are trained here too."""
    today = DESIGNS["drawn + made (today)"]
    design = (*today, *added)
    probed = probe((*FAMILIES, *added))
    make, loss = (DigitOrNot, k_plus_one_loss) if eleven else (binary, digit_or_not_loss)
    fresh = design_runs(design, name, probed, make, loss)
    before = (design_runs(today, "today", probed, make, loss, done=fresh) if eleven
              else load_leave_one_out()["runs"])
    return designs_side_by_side({"designs": {"today": today, f"+ {' + '.join(added)}": design},
                                 "runs": fresh | {run: found for run, found in before.items() if run not in fresh}})


def beyond_candidate() -> pd.DataFrame:
    """Glyphs generated beyond a digit (`beyond_the_digit`) as a fifth family beside today's
    (`added_family_candidate`, the probes' one-output network)."""
    return added_family_candidate((BEYOND,), "beyond a digit")


def beyond_full_candidate() -> pd.DataFrame:
    """Glyphs generated beyond a digit at full size (`full_network_table`): the committed recipe from the committed
    seed without and with train.MADE's count of them among the outliers."""
    return full_network_table({"the committed seed again": recipe(),
                               "+ glyphs beyond a digit": recipe({BEYOND: train.MADE["side chimeras"]})}, seed=SEED)


def pens_candidate(eleven: bool = False) -> pd.DataFrame:
    """A third pen model (`outliers.CANDIDATES`) added to today's design (`added_family_candidate`)."""
    return added_family_candidate(outliers.CANDIDATES, "pens", eleven)


def k_plus_one_candidate() -> pd.DataFrame:
    """The adopted digit-or-not network (`models.DigitOrNot`: the ten digits and "not a digit") trained on
    today's design under the leave-one-out rule (the whole design and the design less each family), beside the
    one-output network's runs of that design (leave_one_out.json's)."""
    today = DESIGNS["drawn + made (today)"]
    fresh = design_runs(today, "digits + not a digit", probe(), DigitOrNot, k_plus_one_loss)
    return designs_side_by_side({"designs": {"one output": today, "digits + not a digit": today},
                                 "runs": load_leave_one_out()["runs"],
                                 "own runs": {"digits + not a digit": fresh}})


OTHERS = {  # option: (the run, its name in REPORT, what it measured), each saved to report/candidates.json
    "per_class": (per_class_thresholds, "per-digit thresholds",
                  "No training: one threshold per digit read, each rejecting 1% of the validation digits read as "
                  "that digit, against the best model's one threshold (the same false alarms in all). Share "
                  "rejected (%) of the selection's held-out proxies, MNIST test and the development set (every "
                  "fourth character). Not adopted."),
    "feature_knn": (feature_knn_candidate, "kNN in the digit-or-not network's features",
                    "No training: the distance to the 10th nearest of 5,000 training digits in the committed "
                    "digit-or-not network's penultimate features (128 values), alone, added to the best model's sum "
                    "and in place of the network's log-odds. Share rejected (%) at 1% of validation digits of the "
                    "selection's held-out proxies, MNIST test and the development set (every second character). Not "
                    "adopted: added, it lowers the held-out mean (overlay most) and leaves the development set "
                    "where it was; in place of the log-odds it lowers both."),
    "bank": (bank_candidate, "a larger kNN bank",
             "No training: the best model's kNN with 5,000 (committed), 20,000 or all 50,000 training features in "
             "its bank, and the 10th (committed) or 50th neighbour, in today's sum in place of the committed kNN. "
             "Share rejected (%) at 1% of validation digits of the selection's held-out proxies, MNIST test and the "
             "development set (every second character). Not adopted: the full bank lifts some held-out families "
             "by 1-4 points and the development set by less than 1, for a kNN step ten times the work in `predict` (a "
             "bank ten times as long) and a feature_scorer.pth about ten times larger."),
    "otsu": (otsu_candidate, "system A's reconstruction scores in the sum",
             "No training: the Otsu diff of the same autoencoder pass added to the best model's sum (kNN + L2 norm "
             "+ digit-or-not), and the seed rule (A) in place of its L2 norm. Share rejected (%) at 1% of "
             "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
             "second character). Not adopted: the Otsu diff lifts overlays by 3 points and lowers chimeras, "
             "mirrored digits, scribbles and the development set by 6-8; the seed rule lowers chimeras by 2 and "
             "moves the rest by at most 1."),
    "ensemble": (ensemble_candidate, "two digit-or-not networks",
                 "A second digit-or-not network trained as the committed one (train.py's recipe, data and "
                 "epochs) from another seed (initial weights and data order), in the best model's sum: in place of "
                 "the committed network, and as the mean of the two networks' log-odds. Share rejected (%) at 1% of "
                 "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
                 "second character). Not adopted: the pair moves each family by at most 1.2 points and the "
                 "development set by 0.2, no more than the other seed alone moves them (up to 1.6), for twice the "
                 "digit-or-not work in `predict`."),
    "rotation": (rotation_candidate, "a rotation-prediction signal",
                 "A network with the digit-or-not network's body and four outputs, trained on the probe's digits to "
                 "say which quarter turn each was given: trained on no outlier family, so every family is held out "
                 "from it. Its score: the cross-entropy of \"not turned\", from one pass or summed over the four "
                 "turns. Share rejected (%) at 1% of validation digits by today's sum (the committed kNN + L2 norm "
                 "+ digit-or-not), by the rotation score alone and by the sum with it; * marks the families the "
                 "committed digit-or-not network trained on. Not adopted."),
    "acet": (acet_candidate, "outliers pushed towards the digits",
             "The probes' one-output digit-or-not network trained as the leave-one-out run of today's design, "
             "its training outliers also moved by 5 signed-gradient steps within 0.3 ink per pixel to where the "
             "network is surest they are digits (ACET's hard negatives, made from the project's own outliers), "
             "beside that run: share rejected (%) at 1% of validation digits, by the network alone and in the best "
             "model's sum; * marks the families both runs trained on. Not adopted: in the sum it loses ground on "
             "most held-out families and on the development set, gaining only on overlays."),
    "pens": (pens_candidate, "a third pen model",
             "Today's design with a third family of drawn outliers, loops (`outliers.loops`: pen paths after "
             "Hollerbach's oscillation model of handwriting), beside today's design, both under the leave-one-out "
             "rule: share rejected (%) at 1% of validation digits of each family by the probe network trained on its "
             "design less that family (the development set: by the whole design), alone and in the best model's sum. "
             "Today's column reads leave_one_out.json's runs but for its whole design, trained again beside the new "
             "design's six runs. Not adopted: in the sum it lifts fewer families than it lowers "
             "(upside down the most) and lowers the development set."),
    "pens_eleven": (lambda: pens_candidate(eleven=True), "a third pen model, with eleven outputs",
                    "The third pen model's comparison (above) with the committed digit-or-not network's eleven "
                    "outputs: today's design and today's design with loops, both under the leave-one-out rule, every "
                    "run trained here. Not adopted: alone it lifts nearly every family and the development set, but "
                    "in the sum, where the model decides, only three families move by more than the runs' noise "
                    "(side chimeras, upside down, overlay) and the development set does not."),
    "fragments": (lambda: added_family_candidate((outliers.FRAGMENT,), "fragments"),
                  "digits with a fragment of another digit",
                  "A fifth training family made from the training digits (`outliers.digit_and_fragment`: a digit "
                  "with a square of 8-14 px cut from another digit laid over it) added to today's design, under the "
                  "leave-one-out rule with the probes' one-output network: share rejected (%) at 1% of validation "
                  "digits of each family by the run of its design that did not train on it (the development set: by "
                  "the whole design), alone and in the best model's sum; the new family's own row reads, in both "
                  "columns, the run of today's design. Not adopted: in the sum it lifts the families that combine "
                  "digits (overlay +8.8, side chimeras +5.7, chimera +3.7) and the development set (+2.3), and "
                  "lowers upside-down digits by 9.4 and blobs by 1.7; of the twelve other families six rise and four "
                  "fall."),
    "fragments_eleven": (lambda: added_family_candidate((outliers.FRAGMENT,), "fragments", eleven=True),
                         "digits with a fragment of another digit, with eleven outputs",
                         "The fragment comparison (above) with the committed digit-or-not network's eleven outputs: "
                         "today's design and today's design with digits with a fragment of another digit, both under "
                         "the leave-one-out rule, every run trained here. In the sum it lifts side chimeras (+5.1), "
                         "overlay (+6.2), upside down (+2.3) and the development set (+1.5), and every family it "
                         "lowers falls by less than 1 point, within the runs' noise: measured at full size next "
                         "(not adopted there)."),
    "zoom": (lambda: added_family_candidate((outliers.ZOOMED,), "zoom", eleven=True),
             "parts of digits blown up to a digit's size",
             "A fifth training family made from the training digits (`outliers.zoomed_parts`: a square of 10-15 px "
             "cut from a digit, scaled to 20x20 and centred; parts that read as a 1 or a 0 drawn again) added to "
             "today's design, both designs under the leave-one-out rule with the committed eleven outputs, every run "
             "trained here: share rejected (%) at 1% of validation digits of each family by the run of its design "
             "that did not train on it (the development set: by the whole design), alone and in the best model's "
             "sum; the new family's own row reads, in both columns, the run of today's design. Not adopted: that run "
             "rejects only 53.7% of the new family in the sum, so it is a hard near family, but training on it "
             "lifts 7 of the 12 other families in the sum, most by under 2 points (upside down by 5.1), lowers "
             "overlay by 2.5 and the development set by 0.7."),
    "mirrors": (lambda: added_family_candidate(("mirrored", "quarter turn"), "mirrors and turns", eleven=True),
                "mirrored and quarter-turned digits as training families",
                "Two of the selection's proxy families made from the training digits, mirrored digits and quarter "
                "turns (`data.proxy_unknowns`), added to today's design, both designs under the leave-one-out rule "
                "with the committed eleven outputs, every run trained here: share rejected (%) at 1% of validation "
                "digits of each family by the run of its design that did not train on it (the development set: by "
                "the whole design), alone and in the best model's sum. Not adopted: in the sum it lifts 4 of the 12 "
                "families (upside down +9.1, side chimeras +3.5), lowers mirrored digits (-2.0) and quarter turns "
                "(-2.2), each measured by the run that did not train on it, and overlay (-2.9), and moves the "
                "development set by +0.5."),
    "pixel_distance": (pixel_distance_candidate, "the pixel distance to the nearest training digit",
                       "No training: the distance in pixels (MNIST-normalised, both centred by mass) from an image to "
                       "its nearest of the 50,000 MNIST training digits, the measure of the notebook's \"where the "
                       "data ends\", alone and added to the best model's sum. Share rejected (%) at 1% of validation "
                       "digits of the selection's held-out proxies, MNIST test and the development set (every second "
                       "character). Not adopted: alone it rejects 61.7% of the development set; added to the sum it "
                       "lifts overlay by 1.8, lowers scribbles by 3.0 and the development set by 0.4, for a search "
                       "through 50,000 images per image in `predict`."),
    "disagreement": (disagreement_candidate, "the two digit readers' disagreement",
                     "No training: how far the classifier's reading of the digit and the digit-or-not network's "
                     "(its ten digits' probabilities) disagree (`leave_out.readings`): the chance that the two name "
                     "different digits, and the doubt of their joint reading (minus the best digit's summed "
                     "log-probabilities), each alone and added to the best model's sum. Share rejected (%) at 1% of "
                     "validation digits of the selection's held-out proxies, MNIST test and the development set "
                     "(every second character). Not adopted: the two networks read most outliers alike (alone, "
                     "either score rejects 47-48% of the development set and a third of overlays and mirrored "
                     "digits); added to the sum they lift chimera by about 2 points and lose on every other family "
                     "not at 100%: the development set 81.2 to 71.7 and 75.4, mirrored digits 81.8 to 59.3 and 65.5, "
                     "overlay 63.4 to 50.6 and 54.1."),
    "digit_strokes": (lambda: added_family_candidate((outliers.STROKES,), "digits' strokes", eleven=True),
                      "glyphs written with digits' own strokes",
                      "A fifth training family made from the training digits (`outliers.digit_strokes`: 2-3 strokes "
                      "cut from digits' skeletons between end points and junctions, each with its ink, mirrored or "
                      "turned at random, laid together and centred by mass: new characters in the digits' own hand) "
                      "added to today's design, both designs under the leave-one-out rule with the committed eleven "
                      "outputs, every run trained here: share rejected (%) at 1% of validation digits of each family "
                      "by the run of its design that did not train on it (the development set: by the whole design), "
                      "alone and in the best model's sum; the new family's own row reads, in both columns, the run of "
                      "today's design. Today's sum already rejects 84.1% of the new glyphs. Trained on them, in the "
                      "sum the probe lifts 8 of the 12 other families, each within what a seed alone moves it (side "
                      "chimeras +3.6, upside down +2.9, overlay +2.3, strokes +2.0, mirrored digits +1.8, the rest "
                      "by 0.3 or less), lowers scribbles by 0.5, and moves the development set by 0.2 (74.6 to 74.8). "
                      "Taken to full size below."),
    "digit_strokes_full": (lambda: full_network_table({"the committed seed again": recipe(), "+ digits' strokes":
                                                       recipe({outliers.STROKES: train.MADE["side chimeras"]})},
                                                      seed=SEED),
                           "glyphs written with digits' own strokes, at full size",
                           "The digit-or-not network trained at full size from the committed seed (train.py's recipe), "
                           "again and with 10,000 glyphs written with digits' own strokes (above) among its outliers, "
                           "each in the best model's sum in place of the committed network, its z statistics, "
                           "threshold and digit rule fitted again as train.py fits them, beside the committed model: "
                           "share rejected (%) of MNIST test, the selection's held-out proxies, the far sets and the "
                           "development set, the seed protocol's total OSR accuracy and the closed-set accuracy (%); "
                           "EMNIST letters, a test set, is left out. Not adopted. The recipe trained again gave back, "
                           "to the hundredth, its figures of \"glyphs generated beyond a digit, at full size\" "
                           "(above). Against it, the glyphs move each held-out proxy by at most 1.9 points (overlay "
                           "64.6 to 66.5, scribbles 88.6 to 87.6) and the development set by 0.3 or less (82.06 to "
                           "82.13; raw 78.13 to 78.39); MNIST test rejected 0.97% to 1.01%, the seed protocol's "
                           "total 98.76 to 98.90 and the closed-set accuracy 99.39 to 99.60, inside the span that "
                           "retraining alone gives (\"the committed recipe from another seed\", above). The probe's "
                           "small gains in the sum carried to full size on overlay alone."),
    "repelled": (repelled_candidate, "an autoencoder that fails on outliers",
                 "A reconstruction score taught what is not a digit (outlier exposure on the autoencoder): the "
                 "committed autoencoder trained on for the probe's 3 epochs on the probe's digits against today's "
                 "families, each outlier's squared error pushed above a margin (twice the 99th percentile of the "
                 "validation digits'), its L2 norm alone and in the best model's sum in place of the committed one, "
                 "beside today's sum: share rejected (%) at 1% of validation digits; * marks the families it "
                 "trained on. Not adopted: it learns the families it trained on (upside down, alone, 4.3 to 61.2) "
                 "and loses what the plain reconstruction told apart: alone, the development set 52.2 to 43.9 and "
                 "overlay 53.0 to 14.9; in the sum, overlay 62.2 to 37.3, chimera 41.8 to 30.1 and the development "
                 "set 81.3 to 72.9."),
    "rotation_aided": (rotation_aided_candidate, "quarter turns told as a second task",
                       "The committed eleven outputs and four more, trained also to say which quarter turn each "
                       "digit of the batch was given (`leave_out.RotationAided`: rotation prediction as an auxiliary "
                       "task, OpenOOD's RotPred, the best gain on near-OOD among the methods that make no outliers "
                       "there), its score still the log-odds of \"not a digit\", beside the eleven outputs alone, "
                       "both under the leave-one-out rule on today's design, every run trained here: share rejected "
                       "(%) at 1% of validation digits of each family by the run that did not train on it (the "
                       "development set: by the whole design), alone and in the best model's sum. Not adopted: in "
                       "the sum it lowers 7 of the 12 families (overlay 45.8 to 36.5, chimera 33.4 to 28.9, "
                       "strokes 79.6 to 75.6) and the development set (76.1 to 72.3). Today's runs here, trained "
                       "again, differ from the ones of \"glyphs written with digits' own strokes\" (above) by up to "
                       "2.6 points in the sum (mirrored digits) and 1.5 on the development set: a run's initial "
                       "weights are drawn from the random state that the runs before it in the process left, so "
                       "this is the seeds' noise again."),
    "topology": (topology_candidate, "the stroke topology given the digit read",
                 "No outlier family: how unlike a digit's an image's stroke topology is (`leave_out.topology`: its "
                 "pieces of ink, its holes, and its skeleton's end points and junction pixels, ink from 100 of 255, "
                 "each count capped), minus the log-probability of its cell among the 50,000 training digits of the "
                 "digit the best model reads (Laplace-smoothed counts) and among all of them, each alone and added to "
                 "the best model's sum. Share rejected (%) at 1% of validation digits of the selection's held-out "
                 "proxies, MNIST test and the development set (every second character). Not adopted: alone the two "
                 "scores reject 11.3% and 6.5% of the development set; added to the sum they lift overlay (63.4 to "
                 "67.3 and 69.0) and lower the development set (81.2 to 77.8 and 76.5), mirrored digits (81.8 to 76.8 "
                 "and 69.7) and scribbles (88.0 to 81.8 and 79.6)."),
    "views": (views_candidate, "the image moved a little at test time",
              "No outlier family: the image seen 8 times, each moved a little (`augment.random_affine`, seeded: up to "
              "12 degrees, 6% shift, 90-110% scale), scored by the digit-or-not network's log-odds averaged over the "
              "views and by their spread, and by the classifier's doubt (1 - the top digit's probability averaged "
              "over the views), each alone and added to the best model's sum, and the mean in place of the network's "
              "one pass (test-time augmentation). Share rejected (%) at 1% of validation digits of the selection's "
              "held-out proxies, MNIST test and the development set (every second character). Not adopted: the "
              "mean over the views rejects less of the development set than the one pass (in place of it, 81.2 to "
              "79.5; added, 80.7), and added it lifts mirrored digits (81.8 to 85.8) and loses overlay (63.4 to "
              "59.1), for eight times the two networks' work in `predict`; the spread and the doubt (alone 11.9% "
              "and 32.9% of the development set) lower every family they move in the sum (the development set to "
              "76.7 and 69.2)."),
    "density": (density_candidate, "the likelihood of the ink under a PixelCNN",
                "No outlier family: how likely an image's ink (its pixels above half ink) is under a PixelCNN "
                "(`leave_out.PixelCNN`: a 7x7 masked first layer and five residual 3x3 masked layers of 32 channels, "
                "after van den Oord et al., ICML 2016) trained 3 epochs on MNIST train, as its negative "
                "log-likelihood, and as the likelihood ratio to a background PixelCNN trained the same way on the "
                "digits with 15% of their pixels set at random to no ink or full ink (Ren et al., NeurIPS 2019), "
                "each alone, added to the best model's sum and in place of its L2 norm. Share rejected (%) at 1% of "
                "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
                "second character). Not adopted: alone the likelihood rejects 12.9% of the development set and "
                "2.2-4.6% of mirrored, quarter-turned and chimera digits (a digit's strokes moved about are as "
                "likely as a digit's), the ratio 1.3% of the development set; added to the sum the likelihood "
                "lifts overlay (63.4 to 72.4) and lowers every other family it moves (scribbles 88.0 to 77.4, "
                "mirrored 81.8 to 73.3) and the development set (81.2 to 75.0); in place of the L2 norm the "
                "development set falls to 71.8 (the likelihood) and 63.4 (the ratio)."),
    "joint_knn": (joint_knn_candidate, "kNN in both networks' features",
                  "No training: kNN (the 10th nearest of 5,000 training digits, as `detectors.FeatureScorer` "
                  "computes it) in the classifier's and the digit-or-not network's penultimate features, each "
                  "scaled to unit length and joined (256 values, as protocol 1's ensembles join their members' "
                  "features), alone, added to the best model's sum and in place of its kNN; and, in place of the "
                  "kNN, both kNNs with another choice of the 5,000 bank digits. Share rejected (%) at 1% of the "
                  "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
                  "second character). Not adopted: in place of the kNN it lifts the development set from 81.2 to "
                  "82.4 with either bank, mirrored digits (81.8 to 83.5; 82.3 to 84.3 with the other bank), overlay "
                  "(63.4 to 64.8; 63.3 to 65.2) and scribbles (88.0 to 88.9; 87.8 to 88.8) and lowers quarter turns "
                  "(96.5 to 95.1 and 95.2); that is less than a probe's seed moves the development set (2.1), for a "
                  "kNN step with twice the work in `predict` and a second bank of 5,000 x 256 values, where "
                  "`predict` may be no slower than today."),
    "joint_shares": (joint_shares_candidate, "the digit-or-not network's share in the joined kNN",
                     "No training: kNN in the two networks' features joined (`leave_out.joined`) with the "
                     "digit-or-not network's share of the cosine similarity at 0.25, 0.5 (the candidate above), 0.75 "
                     "and 1 (its features alone), in place of the best model's kNN. Share rejected (%) at 1% of the "
                     "validation digits of the selection's held-out proxies, MNIST test and the development set "
                     "(every second character). Not adopted, for the reasons above: the development set is "
                     "82.1-82.5 at every share (81.2 today). By the selection's rule (the held-out proxies' mean) "
                     "0.25 ranks first: it lifts overlay (63.4 to 64.8), chimeras (40.4 to 41.3), mirrored digits "
                     "(81.8 to 82.9) and scribbles (88.0 to 88.8) and lowers quarter turns (96.5 to 96.0); larger "
                     "shares trade quarter turns (down to 93.6 at 1) and chimeras (down to 38.2) for mirrored digits "
                     "(up to 84.5)."),
    "code": (code_candidate, "where the autoencoder's code lies among the digits'",
             "No training: where the committed autoencoder's code (32 values) of an image lies among the codes of "
             "MNIST train: the distance to the 10th nearest of 5,000 training codes (kNN, as "
             "`detectors.FeatureScorer` computes it) and the Mahalanobis distance to the nearest digit's mean, each "
             "alone, added to the best model's sum and in place of its L2 norm. Share rejected (%) at 1% of the "
             "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
             "second character). Not adopted: alone they reject 22.0% and 31.3% of the development set and at most "
             "3.0% of overlays; added to the sum or in its L2 norm's place, each lowers the development set (81.2 "
             "to 72.3-79.2) and overlay (63.4 to 25.4-49.4)."),
    "bottleneck": (bottleneck_candidate, "a narrower autoencoder code",
                   "No outlier family: the seed's autoencoder (the committed one has a 32-value code) with an 8- or "
                   "16-value code, each trained as train.py trains the committed one (15 epochs on MNIST train), its "
                   "L2 norm alone, added to the best model's sum and in place of the committed L2 norm. Share "
                   "rejected (%) at 1% of the validation digits of the selection's held-out proxies, MNIST test and "
                   "the development set (every second character). Not adopted: in place of the committed L2 norm, "
                   "either code moves the development set from 81.2 to 80.8 and mirrored digits from 81.8 to 82.3 "
                   "and 83.0, and lowers overlay (63.4 to 54.6 and 60.4); added to the sum, both lower chimeras (40.4 "
                   "to 34.7 and 36.0), mirrored digits (to 76.4 and 76.3) and scribbles (88.0 to 81.8 and 82.3)."),
    "inpainting": (inpainting_candidate, "how well the rest of the image tells a hidden part",
                   "No outlier family: a small U-Net (`leave_out.Inpainter`, three scales down to 7x7 pixels) "
                   "trained 3 epochs on MNIST train to draw hidden 7x7 cells of a digit from the rest of it "
                   "(reconstruction by inpainting, after Zavrtanik, Kristan and Skocaj, Pattern Recognition 2021); "
                   "its score, the L2 norm of the inpainted image minus the image, every pixel drawn by one of four "
                   "passes that each hide a quarter of the cells, none two side by side. Alone, added to the best "
                   "model's sum and in place of its L2 norm. Share rejected (%) at 1% of the validation digits of the "
                   "selection's held-out proxies, MNIST test and the development set (every second character). Not "
                   "adopted: alone it rejects 41.0% of the development set and 16.2-30.6% of chimeras, mirrored and "
                   "quarter-turned digits and scribbles; added to the sum it lifts overlay (63.4 to 69.9) and lowers "
                   "scribbles (88.0 to 85.4), mirrored digits (81.8 to 80.0) and the development set (81.2 to 80.4); "
                   "in place of the L2 norm it lifts chimeras (40.4 to 46.1) and mirrored digits (81.8 to 84.7) and "
                   "lowers overlay (63.4 to 61.5), quarter turns (96.5 to 95.6) and the development set (81.2 to "
                   "78.6), for four passes of a fourth network in `predict`."),
    "generative": (generative_candidate, "a generative classifier of the digits' ink",
                   "No outlier family: the PixelCNN (above) told the digit (`leave_out.ConditionalPixelCNN`: a learnt "
                   "vector per digit added to each layer's output, after van den Oord et al.'s conditional PixelCNN, "
                   "NeurIPS 2016), trained 3 epochs on MNIST train, read as a generative classifier: minus the "
                   "log-likelihood of the ink given the digit the best model reads, and minus the log-posterior "
                   "(every digit alike a priori) of the most likely digit and of the digit read, each alone, added "
                   "to the best model's sum and in place of its L2 norm. Share rejected (%) at 1% of validation "
                   "digits of the selection's held-out proxies, MNIST test and the development set (every second "
                   "character). Not adopted: told the digit read, the likelihood rejects 17.0% of the development "
                   "set (12.9% untold, above), the two posteriors 3.4% and 14.4% (the generative classifier is as "
                   "sure of a character's digit as of a digit's); added to the sum each lowers the development set "
                   "(81.2 to 75.6, 77.4 and 72.7) and mirrored digits (81.8 to 74.5, 75.4 and 66.6), and only the "
                   "likelihood lifts overlay (63.4 to 71.4)."),
    "complexity": (complexity_candidate, "the L2 norm corrected for the image's complexity",
                   "No outlier family: the seed autoencoder's L2 norm corrected for how much the image holds, in "
                   "the best model's sum in place of the L2 norm: less its least-squares line on the image's ink, or "
                   "on its zlib-compressed length (an input's complexity, after Serra et al., ICLR 2020), both lines "
                   "fitted on the validation digits; or as its log-ratio to the L2 norm of a generic autoencoder (the "
                   "seed's architecture trained 4 epochs on MNIST train and 25,000 each of drawn strokes and blobs: a "
                   "background model, after Ren et al.'s likelihood ratio, NeurIPS 2019). Share rejected (%) at 1% of "
                   "validation digits of the selection's held-out proxies, MNIST test and the development set (every "
                   "second character). Not adopted: every correction loses overlay (63.4 to 48.4, 51.7 and 50.2) "
                   "and the development set (81.2 to 79.9, 77.9 and 75.0); the ink line lifts chimera, mirrored "
                   "digits and scribbles by 1.6-2.2 points. What sets a glyph apart from a digit is not how much it "
                   "holds, and a background model of strokes does not tell a character from a digit: the ratio "
                   "alone rejects 32.0% of the development set."),
    "knn_variants": (knn_variants_candidate, "a sharper kNN",
                     "No outlier family: the best model's kNN in its sum made sharper, in place of the classifier's "
                     "kNN: in the features of a second network of the classifier's architecture trained 5 epochs "
                     "with the supervised contrastive loss (SupCon, temperature 0.1, two random affine views of each "
                     "training digit; kNN as KNN+, Sun et al., ICML 2022), its bank a seeded 5,000 training digits "
                     "(the committed bank's size) or all 50,000; and among the training digits of the digit the "
                     "model reads only (the classifier's features: k = 1 of a seeded 5,000, k = 3 of all 50,000). "
                     "Share rejected (%) at 1% of validation digits of the selection's held-out proxies, MNIST test "
                     "and the development set (every second character). Not adopted. At the committed bank's size "
                     "the contrastive features move each family by at most 1.8 points (chimera) and the development "
                     "set by 0.4 (81.2 to 81.6), for a second network in `predict`. With all 50,000 digits in the "
                     "bank they lift chimera by 5.2, overlay by 2.6 and the development set by 1.1, where the "
                     "classifier's own features with the whole bank (\"a larger kNN bank\", above) lift them by 3.8, "
                     "1.4 and 0.6: a bank ten times as long in `predict` for half a point. Asking only the digit read "
                     "gives the same small steps (k = 1 of 5,000: chimera +2.4, the development set -0.2)."),
    "hardest": (hardest_candidate, "the outliers most like digits",
                "Hard negatives chosen, not made: the probes' one-output digit-or-not network trained as the "
                "leave-one-out run of today's design, all or half of each family's 4,000 training outliers being "
                "the ones of its pool of 16,000 that the committed best model scores lowest (most like digits), the "
                "rest the pool's first others, beside that run (the pool's first 4,000): share rejected (%) at 1% of "
                "validation digits, by the network alone and in the best model's sum; * marks the families all runs "
                "trained on. Not adopted: with all of them the hardest, the network alone loses on every held-out "
                "family and on the development set (49.4 to 19.5), and in the sum the development set falls from "
                "71.7 to 66.0; with half, in the sum mirrored digits (+3.6) and scribbles (+2.2) rise, overlay "
                "(-2.8) and quarter turns (-2.1) fall, and the development set moves by -0.4."),
    "noise": (noise_candidate, PROBE_NOISE,
              "The yardstick for the leave-one-out table and the candidates below: the probes' one-output "
              "digit-or-not network trained on today's design as leave_one_out.json's run of it, on the same images, "
              "from three seeds (initial weights, data order and augmentation): share rejected (%) at 1% of "
              "validation digits in the best model's sum per seed, and the spread over the seeds; * marks the "
              "families the runs trained on. The seed alone moves a family by up to 6.6 points (side chimeras; "
              "mirrored digits 6.4, overlay 4.8) and the development set by 2.1: a difference of 2-3 points on one "
              "family in one probe run is within chance."),
    "conditional": (class_conditional_candidate, "an autoencoder told which digit to draw",
                    "No outlier family: an autoencoder whose decoder is told the digit and gets no max-pool indices "
                    "(`leave_out.ClassConditional`, after C2AE), trained 6 epochs on MNIST train to draw each image "
                    "as its own digit and away from it as another; its score, the L2 norm between an image and its "
                    "drawing as the digit the best model reads, alone, added to the best model's sum and in place of "
                    "the seed autoencoder's L2 norm. Share rejected (%) at 1% of validation digits of the "
                    "selection's held-out proxies, MNIST test and the development set (every second character). "
                    "Not adopted: alone it rejects 69.0% of the development set, but added to the sum it lifts "
                    "overlay (+6.6) and chimera (+4.0), lowers scribbles (-2.0) and leaves the development set where "
                    "it was (81.3 against 81.2), for a fourth network in `predict`; in place of the L2 norm it lifts "
                    "chimera (+6.1) and lowers the development set (-1.7)."),
    "full_network": (full_network_candidate, "the fragment family at full size",
                     "The digit-or-not network trained at full size (train.py's recipe, 10 epochs, about 9 minutes "
                     "each) from one other seed, without and with 10,000 digits with a fragment of another digit "
                     "among its outliers, each in the best model's sum in place of the committed network, its z "
                     "statistics and threshold (1% of validation digits) fitted again, beside the committed model: "
                     "share rejected (%) of MNIST test, the selection's held-out proxies, the far sets and the "
                     "development set, and the seed protocol's total OSR accuracy (%). EMNIST letters, a test set, "
                     "is left out. Not adopted: against the same seed without them, the fragments lift overlays by "
                     "16.7 points, chimeras by 6.4 and the development set by 2.7 (1.6 as drawn), but they reject "
                     "1.17% of MNIST test digits (0.93% without) and take the seed protocol's total to 98.68, below "
                     "the 98.9 the model must keep (the committed network: 98.93; the other seed alone: 98.88)."),
    "new_ink": (new_ink_candidate, "fragments that add ink, and an elastic pen",
                "The fragment family at full size (above) with each fragment required to add at least 20 pixels of "
                "ink where the digit has none (`outliers.digit_and_fragment(new=True)`), trained from the same other "
                "seed with today's pen and with an elastic distortion of half the images before it "
                "(`augment.elastic_style`), each in the best model's sum, z statistics and threshold fitted again, "
                "beside the committed model; the same sets and measures as above. Not adopted: against the plain "
                "fragments from the same seed (above), new ink lowers MNIST test's rejections from 1.17% to 1.07% "
                "and keeps most of the gain (overlay 78.4, development set 83.3), but the seed protocol's total, "
                "98.76, is still below 98.9; the elastic pen brings MNIST test to 0.90% and the total to 98.84, "
                "also below, and loses ground on nearly every near family and on the development set (80.2)."),
    "reading": (reading_candidate, "fragments that add ink, read by two networks",
                "Fragments that add ink (above), 10,000 and 5,000 of them, trained at full size from the committed "
                "seed, each network in the best model's sum with its z statistics, threshold and digit rule fitted "
                "again as train.py fits them, beside the committed model, which reads the digit with the classifier "
                "and its digit-or-not network since this run (the two candidates above were measured when it read "
                "with the classifier alone); the same sets and measures, and the closed-set accuracy. Not adopted: "
                "the seed protocol's total is 98.83 with 10,000 and 98.87 with 5,000, below the 98.9 the model must "
                "keep, and the two-network reading leaves the committed model at 99.02 (MNIST test rejected 0.88%); "
                "overlay gains (63.4 to 77.1 and 74.4), the development set a little (81.3 to 82.7 and 82.3), "
                "mirrored loses (81.8 to 77.6 and 78.8)."),
    "ink_again": (ink_again_candidate, "fragments that add ink, beside the recipe trained again",
                  "10,000 fragments that add ink (above) trained at full size from the committed seed, on the "
                  "machine that trained the committed recipe again (\"glyphs generated beyond a digit, at full "
                  "size\", above, column \"the committed seed again\"), in the best model's sum with its z "
                  "statistics, threshold and digit rule fitted again as train.py fits them, beside the committed "
                  "model: the same sets and measures. Not adopted. Against the recipe trained again on the same machine "
                  "from the same seed, the fragments lift overlay (64.6 to 78.4) and hold the floors' measures better "
                  "(seed protocol 98.76 to 98.85, closed-set accuracy 99.39 to 99.59), but the total is still below "
                  "98.9, MNIST test rejected rises from 0.97% to 1.08%, mirrored digits lose 4.9 points (84.2 to "
                  "79.4) and the development set moves within a seed's reach (82.1 to 82.8; raw 78.1 to 77.7). The "
                  "same run on another machine (\"fragments that add ink, read by two networks\") gave 98.83 and "
                  "overlay 77.1: the machine alone moves these by a few hundredths and by 1.4 points."),
    "recipe_seed": (recipe_seed_candidate, "the committed recipe from another seed",
                    "The committed recipe (train.py's data, pen, width and epochs) trained at full size from another "
                    "seed (the one of \"the fragment family at full size\", above, measured then under the "
                    "classifier's reading alone) on the machine that trained it again from the committed seed "
                    "(\"glyphs generated beyond a digit, at full size\", above), in the best model's sum with its z "
                    "statistics, threshold and digit rule fitted again as train.py fits them, beside the committed "
                    "model: the same sets and measures. Retraining alone: the seed protocol's total is 98.92 here, "
                    "98.76 for the committed seed trained again and 99.02 for the committed weights, so the recipe "
                    "spans 98.76-99.02 over three trainings with the 98.9 floor inside; MNIST test rejected 1.00% "
                    "(0.97%, 0.88%), the development set 81.6 (82.1, 81.3), overlay 65.8 (64.6, 63.4). A candidate's "
                    "total within that span says nothing for or against it."),
    "narrow": (narrow_candidate, "narrower digit-or-not networks",
               "The digit-or-not network at 16 and 24 channels (the committed one: 32 at its first convolution, "
               "twice that at the next two) trained at full size from the committed seed on the committed data, each "
               "in the best model's sum in place of the committed network, its z statistics, threshold and digit "
               "rule fitted again as train.py fits them, beside the committed model: share rejected (%) of MNIST "
               "test, the selection's held-out proxies, the far sets and the development set, the seed protocol's "
               "total OSR accuracy and the closed-set accuracy (%); EMNIST letters, a test set, is left out. Not "
               "adopted. Width 16 (28% of the committed network's multiply-adds per image) loses overlay (63.4 to "
               "57.4), chimera (40.4 to 36.1) and the development set (81.3 to 79.4). Width 24 (58%) keeps every "
               "family within 2 points and the development set within 0.4, but rejects 1.00% of MNIST test (0.88% "
               "committed) and takes the seed protocol's total to 98.87, below the 98.9 the model must keep."),
    "beyond": (beyond_candidate, "glyphs generated beyond a digit",
               "A fifth training family generated from the training digits alone (`leave_out.beyond_the_digit`): "
               "the class-conditional autoencoder (above) draws a digit's code as told a point beyond its own "
               "digit, its digit embedding moved away from another digit's by as much again, after the open-set "
               "literature's generated outliers (ARPL+CS, OGFO). Under the leave-one-out rule with the probes' "
               "one-output network: share rejected (%) at 1% of validation digits of each family by the run of "
               "each design that did not train on it (today's: leave_one_out.json's, its whole run trained here), "
               "alone and in the best model's sum; the development set by each design's whole run. Today's sum rejects 1.8% of the "
               "glyphs: they read as digits to it. Trained on them, in the sum the probe lifts chimera by 6.3 points "
               "(a seed alone moves it by 1.0), scribbles by 3.2 (1.2) and blobs by 1.9 (0.8), and the development "
               "set by 1.6, within the 2.1 a seed moves it; alone the network loses mirrored digits (-14.8), "
               "quarter turns (-13.5) and the development set (-7.2). Taken to full size below."),
    "beyond_full": (beyond_full_candidate, "glyphs generated beyond a digit, at full size",
                    "The digit-or-not network trained at full size from the committed seed (train.py's recipe), "
                    "again and with 10,000 glyphs generated beyond a digit (above) among its outliers, each in the "
                    "best model's sum in place of the committed network, its z statistics, threshold and digit rule "
                    "fitted again as train.py fits them, beside the committed model: share rejected (%) of MNIST "
                    "test, the selection's held-out proxies, the far sets and the development set, the seed "
                    "protocol's total OSR accuracy and the closed-set accuracy (%); EMNIST letters, a test set, is "
                    "left out. Not adopted. Against the same recipe trained again (the committed seed does not give "
                    "back the committed network bit for bit: the run again moves the development set by +0.8 and "
                    "mirrored digits by +2.5), the glyphs lose overlay (64.6 to 53.8), chimera (41.8 to 39.0), "
                    "scribbles (88.6 to 86.6) and the development set (82.1 to 78.7); the seed protocol's total stays "
                    "below the 98.9 the model must keep (98.84; 98.76 without the glyphs), MNIST test rejected 0.97% "
                    "(at most 1.2%). The probe's gains in the sum did not carry to the full-size network. The committed "
                    "recipe itself, retrained, lands below the 98.9 floor and at 99.39% closed-set accuracy (floor "
                    "99.4): the floors sit within retraining's noise, and the fragments that add ink (98.83 from the "
                    "same seed, above) missed them by no more than the recipe does."),
    "k_plus_one": (k_plus_one_candidate, "digit classes and \"not a digit\" in one network",
                   "The digit-or-not network's body with eleven outputs (the ten digits and \"not a digit\"), trained "
                   "with cross-entropy on the probe's digits, each labelled by its class, against today's families; "
                   "its score: the log-odds of \"not a digit\" against all ten digits. Under the leave-one-out rule "
                   "beside the one-output network (leave_one_out.json's runs): share rejected (%) at 1% of "
                   "validation digits of each family by the network trained on today's families less that one (the "
                   "development set: on all of them), alone and in the best model's sum. Adopted: in the sum it lifts "
                   "most families, each of the rest within the runs' noise, and the development set; the committed "
                   "digit-or-not network has these eleven outputs since."),
    "error_map": (error_map_candidate, "the reconstruction error as an input",
                  "The digit-or-not network reading the image beside its reconstruction error (the image minus the "
                  "committed autoencoder's reconstruction), trained as the leave-one-out run of today's design and "
                  "measured the same way, beside that run: share rejected (%) at 1% of validation digits, by the "
                  "network alone and in the best model's sum; * marks the families both runs trained on. Not "
                  "adopted."),
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option, (_, name, _) in OTHERS.items():
        parser.add_argument(f"--{option.replace('_', '-')}", action="store_true",
                            help=f"measure the candidate '{name}' instead (to report/candidates.json)")
    args = parser.parse_args()
    option = next((option for option in OTHERS if getattr(args, option)), None)
    if option:
        run, name, what = OTHERS[option]
        table = run()
        print(table.round(1).to_string())
        save_candidate(name, f"python leave_out.py --{option.replace('_', '-')}", what, table)
    else:
        found = main()
        for score in ("sum", "alone"):
            print(f"\n% rejected @1%, {score}:\n", leave_one_out_table(found, score).round(1).to_string())
