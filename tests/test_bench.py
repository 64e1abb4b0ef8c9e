"""The speed figures in README come from report/bench.json, as bench.py writes them."""
import json

import bench
import report


def test_readme_speed_block_matches_the_saved_benchmark():
    figures = json.loads(bench.OUT.read_text())
    assert bench.readme_block(figures) in report.README.read_text()


def test_speed_block_adds_up_the_epochs_train_py_runs():
    figures = {"machine": {"cpus": 2, "processor": "x", "torch": "t", "torch_threads": 2},
               "epoch_seconds": {"a": 1.0, "b": 2.0, "c": 10.0, "d": 3.0, "e": 0.5}, "predict_images_per_second": {},
               "train_seconds": 5.0}
    epochs = bench.train.EPOCHS
    expected = (epochs["classifier"] + 2 * epochs["autoencoder"] + 10 * epochs["B"] + 3 * epochs["digit_or_not"]
                + 0.5 * epochs["split"] * 5 * bench.train.SPLIT_RECIPE["members"])  # five split ensembles
    assert f"| training, all epochs of `train.py` at these rates | {expected:.0f} s |" in bench.readme_block(figures)
