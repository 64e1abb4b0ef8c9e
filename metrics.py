"""Metrics of open-set recognition over model outputs: OSR accuracy, AUROC, FPR@95TPR, AUPR, OSCR, macro-F1,
confusion matrices, and a detector benchmark table. Unknown (10) is the positive class; scores are "higher =
more unknown". scikit-learn computes what it can; OSCR is written here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, roc_auc_score

import helpers
from data import UNKNOWN


def osr_accuracy(preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """OSR accuracy in % on known images, on unknown images, in total, and binary known/unknown."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    known = labels != UNKNOWN
    correct = preds == labels
    binary = (preds == UNKNOWN) == (labels == UNKNOWN)

    def pct(mask: np.ndarray) -> float:
        return float(100.0 * mask.mean()) if mask.size else float("nan")

    return {
        "known": pct(correct[known]),
        "unknown": pct(correct[~known]),
        "total": pct(correct),
        "binary": pct(binary),
    }


def fpr_at_95_tpr(known: np.ndarray, unknown: np.ndarray) -> float:
    """Share of unknown images accepted at the threshold that accepts 95% of the known ones, in %."""
    known = np.sort(np.asarray(known, dtype=np.float64))
    threshold = known[int(np.ceil(0.95 * len(known))) - 1]
    return 100.0 * float(np.mean(np.asarray(unknown) <= threshold))


FALSE_ALARMS = 0.01  # "rejected @1%", and the best model's threshold: 1% of validation digits rejected


def rejected_at(reference: np.ndarray, unknown: np.ndarray, rate: float = FALSE_ALARMS) -> float:
    """Share of unknown images (%) scoring above the threshold that rejects `rate` of the reference digits
    (the MNIST validation split): what a user gets at that false-alarm rate."""
    return 100.0 * float(np.mean(np.asarray(unknown) > helpers.quantile_threshold(reference, rate)))


def ood_metrics(known: np.ndarray, unknown: np.ndarray) -> dict[str, float]:
    """AUROC, FPR@95TPR, AUPR-In and AUPR-Out (%) of scores on known vs unknown images (unknown = positive)."""
    y = np.r_[np.zeros(len(known)), np.ones(len(unknown))]
    s = np.r_[known, unknown].astype(np.float64)
    return {
        "AUROC": 100.0 * float(roc_auc_score(y, s)),
        "FPR95": fpr_at_95_tpr(known, unknown),
        "AUPR-In": 100.0 * float(average_precision_score(1 - y, -s)),
        "AUPR-Out": 100.0 * float(average_precision_score(y, s)),
    }


def oscr(known: np.ndarray, known_correct: np.ndarray, unknown: np.ndarray) -> float:
    """Area under the correct-classification rate vs false-positive rate curve, sweeping the threshold (0-1)."""
    known, unknown = np.asarray(known, np.float64), np.asarray(unknown, np.float64)
    thresholds = np.unique(np.r_[known, unknown])  # accept score <= t
    ccr = np.searchsorted(np.sort(known[np.asarray(known_correct, bool)]), thresholds, "right") / len(known)
    fpr = np.searchsorted(np.sort(unknown), thresholds, "right") / len(unknown)
    return float(np.trapezoid(np.r_[0.0, ccr], np.r_[0.0, fpr]))


def macro_f1(preds: np.ndarray, labels: np.ndarray) -> float:
    """Open-set macro-F1 over the 11 classes (digits and unknown), in %."""
    return 100.0 * float(f1_score(labels, preds, labels=list(range(UNKNOWN + 1)), average="macro", zero_division=0))


def confusion(preds: np.ndarray, labels: np.ndarray, binary: bool = False) -> np.ndarray:
    """11-class confusion matrix (rows true 0-9 and 10), or the 2x2 known/unknown one."""
    if binary:
        return confusion_matrix(labels == UNKNOWN, preds == UNKNOWN, labels=[False, True])
    return confusion_matrix(labels, preds, labels=list(range(UNKNOWN + 1)))


def benchmark(known: dict[str, np.ndarray], unknown: dict[str, dict[str, np.ndarray]],
              metrics: tuple[str, ...] = ("AUROC", "FPR95", "rejected @1%"),
              reference: dict[str, np.ndarray] | None = None, mean_over: list[str] | None = None,
              mean_name: str = "mean") -> pd.DataFrame:
    """Detectors (rows) x (set, metric) columns, plus the mean over the sets of `mean_over` (default: all) under
    `mean_name`; scores higher = more unknown. "rejected @1%" thresholds each detector on its `reference` scores
    (the MNIST validation split; default: the known scores)."""
    reference = known if reference is None else reference
    mean_over = list(unknown) if mean_over is None else mean_over
    table = {}
    for det, k in known.items():
        per_set = {name: ood_metrics(k, scores[det]) | {"rejected @1%": rejected_at(reference[det], scores[det])}
                   for name, scores in unknown.items()}
        row = {(name, m): v[m] for name, v in per_set.items() for m in metrics}
        row |= {(mean_name, m): float(np.mean([per_set[name][m] for name in mean_over])) for m in metrics}
        table[det] = row
    return pd.DataFrame(table).T


def ranked(table: pd.DataFrame) -> list[str]:
    """The detectors of a `benchmark` table, best first: by the mean share rejected @1% (the operating point a
    user gets), ties broken by the mean AUROC. The one selection rule of the project."""
    return list(table.sort_values([("mean", "rejected @1%"), ("mean", "AUROC")], ascending=False, kind="stable").index)
