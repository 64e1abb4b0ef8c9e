"""What is trained on what: the networks (each with `loop.train_network`), the thresholds fitted on the MNIST
validation split, and weights/ rewritten (`store`).

Run `python train.py` to retrain everything and rewrite weights/ (the manifest records how long it took).
Only MNIST train is used for fitting (with outliers drawn by a program or made from the training digits for the
digit-or-not network), MNIST validation for checkpoint selection and thresholds. Networks train
in float32 and are saved so; thresholds and detectors are fitted on them as `osr` loads them for inference
(`models.for_inference`: each in its inference dtype).
"""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import detectors
import helpers
import metrics
import outliers
import protocols
from augment import random_affine, style_augment
from data import SEED, UNKNOWN, Split, mnist_splits
from detectors import FeatureScorer, MSEDetector, ReconstructionDetector
from models import Autoencoder, ConvNet, DigitOrNot, GapNet, SystemB, for_inference
from losses import autoencoder_loss, classifier_loss, k_plus_one_loss, system_b_loss
from loop import one_cycle, step_lr, train_network
from preprocess import batched
from store import (WEIGHTS, Manifest, load_network, read_manifest, save_network, sha256, swap_histories, write_history,
                   write_manifest)

EPOCHS = {"classifier": 10, "autoencoder": 15, "B": 6, "digit_or_not": 10, "split": 8}
B_THRESHOLD_FROM = "validation"  # or "train", the seed's rule; see fit_system_b
NETS_A = {"classifier": "classifier.pth", "autoencoder": "autoencoder_a.pth"}  # the best system shares A's
DIGIT_OR_NOT = "digit_or_not.pth"
DRAWN = {"strokes": 30000, "blobs": 15000}  # drawn outliers per training family of the digit-or-not network
MADE = {"side chimeras": 10000, "upside down": 10000}  # and non-digits made from the training digits (outliers.make)
# A literature split's ensemble (`models.GapNet`): members differ only by their seed (initialisation and data
# order); AdamW with a one-cycle learning rate per batch, random affine augmentation, no outliers of any kind.
SPLIT_RECIPE = {"width": 16, "members": 3, "lr": 3e-3, "weight_decay": 5e-4}
# Beside each ensemble, the split's own digit-or-not network (`train_split_digit_or_not`): the known digits against
# outliers drawn or made from them, probe-sized (leave_out.PROBE's outliers and epochs).
SPLIT_DIGIT_OR_NOT = {"outliers": 16000, "epochs": 3}
CENTRE = True  # the best system moves each image to MNIST's centre of mass (A and B read it as the seeds did)
Z = 3.0


def digits_against(digits: Split, unknown: list[np.ndarray]) -> Split:
    """A digit-or-not network's data: the digits (labelled by their class), then the outliers (UNKNOWN)."""
    return Split(np.concatenate([digits.images, *unknown]),
                 np.r_[digits.labels.astype(np.int64), np.full(sum(map(len, unknown)), UNKNOWN, np.int64)])


def outlier_split(digits: Split, counts: dict[str, int], seed: int, made: dict[str, int] | None = None) -> Split:
    """MNIST digits and outliers (`digits_against`): drawn ones of the families in `counts`, and ones of the
    families in `made` made from these same digits, for the digit-or-not network."""
    unknown = [outliers.draw(family, n, seed + i) for i, (family, n) in enumerate(counts.items())]
    unknown += [outliers.make(family, digits, n, seed + 50 + i) for i, (family, n) in enumerate((made or {}).items())]
    return digits_against(digits, unknown)


def digit_or_not_splits(splits: dict[str, Split], made: dict[str, int] = MADE) -> tuple[Split, Split]:
    """The digit-or-not network's data: MNIST train against drawn outliers of the training families
    (`outliers.TRAINED`, DRAWN of each) and non-digits made from the training digits (`made` of each family), and
    MNIST validation against a tenth as many fresh ones, made from the validation digits."""
    def tenth(counts: dict[str, int]) -> dict[str, int]:
        return {family: n // 10 for family, n in counts.items()}

    return (outlier_split(splits["train"], DRAWN, SEED + 1, made),
            outlier_split(splits["val"], tenth(DRAWN), SEED + 11, tenth(made)))


def train_digit_or_not(splits: dict[str, Split], epochs: int, device: str = "cpu", made: dict[str, int] = MADE,
                       seed: int = SEED, name: str = "digit-or-not", augment=style_augment, width: int = 32
                       ) -> tuple[DigitOrNot, dict]:
    """The digit-or-not network (its first convolution's `width`) on `digit_or_not_splits` (`made` of each made
    family) under `augment`, its data order from `seed`, its epoch kept by validation accuracy."""
    return train_network(DigitOrNot(width=width), k_plus_one_loss, *digit_or_not_splits(splits, made), epochs, name,
                         augment=augment, seed=seed, device=device)


def train_split_network(splits: dict[str, Split], known: tuple[int, ...], epochs: int, seed: int = SEED,
                        device: str = "cpu") -> tuple[GapNet, dict]:
    """One member of a literature split's ensemble: trained on the known digits of MNIST train (their positions in
    `known` as labels), its epoch kept by accuracy on the known validation digits. No unknown digit is ever seen."""
    net = GapNet(classes=len(known), width=SPLIT_RECIPE["width"]).to(memory_format=torch.channels_last)  # faster
    return train_network(net, classifier_loss,
                         protocols.known_split(splits["train"], known), protocols.known_split(splits["val"], known),
                         epochs, f"split {''.join(map(str, known))}, seed {seed}", augment=random_affine,
                         lr=SPLIT_RECIPE["lr"], seed=seed, schedule=one_cycle, device=device,
                         optimizer=partial(torch.optim.AdamW, weight_decay=SPLIT_RECIPE["weight_decay"]))


def split_outliers(digits: Split, known: tuple[int, ...], n: int, seed: int) -> Split:
    """A literature split's digit-or-not data: its known digits (labelled by their position in `known`) against n
    outliers (label len(known)), n / 4 of each of the digit-or-not network's families: drawn by a program
    (`outliers.TRAINED`) or made from those known digits (`outliers.MAKERS`). No unknown digit enters."""
    kept = protocols.known_digits(digits, known)
    each = n // (len(outliers.TRAINED) + len(outliers.MAKERS))
    unknown = ([outliers.draw(family, each, seed + i) for i, family in enumerate(outliers.TRAINED)]
               + [outliers.make(family, kept, each, seed + len(outliers.TRAINED) + i)
                  for i, family in enumerate(outliers.MAKERS)])
    return Split(np.concatenate([kept.images, *unknown]),
                 np.r_[protocols.remap(kept.labels, known), np.full(each * len(unknown), len(known))])


def train_split_digit_or_not(splits: dict[str, Split], known: tuple[int, ...], seed: int, device: str = "cpu",
                             epochs: int = SPLIT_DIGIT_OR_NOT["epochs"]) -> tuple[DigitOrNot, dict]:
    """A literature split's digit-or-not network (the known digits and "not a digit" as outputs) on
    `split_outliers` of MNIST train, its epoch kept by accuracy on that of the validation split (a tenth as many
    outliers); its initial weights drawn from `seed`, whatever ran before."""
    n = SPLIT_DIGIT_OR_NOT["outliers"]
    torch.manual_seed(seed)
    return train_network(DigitOrNot(outputs=len(known) + 1), k_plus_one_loss,
                         split_outliers(splits["train"], known, n, seed),
                         split_outliers(splits["val"], known, n // 10, seed + 10), epochs,
                         f"split {''.join(map(str, known))}, digit-or-not", augment=style_augment, device=device)


def fit_literature(ensembles: list[list[GapNet]], judges: list[DigitOrNot], splits: dict[str, Split]) -> dict:
    """The split ensembles' and digit-or-not networks' score statistics on the known validation digits (with the
    ensemble's scores, and with each member's) and the one detector chosen among `protocols.CANDIDATES` on
    held-out proxies (made from each split's known validation digits, and drawn by a program; none of them a
    family the digit-or-not networks trained on): the manifest's literature entry, less the file names."""
    stats, tables = [], []
    for nets, judge, known in zip(ensembles, judges, protocols.SPLITS):
        bank = protocols.bank_images(splits["train"], known)
        val = protocols.known_digits(splits["val"], known)
        sets = {"val": val.images} | detectors.held_out_proxies(val)
        outputs = [{name: protocols.member_outputs(net, images) for name, images in (sets | {"bank": bank.images}).items()}
                   for net in nets]
        judged = {name: {detectors.DIGIT_OR_NOT_SCORE: protocols.log_odds(judge, images)} for name, images in sets.items()}

        def raw(member_outputs: list[dict]) -> dict[str, dict[str, np.ndarray]]:
            joint = {name: protocols.ensemble([m[name] for m in member_outputs]) for name in member_outputs[0]}
            scorer = protocols.fit_scorer(joint.pop("bank"), bank.labels)
            return {name: protocols.raw_scores(out, scorer)[1] | judged[name] for name, out in joint.items()}

        scores = raw(outputs)
        stats.append({"ensemble": detectors.fit_stats(scores["val"]),
                      "members": [detectors.fit_stats(raw([m])["val"]) for m in outputs]})
        candidates = {name: protocols.with_candidates(r, stats[-1]["ensemble"]) for name, r in scores.items()}
        tables.append(protocols.selection_table(candidates.pop("val"), candidates))
    detector, selection = protocols.select(tables)
    return {"splits": [list(known) for known in protocols.SPLITS], "detector": detector, "stats": stats,
            "selection": selection, "bank": protocols.BANK, **SPLIT_RECIPE}


def train_split_digit_or_nots(splits: dict[str, Split], weights_dir: Path, device: str = "cpu"
                              ) -> tuple[list[DigitOrNot], dict, dict]:
    """Train and save the five splits' digit-or-not networks (split i seeded SEED + 100 (i - 1)); returns them
    ready for inference, the files' entries and the histories."""
    judges, files, histories = [], {}, {}
    for i, known in enumerate(protocols.SPLITS, 1):
        name = f"split_{i}_digit_or_not"
        net, histories[name] = train_split_digit_or_not(splits, known, SEED + 100 * (i - 1), device)
        files[f"{name}.pth"] = save_network(net, f"{name}.pth", histories[name], weights_dir)
        judges.append(for_inference(net))
    return judges, files, histories


def literature_entry(fitted: dict, files: dict, nets: list[list[str]], judges: list[str], seeds: list[int],
                     epochs: int) -> dict:
    """The manifest's literature entry: `fit_literature`'s, the networks' files, and their training seconds (from
    the files' entries)."""
    return {"files": nets, "digit_or_not_files": judges, "seeds": seeds, "epochs": epochs,
            "digit_or_not": SPLIT_DIGIT_OR_NOT, **fitted,
            "train_seconds": round(sum(files[f]["train_seconds"] for f in (*np.ravel(nets), *judges)), 1)}


def train_literature(splits: dict[str, Split], weights_dir: Path, epochs: int, device: str = "cpu"
                     ) -> tuple[dict, dict, dict]:
    """Train and fit the ensembles of the five splits of the literature's protocol 1 (`protocols.SPLITS`), members
    seeded SEED, SEED + 1, ..., and the splits' digit-or-not networks; returns the manifest's literature entry, the
    files' entries and the histories."""
    seeds = [SEED + m for m in range(SPLIT_RECIPE["members"])]
    ensembles, names, files, histories = [], [], {}, {}
    for i, known in enumerate(protocols.SPLITS, 1):
        nets = []
        for m, seed in enumerate(seeds, 1):
            name = f"split_{i}_{m}"
            net, histories[name] = train_split_network(splits, known, epochs, seed, device)
            files[f"{name}.pth"] = save_network(net, f"{name}.pth", histories[name], weights_dir)
            nets.append(for_inference(net))
        ensembles.append(nets)
        names.append([f"split_{i}_{m}.pth" for m in range(1, len(seeds) + 1)])
    judges, judge_files, judge_histories = train_split_digit_or_nots(splits, weights_dir, device)
    files, histories = files | judge_files, histories | judge_histories
    spec = literature_entry(fit_literature(ensembles, judges, splits), files, names, list(judge_files), seeds, epochs)
    return spec, files, histories


def fit_reconstruction_thresholds(autoencoder: Autoencoder, val: Split, z: float = Z) -> dict[str, float]:
    """mean + z*std of the L2 norm and the Otsu diff over the MNIST validation split."""
    raw = batched(ReconstructionDetector(autoencoder, {}).raw_scores, val.images)
    return {"l2": helpers.fit_threshold(raw["l2"], z), "otsu": helpers.fit_threshold(raw["otsu"], z), "z": z}


def selection_row(held_out: pd.DataFrame, trained: pd.DataFrame, detector: str) -> dict[str, float]:
    """One candidate's line of the selection record: the share rejected @1% of each proxy family, the means it was
    ranked by (held-out proxies), and the mean over the families the digit-or-not network was trained on."""
    row = {name: float(table.loc[detector, (name, "rejected @1%")]) for table in (held_out, trained)
           for name in dict.fromkeys(column for column, _ in table.columns) if name != "mean"}
    return row | {"held-out mean": float(held_out.loc[detector, ("mean", "rejected @1%")]),
                  "held-out mean AUROC": float(held_out.loc[detector, ("mean", "AUROC")]),
                  "trained-on mean": float(trained.loc[detector, ("mean", "rejected @1%")])}


def fit_best_system(classifier: ConvNet, reconstruction: ReconstructionDetector, digit_or_not: DigitOrNot,
                    splits: dict[str, Split], weights_dir: Path, rate: float = metrics.FALSE_ALARMS,
                    centre: bool = CENTRE) -> tuple[dict, dict]:
    """Fit the feature detectors on MNIST train, choose how the digit is read (the rule most accurate on the
    validation split), select the detector, threshold it where it rejects `rate` of the validation split; every
    image moved to MNIST's centre of mass first when `centre`, as the best system reads its input."""
    features = batched(lambda x: {"f": classifier.features(x)}, splits["train"].images, centre=centre)["f"]
    scorer = FeatureScorer().fit(torch.as_tensor(features), torch.as_tensor(splits["train"].labels))
    torch.save(scorer.state_dict(), weights_dir / "feature_scorer.pth")
    for_inference(scorer)
    rules = detectors.digit_rule_accuracies(classifier, digit_or_not, splits["val"], centre)
    digits = detectors.chosen_rule(rules)
    detector, table, seen, val_scores = detectors.select(classifier, reconstruction, scorer, digit_or_not,
                                                         splits["val"], centre, digits)
    spec = {**NETS_A, "scorer": "feature_scorer.pth", "digit_or_not": DIGIT_OR_NOT, "centre_by_mass": centre,
            "digits": digits, "digit_rules": rules, "components": list(detector.components),
            "stats": detector.stats,
            "threshold": helpers.quantile_threshold(val_scores, rate), "false_alarms": rate, "outliers": DRAWN | MADE,
            "selection": {det: selection_row(table, seen, det) for det in table.index}}
    entry = {"sha256": sha256(weights_dir / "feature_scorer.pth"), "fitted_on": "MNIST train features"}
    return spec, entry


def fit_system_b(splits: dict[str, Split], epochs: int, weights_dir: Path, z: float = Z, device: str = "cpu"
                 ) -> tuple[dict, dict, dict]:
    """Train B jointly; thresholds = mean + z*std of per-image MSE on the training set (the seed's adaptive rule,
    computed with the final weights) and on the validation split (the project's protocol, used by default)."""
    net, history = train_network(SystemB(), system_b_loss(torch.Generator().manual_seed(SEED)), splits["train"],
                                 splits["val"], epochs, "system B", lr=0.01, batch_size=200, schedule=step_lr,
                                 device=device)
    files = {"classifier_b.pth": save_network(net.classifier, "classifier_b.pth", history, weights_dir),
             "autoencoder_b.pth": save_network(net.autoencoder, "autoencoder_b.pth", history, weights_dir)}
    mse = {name: batched(MSEDetector(for_inference(net.autoencoder)).raw_scores, splits[name].images)["mse"]
           for name in ("train", "val")}
    thresholds = {"train": helpers.fit_threshold(mse["train"], z), "validation": helpers.fit_threshold(mse["val"], z),
                  "z": z}
    spec = {"classifier": "classifier_b.pth", "autoencoder": "autoencoder_b.pth", "thresholds": thresholds,
            "threshold_from": B_THRESHOLD_FROM, "threshold": thresholds[B_THRESHOLD_FROM]}
    return spec, files, history


def refit(weights_dir: Path = WEIGHTS, digit_or_not: bool = False, device: str = "cpu") -> Manifest:
    """Refit the best system (feature detectors, selection, threshold) on the networks in weights_dir, without
    retraining them, or after retraining the digit-or-not network alone (`digit_or_not`); rewrites
    feature_scorer.pth (and digit_or_not.pth, its history and the total training time) and the manifest.
    The best system's entry is rewritten, so only the rest of the manifest has to be in today's layout."""
    manifest = read_manifest(weights_dir, rewritten="systems.best")
    splits = mnist_splits()
    if digit_or_not:
        net, trained = train_digit_or_not(splits, EPOCHS["digit_or_not"], device)
        manifest["files"][DIGIT_OR_NOT] = save_network(net, DIGIT_OR_NOT, trained, weights_dir)
        swap_histories(weights_dir, manifest, ["digit_or_not"], {"digit_or_not": trained})
    classifier = load_network(ConvNet(), weights_dir, NETS_A["classifier"], manifest)
    autoencoder = load_network(Autoencoder(), weights_dir, NETS_A["autoencoder"], manifest)
    reconstruction = ReconstructionDetector(autoencoder, manifest["systems"]["A"]["thresholds"])
    judge = load_network(DigitOrNot(), weights_dir, DIGIT_OR_NOT, manifest)
    best, manifest["files"]["feature_scorer.pth"] = fit_best_system(classifier, reconstruction, judge, splits,
                                                                    weights_dir)
    manifest["systems"]["best"] = best
    write_manifest(weights_dir, manifest)
    return manifest


def retrain_literature(weights_dir: Path = WEIGHTS, device: str = "cpu") -> Manifest:
    """Retrain only the split ensembles of the literature's protocol 1 and rewrite their files, their histories,
    their manifest entry and the total training time; the previous split networks' files go; the rest of
    weights_dir is kept."""
    manifest = read_manifest(weights_dir, rewritten="literature")
    literature, files, h_lit = train_literature(mnist_splits(), weights_dir, EPOCHS["split"], device)
    previous = [*np.ravel(manifest.get("literature", {}).get("files", [])).tolist(),  # a file or a list per split
                *manifest.get("literature", {}).get("digit_or_not_files", [])]
    for fname in set(previous) - set(files):
        manifest["files"].pop(fname, None)
        (weights_dir / fname).unlink(missing_ok=True)
    swap_histories(weights_dir, manifest, [Path(fname).stem for fname in previous], h_lit)
    manifest["files"] |= files
    manifest["literature"] = literature
    write_manifest(weights_dir, manifest)
    return manifest


def retrain_split_digit_or_nots(weights_dir: Path = WEIGHTS, device: str = "cpu") -> Manifest:
    """Retrain only the splits' digit-or-not networks of protocol 1 (the ensembles kept), refit the literature's
    detector and rewrite their files, their histories and the manifest's literature entry and training time."""
    manifest = read_manifest(weights_dir, rewritten="literature")
    splits = mnist_splits()
    judges, files, histories = train_split_digit_or_nots(splits, weights_dir, device)
    literature = manifest["literature"]
    swap_histories(weights_dir, manifest, [Path(f).stem for f in literature.get("digit_or_not_files", [])], histories)
    manifest["files"] |= files
    manifest["literature"] = literature_entry(fit_literature(protocols.load_networks(weights_dir, manifest), judges,
                                                             splits),
                                              manifest["files"], literature["files"], list(files), literature["seeds"],
                                              literature["epochs"])
    write_manifest(weights_dir, manifest)
    return manifest


def main(weights_dir: Path = WEIGHTS, epochs: dict[str, int] = EPOCHS, device: str = "cpu") -> Manifest:
    """Train every network, fit thresholds and detectors, rewrite weights_dir (state_dicts, history, manifest)."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    splits = mnist_splits()
    torch.manual_seed(SEED)
    classifier, h_clf = train_network(ConvNet(), classifier_loss, splits["train"], splits["val"],
                                      epochs["classifier"], "classifier", augment=random_affine, device=device)
    autoencoder, h_ae = train_network(Autoencoder(), autoencoder_loss, splits["train"], splits["val"],
                                      epochs["autoencoder"], "autoencoder", device=device)
    judge, h_judge = train_digit_or_not(splits, epochs["digit_or_not"], device)
    files = {"classifier.pth": save_network(classifier, "classifier.pth", h_clf, weights_dir),
             "autoencoder_a.pth": save_network(autoencoder, "autoencoder_a.pth", h_ae, weights_dir),
             DIGIT_OR_NOT: save_network(judge, DIGIT_OR_NOT, h_judge, weights_dir)}
    classifier, autoencoder, judge = for_inference(classifier), for_inference(autoencoder), for_inference(judge)
    thresholds_a = fit_reconstruction_thresholds(autoencoder, splits["val"])
    best, files["feature_scorer.pth"] = fit_best_system(
        classifier, ReconstructionDetector(autoencoder, thresholds_a), judge, splits, weights_dir)
    spec_b, files_b, h_b = fit_system_b(splits, epochs["B"], weights_dir, device=device)
    literature, files_lit, h_lit = train_literature(splits, weights_dir, epochs["split"], device)
    files |= files_b | files_lit
    manifest: Manifest = {
        "seed": SEED,
        "files": files,
        "systems": {"A": {**NETS_A, "thresholds": thresholds_a},
                    "best": best,
                    "B": spec_b},
        "literature": literature,
        "history": "history.json",
        # B's two networks share one run: count it once
        "train_seconds": round(h_clf["seconds"] + h_ae["seconds"] + h_judge["seconds"] + h_b["seconds"]
                               + literature["train_seconds"], 1),
    }
    history = {"classifier": h_clf, "autoencoder_a": h_ae, "digit_or_not": h_judge, "system_b": h_b, **h_lit}
    write_history(weights_dir, manifest, history)
    write_manifest(weights_dir, manifest)
    return manifest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="output folder (default: weights/)")
    parser.add_argument("--device", default="cpu",
                        help="where to train: cpu (default, the committed run) or cuda (e.g. on Colab)")
    parser.add_argument("--refit", action="store_true",
                        help="keep the trained networks; refit only the best system's detector and threshold")
    parser.add_argument("--digit-or-not", action="store_true",
                        help="retrain only the digit-or-not network, then refit as --refit does")
    parser.add_argument("--literature", action="store_true",
                        help="retrain only the networks of the literature's protocol 1 (15 small networks in five "
                             "ensembles, five digit-or-not networks)")
    parser.add_argument("--split-digit-or-not", action="store_true",
                        help="retrain only protocol 1's five digit-or-not networks, then refit its detector")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA GPU is available here")
    if args.literature:
        manifest = retrain_literature(args.weights, args.device)
    elif args.split_digit_or_not:
        manifest = retrain_split_digit_or_nots(args.weights, args.device)
    elif args.refit or args.digit_or_not:
        manifest = refit(args.weights, args.digit_or_not, args.device)
    else:
        manifest = main(args.weights, device=args.device)
    print(json.dumps(manifest, indent=2))
