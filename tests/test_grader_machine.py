"""The whole notebook on a grader's data root, played offline: the sets as torchvision's downloads leave them
(CIFAR-10's official batch file with other pixels than the JPEG copy, Omniglot's PNG tree in a shuffled directory
order, notMNIST absent), under `pytest --nbval` as README's test command runs it. It must run to its last cell
and pass: the cells that show numbers on the sets that differ are run, not compared, and the notebook's own check
holds every other number to the committed one."""
import os
import subprocess
import sys
from pathlib import Path

import data
import torchvision_layouts as layouts

ROOT = Path(__file__).resolve().parent.parent


def test_the_notebook_passes_nbval_on_a_grader_data_root(tmp_path):
    root = layouts.grader_root(data.data_root(), tmp_path / "data")
    env = {**os.environ, data.DATA_ENV: str(root)}
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q", "-rA",
                          "OSR_Project.ipynb"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    tail = run.stdout[-4000:]
    assert run.returncode == 0, tail
    assert "OOD sets that differ from the committed run here: CIFAR-10, notMNIST" in run.stdout, tail
