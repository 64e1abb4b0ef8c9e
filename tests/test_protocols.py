"""The literature's protocols: the 6/4 split logic (known/unknown partition, labels remapped, no unknown digit in
training), the made outlier sets, the per-split metrics, the selection and protocol 2's macro-F1."""
import numpy as np
import pandas as pd
import pytest
import torch

import models
import protocols
import train
from data import UNKNOWN, Split


def labelled_digits(per_digit: int = 3) -> Split:
    """Images whose every pixel holds their digit label: where an image came from stays visible."""
    labels = np.repeat(np.arange(10), per_digit)
    return Split(np.broadcast_to(labels[:, None, None], (len(labels), 28, 28)).astype(np.uint8).copy(), labels)


def test_splits_are_the_published_mnist_lists_of_arpl():
    # splits_2020["mnist"] in split.py of github.com/iCGY96/ARPL (commit 4bc4fae), read there
    published = [[2, 4, 5, 9, 8, 3], [3, 2, 6, 9, 4, 0], [5, 8, 3, 2, 4, 6], [3, 7, 8, 4, 0, 5], [6, 3, 4, 9, 8, 2]]
    assert [list(known) for known in protocols.SPLITS] == published


def test_every_split_has_six_distinct_known_digits_and_four_unknown():
    for known in protocols.SPLITS:
        assert len(set(known)) == 6 and set(known) <= set(range(10))


def test_known_split_keeps_only_known_digits_labelled_by_their_position():
    known = (7, 2, 5, 0, 9, 3)
    out = protocols.known_split(labelled_digits(), known)
    assert set(np.unique(out.images)) == set(known)  # the images of the known digits, and only those
    assert np.array_equal(out.labels, [known.index(int(img[0, 0])) for img in out.images])


def test_remap_gives_positions_to_known_digits_and_unknown_to_the_others():
    known = (3, 1, 4, 5, 9, 2)
    assert list(protocols.remap(np.arange(10), known)) == [UNKNOWN, 1, 5, 0, 2, 3, UNKNOWN, UNKNOWN, UNKNOWN, 4]


def test_a_split_network_is_trained_and_validated_on_its_known_digits_only(monkeypatch):
    seen = {}

    def capture(net, loss_fn, train_split, val_split, *args, **kwargs):
        seen.update(train=train_split, val=val_split, outputs=net.fc.out_features, seed=kwargs["seed"])
        return net, {}

    monkeypatch.setattr(train, "train_network", capture)
    known = protocols.SPLITS[0]
    splits = {"train": labelled_digits(), "val": labelled_digits(2)}
    train.train_split_network(splits, known, epochs=1, seed=7)
    assert seen["outputs"] == 6 and seen["seed"] == 7
    for name in ("train", "val"):
        assert set(np.unique(seen[name].images)) == set(known)
        assert set(seen[name].labels) == set(range(6))


def test_a_split_network_in_eval_mode_folds_its_batch_norms_into_the_same_function():
    torch.manual_seed(0)
    net = models.GapNet(classes=6, width=4)
    for module in net.body:
        if isinstance(module, torch.nn.BatchNorm2d):  # statistics and affine parameters away from the identity
            module.running_mean.uniform_(-1, 1), module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 2), module.bias.data.uniform_(-1, 1)
    net = models.for_inference(net)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(net.features(x), net.body(x.contiguous(memory_format=torch.channels_last)),
                                   rtol=1e-5, atol=1e-5)
        net.train()
        assert not torch.allclose(net.features(x), net.eval().features(x), atol=1e-3)  # training: batch statistics


def test_an_ensemble_averages_logits_and_its_knn_is_one_minus_the_mean_cosine():
    a = {"logits": np.array([[1.0, 3.0]]), "features": np.array([[1.0, 0.0]])}
    b = {"logits": np.array([[3.0, 1.0]]), "features": np.array([[0.0, 1.0]])}
    joint = protocols.ensemble([a, b])
    assert np.allclose(joint["logits"], [[2.0, 2.0]])
    assert np.linalg.norm(joint["features"]) == pytest.approx(1.0)
    bank = protocols.ensemble([{"logits": np.zeros((1, 2)), "features": np.array([[1.0, 0.0]])},
                               {"logits": np.zeros((1, 2)), "features": np.array([[1.0, 0.0]])}])
    cos = (joint["features"] @ bank["features"].T).item()
    assert cos == pytest.approx(0.5)  # the mean of the members' cosines, 1 and 0


def test_mnist_noise_adds_uniform_noise_clipped_and_seeded():
    images = np.full((4, 28, 28), 200, np.uint8)
    noisy = protocols.mnist_noise(images, seed=1)
    assert noisy.dtype == np.uint8 and (noisy >= 200).all() and noisy.max() == 255
    assert np.array_equal(noisy, protocols.mnist_noise(images, seed=1))
    assert not np.array_equal(noisy, protocols.mnist_noise(images, seed=2))
    dark = protocols.mnist_noise(np.zeros((50, 28, 28), np.uint8))
    assert abs(dark.mean() / 255 - 0.5) < 0.01  # uniform [0, 1) on black: mean one half


def test_uniform_noise_and_subsample_are_fixed_by_their_seed():
    assert np.array_equal(protocols.uniform_noise(3, seed=4), protocols.uniform_noise(3, seed=4))
    pick = protocols.subsample(100, 10, seed=0)
    assert len(set(pick)) == 10 and np.all(np.diff(pick) > 0)
    assert np.array_equal(pick, protocols.subsample(100, 10, seed=0))
    assert np.array_equal(protocols.subsample(5, 10), np.arange(5))


def test_split_row_measures_accuracy_auroc_and_oscr_of_known_vs_unknown_digits():
    known = (0, 1, 2, 3, 4, 5)
    labels = np.array([0, 1, 2, 6, 7])
    classes = np.array([0, 1, 0, 4, 4])  # the third digit misread
    separating = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    scores = {"MSP": separating, "max logit": -separating, "kNN": separating}
    row = protocols.split_row(classes, scores, labels, known, "kNN")
    assert row["closed-set accuracy"] == pytest.approx(200 / 3)
    assert row["AUROC MSP"] == 100.0 and row["AUROC max logit"] == 0.0 and row["AUROC kNN"] == 100.0
    assert row["OSCR kNN"] == pytest.approx(200 / 3)  # every unknown rejected before any known: OSCR = accuracy


def test_summary_headline_is_over_splits_2_to_5_with_all_five_beside():
    rows = [{"AUROC kNN": v} for v in (90.0, 99.2, 99.4, 99.6, 99.8)]
    table = protocols.summary(rows)
    assert list(table.index[-3:]) == [protocols.HEADLINE, protocols.SPREAD, protocols.ALL_FIVE] and len(table) == 8
    assert table.loc[protocols.HEADLINE, "AUROC kNN"] == pytest.approx(99.5)  # split 1's 90 left out
    assert table.loc[protocols.SPREAD, "AUROC kNN"] == pytest.approx(np.std([99.2, 99.4, 99.6, 99.8]))
    assert table.loc[protocols.ALL_FIVE, "AUROC kNN"] == pytest.approx(97.6)


def test_selection_ranks_by_rejections_at_one_percent_then_auroc_averaged_over_splits():
    def table(values: dict[str, tuple[float, float]]) -> pd.DataFrame:
        return pd.DataFrame({name: {("mean", "rejected @1%"): r, ("mean", "AUROC"): a}
                             for name, (r, a) in values.items()}).T

    base = {name: (10.0, 90.0) for name in protocols.CANDIDATES}
    tables = [table(base | {"kNN": (50.0, 91.0), "MSP": (50.0, 95.0)}), table(base | {"kNN": (52.0, 91.0)})]
    best, rows = protocols.select(tables)
    assert best == "kNN" and rows["kNN"]["rejected @1%"] == 51.0 and rows["MSP"]["rejected @1%"] == 30.0
    tied = [table(base | {"kNN": (50.0, 91.0), "MSP": (50.0, 95.0)})]
    assert protocols.select(tied)[0] == "MSP"


def test_candidates_are_z_sums_of_the_single_scores():
    raw = {"MSP": np.array([1.0, 3.0]), "max logit": np.array([2.0, 4.0]), "kNN": np.array([0.5, 1.5]),
           "digit-or-not": np.array([-4.0, 0.0])}
    stats = {"MSP": (2.0, 1.0), "max logit": (3.0, 1.0), "kNN": (1.0, 0.5), "digit-or-not": (-2.0, 2.0)}
    out = protocols.with_candidates(raw, stats)
    assert set(out) == set(protocols.CANDIDATES)
    assert np.allclose(out["kNN + max logit"], [-2.0, 2.0]) and np.allclose(out["MSP"], [-1.0, 1.0])
    assert np.allclose(out["kNN + digit-or-not"], [-2.0, 2.0])


def test_a_split_digit_or_not_score_is_its_last_output_against_the_known_digits():
    import torch

    from models import DigitOrNot

    torch.manual_seed(0)
    net = DigitOrNot(outputs=7).eval()
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    with torch.no_grad():
        logits = net.logits(torch.as_tensor((images / 255.0 - 0.1307) / 0.3081, dtype=torch.float32)[:, None])
    expected = (logits[:, 6] - torch.logsumexp(logits[:, :6], 1)).double().numpy()
    assert np.allclose(protocols.log_odds(net, images), expected, atol=1e-5)


def test_protocol2_macro_f1_is_perfect_only_when_digits_are_right_and_outliers_rejected():
    digits = np.array([0, 1, 2, 3])
    perfect = protocols.protocol2_row(digits, digits, np.full(4, UNKNOWN))
    assert perfect == {"macro-F1": 100.0 * 5 / 11, "outliers rejected": 100.0, "digits right": 100.0}
    accepted = protocols.protocol2_row(digits, digits, np.zeros(4, np.int64))
    assert accepted["macro-F1"] < perfect["macro-F1"] and accepted["outliers rejected"] == 0.0


def _seeds(value: float) -> pd.DataFrame:
    return pd.DataFrame({"AUROC kNN": [value, value, value, 0.0]},
                        index=["seed 0", "seed 1", "mean over seeds", "std over seeds"])


def test_against_published_puts_the_ensemble_and_one_network_among_the_sourced_rows():
    table = protocols.summary([{"AUROC kNN": 99.5, "closed-set accuracy": 99.0}] * 5)
    out = protocols.against_published(table, _seeds(99.1))
    assert out.loc["this project: ensemble, kNN", "AUROC"] == 99.5
    assert out.loc["this project: one network, kNN", "AUROC"] == 99.1
    assert list(out["AUROC"]) == sorted(out["AUROC"], reverse=True)
    assert set(out.loc[out["from"] != "measured here", "from"]) <= set(protocols.SOURCES)
    assert (out.loc[out.index.str.startswith("this project"), "trained with"] == "none").all()


def test_published_rows_say_what_they_trained_with_and_name_a_source_that_was_read():
    for name, (auroc, std, trained, source) in protocols.PUBLISHED.items():
        assert trained in {"none", "generated", "made from the known images", "real outlier images", "not stated"}, name
        assert source in protocols.SOURCES and 90 < auroc <= 100 and (std is None or 0 <= std < 5), name


def test_split_networks_of_other_splits_are_refused(tmp_path):
    manifest = {"literature": {"splits": [[0, 1, 2, 3, 4, 5]] * 5, "files": []}}
    with pytest.raises(ValueError, match="other splits"):
        protocols.load_networks(tmp_path, manifest)


def test_standing_counts_a_row_above_or_below_only_past_the_precision_and_the_spread():
    # splits 2-5 at 99.30 +- 0.20: level with rows within 0.20, above those lower by more, below those higher
    table = protocols.summary([{"AUROC kNN": v} for v in (95.0, 99.1, 99.5, 99.1, 99.5)])
    text = protocols.standing(protocols.against_published(table, _seeds(99.0)), "kNN")
    published = {name: row[0] for name, row in protocols.PUBLISHED.items()}
    above = sum(99.3 - v > 0.2 + 1e-9 for v in published.values())
    assert f"mean AUROC 99.30 over splits 2-5 (std 0.20 over them); above {above} of the {len(published)}" in text
    assert "level with" in text and "GCPL" in text.split("level with")[1].split(", below")[0]  # 99.3
    assert "ARPL+CS" in text.split(", below")[1] and "CROSR" not in text.split(", below")[1]


def test_against_goal_marks_each_goal_met_or_not():
    rows = [{"AUROC kNN": v, "closed-set accuracy": 99.8} for v in (90.0, 99.7, 99.7, 99.2, 99.8)]
    goal = protocols.against_goal(protocols.summary(rows), "kNN")
    assert goal.loc["mean AUROC, splits 2-5", "met"] == "yes"  # 99.6, split 1's 90 left out
    assert goal.loc["lowest AUROC, splits 2-5", "measured"] == 99.2 and goal.loc["lowest AUROC, splits 2-5", "met"] == "no"
    assert goal.loc["closed-set accuracy", "met"] == "yes"
