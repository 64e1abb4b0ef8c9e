"""Evaluation tables and the results file that README and report read from."""
import json

import numpy as np
import pandas as pd
import pytest

import evaluate
import metrics
import protocols
import report
import store
from data import DEVELOPMENT, Split
from osr import Outputs


def outputs_of(preds, digits=None):
    preds = np.asarray(preds)
    digits = preds if digits is None else np.asarray(digits)
    return Outputs(digits, {"s": preds.astype(float)}, preds.astype(float), preds)


@pytest.fixture
def toy():
    sets = {"MNIST test": Split(np.zeros((4, 28, 28), np.uint8), np.array([1, 2, 3, 4])),
            "Noise": Split(np.zeros((2, 28, 28), np.uint8), np.array([10, 10]))}
    outs = {"MNIST test": outputs_of([1, 2, 10, 5], digits=[1, 2, 3, 5]), "Noise": outputs_of([10, 7])}
    return sets, outs


def test_accuracy_table_has_per_set_pooled_ood_and_total_rows(toy):
    sets, outs = toy
    table = evaluate.accuracy_table(outs, sets)
    assert list(table.index) == ["MNIST test", "Noise", evaluate.ALL_OOD, evaluate.TOTAL]
    assert table.loc["MNIST test", "OSR accuracy %"] == 50.0
    assert table.loc["MNIST test", "rejected as unknown %"] == 25.0
    assert table.loc[evaluate.TOTAL, "OSR accuracy %"] == 50.0
    assert table.loc[evaluate.TOTAL, "images"] == 6


def _with_development_set(toy):
    """The toy sets plus 4 development-set images, every one of them accepted as a digit (all wrong)."""
    sets, outs = toy
    sets["Omniglot dev (raw)"] = Split(np.zeros((4, 28, 28), np.uint8), np.full(4, 10))
    outs["Omniglot dev (raw)"] = outputs_of([3, 3, 3, 3])
    return sets, outs


def test_no_aggregate_takes_in_the_development_set(toy):
    sets, outs = _with_development_set(toy)
    table = evaluate.accuracy_table(outs, sets)
    assert table.loc["Omniglot dev (raw)", "OSR accuracy %"] == 0.0  # beside, in its own row
    assert table.loc[evaluate.ALL_OOD, "OSR accuracy %"] == 50.0 and table.loc[evaluate.ALL_OOD, "images"] == 2
    assert table.loc[evaluate.TOTAL, "OSR accuracy %"] == 50.0 and table.loc[evaluate.TOTAL, "images"] == 6
    ood = evaluate.ood_table(outs, sets)
    assert ood.loc[evaluate.MEAN, "OSR acc. unknown %"] == ood.loc["Noise", "OSR acc. unknown %"] == 50.0
    eleven, binary = evaluate.confusions(outs, sets)
    assert eleven.sum() == binary.sum() == 6
    pooled = evaluate.system_results(outs, sets, {"MNIST test": np.arange(4)})["test_sets"]
    assert pooled["total"] == 50.0 and pooled["unknown"] == 50.0


def test_closed_set_accuracy_ignores_rejection(toy):
    sets, outs = toy
    assert evaluate.closed_set_accuracy(outs["MNIST test"], sets["MNIST test"].labels) == 75.0


def test_binary_confusion_counts_known_and_unknown(toy):
    sets, outs = toy
    out, labels = evaluate.pooled(outs, sets)
    assert metrics.confusion(out.preds, labels, binary=True).tolist() == [[3, 1], [1, 1]]
    assert metrics.confusion(out.preds, labels).shape == (11, 11)


def test_update_readme_replaces_only_the_marked_block(tmp_path, toy):
    sets, outs = toy
    sets["Fashion-MNIST"] = sets["CIFAR-10"] = sets["Noise"]
    outs["Fashion-MNIST"] = outs["CIFAR-10"] = outs["Noise"]
    idx = {"MNIST test": np.arange(4), "Fashion-MNIST": np.array([0]), "CIFAR-10": np.array([1])}
    split_line = {"closed-set accuracy": 99.0, "AUROC kNN": 98.25, "OSCR kNN": 98.0}
    seeds = {"seed 0": {"AUROC kNN": 98.0}, "mean over seeds": {"AUROC kNN": 98.0}, "std over seeds": {"AUROC kNN": 0.0}}
    literature = {"protocol 1": protocols.summary([split_line] * 5).to_dict(orient="index"), "protocol 1 seeds": seeds,
                  "protocol 2": {"Noise": {"macro-F1": 99.5, "outliers rejected": 100.0, "digits right": 99.0}}}
    results = {"sets": list(sets), "systems": {"A": evaluate.system_results(outs, sets, idx)}, "literature": literature}
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nSTALE\n<!-- results:end -->\noutro\n")
    report.update_readme(results, readme)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "STALE" not in text
    assert text.count("\n| ") == 4  # one table: its header, A, and the two seeds' reported rows
    assert "| A | 75.00 | 50.00 | 50.00 | 50.00 | 50.00 | 50.00 |" in text  # closed set, combined set, per set
    assert "| seed A (its report) | 98.90 | 98.70 | - | - | - | - |" in text
    tables = report.results_tables(results) + report.literature_markdown(results)  # the report's, not README's
    assert "| A (this project) | 75.00 | 50.00 | 50.00 | 50.00 | 66.67 |" in tables
    assert "| this project: ensemble, kNN | 98.25 | 0.00 | none | measured here |" in tables
    assert "| this project: one network, kNN | 98.00 | 0.00 | none | measured here |" in tables
    assert "| Softmax | 97.8 | 0.2 | none | Nirvana |" in tables and "| DSC | 99.6 | 0.1 | real outlier images |" in tables
    assert "| Noise | 99.50 | 100.00 | 99.00 |" in tables and "Where it stands: this project's ensemble (kNN)" in tables


def test_readme_results_block_matches_the_saved_results():
    assert report.headline_table(json.loads(report.RESULTS.read_text())) in report.README.read_text()


def test_benchmark_ranks_a_separating_score_above_a_useless_one():
    known = {"good": np.zeros(50), "useless": np.linspace(0, 1, 50)}
    unknown = {"set": {"good": np.ones(20), "useless": np.linspace(0, 1, 20)}}
    table = metrics.benchmark(known, unknown)
    assert table.loc["good", ("set", "AUROC")] == 100.0 and table.loc["good", ("mean", "FPR95")] == 0.0
    assert table.loc["useless", ("mean", "AUROC")] == pytest.approx(50.0, abs=3)
    assert metrics.ranked(table) == ["good", "useless"]


def test_ood_table_has_a_row_per_ood_set_and_their_mean(toy):
    sets, outs = toy
    sets["Other"], outs["Other"] = sets["Noise"], outs["Noise"]
    table = evaluate.ood_table(outs, sets)
    assert list(table.index) == ["Noise", "Other", evaluate.MEAN]
    assert table.loc["Noise", "OSR acc. unknown %"] == 50.0


def test_the_rendered_report_says_it_is_rendered_and_from_what():
    results = json.loads(report.RESULTS.read_text())
    manifest = store.read_manifest(store.WEIGHTS)
    text = report.render_report(results, manifest)
    assert text.splitlines()[2] == report.RENDERED_NOTE and "template of REPORT.md" not in text
    assert f"{report.SEED_B_SETS['KMNIST']}%" in text  # the seeds' figures come from SEED_REPORTED / SEED_B_SETS


def test_report_numbers_are_the_saved_results():
    results = json.loads(report.RESULTS.read_text())
    manifest = store.read_manifest(store.WEIGHTS)
    assert report.REPORT.read_text() == report.render_report(results, manifest)


def test_robustness_markdown_lists_every_corruption_for_every_system():
    table = pd.DataFrame({("best", "accuracy %"): {"clean": 99.0, "blur": 98.5},
                          ("best", "rejected %"): {"clean": 0.5, "blur": 1.25}})
    results = {"robustness": evaluate.robustness_results(table)}
    assert results["robustness"] == {"best": {"clean": {"accuracy %": 99.0, "rejected %": 0.5},
                                              "blur": {"accuracy %": 98.5, "rejected %": 1.25}}}
    text = report.robustness_markdown(results)
    assert "| blur | 98.50 / 1.25 |" in text and "| clean | 99.00 / 0.50 |" in text


def test_rounded_results_drop_float_noise_and_keep_the_layout():
    noisy = {"a": {"b": 98.72999999999999, "c": [1, 2]}, "d": np.float64(99.55334700000002), "n": 3}
    assert report.rounded(noisy) == {"a": {"b": 98.73, "c": [1, 2]}, "d": 99.5533, "n": 3}
    assert type(report.rounded(noisy)["d"]) is float


def _check(computed: dict, stored: dict, tmp_path, **kwargs) -> str:
    report.save_results(stored, tmp_path / "stored.json")
    return report.check_results(computed, tmp_path / "stored.json", **kwargs)


def test_the_check_fails_on_numbers_beyond_the_tolerance_new_ones_and_stale_ones(tmp_path):
    stored = {"x": {"acc": 99.0, "auroc": 98.0}, "sets": ["a", "b"]}
    assert _check({"x": {"acc": 99.04, "auroc": 98.0}, "sets": ["a", "b"]}, stored, tmp_path).startswith("all 2 ")
    with pytest.raises(AssertionError, match=r"x/acc: 99.06 vs 99.0"):
        _check({"x": {"acc": 99.06, "auroc": 98.0}}, stored, tmp_path)
    with pytest.raises(AssertionError, match="x/new: not in the stored results"):
        _check({"x": {"acc": 99.0, "auroc": 98.0, "new": 1.0}}, stored, tmp_path)
    with pytest.raises(AssertionError, match="x/auroc: in the stored results, not computed by this run"):
        _check({"x": {"acc": 99.0}}, stored, tmp_path)
    with pytest.raises(AssertionError, match="x/acc: nan vs 99.0"):
        _check({"x": {"acc": float("nan"), "auroc": 98.0}}, stored, tmp_path)
    assert "1 numbers on data the stored run saw differ" in _check({"x": {"acc": 90.0, "auroc": 98.0}}, stored,
                                                                  tmp_path, strict=False)


def _run(fingerprints: dict, cifar: float, mnist: float, pooled: float) -> dict:
    return {"fingerprints": fingerprints,
            "systems": {"A": {"closed_set": mnist, "per_set": {"MNIST test": mnist, "CIFAR-10": cifar, evaluate.TOTAL: pooled},
                              "seed_protocol": {"total": pooled}}},
            "literature": {"protocol 2": {"Omniglot dev (raw)": {"macro-F1": 86.0}, "Noise": {"macro-F1": 99.0}}}}


def test_numbers_on_a_set_from_another_source_are_reported_not_checked(tmp_path):
    stored = _run({"MNIST test": "m", "CIFAR-10": "jpeg", "Omniglot dev (raw)": "o"}, 99.0, 98.0, 97.0)
    other = _run({"MNIST test": "m", "CIFAR-10": "official", "Omniglot dev (raw)": "o"}, 98.5, 98.0, 96.9)
    message = _check(other, stored, tmp_path)
    assert message.startswith("all 4 numbers on data the stored run saw are within 0.05")  # closed set, MNIST, Omniglot, Noise
    assert "CIFAR-10: other data than the stored run (fingerprint official, stored jpeg)" in message
    assert "3 numbers computed on those sets" in message and "the largest moved 0.50 points" in message
    other["systems"]["A"]["closed_set"] = 97.0  # MNIST alone: still held to the stored value
    with pytest.raises(AssertionError, match="systems/A/closed_set"):
        _check(other, stored, tmp_path)


def test_a_missing_set_leaves_its_numbers_unchecked_and_says_so(tmp_path):
    stored = _run({"MNIST test": "m", "CIFAR-10": "jpeg", "Omniglot dev (raw)": "o"}, 99.0, 98.0, 97.0)
    here = _run({"MNIST test": "m", "CIFAR-10": "jpeg"}, 99.0, 98.0, 97.0)
    del here["literature"]["protocol 2"]["Omniglot dev (raw)"]
    message = _check(here, stored, tmp_path)
    assert "Omniglot dev (raw): missing here" in message
    assert "1 stored numbers on those sets were not computed" in message


def test_what_each_number_depends_on():
    sets = {"MNIST test", "Fashion-MNIST", "CIFAR-10", "Omniglot dev (raw)"}
    ood = sets - {"MNIST test"}
    assert report.depends_on(("systems", "A", "closed_set"), sets) == set()
    assert report.depends_on(("systems", "A", "ood", "CIFAR-10", "AUROC"), sets) == {"CIFAR-10"}
    assert report.depends_on(("systems", "A", "ood", evaluate.MEAN, "AUROC"), sets) == sets - {"Omniglot dev (raw)"}
    assert report.depends_on(("systems", "B", "seed_protocol", "total"), sets) == {"Fashion-MNIST", "CIFAR-10"}
    assert report.depends_on(("literature", "protocol 2", "Omniglot dev (raw)", "macro-F1"), sets) == {"Omniglot dev (raw)"}
    assert report.depends_on(("literature", "protocol 1", "mean", "AUROC"), sets) == set()  # over splits, not sets
    assert report.depends_on(("shown", "B threshold rules", "known", "B, train rule"), sets) >= ood


def test_check_results_passes_on_the_stored_file_and_fails_on_a_changed_number(tmp_path):
    stored = report.load_results()
    path = tmp_path / "results.json"
    report.save_results(stored, path)
    assert report.check_results(stored, path).startswith("all ")
    changed = json.loads(json.dumps(stored))
    changed["systems"]["A"]["closed_set"] += 0.1
    with pytest.raises(AssertionError, match="systems/A/closed_set"):
        report.check_results(changed, path)


@pytest.mark.thorough
def test_a_perturbed_threshold_is_caught_by_the_check_against_the_results_file(mnist_test):
    """The committed MNIST-test OSR accuracy of system A is reproduced here within the tolerance, and a 10% lower
    threshold (more digits rejected) moves it beyond the tolerance."""
    import osr

    model = osr.load_osr_model(report.ROOT / "weights", system="A")
    test = mnist_test
    out = model.outputs(test.images)

    def mnist_accuracy(threshold: float) -> dict:
        preds = evaluate.rethreshold({"MNIST test": out}, threshold)["MNIST test"].preds
        return 100.0 * float(np.mean(preds == test.labels))

    stored = report.load_results()["systems"]["A"]["per_set"]["MNIST test"]
    assert not report.differs(mnist_accuracy(model.threshold), stored)
    assert report.differs(mnist_accuracy(0.9 * model.threshold), stored)


def test_the_results_file_holds_rounded_numbers_only():
    text = report.RESULTS.read_text()  # compared as text: a letter no system accepts has a NaN share, never equal
    assert json.dumps(report.rounded(json.loads(text)), indent=2) + "\n" == text


def test_most_digit_like_gives_each_digit_read_enough_times_a_column_lowest_score_first():
    preds = np.array([3, 10, 3, 0, 3, 0, 7])
    out = Outputs(preds, {}, np.array([0.5, -9.0, 0.1, 0.3, 0.2, -1.0, -5.0]), preds)
    assert evaluate.most_digit_like(out, 2).tolist() == [[5, 2], [3, 4]]  # digits 0 and 3; 7 was read once
    assert evaluate.most_digit_like(out, 4).shape == (4, 0)


def test_confusions_pool_every_set_into_11_class_and_binary_matrices(toy):
    sets, outs = toy
    cm, binary = evaluate.confusions(outs, sets)
    assert cm.shape == (11, 11) and cm.sum() == 6 and cm[10, 10] == 1 and cm[2, 10] == 0
    assert binary.tolist() == [[3, 1], [1, 1]]


def test_sample_picks_fixed_distinct_indices_per_set(toy):
    sets, _ = toy
    a, b = evaluate.sample(sets, {"MNIST test": 3, "Noise": 2}), evaluate.sample(sets, {"MNIST test": 3, "Noise": 2})
    assert {k: sorted(v) for k, v in a.items()} == {"MNIST test": sorted(set(a["MNIST test"])), "Noise": [0, 1]}
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_reconstruct_runs_the_autoencoder_over_raw_images():
    import models

    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    autoencoder = models.for_inference(models.Autoencoder())
    assert evaluate.reconstruct(autoencoder, images).shape == (5, 28, 28)


def test_tsne_of_codes_gives_a_point_prediction_and_source_per_picked_image(toy):
    import models

    sets, outs = toy
    picks = {"MNIST test": np.array([0, 2, 3]), "Noise": np.array([1])}
    autoencoder = models.for_inference(models.Autoencoder())
    from unittest import mock

    with mock.patch.object(evaluate, "TSNE") as tsne:  # t-SNE needs more points than a toy has
        tsne.return_value.fit_transform.side_effect = lambda codes: codes[:, :2]
        points, preds, is_ood = evaluate.tsne_of_codes(autoencoder, sets, outs, picks)
    assert points.shape == (4, 2) and preds.tolist() == [1, 10, 5, 7] and is_ood.tolist() == [False] * 3 + [True]


def test_the_benchmarks_one_pass_gives_the_best_models_own_outputs(splits):
    import osr
    from data import noise_images

    model = osr.load_osr_model()
    sets = {"MNIST test": Split(splits["test"].images[:64], splits["test"].labels[:64]),
            "Noise": Split(noise_images("uniform", 16), np.full(16, 10))}
    scores, outputs = evaluate.benchmark_run(model, Split(splits["val"].images[:200], splits["val"].labels[:200]),
                                             sets)
    assert list(scores) == [evaluate.REFERENCE, "MNIST test", "Noise"] and list(outputs) == ["MNIST test", "Noise"]
    for name, split in sets.items():
        own = model.outputs(split.images)
        np.testing.assert_array_equal(outputs[name].preds, own.preds)
        np.testing.assert_allclose(outputs[name].scores, own.scores, rtol=1e-12)
        assert set(scores[name]) >= set(evaluate.detectors.BENCHMARKED)


def test_letter_table_gives_each_letters_rejected_share_and_the_digit_it_is_read_as():
    letters = np.array([1, 1, 1, 1, 9, 9])  # a x4, i x2
    out = {"m": outputs_of([10, 10, 4, 4, 1, 1])}
    table = evaluate.letter_table(out, letters)
    assert list(table.index) == ["a", "i"]
    assert table.loc["a", ("m", "rejected %")] == 50.0 and table.loc["a", ("m", "read as")] == 4
    assert table.loc["i", ("m", "rejected %")] == 0.0 and table.loc["i", ("m", "read as %")] == 100.0
    assert table.loc["a", ("", "images")] == 4


def test_letters_summary_splits_the_miss_into_lookalikes_and_the_rest_with_a_wilson_interval():
    letters = np.array([9, 9, 12, 15, 1, 2, 3, 4])  # i, i, l, o, then a-d
    out = {"m": outputs_of([1, 1, 1, 0, 10, 10, 10, 7])}
    row = evaluate.letters_summary(out, letters).loc["m"]
    assert row["rejected %"] == 37.5 and row["ilo in the accepted %"] == 80.0  # 4 of the 5 accepted
    assert row["rejected of ilo %"] == 0.0 and row["rejected of the other letters %"] == 75.0
    # Wilson's interval for 3 of 8 (hand-worked: centre (3 + 1.92) / (8 + 3.84), half-width 1.96 sqrt(...)/11.84)
    assert row["95% interval low"] == pytest.approx(13.68, abs=0.01)
    assert row["95% interval high"] == pytest.approx(69.43, abs=0.01)
    assert "m: 37.50% rejected (95% interval 13.68-69.43), not distinguishable from seed B's 60.51%" == \
        evaluate.against_seed(evaluate.letters_summary(out, letters), 60.51)


def test_benchmark_mean_is_over_the_sets_it_is_given_under_its_name():
    known = {"d": np.zeros(20)}
    unknown = {"test": {"d": np.ones(20)}, "dev": {"d": np.zeros(20)}}  # separated, and not at all
    table = metrics.benchmark(known, unknown, metrics=("AUROC",), mean_over=["test"], mean_name="mean, test sets")
    assert table.loc["d", ("mean, test sets", "AUROC")] == 100.0 and table.loc["d", ("dev", "AUROC")] == 50.0
    assert metrics.benchmark(known, unknown, metrics=("AUROC",)).loc["d", ("mean", "AUROC")] == 75.0


def test_the_gains_table_gives_one_system_its_lead_over_each_other_and_the_seeds_figures():
    results = json.loads(report.RESULTS.read_text())["systems"]
    table = report.gains_table(results)
    assert list(table.columns) == ["best (this run)", "best - A", "best - B", "seed A (reported)", "seed B (reported)"]
    full = report.comparison_table(results)
    assert table["best - B"].equals(full["best (this run)"] - full["B (this run)"])
    assert table.loc["closed-set accuracy", "seed A (reported)"] == report.SEED_REPORTED["A"]["closed_set"]


def test_nearest_digits_finds_an_image_itself_and_measures_the_rest_against_the_bank():
    rng = np.random.default_rng(0)
    bank = rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)
    found = evaluate.nearest_digits({"copies": bank[[7, 3]], "other": 255 - bank[:2]}, bank)
    distance, index = found["copies"]
    assert index.tolist() == [7, 3] and np.allclose(distance, 0, atol=1e-2)
    assert (found["other"][0] > 1).all()


def test_limits_table_counts_what_lies_as_near_the_digits_as_the_median_digit_does():
    distances = {"MNIST test": np.array([1.0, 2.0, 3.0]), "near": np.array([0.5, 2.0, 2.5, 9.0])}
    rejected = {"near": np.array([False, True, True, True])}
    limit, table = evaluate.limits_table(distances, rejected)
    assert limit == 2.0
    row = table.loc["near"]
    assert row["written like a digit %"] == 50.0 and row["at most rejectable %"] == 50.0
    assert row["rejected %"] == 75.0 and row["rejected of the rest %"] == 100.0


def test_limits_table_splits_emnist_into_letters():
    distances = {"MNIST test": np.array([1.0]), "EMNIST letters": np.array([0.5, 3.0, 3.0])}
    rejected = {"EMNIST letters": np.array([False, True, False])}
    _, table = evaluate.limits_table(distances, rejected, letters=np.array([9, 9, 1]))
    assert list(table.index) == ["EMNIST letters", "EMNIST letters: a", "EMNIST letters: i"]
    assert table.loc["EMNIST letters: i", "written like a digit %"] == 50.0
    assert table.loc["EMNIST letters: a", "rejected %"] == 0.0


def test_nearest_accepted_skips_the_rejected_and_puts_the_nearest_first():
    found = (np.array([0.1, 0.5, 0.2, 0.3]), np.array([10, 11, 12, 13]))
    pick, nearest = evaluate.nearest_accepted(found, np.array([True, False, False, False]), 2)
    assert pick.tolist() == [2, 3] and nearest.tolist() == [12, 13]


def test_near_families_are_made_from_the_digits_given_and_drawn():
    rng = np.random.default_rng(0)
    digits = Split(rng.integers(0, 256, (200, 28, 28)).astype(np.uint8), np.arange(200) % 10)
    families = evaluate.near_families(digits, 100)
    assert list(families) == ["chimera (made)", "mirrored (made)", "quarter turn (made)", "scribbles (drawn)"]
    assert len(families["scribbles (drawn)"]) == 100 and 0 < len(families["mirrored (made)"]) < 100


def test_a_saved_candidate_sits_beside_the_others_and_renders_in_the_report(tmp_path):
    path = tmp_path / "candidates.json"
    report.save_candidate("a", "python leave_out.py --a", "What a measured.", pd.DataFrame({"x": {"set": 1.23456}}),
                          path)
    report.save_candidate("b", "python leave_out.py --b", "What b measured.", pd.DataFrame({"y": {"set": 2.0}}), path)
    report.save_candidate("a", "python leave_out.py --a", "Measured again.", pd.DataFrame({"x": {"set": 3.0}}), path)
    found = report.load_candidates(path)
    assert list(found) == ["a", "b"] and found["a"]["table"] == {"set": {"x": 3.0}}  # a rerun replaces its entry
    text = report.handwriting_markdown({"shown": {}}, None, found)
    assert "**Candidate: b** (`python leave_out.py --b`). What b measured.\n\n| | y |\n|---|---|\n| set | 2.0 |" in text
    assert report.load_candidates(tmp_path / "none.json") == {}


def test_before_after_puts_each_sets_figures_of_two_results_files_side_by_side():
    def results(rejected, auroc, total):
        return {"systems": {"best": {"per_set": {"MNIST test": 98.0, "KMNIST": rejected, DEVELOPMENT[0]: 70.0},
                                     "ood": {"KMNIST": {"AUROC": auroc}},
                                     "closed_set": 99.4, "seed_protocol": {"total": total}}}}

    table = report.before_after(results(90.0, 97.0, 98.5), results(95.0, 99.0, 98.9))
    assert table.loc["KMNIST"].tolist() == [90.0, 97.0, 95.0, 99.0]
    assert np.isnan(table.loc["MNIST test", "AUROC, after"]) and table.loc["MNIST test", "accuracy %, after"] == 98.0
    assert table.loc["seed protocol total %", "accuracy %, before"] == 98.5
    assert table.loc[f"{DEVELOPMENT[0]} (development)", "accuracy %, after"] == 70.0


def test_the_probes_spread_is_read_from_the_noise_run_where_it_was_measured(tmp_path):
    path = tmp_path / "candidates.json"
    assert report.probe_spread(path) is None
    table = pd.DataFrame({"seed 0": {"overlay": 40.0, "dev": 72.5}, "seed 1": {"overlay": 44.5, "dev": 70.5}})
    report.save_candidate("a", "python leave_out.py --a", "What a measured.", pd.DataFrame({"x": {"set": 1.0}}), path)
    report.save_candidate(report.PROBE_NOISE, "python leave_out.py --noise", "Seeds.",
                          table.assign(spread=table.max(axis=1) - table.min(axis=1)), path)
    assert report.probe_spread(path).to_dict() == {"overlay": 4.5, "dev": 2.0}
    text = report.handwriting_markdown({"shown": {}}, None, report.load_candidates(path))
    assert 0 <= text.index(f"**Yardstick: {report.PROBE_NOISE}**") < text.index("**Candidate: a**")  # noise first
