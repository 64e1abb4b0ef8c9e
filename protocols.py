"""The open-set literature's own MNIST protocols, to place the project among published methods.

Protocol 1 (Neal et al. 2018 and the papers after it): five splits of MNIST into 6 known and 4 unknown digits; a
network per split trained on the known digits alone; AUROC of known vs unknown test digits, mean over the five.
The splits are those of ARPL (`split.py` of iCGY96/ARPL) and of Vaze et al. 2022
(`data/open_set_splits/osr_splits.py` of sgvaze/osr_closed_set_all_you_need, checked at commit 3258f05).

Protocol 2 (CROSR, Yoshihashi et al. 2019; CGDL, Sun et al. 2020): the 10-digit model, MNIST test plus 10,000
outliers of one kind labelled unknown, open-set macro-F1 over the 11 classes at the model's own threshold.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

import detectors
import metrics
from data import SEED, UNKNOWN, Split
from detectors import FeatureScorer
from models import RETRAIN_HINT, ConvNet, Manifest, load_network, read_manifest
from osr import OSRModel, Outputs
from preprocess import batched

SPLITS = ((2, 4, 5, 9, 8, 3), (3, 2, 6, 9, 4, 0), (5, 8, 3, 2, 4, 6), (3, 7, 8, 4, 0, 5), (6, 3, 4, 9, 8, 2))
# Published means over the five splits (AUROC %, +- std where given), as tabulated in Table 1 (MNIST column) of
# "Reaching Nirvana: Maximizing the Margin in Both Euclidean and Angular Spaces for Deep Neural Network
# Classification" (text of its NeurIPS 2022 submission). The rows that the issue listed but no source here
# could be read for (MLS, ARPL, ARPL+CS, OpenGAN) are left out.
PUBLISHED_SOURCE = ('"Reaching Nirvana: Maximizing the Margin in Both Euclidean and Angular Spaces for Deep Neural '
                    'Network Classification", Table 1, MNIST column')
PUBLISHED = {  # name: (mean AUROC, std or None, trained with real outlier images)
    "Softmax": (97.8, 0.2, False), "OpenMax": (98.1, 0.2, False), "G-OpenMax": (98.4, 0.1, False),
    "OSRCI": (98.8, 0.1, False), "C2AE": (98.9, 0.2, False), "RPL": (98.9, 0.1, False), "CPN": (99.0, 0.2, False),
    "CROSR": (99.1, None, False), "CAC": (99.1, 0.5, False),
    "DSC": (99.6, 0.1, True),  # the source's own method: 80 Million Tiny Images as a background class
}
OUTLIER_COUNT = 10_000  # outliers per protocol-2 set, as many as MNIST test images


def known_digits(digits: Split, known: tuple[int, ...]) -> Split:
    """The images of the known digits only, with their digit labels: no unknown digit gets in."""
    keep = np.isin(digits.labels, known)
    return Split(digits.images[keep], digits.labels[keep])


def known_split(digits: Split, known: tuple[int, ...]) -> Split:
    """The known digits labelled by their position in `known` (0-5): a split network's training data."""
    kept = known_digits(digits, known)
    return Split(kept.images, remap(kept.labels, known))


def remap(labels: np.ndarray, known: tuple[int, ...]) -> np.ndarray:
    """Digit labels -> position in `known` (0 to len(known) - 1), and UNKNOWN for every other digit."""
    table = np.full(10, UNKNOWN, np.int64)
    table[list(known)] = np.arange(len(known))
    return table[np.asarray(labels)]


def mnist_noise(images: np.ndarray, seed: int = SEED) -> np.ndarray:
    """MNIST-Noise: each image plus uniform [0, 1) noise per pixel, clipped to [0, 1] (uint8 out)."""
    noise = np.random.default_rng(seed).random(images.shape)
    return np.round(255 * np.clip(images / 255.0 + noise, 0, 1)).astype(np.uint8)


def uniform_noise(n: int = OUTLIER_COUNT, seed: int = SEED) -> np.ndarray:
    """Noise: images of uniform [0, 1) pixels (uint8 out)."""
    return np.round(255 * np.random.default_rng(seed).random((n, 28, 28))).astype(np.uint8)


def subsample(n_images: int, n: int = OUTLIER_COUNT, seed: int = SEED) -> np.ndarray:
    """A fixed, sorted choice of n indices out of n_images (all of them if fewer)."""
    if n_images <= n:
        return np.arange(n_images)
    return np.sort(np.random.default_rng(seed).choice(n_images, n, replace=False))


# ---- protocol 1: one network per split, its scores, the selection among them, the per-split table ----

CANDIDATES = ("MSP", "max logit", "kNN", "kNN + max logit")  # scores of a split network; "+" = z-sum
BANK = 5000  # known training digits whose features the kNN score compares with (detectors.BANK_SIZE)


def bank_images(train: Split, known: tuple[int, ...], n: int = BANK, seed: int = SEED) -> Split:
    """A fixed choice of n known training digits: the kNN bank, recomputed from the weights wherever they load."""
    digits = known_split(train, known)
    return Split(*(a[subsample(len(digits), n, seed)] for a in (digits.images, digits.labels)))


def fit_scorer(net: ConvNet, bank: Split) -> FeatureScorer:
    """The kNN state of a split network: its normalised features of the bank digits."""
    features = batched(lambda x: {"f": net.features(x).numpy()}, bank.images)["f"]
    return FeatureScorer(classes=net.fc2.out_features, bank=len(bank)).fit(
        torch.as_tensor(features), torch.as_tensor(bank.labels))


def raw_scores(net: ConvNet, scorer: FeatureScorer, images) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The network's class (position in its split's known digits) and its single scores on images."""

    @torch.no_grad()
    def step(x: torch.Tensor) -> dict[str, np.ndarray]:
        features = net.features(x)
        logits = net.head(features)
        scores = detectors.logit_scores(logits)
        return {"class": logits.argmax(1).numpy(), "MSP": scores["MSP"], "max logit": scores["max logit"],
                "kNN": scorer.knn(features).double().numpy()}

    out = batched(step, images)
    return out.pop("class"), out


def with_candidates(raw: dict[str, np.ndarray], stats: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Every candidate score: the single ones and the z-sums (statistics of the known validation digits)."""
    return {name: detectors.z_sum(raw, stats, tuple(name.split(" + "))) for name in CANDIDATES}


def selection_table(val_scores: dict[str, np.ndarray], proxy_scores: dict[str, dict[str, np.ndarray]]
                    ) -> pd.DataFrame:
    """Candidates x proxies: AUROC and the share rejected where 1% of the known validation digits are."""
    return metrics.benchmark(val_scores, proxy_scores, metrics=("AUROC", "rejected @1%"))


def select(tables: list[pd.DataFrame]) -> tuple[str, dict[str, dict[str, float]]]:
    """The candidate with the highest share of held-out proxies rejected @1%, averaged over the splits (ties: mean
    AUROC); with every candidate's means, for the manifest. No unknown digit enters: the proxies are made from
    each split's known validation digits or drawn by a program (a family the networks were not trained on)."""
    rows = {name: {"rejected @1%": float(np.mean([t.loc[name, ("mean", "rejected @1%")] for t in tables])),
                   "AUROC": float(np.mean([t.loc[name, ("mean", "AUROC")] for t in tables]))} for name in CANDIDATES}
    best = max(CANDIDATES, key=lambda name: (rows[name]["rejected @1%"], rows[name]["AUROC"]))
    return best, rows


def split_row(classes: np.ndarray, scores: dict[str, np.ndarray], labels: np.ndarray, known: tuple[int, ...],
              detector: str) -> dict[str, float]:
    """One split's line (in %): closed-set accuracy on its known test digits, AUROC of MSP, max logit and the
    selected detector (known digits vs unknown digits), and the detector's OSCR."""
    positions = remap(labels, known)
    is_known = positions != UNKNOWN
    correct = classes[is_known] == positions[is_known]
    row = {"closed-set accuracy": 100.0 * float(correct.mean())}
    for name in ("MSP", "max logit", detector):
        row[f"AUROC {name}"] = metrics.ood_metrics(scores[name][is_known], scores[name][~is_known])["AUROC"]
    row[f"OSCR {detector}"] = 100.0 * metrics.oscr(scores[detector][is_known], correct, scores[detector][~is_known])
    return row


def summary(rows: list[dict[str, float]]) -> pd.DataFrame:
    """Per-split lines and their mean and (population) standard deviation over the splits."""
    table = pd.DataFrame(rows, index=[f"split {i + 1}: known {''.join(map(str, s))}" for i, s in enumerate(SPLITS)])
    return pd.concat([table, pd.DataFrame({"mean": table.mean(), "std": table.std(ddof=0)}).T])


def load_networks(weights_dir: str | Path, manifest: Manifest | None = None) -> list[ConvNet]:
    """The five split networks, each checked against the manifest's sha256."""
    manifest = manifest or read_manifest(weights_dir)
    spec = manifest["literature"]
    if [tuple(known) for known in spec["splits"]] != list(SPLITS):
        raise ValueError(f"the split networks in {weights_dir} were trained on other splits: {RETRAIN_HINT}")
    return [load_network(ConvNet(classes=len(known)), weights_dir, fname, manifest)
            for known, fname in zip(SPLITS, spec["files"])]


def protocol1(weights_dir: str | Path, splits: dict[str, Split], manifest: Manifest | None = None) -> pd.DataFrame:
    """Protocol 1 on MNIST test: the per-split lines (`split_row`) with their mean and standard deviation."""
    manifest = manifest or read_manifest(weights_dir)
    spec = manifest["literature"]
    rows = []
    for net, known, stats in tqdm(list(zip(load_networks(weights_dir, manifest), SPLITS, spec["stats"])),
                                  desc="protocol 1", unit="split", leave=False):
        scorer = fit_scorer(net, bank_images(splits["train"], known, spec["bank"]))
        classes, raw = raw_scores(net, scorer, splits["test"].images)
        rows.append(split_row(classes, with_candidates(raw, stats), splits["test"].labels, known, spec["detector"]))
    return summary(rows)


def against_published(table: pd.DataFrame) -> pd.DataFrame:
    """The published rows beside this project's (means and standard deviations of `summary`'s AUROC columns),
    highest mean first."""
    rows = {name: {"AUROC": mean, "std": std, "real outlier images": real, "from": "published"}
            for name, (mean, std, real) in PUBLISHED.items()}
    rows |= {f"this project: {column.removeprefix('AUROC ')}": {
        "AUROC": float(table.loc["mean", column]), "std": float(table.loc["std", column]),
        "real outlier images": False, "from": "measured here"} for column in table if column.startswith("AUROC")}
    return pd.DataFrame(rows).T.sort_values("AUROC", ascending=False)


# ---- protocol 2: the 10-digit model on MNIST test + 10,000 outliers of one kind ----

def protocol2_row(digit_preds: np.ndarray, digit_labels: np.ndarray, outlier_preds: np.ndarray) -> dict[str, float]:
    """Open-set macro-F1 over the 11 classes of MNIST test + one outlier set (labelled unknown), in %, with the
    share of outliers rejected and of digits read right."""
    preds = np.r_[digit_preds, outlier_preds]
    labels = np.r_[digit_labels, np.full(len(outlier_preds), UNKNOWN)]
    return {"macro-F1": metrics.macro_f1(preds, labels),
            "outliers rejected": 100.0 * float(np.mean(outlier_preds == UNKNOWN)),
            "digits right": 100.0 * float(np.mean(digit_preds == digit_labels))}


def protocol2(model: OSRModel, digits: Split, digit_out: Outputs, omniglot_raw: Outputs | None, seed: int = SEED
              ) -> pd.DataFrame:
    """Protocol 2 for an OSR model, given its outputs on MNIST test (`digits`) and on the raw Omniglot rendering
    (the background set: the papers drew from both Omniglot sets; None where Omniglot is missing: no row), of
    which a fixed 10,000 are taken; MNIST-Noise and Noise are made here and run through the model."""
    sets = {} if omniglot_raw is None else {
        "Omniglot (raw)": omniglot_raw.take(subsample(len(omniglot_raw.preds), OUTLIER_COUNT, seed))}
    sets |= {"MNIST-Noise": model.outputs(mnist_noise(digits.images, seed)),
             "Noise": model.outputs(uniform_noise(OUTLIER_COUNT, seed))}
    return pd.DataFrame({name: protocol2_row(digit_out.preds, digits.labels, out.preds)
                         for name, out in sets.items()}).T


def standing(table: pd.DataFrame, detector: str) -> str:
    """Where the project's selected detector stands among the published rows of `against_published`."""
    ours = float(table.loc[f"this project: {detector}", "AUROC"])
    published = table[table["from"] == "published"]
    clean = published[~published["real outlier images"].astype(bool)]
    below = clean[clean["AUROC"] < ours]
    text = (f"this project ({detector}): mean AUROC {ours:.2f} over the five splits; above {len(below)} of the "
            f"{len(clean)} published rows trained without real outlier images")
    if len(below) < len(clean):
        best = clean["AUROC"].astype(float).idxmax()
        text += f" (the best of them: {best}, {float(clean.loc[best, 'AUROC']):.1f})"
    real = published[published["real outlier images"].astype(bool)]
    for name, row in real.iterrows():
        side = "above" if ours > float(row["AUROC"]) else "below"
        text += f"; {side} {name} ({float(row['AUROC']):.1f}, trained with real outlier images)"
    return text
