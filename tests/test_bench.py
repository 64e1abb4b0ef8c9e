"""The speed figures in the report come from report/bench.json, as bench.py writes them, with the goals as ratios."""
import json

import numpy as np

import bench
import report

FIGURES = {"machine": {"cpus": 2, "processor": "x", "torch": "t", "torch_threads": 2}, "reference_seconds": 0.5,
           "epoch_seconds": {"a": 1.0, "b": 2.0, "c": 10.0, "d": 3.0, "e": 0.5, "f": 4.0},
           "predict_images_per_second": {"best": {"10000": 900.0, "1": 200.0}, "A": {"10000": 1000.0, "1": 200.0}},
           "best_over_a": {"10000": 0.9, "1": 1.0}, "notebook_seconds": 100.0, "test_seconds": 140.0}


def test_report_speed_block_matches_the_saved_benchmark_and_its_derived_figures():
    figures = json.loads(bench.OUT.read_text())
    assert report.speed_markdown(figures) in report.REPORT.read_text()
    assert figures["train_seconds"] == round(bench.train_seconds(figures["epoch_seconds"]), 1)
    assert figures["goals"] == [[goal, v, ok] for goal, (v, ok) in bench.goals(figures).items()]


def test_save_writes_the_figures_and_the_report_block_from_them(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "OUT", tmp_path / "bench.json")
    monkeypatch.setattr(report, "REPORT", tmp_path / "REPORT.md")
    report.REPORT.write_text("before\n<!-- speed:start -->\nSTALE\n<!-- speed:end -->\nafter\n")
    bench.save(dict(FIGURES))
    saved = json.loads(bench.OUT.read_text())
    text = report.REPORT.read_text()
    assert "STALE" not in text and report.speed_markdown(saved) in text and text.endswith("after\n")
    assert "| README's test command / the notebook: at most 1.5 | met, 1.40 |" in text


def test_training_total_adds_up_the_epochs_train_py_runs():
    epochs = bench.train.EPOCHS
    expected = (epochs["classifier"] + 2 * epochs["autoencoder"] + 10 * epochs["B"] + 3 * epochs["digit_or_not"]
                + 0.5 * epochs["split"] * 5 * bench.train.SPLIT_RECIPE["members"]  # five split ensembles
                + 4 * bench.train.SPLIT_DIGIT_OR_NOT["epochs"] * 5)  # and their digit-or-not networks
    assert bench.train_seconds(FIGURES["epoch_seconds"]) == expected


def test_goals_are_ratios_met_or_missed_and_unmeasured_ones_say_so():
    goals = bench.goals(FIGURES)
    assert [v for v, _ in goals.values()] == [1.4, 0.9, 1.0]
    assert [ok for _, ok in goals.values()] == [True, False, True]
    assert all(v is None and ok is None for v, ok in bench.goals({}).values())


def test_ratios_to_a_divide_the_best_models_speed_by_a_s_per_measure():
    assert bench.ratios_to_a(FIGURES["predict_images_per_second"]) == {"10000": 0.9, "1": 1.0}


def test_predict_speeds_give_every_system_both_measures(monkeypatch):
    monkeypatch.setattr(bench, "PREDICT", {"10000": 12, "1": 1})
    monkeypatch.setattr(bench, "BATCH_1_IMAGES", 2)
    speeds = bench.predict_speeds(np.zeros((12, 28, 28), np.uint8), rounds=1)
    assert list(speeds) == list(bench.osr.SYSTEMS) and all(list(v) == ["10000", "1"] and min(v.values()) > 0
                                                            for v in speeds.values())


def test_predict_speeds_let_the_systems_take_turns_call_by_call(monkeypatch):
    calls = []

    class Recorder:
        def __init__(self, system):
            self.system = system

        def predict(self, images):
            calls.append((self.system, len(images)))

    monkeypatch.setattr(bench.osr, "load_osr_model", lambda weights, system: Recorder(system))
    monkeypatch.setattr(bench, "PREDICT", {"10000": 4, "1": 1})
    monkeypatch.setattr(bench, "BATCH_1_IMAGES", 3)
    bench.predict_speeds(np.zeros((4, 28, 28), np.uint8), rounds=2)
    timed = calls[2 * len(bench.osr.SYSTEMS):]  # after each system's two warm-up calls
    turns = [(system, n) for n in (4, 1, 1, 1) for system in bench.osr.SYSTEMS]
    assert timed == turns * 2


def test_batch_1_parts_time_each_part_and_the_rest_adds_up_to_the_whole_call(monkeypatch):
    monkeypatch.setattr(bench, "BATCH_1_IMAGES", 2)
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 8:20, 13:15] = 255  # a bar: a digit-like image
    parts = bench.batch_1_parts(images, rounds=1)
    assert list(parts) == ["best", "A"]
    assert list(parts["best"]) == ["input pipeline, with centring by mass", "classifier", "digit-or-not network",
                                   "autoencoder and L2 norm", "kNN", "the rest", "whole predict"]
    assert list(parts["A"]) == ["input pipeline", "classifier", "autoencoder, L2 norm and Otsu diff", "the rest",
                                "whole predict"]
    for per in parts.values():
        timed = [v for part, v in per.items() if part not in ("the rest", "whole predict")]
        assert min(timed) > 0 and abs(sum(timed) + per["the rest"] - per["whole predict"]) <= len(timed) + 1
    figures = dict(FIGURES, batch_1_microseconds=parts, goals=[])
    figures["train_seconds"] = 1.0
    block = report.speed_markdown(figures)
    assert f"| kNN | {parts['best']['kNN']:,} |  |" in block
    assert f"| input pipeline |  | {parts['A']['input pipeline']:,} |" in block
    assert block.index("| input pipeline |") < block.index("| classifier |") < block.index("| the rest |")
