"""Speed benchmark: training seconds per epoch of each network, predict throughput at batch 1 and 1,000,
and (with --notebook) the notebook's full headless execution time.

    python bench.py [--notebook]     # prints the figures, writes report/bench.json and README's speed block
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import augment
import losses
import osr
import protocols
import report
import train
from data import SEED, Split, mnist_splits
from models import Autoencoder, ConvNet, DigitOrNot, SystemB

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "report" / "bench.json"


def epoch_seconds(splits: dict[str, Split]) -> dict[str, float]:
    """Wall time of one training epoch over MNIST train (50,000 images; the digit-or-not network's also over its
    drawn outliers; a split network's over the known digits of its split), each
    network as train.py trains it."""
    runs = {
        "classifier (A, best)": lambda: train.train_network(ConvNet(), losses.classifier_loss, splits["train"],
                                                            splits["val"], 1, "bench", augment=augment.random_affine),
        "autoencoder (A, best)": lambda: train.train_network(Autoencoder(), losses.autoencoder_loss, splits["train"],
                                                             splits["val"], 1, "bench"),
        "system B (joint)": lambda: train.train_network(SystemB(), losses.system_b_loss(torch.Generator()),
                                                        splits["train"], splits["val"], 1, "bench",
                                                        lr=0.01, batch_size=200, schedule=train.step_lr),
        "digit-or-not (best)": lambda: train.train_network(DigitOrNot(), losses.digit_or_not_loss, *drawn, 1, "bench",
                                                           augment=augment.style_augment),
        "a literature split network (one of fifteen)": lambda: train.train_split_network(
            splits, protocols.SPLITS[0], 1),
    }
    drawn = train.digit_or_not_splits(splits)  # drawing them is not timed
    return {name: round(run()[1]["seconds"], 1) for name, run in runs.items()}


def throughput(model: osr.OSRModel, images: np.ndarray, batch: int) -> float:
    """Images per second of model.predict called on consecutive batches of the given size."""
    model.predict(images[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        model.predict(images[i: i + batch])
    return round(len(images) / (time.perf_counter() - start), 1)


def notebook_seconds() -> float:
    """Wall time of a headless execution of the notebook (outputs go to a temporary file)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                        "--output-dir", tmp, str(ROOT / "OSR_Project.ipynb")], check=True, cwd=ROOT,
                       capture_output=True)
        return round(time.perf_counter() - start, 1)


def readme_block(bench: dict) -> str:
    m = bench["machine"]
    lines = [f"Measured by `python bench.py --notebook` on {m['cpus']} CPU cores ({m['processor']}), "
             f"torch {m['torch']} with {m['torch_threads']} threads.", "",
             "| measure | value |", "|---|---|"]
    lines += [f"| training, one epoch of {k} | {v:.1f} s |" for k, v in bench["epoch_seconds"].items()]
    epochs = [train.EPOCHS[k] for k in ("classifier", "autoencoder", "B", "digit_or_not")]  # epoch_seconds' order
    epochs.append(train.EPOCHS["split"] * len(protocols.SPLITS) * train.SPLIT_RECIPE["members"])  # the ensembles
    total = sum(s * n for s, n in zip(bench["epoch_seconds"].values(), epochs))
    lines.append(f"| training, all epochs of `train.py` at these rates | {total:.0f} s |")
    lines += [f"| predict, system {s}, batch {b} | {v:,.0f} images/s |"
              for s, per in bench["predict_images_per_second"].items() for b, v in per.items()]
    lines.append(f"| training time recorded by the committed `train.py` run (weights/manifest.json) "
                 f"| {bench['train_seconds']:.0f} s |")
    if "notebook_seconds" in bench:
        lines.append(f"| notebook, headless execution | {bench['notebook_seconds']:.0f} s |")
    best = bench["predict_images_per_second"].get("best", {})
    measured = {"notebook within 180 s": (bench.get("notebook_seconds"), lambda v: v <= 180, "{:.0f} s"),
                "predict (best) at batch 1000: 5,000 images/s": (best.get("1000"), lambda v: v >= 5000, "{:,.0f}/s"),
                "predict (best) at batch 1: 1,000 images/s": (best.get("1"), lambda v: v >= 1000, "{:,.0f}/s")}
    lines += ["", "| goal | this run |", "|---|---|"]
    lines += [f"| {goal} | {'not measured' if v is None else ('met' if ok(v) else 'missed') + ', ' + fmt.format(v)} |"
              for goal, (v, ok, fmt) in measured.items()]
    return "\n".join(lines)


def main(run_notebook: bool) -> dict:
    torch.manual_seed(SEED)
    splits = mnist_splits()
    images = splits["test"].images
    bench = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "predict_images_per_second": {
            system: {"1": throughput(model, images[:300], 1), "1000": throughput(model, images[:5000], 1000)}
            for system, model in ((s, osr.load_osr_model(ROOT / "weights", s)) for s in osr.SYSTEMS)},
        "epoch_seconds": epoch_seconds(splits),
        "train_seconds": json.loads((ROOT / "weights" / "manifest.json").read_text())["train_seconds"],
    }
    if run_notebook:
        bench["notebook_seconds"] = notebook_seconds()
    OUT.write_text(json.dumps(bench, indent=2) + "\n")
    report.replace_block("speed", readme_block(bench))
    return bench


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", action="store_true", help="also time a headless run of the notebook")
    print(json.dumps(main(parser.parse_args().notebook), indent=2))
