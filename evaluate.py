"""Evaluation of an OSR model on labelled sets: outputs per set, accuracy tables, confusion matrices, results file.

The notebook calls these; README's results table and report/results.json are written from them, never typed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

import helpers
from data import UNKNOWN, Split
from models import OSRModel, Outputs

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "report" / "results.json"
README = ROOT / "README.md"
SEED_REPORTED = {"A": {"closed_set": 98.9, "binary": 99.1, "total": 98.7}}


def run_sets(model: OSRModel, sets: dict[str, Split]) -> dict[str, Outputs]:
    """The model's outputs on every set (progress bar per set)."""
    return {name: model.outputs(split.images, desc=f"{model.name}: {name}") for name, split in sets.items()}


def pooled(outputs: dict[str, Outputs], sets: dict[str, Split], names=None) -> tuple[Outputs, np.ndarray]:
    """Outputs and labels of several sets concatenated (all sets when names is None)."""
    names = list(outputs) if names is None else list(names)
    outs = [outputs[n] for n in names]
    joined = Outputs(
        np.concatenate([o.digits for o in outs]),
        {k: np.concatenate([o.raw[k] for o in outs]) for k in outs[0].raw},
        np.concatenate([o.scores for o in outs]),
        np.concatenate([o.preds for o in outs]),
    )
    return joined, np.concatenate([sets[n].labels for n in names])


def accuracy_table(outputs: dict[str, Outputs], sets: dict[str, Split]) -> pd.DataFrame:
    """Per set: image count, OSR accuracy and share rejected as unknown (%), plus OOD-pooled and total rows."""
    rows = {}
    ood = [n for n in outputs if (sets[n].labels == UNKNOWN).all()]
    groups = {n: [n] for n in outputs} | {"All OOD sets": ood, "Total": list(outputs)}
    for row, names in groups.items():
        out, labels = pooled(outputs, sets, names)
        rows[row] = {
            "images": len(labels),
            "OSR accuracy %": 100.0 * float(np.mean(out.preds == labels)),
            "rejected as unknown %": 100.0 * float(np.mean(out.preds == UNKNOWN)),
        }
    return pd.DataFrame(rows).T.astype({"images": int}).round(2)


def confusion(preds: np.ndarray, labels: np.ndarray, binary: bool = False) -> np.ndarray:
    """11-class confusion matrix (rows true 0-9 and 10), or the 2x2 known/unknown one."""
    if binary:
        return confusion_matrix(labels == UNKNOWN, preds == UNKNOWN, labels=[False, True])
    return confusion_matrix(labels, preds, labels=list(range(UNKNOWN + 1)))


def closed_set_accuracy(out: Outputs, labels: np.ndarray) -> float:
    """Digit accuracy with no rejection, in %."""
    return 100.0 * float(np.mean(out.digits == labels))


def save_results(results: dict, path: Path = RESULTS) -> None:
    """Write the run's metrics (plain floats) for README, report and tests to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def readme_table(results: dict) -> str:
    """README's results table, rendered from the results file."""
    lines = ["| system | closed-set acc. % | seed protocol: MNIST % | unknown % | total % | binary % |",
             "|---|---|---|---|---|---|"]
    for name, res in results["systems"].items():
        p = res["seed_protocol"]
        lines.append(f"| {name} (this project) | {res['closed_set']:.2f} | {p['known']:.2f} | {p['unknown']:.2f} "
                     f"| {p['total']:.2f} | {p['binary']:.2f} |")
    for name, seed in SEED_REPORTED.items():
        lines.append(f"| {name} (seed's report) | {seed['closed_set']:.2f} | - | - | {seed['total']:.2f} "
                     f"| {seed['binary']:.2f} |")
    lines += ["", "OSR accuracy % per test set (full sets):", "",
              "| system | " + " | ".join(results["sets"]) + " |", "|---|" + "---|" * len(results["sets"])]
    for name, res in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join(f"{res['per_set'][s]:.2f}" for s in results["sets"]) + " |")
    return "\n".join(lines)


def update_readme(results: dict, path: Path = README) -> None:
    """Replace the block between the results markers in README.md with the rendered table."""
    text = path.read_text()
    block = f"<!-- results:start -->\n{readme_table(results)}\n<!-- results:end -->"
    new, n = re.subn(r"<!-- results:start -->.*?<!-- results:end -->", block, text, flags=re.S)
    if n != 1:
        raise ValueError(f"{path} needs exactly one <!-- results:start --> ... <!-- results:end --> block")
    path.write_text(new)


def system_results(outputs: dict[str, Outputs], sets: dict[str, Split], protocol_idx: dict[str, np.ndarray]) -> dict:
    """The numbers kept for one system: closed-set accuracy, seed protocol accuracies, per-set OSR accuracy."""
    mnist = "MNIST test"
    parts = [outputs[n].take(idx) for n, idx in protocol_idx.items()]
    labels = np.concatenate([sets[n].labels[idx] for n, idx in protocol_idx.items()])
    preds = np.concatenate([p.preds for p in parts])
    table = accuracy_table(outputs, sets)
    return {
        "closed_set": closed_set_accuracy(outputs[mnist], sets[mnist].labels),
        "seed_protocol": helpers.osr_accuracy(preds, labels),
        "per_set": {n: float(table.loc[n, "OSR accuracy %"]) for n in table.index},
    }
