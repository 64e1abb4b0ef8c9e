"""Candidates for a better handwriting signal, judged on outliers they never saw (`../shared/GUIDE.md`, section 3:
a detector is judged on families it was not trained on): leave one family out, and per-digit thresholds.

Every family of made outliers is held out in turn: drawn by a program (strokes, blobs, scribbles; `outliers`)
and made from MNIST digits (`outliers.MAKERS` and the proxies of `data.proxy_unknowns`). For each design (the
families it trains on) a digit-or-not network is trained on the design's families less the held-out one and
measured on that one, at the best system's operating point (1% of the MNIST validation digits rejected): alone,
and inside the best system's sum of z-scores (kNN + L2 norm + digit-or-not, the committed kNN and L2 norm).

The runs are probe-sized so that the whole table trains in about 45 minutes on 2 CPU cores: a quarter of
MNIST train, PROBE["epochs"] epochs, the same number of outliers in every run, spread evenly over its families.
They compare designs; they do not reproduce the committed network. `python leave_out.py` writes
report/leave_one_out.json, which the notebook shows; `python leave_out.py --per-class` prints the per-digit
thresholds' figures.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

import data
import detectors
import metrics
import outliers
import osr
from augment import style_augment
from data import SEED, Split, mnist_splits, proxy_unknowns
from loop import train_network
from losses import classifier_loss, digit_or_not_loss
from models import DigitOrNot, for_inference
from preprocess import batched
from report import LEAVE_ONE_OUT, leave_one_out_table
from train import digits_against

FAMILIES = ("strokes", "blobs", "scribbles", *outliers.MAKERS, *data.PROXY_NAMES)
DESIGNS = {"drawn (before)": ("strokes", "blobs"),
           "drawn + made (today)": ("strokes", "blobs", *outliers.MAKERS),
           "every family": FAMILIES}
PROBE = {"digits": 12500, "outliers": 16000, "epochs": 3, "measured": 2000}
SUM = ("kNN", "L2 norm", detectors.DIGIT_OR_NOT_SCORE)


def family_images(family: str, digits: Split, n: int, seed: int) -> np.ndarray:
    """n images of one family: drawn, or made from `digits` (proxies drawn again with new seeds until n)."""
    if family in outliers.GENERATORS:
        return outliers.draw(family, n, seed)
    if family in outliers.MAKERS:
        return outliers.make(family, digits, n, seed)
    made, k = [], 0
    while sum(map(len, made)) < n:
        made.append(proxy_unknowns(digits, min(len(digits), n), seed + 1000 * k)[family])
        k += 1
    return np.concatenate(made)[:n]


def pools(digits: Split, n: int, seed: int) -> dict[str, np.ndarray]:
    return {family: family_images(family, digits, n, seed + i) for i, family in enumerate(FAMILIES)}


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
    raw = {name: fixed[name] | {detectors.DIGIT_OR_NOT_SCORE: batched(lambda x: {"d": net(x)}, images, centre=True)["d"]}
           for name, images in sets.items()}
    val = raw["MNIST validation"]
    stats = detectors.fit_stats(val)
    out = {}
    for name, r in raw.items():
        alone = metrics.rejected_at(val[detectors.DIGIT_OR_NOT_SCORE], r[detectors.DIGIT_OR_NOT_SCORE])
        summed = metrics.rejected_at(detectors.z_sum(val, stats, SUM), detectors.z_sum(r, stats, SUM))
        out[name] = {"alone": alone, "sum": summed}
    return out


def main() -> dict:
    splits = mnist_splits()
    rng = np.random.default_rng(SEED)
    digits = splits["train"]
    keep = rng.choice(len(digits), PROBE["digits"], replace=False)
    train_digits = Split(digits.images[keep], digits.labels[keep])
    val_digits = Split(splits["val"].images[: PROBE["digits"] // 5], splits["val"].labels[: PROBE["digits"] // 5])
    train_pool = pools(train_digits, PROBE["outliers"], SEED + 1)
    val_pool = pools(val_digits, PROBE["outliers"] // 10, SEED + 11)
    sets = {"MNIST validation": splits["val"].images} | pools(splits["val"], PROBE["measured"], SEED + 100)
    sets |= development()
    best = osr.load_osr_model(system="best").detector
    fixed_scorer = detectors.CombinedDetector(best.classifier, best.reconstruction, best.scorer, ("kNN", "L2 norm"))
    fixed = {name: batched(fixed_scorer.raw_scores, images, centre=True) for name, images in sets.items()}
    results = {}
    for name, families in runs().items():
        start = time.perf_counter()
        net, history = train_network(DigitOrNot(), digit_or_not_loss,
                                     family_split(train_digits, train_pool, families, PROBE["outliers"]),
                                     family_split(val_digits, val_pool, families, PROBE["outliers"] // 10),
                                     PROBE["epochs"], f"without {len(FAMILIES) - len(families)}: {name}"[:60],
                                     augment=style_augment)
        results[name] = {"families": list(families), "seconds": round(time.perf_counter() - start, 1),
                         "rejected": measure(for_inference(net), fixed, sets)}
    out = {"probe": PROBE, "designs": {k: list(v) for k, v in DESIGNS.items()}, "runs": results}
    LEAVE_ONE_OUT.write_text(json.dumps(out, indent=1) + "\n")
    return out


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
    keep = np.random.default_rng(SEED).choice(len(splits["train"]), PROBE["digits"], replace=False)
    train_digits = Split(splits["train"].images[keep], splits["train"].labels[keep])
    val_digits = Split(splits["val"].images[: PROBE["digits"] // 5], splits["val"].labels[: PROBE["digits"] // 5])
    net, _ = train_network(DigitOrNot(outputs=4), classifier_loss, quarter_turns(train_digits),
                           quarter_turns(val_digits), PROBE["epochs"], "quarter turns", augment=style_augment)
    net = for_inference(net)

    def turned_away(x: torch.Tensor) -> dict[str, torch.Tensor]:
        def loss(k: int) -> torch.Tensor:  # cross-entropy of the truth: k quarter turns
            logits = net(torch.rot90(x, k, (2, 3)).contiguous()).double()
            return torch.logsumexp(logits, 1) - logits[:, k]
        return {"rotation (1 pass)": loss(0), "rotation (4 passes)": sum(loss(k) for k in range(4))}

    sets = {"MNIST validation": splits["val"].images} | pools(splits["val"], PROBE["measured"], SEED + 100)
    sets |= development() | {"MNIST test": splits["test"].images}
    best = osr.load_osr_model(system="best").detector
    today = detectors.CombinedDetector(best.classifier, best.reconstruction, best.scorer, SUM,
                                       digit_or_not=best.digit_or_not)
    raw = {name: batched(today.raw_scores, images, centre=True) | batched(turned_away, images, centre=True)
           for name, images in sets.items()}
    val = raw.pop("MNIST validation")
    stats = detectors.fit_stats(val)
    scores = {"today's sum": SUM} | {f"{r} alone": (r,) for r in ("rotation (1 pass)", "rotation (4 passes)")}
    scores |= {f"sum + {r}": SUM + (r,) for r in ("rotation (1 pass)", "rotation (4 passes)")}
    trained = set(DESIGNS["drawn + made (today)"])
    return pd.DataFrame({f"{name} *" if name in trained else name: {
        score: metrics.rejected_at(detectors.z_sum(val, stats, parts), detectors.z_sum(r, stats, parts))
        for score, parts in scores.items()} for name, r in raw.items()}).T


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", action="store_true",
                        help="measure per-digit thresholds instead (no training, about 70 s)")
    parser.add_argument("--rotation", action="store_true",
                        help="measure a rotation-prediction signal instead (one probe-sized training run)")
    args = parser.parse_args()
    if args.per_class:
        print(per_class_thresholds().round(2).to_string())
    elif args.rotation:
        print(rotation_candidate().round(1).to_string())
    else:
        found = main()
        for score in ("sum", "alone"):
            print(f"\n% rejected @1%, {score}:\n", leave_one_out_table(found, score).round(1).to_string())
