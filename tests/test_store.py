"""What is stored in weights/: entries written for a saved network, histories swapped with the total training
time, the manifest's check skipping only the part about to be rewritten, and which data sets differ."""
import json
import shutil

import pytest
import torch

import models
import store


def test_differing_names_sets_with_another_fingerprint_or_missing_on_either_side():
    here = {"MNIST test": "a", "KMNIST": "b", "notMNIST": "c"}
    stored = {"MNIST test": "a", "KMNIST": "x", "CIFAR-10": "d"}
    assert store.differing(here, stored) == ["CIFAR-10", "KMNIST", "notMNIST"]
    assert store.differing(here, dict(here)) == []


def test_a_saved_network_gets_its_sha256_and_its_kept_epochs_validation(tmp_path):
    net = models.DigitOrNot(width=4, hidden=8)
    history = {"best_epoch": 2, "epochs": 3, "seconds": 1.234, "val_loss": [0.5, 0.25, 0.4], "val_acc": [90.0, 95.0, 93.0]}
    entry = store.save_network(net, "d.pth", history, tmp_path)
    assert entry == {"sha256": store.sha256(tmp_path / "d.pth"), "epochs": 3, "best_epoch": 2, "train_seconds": 1.2,
                     "validation": {"val_loss": 0.25, "val_acc": 95.0}}
    loaded = models.DigitOrNot(width=4, hidden=8)
    loaded.load_state_dict(torch.load(tmp_path / "d.pth", weights_only=True))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))


def test_swapped_histories_replace_the_old_runs_seconds_in_the_total(tmp_path):
    manifest = {"history": "history.json", "train_seconds": 100.0}
    store.write_history(tmp_path, manifest, {"a": {"seconds": 30.0}, "b": {"seconds": 70.0}})
    store.swap_histories(tmp_path, manifest, ["a"], {"c": {"seconds": 5.0}})
    assert json.loads((tmp_path / "history.json").read_text()) == {"b": {"seconds": 70.0}, "c": {"seconds": 5.0}}
    assert manifest["train_seconds"] == 75.0


def test_a_part_about_to_be_rewritten_is_not_checked_but_the_rest_is(tmp_path):
    weights = shutil.copytree(store.WEIGHTS, tmp_path / "weights", ignore=shutil.ignore_patterns("*.pth"))
    manifest = store.read_manifest(weights)
    del manifest["systems"]["best"]["threshold"]
    store.write_manifest(weights, manifest)
    assert "threshold" not in store.read_manifest(weights, rewritten="systems.best")["systems"]["best"]
    with pytest.raises(ValueError, match="systems.best.threshold"):
        store.read_manifest(weights)
    with pytest.raises(ValueError, match="systems.best.threshold"):
        store.read_manifest(weights, rewritten="literature")
