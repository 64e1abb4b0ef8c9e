"""Speed benchmark: training seconds per epoch of each network, predict throughput (one call on 10,000 images,
and batch 1) with the best model's as a ratio to system A's measured in the same process, the time of each part
of a batch-1 call, a fixed reference workload that says how fast the machine is, and (with --notebook) the
notebook's headless execution time, (with --tests) README's test command's time beside it.

    python bench.py [--notebook] [--tests]   # prints the figures, writes report/bench.json and REPORT's speed block
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
from typing import Callable

import numpy as np
import torch

import augment
import loop
import losses
import osr
import preprocess
import protocols
import report
import train
from data import SEED, Split, mnist_splits
from models import Autoencoder, ConvNet, DigitOrNot, SystemB, for_inference

ROOT = Path(__file__).resolve().parent
OUT = report.BENCH  # report.load_bench reads it


def epoch_seconds(splits: dict[str, Split]) -> dict[str, float]:
    """Wall time of one training epoch over MNIST train (50,000 images; the digit-or-not network's also over its
    drawn outliers; a split network's over the known digits of its split), each
    network as train.py trains it."""
    runs = {
        "classifier (A, best)": lambda: loop.train_network(ConvNet(), losses.classifier_loss, splits["train"],
                                                            splits["val"], 1, "bench", augment=augment.random_affine),
        "autoencoder (A, best)": lambda: loop.train_network(Autoencoder(), losses.autoencoder_loss, splits["train"],
                                                             splits["val"], 1, "bench"),
        "system B (joint)": lambda: loop.train_network(SystemB(), losses.system_b_loss(torch.Generator()),
                                                        splits["train"], splits["val"], 1, "bench",
                                                        lr=0.01, batch_size=200, schedule=loop.step_lr),
        "digit-or-not (best)": lambda: loop.train_network(DigitOrNot(), losses.k_plus_one_loss, *drawn, 1, "bench",
                                                           augment=augment.style_augment),
        "a literature split network (one of fifteen)": lambda: train.train_split_network(
            splits, protocols.SPLITS[0], 1),
        "a literature split's digit-or-not network (one of five)": lambda: train.train_split_digit_or_not(
            splits, protocols.SPLITS[0], SEED, epochs=1),
    }
    drawn = train.digit_or_not_splits(splits)  # drawing them is not timed
    return {name: round(run()[1]["seconds"], 1) for name, run in runs.items()}


PREDICT = {"10000": 10000, "1": 1}  # one call on 10,000 images; batch 1 (over BATCH_1_IMAGES images)
BATCH_1_IMAGES = 300


def predict_speeds(images: np.ndarray, rounds: int = 3) -> dict[str, dict[str, float]]:
    """Each system's images per second of `predict`, one call on 10,000 images and at batch 1, from its total time
    over `rounds` rounds in which the systems take turns call by call (at batch 1, on every image): a shared
    machine's slow moments then hit every system alike, and the ratios between systems hold from one run to the
    next (taking turns a round at a time, one machine's batch-1 ratio swung from 0.42 to 0.79 over five runs:
    6cb1581)."""
    models = {s: osr.load_osr_model(ROOT / "weights", s) for s in osr.SYSTEMS}
    for model in models.values():
        model.predict(images[:PREDICT["10000"]])  # warm-up
        model.predict(images[:1])
    seconds = {s: {key: 0.0 for key in PREDICT} for s in models}
    counts = {key: BATCH_1_IMAGES if batch == 1 else batch for key, batch in PREDICT.items()}
    for _ in range(rounds):
        for key, batch in PREDICT.items():
            for i in range(0, counts[key], batch):
                for system, model in models.items():
                    start = time.perf_counter()
                    model.predict(images[i: i + batch])
                    seconds[system][key] += time.perf_counter() - start
    return {s: {key: round(rounds * counts[key] / seconds[s][key], 1) for key in PREDICT} for s in models}


def batch_1_parts(images: np.ndarray, rounds: int = 3) -> dict[str, dict[str, float]]:
    """Microseconds per image of each part of the best model's and system A's `predict` at batch 1, the parts and
    the whole call timed in turns on each of BATCH_1_IMAGES images over `rounds` rounds (as `predict_speeds`):
    where the best model's extra time goes. "the rest" is the whole call less its parts (the scores' bookkeeping,
    their sum, the decision)."""
    best, a = (osr.load_osr_model(ROOT / "weights", s) for s in ("best", "A"))
    detector = best.detector

    def parts(image: np.ndarray) -> dict[str, dict[str, Callable[[], object]]]:
        def convert() -> torch.Tensor:
            return preprocess.prepare(image).tensor(dtype=preprocess.DTYPE)

        x = convert()
        centred = preprocess.centre_by_mass(x)
        features = best.classifier.features(centred)
        return {"best": {"input pipeline, with centring by mass": lambda: preprocess.centre_by_mass(convert()),
                         "classifier": lambda: best.classifier(centred),
                         "digit-or-not network": lambda: detector.digit_or_not.read(centred),
                         "autoencoder and L2 norm": lambda: detector.reconstruction.raw_scores(centred, otsu=False),
                         "kNN": lambda: detector.scorer.knn(features),
                         "whole predict": lambda: best.predict(image)},
                "A": {"input pipeline": convert,
                      "classifier": lambda: a.classifier(x),
                      "autoencoder, L2 norm and Otsu diff": lambda: a.detector.raw_scores(x),
                      "whole predict": lambda: a.predict(image)}}

    seconds: dict[str, dict[str, float]] = {"best": {}, "A": {}}
    with torch.inference_mode():
        for round_ in range(rounds + 1):  # round 0 warms up, untimed
            for image in images[:BATCH_1_IMAGES]:
                for system, calls in parts(image).items():
                    for part, call in calls.items():
                        start = time.perf_counter()
                        call()
                        if round_:
                            seconds[system][part] = seconds[system].get(part, 0.0) + time.perf_counter() - start
    out = {}
    for system, per in seconds.items():
        us = {part: 1e6 * v / (rounds * min(len(images), BATCH_1_IMAGES)) for part, v in per.items()}
        whole = us.pop("whole predict")
        out[system] = {part: round(v) for part, v in us.items()} | {"the rest": round(whole - sum(us.values())),
                                                                      "whole predict": round(whole)}
    return out


def ratios_to_a(speeds: dict[str, dict[str, float]]) -> dict[str, float]:
    """The best model's predict speed over system A's, per measure: what a slower machine does not change."""
    return {key: round(speeds["best"][key] / speeds["A"][key], 3) for key in PREDICT}


def reference_seconds(rounds: int = 3) -> float:
    """The machine's speed: the fastest of `rounds` timings of a fixed workload (system A's classifier, seeded
    random weights in float32, forward over 4,096 seeded random images at batch 128, and a float64 matrix
    product), so that times measured on different machines can be compared as multiples of it."""
    torch.manual_seed(SEED)
    net = for_inference(ConvNet())
    x = torch.randn(4096, 1, 28, 28)
    a = torch.randn(1024, 1024, dtype=torch.float64)
    times = []
    with torch.inference_mode():
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(0, len(x), 128):
                net(x[i: i + 128])
            a @ a
            times.append(time.perf_counter() - start)
    return round(min(times), 3)


def command_seconds(command: list[str]) -> float:
    """Wall time of a command run in the project folder; a failure raises with the end of its output."""
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(run.stdout + run.stderr)[-4000:]}")
    return round(time.perf_counter() - start, 1)


def notebook_seconds() -> float:
    """Wall time of a headless execution of the notebook (outputs go to a temporary file), as README's notebook
    command runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        return command_seconds([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                                "--output-dir", tmp, str(ROOT / "OSR_Project.ipynb")])


def test_command_seconds() -> float:
    """Wall time of README's test command (`pytest --nbval tests OSR_Project.ipynb`)."""
    return command_seconds([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q", "tests",
                            "OSR_Project.ipynb"])


# The best model's batch-1 speed over A's before this goal was set: report/bench.json at 4e9eb22 (139.6 / 235.8).
BATCH_1_RATIO_BEFORE = 0.592


def goals(bench: dict) -> dict[str, tuple[float | None, bool | None]]:
    """Each speed goal, as a ratio measured on one machine: its value in this run and whether it was met."""
    ratio, seconds = bench.get("best_over_a", {}), {k: bench.get(k) for k in ("notebook_seconds", "test_seconds")}
    tests = (seconds["test_seconds"] / seconds["notebook_seconds"]
             if None not in seconds.values() else None)
    measured = {"README's test command / the notebook: at most 1.5": (tests, lambda v: v <= 1.5),
                "predict, best / A, one call on 10,000 images: at least 1.0": (ratio.get("10000"), lambda v: v >= 1.0),
                f"predict, best / A, batch 1: at least 1.5 x {BATCH_1_RATIO_BEFORE} (before)":
                    (ratio.get("1"), lambda v: v >= 1.5 * BATCH_1_RATIO_BEFORE)}
    return {goal: (None if v is None else round(v, 2), None if v is None else ok(v))
            for goal, (v, ok) in measured.items()}


def train_seconds(epoch_seconds: dict[str, float]) -> float:
    """What every epoch `train.py` runs takes at these per-epoch rates (`epoch_seconds`' order)."""
    epochs = [train.EPOCHS[k] for k in ("classifier", "autoencoder", "B", "digit_or_not")]
    epochs.append(train.EPOCHS["split"] * len(protocols.SPLITS) * train.SPLIT_RECIPE["members"])  # the ensembles
    epochs.append(train.SPLIT_DIGIT_OR_NOT["epochs"] * len(protocols.SPLITS))  # and their digit-or-not networks
    return sum(s * n for s, n in zip(epoch_seconds.values(), epochs))


def main(run_notebook: bool, run_tests: bool) -> dict:
    torch.manual_seed(SEED)
    splits = mnist_splits()
    speeds = predict_speeds(splits["test"].images)
    bench = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "reference_seconds": reference_seconds(),
        "predict_images_per_second": speeds,
        "best_over_a": ratios_to_a(speeds),
        "batch_1_microseconds": batch_1_parts(splits["test"].images),
        "epoch_seconds": epoch_seconds(splits),
    }
    if run_notebook:
        bench["notebook_seconds"] = notebook_seconds()
    save(bench)  # a quick test checks that the report's speed block is the saved one's
    if run_tests:
        bench["test_seconds"] = test_command_seconds()
        save(bench)
    return bench


def save(bench: dict) -> None:
    """report/bench.json, with the training total and the goals derived from the figures, and the report's speed
    block from it."""
    bench["train_seconds"] = round(train_seconds(bench["epoch_seconds"]), 1)
    bench["goals"] = [[goal, v, ok] for goal, (v, ok) in goals(bench).items()]
    OUT.write_text(json.dumps(bench, indent=2) + "\n")
    report.replace_block("speed", report.speed_markdown(bench), report.REPORT)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", action="store_true", help="also time a headless run of the notebook")
    parser.add_argument("--tests", action="store_true", help="also time README's test command")
    args = parser.parse_args()
    print(json.dumps(main(args.notebook, args.tests), indent=2))
