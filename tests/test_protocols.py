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
        seen.update(train=train_split, val=val_split, outputs=net.fc2.out_features)
        return net, {}

    monkeypatch.setattr(train, "train_network", capture)
    known = protocols.SPLITS[0]
    splits = {"train": labelled_digits(), "val": labelled_digits(2)}
    train.train_split_network(splits, known, torch.zeros(4, 1, 28, 28), epochs=1)
    assert seen["outputs"] == 6
    for name in ("train", "val"):
        assert set(np.unique(seen[name].images)) == set(known)
        assert set(seen[name].labels) == set(range(6))


def test_outlier_exposure_adds_a_flat_softmax_term_in_training_only():
    torch.manual_seed(0)
    net = models.ConvNet(width=4, hidden=8, classes=6)
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 6, (8,))
    drawn = torch.randn(16, 1, 28, 28)
    loss_fn = train.outlier_exposure_loss(drawn, torch.Generator().manual_seed(0), weight=1.0)
    net.eval()
    plain, correct = loss_fn(net, x, y)
    assert torch.isclose(plain, torch.nn.functional.cross_entropy(net(x), y))
    assert correct == int((net(x).argmax(1) == y).sum())
    with torch.no_grad():  # dropout off, so the two passes see the same network
        net.train()
        net.drop_conv.p = net.drop_fc.p = 0.0
        exposed, _ = loss_fn(net, x, y)
    assert exposed > plain + np.log(6) - 1e-4  # cross-entropy to the flat softmax is at least log(classes)


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


def test_summary_adds_the_mean_and_std_over_the_five_splits():
    rows = [{"AUROC kNN": v} for v in (99.0, 99.2, 99.4, 99.6, 99.8)]
    table = protocols.summary(rows)
    assert list(table.index[-2:]) == ["mean", "std"] and len(table) == 7
    assert table.loc["mean", "AUROC kNN"] == pytest.approx(99.4)
    assert table.loc["std", "AUROC kNN"] == pytest.approx(np.std([99.0, 99.2, 99.4, 99.6, 99.8]))


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
    raw = {"MSP": np.array([1.0, 3.0]), "max logit": np.array([2.0, 4.0]), "kNN": np.array([0.5, 1.5])}
    stats = {"MSP": (2.0, 1.0), "max logit": (3.0, 1.0), "kNN": (1.0, 0.5)}
    out = protocols.with_candidates(raw, stats)
    assert set(out) == set(protocols.CANDIDATES)
    assert np.allclose(out["kNN + max logit"], [-2.0, 2.0]) and np.allclose(out["MSP"], [-1.0, 1.0])


def test_protocol2_macro_f1_is_perfect_only_when_digits_are_right_and_outliers_rejected():
    digits = np.array([0, 1, 2, 3])
    perfect = protocols.protocol2_row(digits, digits, np.full(4, UNKNOWN))
    assert perfect == {"macro-F1": 100.0 * 5 / 11, "outliers rejected": 100.0, "digits right": 100.0}
    accepted = protocols.protocol2_row(digits, digits, np.zeros(4, np.int64))
    assert accepted["macro-F1"] < perfect["macro-F1"] and accepted["outliers rejected"] == 0.0


def test_against_published_puts_this_projects_rows_among_the_sourced_ones():
    table = protocols.summary([{"AUROC kNN": 99.5, "closed-set accuracy": 99.0}] * 5)
    out = protocols.against_published(table)
    assert "this project: kNN" in out.index and "Softmax" in out.index
    assert list(out["AUROC"]) == sorted(out["AUROC"], reverse=True)
    assert out.loc["this project: kNN", "from"] == "measured here"


def test_split_networks_of_other_splits_are_refused(tmp_path):
    manifest = {"literature": {"splits": [[0, 1, 2, 3, 4, 5]] * 5, "files": []}}
    with pytest.raises(ValueError, match="other splits"):
        protocols.load_networks(tmp_path, manifest)


def test_standing_counts_the_published_rows_below_and_names_those_above():
    table = protocols.summary([{"AUROC kNN": 99.05}] * 5)
    text = protocols.standing(protocols.against_published(table), "kNN")
    clean = [name for name, (_, _, real) in protocols.PUBLISHED.items() if not real]
    below = sum(protocols.PUBLISHED[name][0] < 99.05 for name in clean)
    assert f"above {below} of the {len(clean)} published rows" in text
    assert "the best of them: CROSR, 99.1" in text or "the best of them: CAC, 99.1" in text
    assert "below DSC (99.6" in text
