"""Where the notebook runs: Colab gets what it lacks (pinned as requirements.txt), torch must lie in the range the
committed outputs are checked with, and the run's settings come from environment variables (OSR_RETRAIN=1,
OSR_WRITE_REPORT=1). Imports nothing of the project: it runs before the packages the project needs are there.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# The torch releases the notebook's committed outputs are checked with (pytest --nbval passes on both ends).
TORCH_RANGE = ("2.9", "2.14")
TORCH_PIN = "torch==2.14.1 torchvision==0.29.1"
# Colab ships torch, torchvision, numpy, pandas, scikit-learn, scipy, matplotlib, seaborn, tqdm and pytest
COLAB_LACKS = ("scikit-image", "pytorch-ood", "nbval")
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"


def supported_torch(version: str) -> bool:
    """Whether a torch version ("2.9.1+cu128") lies in TORCH_RANGE (major.minor, both ends included)."""
    def minor(v: str) -> tuple[int, int]:
        major, rest = v.split(".")[:2]
        return int(major), int("".join(c for c in rest if c.isdigit()) or 0)

    return minor(TORCH_RANGE[0]) <= minor(version) <= minor(TORCH_RANGE[1])


def colab_pins(requirements: Path = REQUIREMENTS) -> list[str]:
    """The pinned requirements of the packages Colab lacks."""
    return [line for line in requirements.read_text().split() if line.split("==")[0] in COLAB_LACKS]


def prepare(shell, colab: bool | None = None) -> bool:
    """In Colab (`shell`: IPython's, for %pip), install what it lacks; anywhere, stop with what to do when torch is
    outside TORCH_RANGE (in Colab, after installing TORCH_PIN: the runtime must restart). Returns whether in Colab."""
    colab = "google.colab" in sys.modules if colab is None else colab
    if colab:
        shell.run_line_magic("pip", "install -q " + " ".join(colab_pins()))
    import torch

    if not supported_torch(torch.__version__):
        if colab:
            shell.run_line_magic("pip", f"install -q {TORCH_PIN}")
        raise RuntimeError(f"torch {torch.__version__} is outside the supported range {TORCH_RANGE}"
                           + (f": installed {TORCH_PIN}, now restart the runtime and run all again" if colab else
                              f": pip install {TORCH_PIN}"))
    return colab


def configure(seed: int) -> dict:
    """Seed torch, set how tables print, and read the run's settings: the device retraining uses (a GPU where there
    is one; inference stays on the CPU), whether to retrain first and whether to rewrite report/."""
    import pandas as pd
    import torch

    torch.manual_seed(seed)
    pd.set_option("display.precision", 2, "display.width", 250, "display.max_columns", 40)
    return {"device": "cuda" if torch.cuda.is_available() else "cpu",
            "retrain": os.environ.get("OSR_RETRAIN") == "1",
            "write report": os.environ.get("OSR_WRITE_REPORT") == "1"}


def summary(settings: dict, data_root: Path, colab: bool) -> str:
    """One line: versions, threads, Colab, the settings and the data root."""
    import torch

    return (f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
            f"Colab {colab}, " + ", ".join(f"{k} {v}" for k, v in settings.items()) + f", data root {data_root}")
