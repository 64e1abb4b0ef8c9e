"""What is stored in weights/: the manifest's and the history's layout, reading and writing them, the files'
sha256, saving and loading a network checked against the manifest, and which data sets differ from a stored run.

`load_network` refuses a file whose sha256 differs from the manifest, a missing file, or a state_dict of another
architecture; `read_manifest` names what an older manifest lacks.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TypedDict, get_args, get_origin, get_type_hints, is_typeddict

import torch
from torch import nn

from models import for_inference

WEIGHTS = Path(__file__).resolve().parent / "weights"  # the project's own, wherever the caller runs from
MANIFEST = "manifest.json"
RETRAIN_HINT = "retrain with `python train.py` (rewrites weights/ and its manifest)"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Checksum(TypedDict):
    sha256: str


class FileEntry(_Checksum, total=False):
    """One weights file: its checksum (required), and for a trained network how its training went."""
    epochs: int
    best_epoch: int
    train_seconds: float
    validation: dict[str, float]  # val_loss, and val_acc for a classifier, at the kept epoch
    fitted_on: str  # for fitted (not trained) state, such as the feature scorer


class SpecA(TypedDict):
    """System A: its networks' files and the card's two thresholds (mean + z std on validation)."""
    classifier: str
    autoencoder: str
    thresholds: dict[str, float]  # l2, otsu, z


class SpecBest(TypedDict):
    """The best model: A's networks, the feature scorer, the digit-or-not network, the selected detector and its
    threshold."""
    classifier: str
    autoencoder: str
    scorer: str
    digit_or_not: str
    centre_by_mass: bool
    digits: str  # how it reads the digit (detectors.DIGIT_RULES), chosen on the validation split
    digit_rules: dict[str, float]  # every rule's accuracy (%) on the validation split
    components: list[str]
    stats: dict[str, list[float]]  # (mean, std) on validation of each component, for the z-sum
    threshold: float
    false_alarms: float  # the threshold rejects this share of the MNIST validation split
    outliers: dict[str, int]  # the digit-or-not network's training outliers: images per family
    selection: dict[str, dict[str, float]]  # every candidate's mean over the proxies


class SpecB(TypedDict):
    """System B: its networks' files, both thresholds and the one used."""
    classifier: str
    autoencoder: str
    thresholds: dict[str, float]  # train, validation, z
    threshold_from: str
    threshold: float


Systems = TypedDict("Systems", {"A": SpecA, "best": SpecBest, "B": SpecB})


class SpecLiterature(TypedDict):
    """The literature's protocol 1 (`protocols`): an ensemble per split, its detector and how it was chosen."""
    splits: list[list[int]]  # known digits of each split
    files: list[list[str]]  # per split, its ensemble's networks in the order of `seeds`
    seeds: list[int]  # one per member
    width: int  # of every GapNet
    members: int
    epochs: int
    lr: float
    weight_decay: float
    detector: str  # one of protocols.CANDIDATES, the same for every split
    # per split: (mean, std) of each single score on its known validation digits, for the ensemble ("ensemble")
    # and for each member alone ("members")
    stats: list[dict]
    selection: dict[str, dict[str, float]]  # every candidate's means over the held-out proxies and the splits
    bank: int  # known training digits the kNN score compares with
    train_seconds: float


class Manifest(TypedDict):
    """weights/manifest.json, as train.py writes it."""
    seed: int
    files: dict[str, FileEntry]
    systems: Systems
    literature: SpecLiterature
    history: str  # the file holding the per-epoch history
    train_seconds: float


def missing_keys(data: dict, layout: type, where: str = "") -> list[str]:
    """The keys `layout` (a TypedDict) requires that `data` lacks, nested TypedDicts included."""
    hints = get_type_hints(layout)
    missing = [where + key for key in sorted(layout.__required_keys__) if key not in data]
    for key, hint in hints.items():
        if key in data and is_typeddict(hint):
            missing += missing_keys(data[key], hint, f"{where}{key}.")
        elif key in data and get_origin(hint) is dict and is_typeddict(get_args(hint)[1]):
            for name, value in data[key].items():
                missing += missing_keys(value, get_args(hint)[1], f"{where}{key}.{name}.")
    return missing


def read_manifest(weights_dir: str | Path, rewritten: str = "") -> Manifest:
    """The manifest, checked against its layout: a file written by an older train.py names what it lacks.
    `rewritten`: a part the caller is about to write anew (e.g. "systems.best"), not checked."""
    path = Path(weights_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {RETRAIN_HINT}")
    manifest = json.loads(path.read_text())

    def checked(keys: list[str]) -> list[str]:
        return [key for key in keys if not (rewritten and key.startswith(rewritten))]

    if missing := checked(missing_keys(manifest, Manifest)):
        raise ValueError(f"{path} lacks {', '.join(missing)} (written by an older train.py?): {RETRAIN_HINT}")
    if bad := checked(_bad_numbers(manifest.get("systems", {})) + _bad_numbers(manifest.get("literature", {}),
                                                                               "literature")):
        raise ValueError(f"{path} holds unusable numbers: {', '.join(bad)}: {RETRAIN_HINT}")
    return manifest


def _bad_numbers(data, where: str = "systems") -> list[str]:
    """Where the fitted numbers of the systems are not finite, or a z statistic's standard deviation is not
    positive (a z-score would divide by it)."""
    if isinstance(data, dict):
        bad = [b for k, v in data.items() for b in _bad_numbers(v, f"{where}.{k}")]
        if ".stats" in where and all(isinstance(v, list) and len(v) == 2 for v in data.values()):  # (mean, std)s
            bad += [f"{where}.{k} (std {v[1]})" for k, v in data.items() if not v[1] > 0]
        return bad
    if isinstance(data, list):
        return [b for i, v in enumerate(data) for b in _bad_numbers(v, f"{where}[{i}]")]
    if isinstance(data, (int, float)) and not isinstance(data, bool) and not math.isfinite(data):
        return [f"{where} = {data}"]
    return []


def read_history(weights_dir: str | Path, manifest: Manifest | None = None) -> dict:
    """Per-epoch training history saved next to the weights (the file `manifest` names)."""
    manifest = manifest or read_manifest(weights_dir)
    return json.loads((Path(weights_dir) / manifest["history"]).read_text())


def load_network(net: nn.Module, weights_dir: str | Path, fname: str, manifest: Manifest | None = None
                 ) -> nn.Module:
    """Load a state_dict into `net` after checking the file's sha256 against the manifest; returns net ready for
    inference (`for_inference`)."""
    weights_dir = Path(weights_dir)
    manifest = manifest or read_manifest(weights_dir)
    path = weights_dir / fname
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {RETRAIN_HINT}")
    if fname not in manifest["files"]:
        raise ValueError(f"{path} is not listed in manifest.json: {RETRAIN_HINT}")
    if sha256(path) != manifest["files"][fname]["sha256"]:
        raise ValueError(f"{path} does not match the sha256 in manifest.json (changed or corrupted): {RETRAIN_HINT}")
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit {type(net).__name__}: {RETRAIN_HINT}") from err
    return for_inference(net)


def write_manifest(weights_dir: str | Path, manifest: Manifest) -> None:
    (Path(weights_dir) / MANIFEST).write_text(json.dumps(manifest, indent=2))


def write_history(weights_dir: str | Path, manifest: Manifest, history: dict) -> None:
    (Path(weights_dir) / manifest["history"]).write_text(json.dumps(history, indent=1))


def save_network(net: nn.Module, fname: str, history: dict, weights_dir: Path) -> FileEntry:
    """Write the state_dict; return its manifest entry."""
    path = Path(weights_dir) / fname
    torch.save(net.state_dict(), path)
    best = history["best_epoch"] - 1
    val = {"val_loss": float(history["val_loss"][best])}
    if history["val_acc"][best] is not None:
        val["val_acc"] = float(history["val_acc"][best])
    return {"sha256": sha256(path), "epochs": history["epochs"], "best_epoch": history["best_epoch"],
            "train_seconds": round(history["seconds"], 1), "validation": val}


def swap_histories(weights_dir: Path, manifest: Manifest, old: list[str], new: dict[str, dict]) -> None:
    """Replace some networks' histories (names `old`) by `new` in the history file, and their seconds in the
    manifest's total training time (the manifest itself is written by the caller)."""
    history = read_history(weights_dir, manifest)
    gone = [history.pop(name, {}) for name in old]
    history |= new
    manifest["train_seconds"] = round(manifest["train_seconds"] - sum(h.get("seconds", 0.0) for h in gone)
                                      + sum(h["seconds"] for h in new.values()), 1)
    write_history(weights_dir, manifest, history)


def differing(here: dict[str, str], stored: dict[str, str]) -> list[str]:
    """The data sets whose fingerprints differ between two runs, one missing in either counted as differing."""
    return sorted(name for name in set(here) | set(stored) if here.get(name) != stored.get(name))
