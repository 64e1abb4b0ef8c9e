"""The notebook's setup: Colab gets the pinned packages it lacks, a torch outside the checked range stops the run
with what to do, and the run's settings come from the environment."""
import pytest
import torch

import environment


class Shell:
    """IPython's shell as the setup uses it: records the magics run."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append(f"%{name} {line}")


def test_supported_torch_holds_both_ends_of_the_range_and_nothing_outside():
    low, high = environment.TORCH_RANGE
    assert environment.supported_torch(f"{low}.0") and environment.supported_torch(f"{high}.1+cu130")
    assert not environment.supported_torch("2.8.0") and not environment.supported_torch("2.15.0")
    assert not environment.supported_torch("3.0.0")


def test_colab_installs_only_the_pinned_packages_it_lacks():
    shell = Shell()
    assert environment.prepare(shell, colab=True) is True
    pins = environment.colab_pins()
    assert sorted(p.split("==")[0] for p in pins) == sorted(environment.COLAB_LACKS)
    assert all(p in environment.REQUIREMENTS.read_text().split() for p in pins)
    assert shell.magics == ["%pip install -q " + " ".join(pins)]
    assert environment.prepare(Shell(), colab=False) is False


@pytest.mark.parametrize("colab", [True, False])
def test_an_unchecked_torch_stops_the_run_saying_what_to_do(monkeypatch, colab):
    monkeypatch.setattr(torch, "__version__", "2.8.0")
    shell = Shell()
    with pytest.raises(RuntimeError, match="restart the runtime" if colab else "pip install torch==2.14.1"):
        environment.prepare(shell, colab=colab)
    assert (f"%pip install -q {environment.TORCH_PIN}" in shell.magics) == colab


def test_the_run_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("OSR_RETRAIN", "1")
    monkeypatch.delenv("OSR_WRITE_REPORT", raising=False)
    settings = environment.configure(0)
    assert settings["retrain"] is True and settings["write report"] is False
    assert settings["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    line = environment.summary(settings, "some/root", colab=False)
    assert "retrain True" in line and "some/root" in line and torch.__version__ in line
