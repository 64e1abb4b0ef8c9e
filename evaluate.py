"""Evaluation of OSR models on labelled sets: outputs per set, accuracy and OOD tables, the numbers kept per
system, robustness to corruptions. The sibling of `train`: both stand on `osr`, `detectors` and `metrics`;
`report` renders what this computes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from sklearn.manifold import TSNE
from torch import nn
from tqdm import tqdm

import detectors
import helpers
import metrics
import outliers
from data import DEVELOPMENT, LETTERS, SEED, UNKNOWN, Split, corrupt, proxy_unknowns
from osr import OSRModel, Outputs
from preprocess import batched


REFERENCE = "MNIST validation"
# Aggregates over the test sets only: the development set (data.DEVELOPMENT) stays beside them, never inside.
MEAN, ALL_OOD, TOTAL = "mean, test sets", "All OOD test sets", "Total, test sets"


def test_sets(names) -> list[str]:
    """The names that are not the development set, in their order."""
    return [n for n in names if n not in DEVELOPMENT]


def run_sets(model: OSRModel, sets: dict[str, Split]) -> dict[str, Outputs]:
    """The model's outputs on every set, with one progress bar over the sets (cleared when done)."""
    return {name: model.outputs(split.images)
            for name, split in tqdm(sets.items(), desc=f"system {model.name}", unit="set", leave=False)}


def benchmark_run(model: OSRModel, reference: Split, sets: dict[str, Split]
                  ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Outputs]]:
    """Every benchmarked score on each set and on `reference` (the MNIST validation split, under REFERENCE: the
    combinations are z-normalised on it, as in train.py's selection, and "rejected @1%" thresholded on it), and
    the best model's own outputs on each set, read from the same scores: one pass per set through the model's
    networks and input pipeline."""
    own = model.detector
    every = detectors.CombinedDetector(model.classifier, own.reconstruction, own.scorer, detectors.BENCHMARKED,
                                       digit_or_not=own.digit_or_not, digits=own.digits)
    raw, outputs = {}, {}
    for name, split in tqdm({REFERENCE: reference, **sets}.items(), desc="benchmark", unit="set", leave=False):
        digits, raw[name] = model.run(split.images, every)
        outputs[name] = model.decide(digits, {c: raw[name][c] for c in own.components})
    scores = detectors.referenced(raw, REFERENCE)[1]
    del outputs[REFERENCE]  # its scores stay: the z statistics and the "rejected @1%" thresholds
    return scores, outputs


def pooled(outputs: dict[str, Outputs], sets: dict[str, Split], names=None) -> tuple[Outputs, np.ndarray]:
    """Outputs and labels of several sets concatenated (all sets when names is None)."""
    names = list(outputs) if names is None else list(names)
    return Outputs.concat([outputs[n] for n in names]), np.concatenate([sets[n].labels for n in names])


def confusions(outputs: dict[str, Outputs], sets: dict[str, Split]) -> tuple[np.ndarray, np.ndarray]:
    """The 11-class and the binary known/unknown confusion matrices over the test sets pooled."""
    out, labels = pooled(outputs, sets, test_sets(outputs))
    return metrics.confusion(out.preds, labels), metrics.confusion(out.preds, labels, binary=True)


def reconstruct(autoencoder: nn.Module, images: np.ndarray) -> np.ndarray:
    """The autoencoder's reconstructions, (N, 28, 28), in the normalised space the scores are computed in."""
    return batched(lambda x: {"r": autoencoder(x)[:, 0]}, images)["r"]


def sample(sets: dict[str, Split], counts: dict[str, int], seed: int = SEED) -> dict[str, np.ndarray]:
    """A fixed random choice of indices in each named set (without replacement)."""
    rng = np.random.default_rng(seed)
    return {name: rng.choice(len(sets[name]), n, replace=False) for name, n in counts.items()}


def most_digit_like(out: Outputs, n: int) -> np.ndarray:
    """For each digit read at least n times, the n accepted images read as it with the lowest unknown scores,
    lowest first: an (n, digits) array of indices, one column per digit in increasing order."""
    columns = []
    for digit in range(10):
        read = np.flatnonzero(out.preds == digit)
        if len(read) >= n:
            columns.append(read[np.argsort(out.scores[read], kind="stable")[:n]])
    return np.stack(columns, axis=1) if columns else np.empty((n, 0), dtype=np.int64)


def tsne_of_codes(autoencoder: nn.Module, sets: dict[str, Split], outputs: dict[str, Outputs],
                  picks: dict[str, np.ndarray], seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D t-SNE of the autoencoder's codes of the picked images: points, the model's predictions, and
    whether each image came from an OOD set."""
    images = np.concatenate([sets[name].images[idx] for name, idx in picks.items()])
    codes = batched(lambda x: {"c": autoencoder.encode(x)[0]}, images)["c"]
    points = TSNE(n_components=2, init="pca", random_state=seed).fit_transform(codes)
    preds = np.concatenate([outputs[name].preds[idx] for name, idx in picks.items()])
    is_ood = np.concatenate([(sets[name].labels[idx] == UNKNOWN) for name, idx in picks.items()])
    return points, preds, is_ood


def rethreshold(outputs: dict[str, Outputs], threshold: float) -> dict[str, Outputs]:
    """The same outputs with the decision taken at another threshold."""
    return {n: replace(o, preds=helpers.osr_decision(o.digits, o.scores, threshold)) for n, o in outputs.items()}


def accuracy_table(outputs: dict[str, Outputs], sets: dict[str, Split]) -> pd.DataFrame:
    """Per set: image count, OSR accuracy and share rejected as unknown (%), plus the OOD test sets pooled and
    the test sets pooled (the development set stays out of both)."""
    rows = {}
    ood = [n for n in test_sets(outputs) if (sets[n].labels == UNKNOWN).all()]
    groups = {n: [n] for n in outputs} | {ALL_OOD: ood, TOTAL: test_sets(outputs)}
    for row, names in groups.items():
        out, labels = pooled(outputs, sets, names)
        rows[row] = {
            "images": len(labels),
            "OSR accuracy %": 100.0 * float(np.mean(out.preds == labels)),
            "rejected as unknown %": 100.0 * float(np.mean(out.preds == UNKNOWN)),
        }
    return pd.DataFrame(rows).T.astype({"images": int}).round(2)


def closed_set_accuracy(out: Outputs, labels: np.ndarray) -> float:
    """Digit accuracy with no rejection, in %."""
    return 100.0 * float(np.mean(out.digits == labels))


def ood_table(outputs: dict[str, Outputs], sets: dict[str, Split], mnist: str = "MNIST test") -> pd.DataFrame:
    """Per OOD set against MNIST test: threshold-free metrics of the score, and OSR accuracy, open-set
    macro-F1 and OSCR at the model's threshold (on MNIST test + that set); last row the mean over the test sets."""
    known, labels = outputs[mnist], sets[mnist].labels
    rows = {}
    for name in (n for n in outputs if n != mnist):
        unknown = outputs[name]
        preds = np.r_[known.preds, unknown.preds]
        truth = np.r_[labels, sets[name].labels]
        accuracy = metrics.osr_accuracy(preds, truth)
        rows[name] = metrics.ood_metrics(known.scores, unknown.scores) | {
            "OSCR": 100.0 * metrics.oscr(known.scores, known.digits == labels, unknown.scores),
            "OSR acc. unknown %": accuracy["unknown"],
            "OSR acc. total %": accuracy["total"],
            "macro-F1 %": metrics.macro_f1(preds, truth),
        }
    table = pd.DataFrame(rows).T
    table.loc[MEAN] = table.loc[test_sets(table.index)].mean()
    return table


def system_results(outputs: dict[str, Outputs], sets: dict[str, Split], protocol_idx: dict[str, np.ndarray]) -> dict:
    """The numbers kept for one system: closed-set accuracy, seed protocol accuracies, per-set OSR accuracy,
    OOD metrics per set, and macro-F1 / OSCR over the test sets pooled (the development set left out)."""
    mnist = "MNIST test"
    preds = Outputs.concat([outputs[n].take(idx) for n, idx in protocol_idx.items()]).preds
    labels = np.concatenate([sets[n].labels[idx] for n, idx in protocol_idx.items()])
    table = accuracy_table(outputs, sets)
    everything, all_labels = pooled(outputs, sets, test_sets(outputs))
    known = all_labels != UNKNOWN
    return {
        "closed_set": closed_set_accuracy(outputs[mnist], sets[mnist].labels),
        "seed_protocol": metrics.osr_accuracy(preds, labels),
        "per_set": {n: float(table.loc[n, "OSR accuracy %"]) for n in table.index},
        "ood": {n: {k: float(v) for k, v in row.items()} for n, row in ood_table(outputs, sets).iterrows()},
        "test_sets": metrics.osr_accuracy(everything.preds, all_labels) | {
            "macro-F1": metrics.macro_f1(everything.preds, all_labels),
            "OSCR": 100.0 * metrics.oscr(everything.scores[known], everything.digits[known] == all_labels[known],
                                         everything.scores[~known])},
    }


def robustness_table(systems: dict[str, OSRModel], digits: Split, kinds: tuple[str, ...],
                     clean: dict[str, np.ndarray]) -> pd.DataFrame:
    """Known digits under corruptions: OSR accuracy and false-rejection rate (%) per system; `clean` holds each
    system's predictions of the uncorrupted digits, already computed (the first row)."""
    rows = {}
    for kind in ("clean",) + tuple(kinds):
        images = None if kind == "clean" else corrupt(digits.images, kind)
        row = {}
        for name, model in systems.items():
            preds = clean[name] if images is None else model.predict(images)
            row[(name, "accuracy %")] = 100.0 * float(np.mean(preds == digits.labels))
            row[(name, "rejected %")] = 100.0 * float(np.mean(preds == UNKNOWN))
        rows[kind] = row
    return pd.DataFrame(rows).T


def robustness_results(table: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """The robustness table as nested data for the results file: system -> corruption -> metric -> value."""
    return {system: {kind: {metric: float(table.loc[kind, (system, metric)]) for metric in table[system].columns}
                     for kind in table.index} for system in table.columns.get_level_values(0).unique()}


def letter_table(outputs: dict[str, Outputs], letters: np.ndarray) -> pd.DataFrame:
    """Per EMNIST letter (labels 1-26 = a-z) and system: images, the share rejected (%), and among the accepted
    ones the digit most are read as and its share of them (%)."""
    rows = {}
    for code in np.unique(letters):
        pick = letters == code
        row = {("", "images"): int(pick.sum())}
        for system, out in outputs.items():
            preds = out.preds[pick]
            accepted = preds[preds != UNKNOWN]
            digit = int(np.bincount(accepted, minlength=10).argmax()) if len(accepted) else -1
            row |= {(system, "rejected %"): 100.0 * float(np.mean(preds == UNKNOWN)),
                    (system, "read as"): digit,
                    (system, "read as %"): 100.0 * float(np.mean(accepted == digit)) if len(accepted) else np.nan}
        rows[LETTERS[code - 1]] = row
    table = pd.DataFrame(rows).T
    return table.astype({column: int for column in table.columns if column[1] in ("images", "read as")})


def letters_summary(outputs: dict[str, Outputs], letters: np.ndarray, lookalikes: str = "ilo") -> pd.DataFrame:
    """Per system: the share of the letters rejected with its 95% Wilson interval, how much of what is accepted
    the look-alikes of digits (i, l, o: read as 1, 1, 0) make up, and the share rejected of them and of the
    other letters."""
    from scipy.stats import binomtest

    alike = np.isin(letters, [LETTERS.index(c) + 1 for c in lookalikes])
    rows = {}
    for system, out in outputs.items():
        rejected = out.preds == UNKNOWN
        interval = binomtest(int(rejected.sum()), len(rejected)).proportion_ci(0.95, method="wilson")
        rows[system] = {"rejected %": 100.0 * float(rejected.mean()), "95% interval low": 100.0 * interval.low,
                        "95% interval high": 100.0 * interval.high,
                        f"{lookalikes} in the accepted %": 100.0 * float(alike[~rejected].mean()) if (~rejected).any()
                        else 0.0,
                        f"rejected of {lookalikes} %": 100.0 * float(rejected[alike].mean()),
                        "rejected of the other letters %": 100.0 * float(rejected[~alike].mean())}
    return pd.DataFrame(rows).T


def against_seed(summary: pd.DataFrame, seed: float, who: str = "seed B") -> str:
    """Whether each system's share of letters rejected is ahead of a reported figure by more than its 95%
    interval allows, as one sentence per system."""
    lines = []
    for system, row in summary.iterrows():
        low, high = row["95% interval low"], row["95% interval high"]
        verdict = ("ahead of" if low > seed else "behind" if high < seed else "not distinguishable from")
        lines.append(f"{system}: {row['rejected %']:.2f}% rejected (95% interval {low:.2f}-{high:.2f}), {verdict} "
                     f"{who}'s {seed:.2f}%")
    return "\n".join(lines)


def near_families(val: Split, n: int = 1000, seed: int = SEED) -> dict[str, np.ndarray]:
    """The held-out families nearest the digits, n images each: non-digits made from the validation digits in
    MNIST's own pen (`data.proxy_unknowns`) and the drawn scribbles the digit-or-not network never trained on."""
    made = proxy_unknowns(val, n, seed)
    return {f"{name} (made)": made[name] for name in ("chimera", "mirrored", "quarter turn")} | {
        f"{name} (drawn)": outliers.draw(name, n, seed) for name in outliers.HELD_OUT}


def nearest_digits(sets: dict[str, np.ndarray], digits: np.ndarray, chunk: int = 500
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each image's pixel distance (Euclidean, MNIST-normalised, every image moved to MNIST's centre of mass as
    the best model reads it) to its nearest image among `digits`, and that image's index."""
    def pixels(images: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(batched(lambda x: {"p": x.flatten(1).float()}, images, centre=True)["p"])

    bank = pixels(digits)
    bank_sq = (bank ** 2).sum(1)
    out = {}
    for name, images in sets.items():
        query = pixels(images)
        nearest = torch.cat([((q ** 2).sum(1, keepdim=True) + bank_sq - 2 * q @ bank.T).argmin(1)
                             for q in torch.split(query, chunk)])
        # the distance itself from the difference: the expansion above loses ~1e-2 to float32 cancellation
        out[name] = ((query - bank[nearest]).norm(dim=1).numpy(), nearest.numpy())
    return out


def limits_table(distances: dict[str, np.ndarray], rejected: dict[str, np.ndarray], reference: str = "MNIST test",
                 letters: np.ndarray | None = None, emnist: str = "EMNIST letters") -> tuple[float, pd.DataFrame]:
    """Where the data ends: an image is *written like a digit* when a training digit lies as near to it as the
    median `reference` digit's nearest training digit lies to that digit. Per set (and per EMNIST letter, given
    their `letters`): that share, the share a detector could reject without rejecting images that close to digits
    (100 minus it), the share the model rejects, and its share rejected of the images not written like a digit.
    Returns the distance and the table."""
    limit = float(np.median(distances[reference]))
    parts = {name: np.ones(len(d), bool) for name, d in distances.items() if name != reference}
    if letters is not None and emnist in parts:
        parts |= {f"{emnist}: {LETTERS[code - 1]}": letters == code for code in np.unique(letters)}
    rows = {}
    for part, pick in parts.items():
        name = emnist if part.startswith(f"{emnist}:") else part
        alike, gone = distances[name][pick] <= limit, rejected[name][pick]
        rows[part] = {"images": len(alike), "written like a digit %": 100.0 * alike.mean(),
                      "at most rejectable %": 100.0 * (1 - alike.mean()), "rejected %": 100.0 * gone.mean(),
                      "rejected of the rest %": 100.0 * gone[~alike].mean() if (~alike).any() else np.nan}
    return limit, pd.DataFrame(rows).T.astype({"images": int})


def nearest_accepted(found: tuple[np.ndarray, np.ndarray], rejected: np.ndarray, n: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The n accepted images nearest a training digit (`nearest_digits`' distances and indices), nearest first:
    their indices and their nearest digits' indices."""
    distance, nearest = found
    accepted = np.flatnonzero(~rejected)
    pick = accepted[np.argsort(distance[accepted], kind="stable")[:n]]
    return pick, nearest[pick]
