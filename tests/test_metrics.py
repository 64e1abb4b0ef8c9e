"""Metrics over model outputs, on hand-computed examples."""
import numpy as np
import pandas as pd
import pytest

import metrics


def test_osr_accuracy_splits_known_unknown_total_and_binary():
    labels = np.array([1, 2, 3, 10, 10])
    preds = np.array([1, 7, 10, 10, 4])
    acc = metrics.osr_accuracy(preds, labels)
    assert acc["known"] == pytest.approx(100 / 3)
    assert acc["unknown"] == pytest.approx(50.0)
    assert acc["total"] == pytest.approx(40.0)
    # binary: 1 and 7 are both "known" (right), 10 for a 3 is wrong, 10 right, 4 for an unknown wrong
    assert acc["binary"] == pytest.approx(60.0)


def test_perfect_separation_gives_auroc_100_and_fpr95_0():
    m = metrics.ood_metrics(np.array([0.1, 0.2, 0.3]), np.array([0.8, 0.9]))
    assert m == {"AUROC": 100.0, "FPR95": 0.0, "AUPR-In": 100.0, "AUPR-Out": 100.0}


def test_identical_distributions_give_auroc_50():
    s = np.linspace(0, 1, 101)
    m = metrics.ood_metrics(s, s.copy())
    assert m["AUROC"] == pytest.approx(50.0)
    assert m["FPR95"] == pytest.approx(100 * 96 / 101)  # 96 of 101 unknowns sit at or below the 95% cut


def test_fpr95_counts_unknowns_at_or_below_the_95_percent_known_threshold():
    known = np.arange(1, 21, dtype=float)  # accepting 95% of 20 knowns means threshold 19
    assert metrics.fpr_at_95_tpr(known, np.array([5.0, 19.0, 19.5, 30.0])) == 50.0


def test_oscr_on_a_known_example():
    # knowns 0.1 (correct), 0.2 (wrong), 0.4 (correct); unknowns 0.3, 0.5
    # thresholds: 0.1 -> ccr 1/3, fpr 0; 0.2 -> 1/3, 0; 0.3 -> 1/3, 1/2; 0.4 -> 2/3, 1/2; 0.5 -> 2/3, 1
    value = metrics.oscr(np.array([0.1, 0.2, 0.4]), np.array([True, False, True]), np.array([0.3, 0.5]))
    assert value == pytest.approx(0.5 * 1 / 3 + 0.5 * 2 / 3)


def test_oscr_is_the_accuracy_when_unknowns_are_perfectly_separated():
    value = metrics.oscr(np.zeros(10), np.arange(10) < 9, np.ones(5))
    assert value == pytest.approx(0.9)


def test_macro_f1_averages_over_all_eleven_classes():
    labels = np.array(list(range(11)))
    assert metrics.macro_f1(labels, labels) == 100.0
    preds = labels.copy()
    preds[10] = 0  # the unknown is taken for a 0: class 0 F1 = 2/3, class 10 F1 = 0
    assert metrics.macro_f1(preds, labels) == pytest.approx(100 * (9 + 2 / 3) / 11)


def test_rejected_at_1_percent_thresholds_on_the_reference_scores():
    reference = np.arange(100, dtype=float)  # 1% above 98.01
    unknown = np.array([50.0, 98.5, 99.5, 200.0])
    assert metrics.rejected_at(reference, unknown) == 75.0
    table = metrics.benchmark({"d": np.zeros(10)}, {"set": {"d": unknown}}, reference={"d": reference})
    assert table.loc["d", ("set", "rejected @1%")] == 75.0


def test_ranked_puts_the_most_rejected_at_one_percent_first_and_breaks_ties_by_auroc():
    table = pd.DataFrame({"a": {("mean", "rejected @1%"): 50.0, ("mean", "AUROC"): 90.0},
                          "b": {("mean", "rejected @1%"): 60.0, ("mean", "AUROC"): 80.0},
                          "c": {("mean", "rejected @1%"): 50.0, ("mean", "AUROC"): 95.0}}).T
    assert metrics.ranked(table) == ["b", "c", "a"]
