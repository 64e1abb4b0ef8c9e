"""The open-set literature's own MNIST protocols, to place the project among published methods.

Protocol 1 (Neal et al. 2018 and the papers after it): five splits of MNIST into 6 known and 4 unknown digits; a
model per split trained on the known digits alone (here an ensemble of small networks); AUROC of known vs unknown
test digits, mean over the splits (here over splits 2-5: split 1 is the development split).
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
import torch.nn.functional as F
from tqdm import tqdm

import detectors
import metrics
from data import DEVELOPMENT, SEED, UNKNOWN, Split
from detectors import DIGIT_OR_NOT_SCORE, FeatureScorer
from models import DigitOrNot, GapNet
from osr import OSRModel, Outputs
from preprocess import batched
from store import RETRAIN_HINT, Manifest, load_network, read_manifest

SPLITS = ((2, 4, 5, 9, 8, 3), (3, 2, 6, 9, 4, 0), (5, 8, 3, 2, 4, 6), (3, 7, 8, 4, 0, 5), (6, 3, 4, 9, 8, 2))
# Published mean AUROCs over five 6/4 splits, each row from one source (read here before printing): where two
# sources give a method, the row is the one they agree on or the first source's. `trained_with` says what besides
# the known digits each method trains on: "none", "made from the known images" (mixup), "generated" (a GAN
# trained on the known digits), "real outlier images", or "not stated" where no text read here says.
SOURCES = {
    "Nirvana": '"Reaching Nirvana: Maximizing the Margin in Both Euclidean and Angular Spaces for Deep Neural Network '
               'Classification" (NeurIPS 2022 submission), Table 1, MNIST column',
    "DSPL": "README of github.com/SuanYu2000/projects_dspl (commit 39576a4), AUROC table, MNIST column",
    "OGFO": 'Xiang, Huang and Dong, "Open set recognition method with open generation and feature optimization", '
            "Journal of Computer Applications 45(7), 2025 (doi 10.11772/j.issn.1001-9081.2024060862), MNIST rows",
}
PUBLISHED = {  # name: (mean AUROC, std or None, trained with, source)
    "Softmax": (97.8, 0.2, "none", "Nirvana"), "OpenMax": (98.1, 0.2, "none", "Nirvana"),
    "G-OpenMax": (98.4, 0.1, "generated", "Nirvana"), "OSRCI": (98.8, 0.1, "generated", "Nirvana"),
    "C2AE": (98.9, 0.2, "none", "Nirvana"), "RPL": (98.9, 0.1, "none", "Nirvana"),
    "CPN": (99.0, 0.2, "none", "Nirvana"), "CROSR": (99.1, None, "none", "Nirvana"),
    "CAC": (99.1, 0.5, "none", "Nirvana"), "DSC": (99.6, 0.1, "real outlier images", "Nirvana"),
    "HPN": (99.1, 0.2, "none", "DSPL"), "DL2PA": (99.1, 0.1, "none", "DSPL"),
    "ARPL": (99.6, 0.1, "none", "DSPL"),  # OGFO's table gives 99.6 too
    "DSPL": (99.5, 0.1, "made from the known images", "DSPL"),
    "GCPL": (99.3, None, "none", "OGFO"), "ODL": (99.5, None, "not stated", "OGFO"),
    "ODL+": (99.6, None, "not stated", "OGFO"), "ARPL+CS": (99.7, None, "generated", "OGFO"),
    "OGFO": (99.7, None, "generated", "OGFO"),
}
DRAWN_OR_MADE = "drawn, or made from the known images"  # the split digit-or-not networks' outliers
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


# ---- protocol 1: an ensemble of small networks per split, its scores, the selection, the per-split table ----

# Scores of a split ensemble and its split's digit-or-not network (`log_odds`); "+" = z-sum
CANDIDATES = ("MSP", "max logit", "kNN", "kNN + max logit", DIGIT_OR_NOT_SCORE, f"kNN + {DIGIT_OR_NOT_SCORE}")
BANK = 5000  # known training digits whose features the kNN score compares with (detectors.BANK_SIZE)


def bank_images(train: Split, known: tuple[int, ...], n: int = BANK, seed: int = SEED) -> Split:
    """A fixed choice of n known training digits: the kNN bank, recomputed from the weights wherever they load."""
    digits = known_split(train, known)
    return Split(*(a[subsample(len(digits), n, seed)] for a in (digits.images, digits.labels)))


def member_outputs(net: GapNet, images) -> dict[str, np.ndarray]:
    """One network's logits and unit-length features on images."""

    @torch.no_grad()
    def step(x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = net.features(x)
        return {"logits": net.head(features).double(), "features": F.normalize(features.float(), dim=1)}

    return batched(step, images)


def log_odds(net: DigitOrNot, images) -> np.ndarray:
    """A split's digit-or-not score: its "not a digit" output (the last) against its known digits, as log-odds."""

    @torch.no_grad()
    def step(x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = net.logits(x).double()
        return {"d": logits[:, -1] - torch.logsumexp(logits[:, :-1], 1)}

    return batched(step, images)["d"]


def ensemble(members: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The members' mean logits, and their unit features side by side (scaled to unit length again): a kNN
    distance over it is one minus the members' mean cosine similarity, rescaled."""
    return {"logits": np.mean([m["logits"] for m in members], axis=0),
            "features": np.concatenate([m["features"] for m in members], axis=1) / np.sqrt(len(members))}


def fit_scorer(bank: dict[str, np.ndarray], labels: np.ndarray) -> FeatureScorer:
    """The kNN state of a network or ensemble: its features of the bank digits."""
    features = torch.as_tensor(bank["features"])
    return FeatureScorer(dim=features.shape[1], classes=bank["logits"].shape[1], bank=len(features)).fit(
        features, torch.as_tensor(labels))


def raw_scores(outputs: dict[str, np.ndarray], scorer: FeatureScorer | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The class (position in the split's known digits) and the single scores of a network's or ensemble's
    outputs; kNN only where a scorer is given."""
    scores = detectors.logit_scores(torch.as_tensor(outputs["logits"]))
    raw = {"MSP": scores["MSP"].numpy(), "max logit": scores["max logit"].numpy()}
    if scorer is not None:
        raw["kNN"] = scorer.knn(torch.as_tensor(outputs["features"])).double().numpy()
    return outputs["logits"].argmax(1), raw


def with_candidates(raw: dict[str, np.ndarray], stats: dict[str, tuple[float, float]],
                    names: tuple[str, ...] = CANDIDATES) -> dict[str, np.ndarray]:
    """The candidate scores named: the single ones and the z-sums (statistics of the known validation digits)."""
    return {name: detectors.z_sum(raw, stats, tuple(name.split(" + "))) for name in names}


def selection_table(val_scores: dict[str, np.ndarray], proxy_scores: dict[str, dict[str, np.ndarray]]
                    ) -> pd.DataFrame:
    """Candidates x proxies: AUROC and the share rejected where 1% of the known validation digits are."""
    return metrics.benchmark(val_scores, proxy_scores, metrics=("AUROC", "rejected @1%"))


def select(tables: list[pd.DataFrame]) -> tuple[str, dict[str, dict[str, float]]]:
    """The candidate with the highest share of held-out proxies rejected @1%, averaged over the splits (ties: mean
    AUROC); with every candidate's means, for the manifest. No unknown digit enters: the proxies are made from
    each split's known validation digits or drawn by a program."""
    rows = {name: {"rejected @1%": float(np.mean([t.loc[name, ("mean", "rejected @1%")] for t in tables])),
                   "AUROC": float(np.mean([t.loc[name, ("mean", "AUROC")] for t in tables]))} for name in CANDIDATES}
    means = pd.DataFrame({name: {("mean", m): v for m, v in row.items()} for name, row in rows.items()}).T
    return metrics.ranked(means)[0], rows


def split_row(classes: np.ndarray, scores: dict[str, np.ndarray], labels: np.ndarray, known: tuple[int, ...],
              detector: str) -> dict[str, float]:
    """One split's line (in %): closed-set accuracy on its known test digits, AUROC of each score given (known
    digits vs unknown digits), and the selected detector's OSCR."""
    positions = remap(labels, known)
    is_known = positions != UNKNOWN
    correct = classes[is_known] == positions[is_known]
    row = {"closed-set accuracy": 100.0 * float(correct.mean())}
    for name in scores:
        row[f"AUROC {name}"] = metrics.ood_metrics(scores[name][is_known], scores[name][~is_known])["AUROC"]
    row[f"OSCR {detector}"] = 100.0 * metrics.oscr(scores[detector][is_known], correct, scores[detector][~is_known])
    return row


HEADLINE, SPREAD, ALL_FIVE = "mean, splits 2-5", "std, splits 2-5", "mean, all five"


def summary(rows: list[dict[str, float]]) -> pd.DataFrame:
    """Per-split lines, their mean and (population) standard deviation over splits 2-5 (the headline:
    split 1 is the development split, whose unknown digits probes looked at), and the mean over all five."""
    table = pd.DataFrame(rows, index=[f"split {i + 1}: known {''.join(map(str, s))}" for i, s in enumerate(SPLITS)])
    clean = table.iloc[1:]
    return pd.concat([table, pd.DataFrame({HEADLINE: clean.mean(), SPREAD: clean.std(ddof=0),
                                           ALL_FIVE: table.mean()}).T])


def load_networks(weights_dir: str | Path, manifest: Manifest | None = None) -> list[list[GapNet]]:
    """The ensembles of the five splits, each network checked against the manifest's sha256."""
    manifest = manifest or read_manifest(weights_dir)
    spec = manifest["literature"]
    if [tuple(known) for known in spec["splits"]] != list(SPLITS):
        raise ValueError(f"the split networks in {weights_dir} were trained on other splits: {RETRAIN_HINT}")
    return [[load_network(GapNet(classes=len(known), width=spec["width"]), weights_dir, fname, manifest)
             for fname in files] for known, files in zip(SPLITS, spec["files"])]


def load_digit_or_nots(weights_dir: str | Path, manifest: Manifest | None = None) -> list[DigitOrNot]:
    """Each split's digit-or-not network, checked against the manifest's sha256."""
    manifest = manifest or read_manifest(weights_dir)
    return [load_network(DigitOrNot(outputs=len(known) + 1), weights_dir, fname, manifest)
            for known, fname in zip(SPLITS, manifest["literature"]["digit_or_not_files"])]


def protocol1(weights_dir: str | Path, splits: dict[str, Split], manifest: Manifest | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Protocol 1 on MNIST test: the ensembles' per-split lines (`split_row`: MSP, max logit, kNN and the selected
    detector) with `summary`'s means, and how the recipe varies with its seed: each member alone (one seed per
    member; with its split's digit-or-not network where the detector reads it), its headline means over splits
    2-5."""
    manifest = manifest or read_manifest(weights_dir)
    spec = manifest["literature"]
    detector = spec["detector"]
    parts = detector.split(" + ")
    names = tuple(dict.fromkeys(("MSP", "max logit", "kNN", detector)))
    judges = load_digit_or_nots(weights_dir, manifest) if DIGIT_OR_NOT_SCORE in parts else [None] * len(SPLITS)
    rows, member_rows = [], []
    for nets, judge, known, stats in tqdm(list(zip(load_networks(weights_dir, manifest), judges, SPLITS,
                                                   spec["stats"])), desc="protocol 1", unit="split", leave=False):
        bank = bank_images(splits["train"], known, spec["bank"])
        test = [member_outputs(net, splits["test"].images) for net in nets]
        banks = [member_outputs(net, bank.images) for net in nets]
        judged = {} if judge is None else {DIGIT_OR_NOT_SCORE: log_odds(judge, splits["test"].images)}

        def row(outputs: dict[str, np.ndarray], bank_outputs: dict[str, np.ndarray],
                own_stats: dict[str, tuple[float, float]]) -> dict[str, float]:
            classes, raw = raw_scores(outputs, fit_scorer(bank_outputs, bank.labels))
            return split_row(classes, with_candidates(raw | judged, own_stats, names), splits["test"].labels, known,
                             detector)

        rows.append(row(ensemble(test), ensemble(banks), stats["ensemble"]))
        member_rows.append([row(*args) for args in zip(test, banks, stats["members"])])
    by_seed = {f"seed {seed}": summary([r[m] for r in member_rows]).loc[HEADLINE]
               for m, seed in enumerate(spec["seeds"])}
    seeds = pd.DataFrame(by_seed).T
    seeds = pd.concat([seeds, pd.DataFrame({"mean over seeds": seeds.mean(), "std over seeds": seeds.std(ddof=0)}).T])
    return summary(rows), seeds


def against_published(table: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The published rows beside this project's: its ensemble's headline means over splits 2-5 (std over those
    splits) and one member alone (mean and std over the seeds; with the split's digit-or-not network where the score
    reads it), highest mean first."""
    rows = {name: {"AUROC": mean, "std": std, "trained with": trained, "from": source}
            for name, (mean, std, trained, source) in PUBLISHED.items()}
    for column in (c for c in table if c.startswith("AUROC")):
        score = column.removeprefix("AUROC ")
        judged = DIGIT_OR_NOT_SCORE in score.split(" + ")
        trained = DRAWN_OR_MADE if judged else "none"
        rows[f"this project: ensemble, {score}"] = {
            "AUROC": float(table.loc[HEADLINE, column]), "std": float(table.loc[SPREAD, column]),
            "trained with": trained, "from": "measured here"}
        one = "one network + digit-or-not network" if judged else "one network"
        rows[f"this project: {one}, {score}"] = {
            "AUROC": float(seeds.loc["mean over seeds", column]), "std": float(seeds.loc["std over seeds", column]),
            "trained with": trained, "from": "measured here"}
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
        DEVELOPMENT[1]: omniglot_raw.take(subsample(len(omniglot_raw.preds), OUTLIER_COUNT, seed))}
    sets |= {"MNIST-Noise": model.outputs(mnist_noise(digits.images, seed)),
             "Noise": model.outputs(uniform_noise(OUTLIER_COUNT, seed))}
    return pd.DataFrame({name: protocol2_row(digit_out.preds, digits.labels, out.preds)
                         for name, out in sets.items()}).T


GOAL = {"mean AUROC, splits 2-5": 99.6, "lowest AUROC, splits 2-5": 99.3, "closed-set accuracy": 99.7}


def against_goal(table: pd.DataFrame, detector: str) -> pd.DataFrame:
    """The ensemble's figures against the goals set for protocol 1 (`GOAL`): ARPL's published mean, none of splits 2-5
    below 99.3, and the closed-set accuracy the leaders publish (99.7-99.8)."""
    clean = table.iloc[1:len(SPLITS)]
    measured = {"mean AUROC, splits 2-5": table.loc[HEADLINE, f"AUROC {detector}"],
                "lowest AUROC, splits 2-5": clean[f"AUROC {detector}"].min(),
                "closed-set accuracy": table.loc[HEADLINE, "closed-set accuracy"]}
    return pd.DataFrame({"goal": GOAL, "measured": measured}).assign(
        met=lambda t: np.where(t["measured"] >= t["goal"], "yes", "no"))


def standing(table: pd.DataFrame, detector: str) -> str:
    """Where the ensemble's selected detector stands among the published rows of `against_published`: above or
    below a row only where the difference exceeds both the published precision (0.1) and the ensemble's spread
    over splits 2-5; level with it otherwise."""
    row = table.loc[f"this project: ensemble, {detector}"]
    ours, margin = float(row["AUROC"]), max(0.1, float(row["std"]))
    published = table[table["from"] != "measured here"]
    gap = ours - published["AUROC"].astype(float)
    above, below = published.index[gap > margin], published.index[gap < -margin]
    level = published.index[gap.abs() <= margin]
    text = (f"this project's ensemble ({detector}): mean AUROC {ours:.2f} over splits 2-5 (std {float(row['std']):.2f}"
            f" over them); above {len(above)} of the {len(published)} published rows by more than {margin:.2f}")
    if len(level):
        text += f", level with {', '.join(level)}"
    if len(below):
        text += f", below {', '.join(below)}"
    return text
