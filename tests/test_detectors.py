"""Detectors on toy fits: every score is higher for the more unknown-looking input."""
import numpy as np
import pytest
import torch

import data
import detectors
import models


@pytest.fixture
def scorer():
    gen = torch.Generator().manual_seed(0)
    means = torch.eye(4) * 10  # four classes, well apart, in a 4-d feature space
    labels = torch.arange(4).repeat(50)
    features = means[labels] + torch.randn(200, 4, generator=gen)
    return detectors.FeatureScorer(dim=4, classes=4, bank=100).fit(features, labels)


def test_mahalanobis_is_higher_far_from_every_class_mean(scorer):
    maha, _ = scorer.library_detectors()
    near, far = torch.tensor([[10.0, 0, 0, 0]]), torch.tensor([[-10.0, -10, 5, 5]])
    assert maha.predict_features(far).item() > 10 * maha.predict_features(near).item()


def test_library_mahalanobis_is_half_the_squared_distance_to_the_nearest_class_mean(scorer):
    """pytorch-ood's score is the previous hand-written one (min squared distance) halved: same ranking."""
    maha, _ = scorer.library_detectors()
    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(1)) * 5
    diff = z[:, None, :] - scorer.means[None]
    squared = torch.einsum("ncd,de,nce->nc", diff, scorer.precision, diff).min(1).values
    torch.testing.assert_close(maha.predict_features(z), squared / 2)


def test_knn_distance_is_higher_for_a_direction_no_training_feature_has(scorer):
    near, far = torch.tensor([[0.0, 9.0, 0.5, 0]]), torch.tensor([[-1.0, -1, -1, -1]])
    assert scorer.knn(far, k=3).item() > scorer.knn(near, k=3).item()


def test_knn_is_pytorch_oods_distance_to_the_kth_nearest_normalised_bank_feature(scorer):
    from pytorch_ood.detector import KNN

    library = KNN(None, k=3).fit_features(scorer.bank, torch.zeros(len(scorer.bank), dtype=torch.long))
    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(2)) * 5
    torch.testing.assert_close(scorer.knn(z, k=3).double(), library.predict_features(z), rtol=1e-5, atol=1e-6)
    dist = torch.cdist(torch.nn.functional.normalize(z, dim=1), scorer.bank)
    torch.testing.assert_close(scorer.knn(z, k=3), dist.topk(3, dim=1, largest=False).values[:, -1])


def test_knn_distance_reads_any_bank_in_the_banks_dtype():
    bank = torch.eye(3, dtype=torch.float64)  # three orthogonal unit features: a bank of any length, any dtype
    found = detectors.knn_distance(torch.tensor([[5.0, 0.0, 0.0]]), bank, k=1)
    assert found.dtype == torch.float64 and found.item() == pytest.approx(0.0, abs=1e-12)
    assert detectors.knn_distance(torch.tensor([[5.0, 0.0, 0.0]]), bank, k=2).item() == pytest.approx(2 ** 0.5)


def test_logit_scores_are_higher_for_flat_logits_than_for_a_confident_one():
    scores = detectors.logit_scores(torch.tensor([[9.0, 0, 0], [1.0, 1, 1]]))
    assert set(scores) == {"MSP", "max logit", "energy", "GEN"}
    for name, s in scores.items():
        assert s[1] > s[0], name


def test_library_logit_scores_are_the_textbook_formulas():
    logits = torch.randn(30, 10, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 4
    scores = detectors.logit_scores(logits)
    np.testing.assert_allclose(scores["MSP"], -torch.softmax(logits, 1).max(1).values.numpy())
    np.testing.assert_allclose(scores["max logit"], -logits.max(1).values.numpy())
    np.testing.assert_allclose(scores["energy"], -torch.logsumexp(logits, 1).numpy())
    assert all(s.dtype == torch.float64 for s in scores.values())


def test_combinations_add_z_scores_fitted_on_in_distribution():
    raw = {name: np.array([1.0, 2.0, 3.0]) for name in detectors.SINGLE}
    stats = detectors.fit_stats(raw)
    combined = detectors.with_combinations(raw, stats)
    z = (raw["kNN"] - 2.0) / np.sqrt(2 / 3)
    np.testing.assert_allclose(combined["kNN + L2 norm"], 2 * z)
    assert set(combined) == set(detectors.SINGLE) | {detectors.combo_name(c) for c in detectors.COMBINATIONS}


def test_proxy_unknowns_are_made_from_the_digits_alone_and_fixed_by_the_seed():
    rng = np.random.default_rng(1)
    digits = data.Split(rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), np.arange(50) % 10)
    a, b = data.proxy_unknowns(digits, n=8), data.proxy_unknowns(digits, n=8)
    assert list(a) == list(data.PROXY_NAMES) and all(np.array_equal(a[k], b[k]) for k in a)
    # jigsaw and pixel shuffle only move pixels; inversion is exact
    base = 255 - a["inverted"]
    for name in ("jigsaw", "pixel shuffle"):
        assert np.array_equal(np.sort(a[name].reshape(8, -1)), np.sort(base.reshape(8, -1))), name
    assert not np.array_equal(a["jigsaw"], base)


def test_near_proxies_are_digits_rebuilt_into_non_digits():
    images = np.random.default_rng(2).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    digits = data.Split(images, np.arange(40) % 10)
    proxies = data.proxy_unknowns(digits, n=40)
    rows = {im.tobytes(): i for i, im in enumerate(images)}
    halves = {h.tobytes(): i for i, im in enumerate(images) for h in (im[:14], im[14:])}
    for chimera in proxies["chimera"]:  # two halves of digits of different classes
        top, bottom = halves[chimera[:14].tobytes()], halves[chimera[14:].tobytes()]
        assert digits.labels[top] != digits.labels[bottom]
    mirrored = [rows[m[:, ::-1].tobytes()] for m in proxies["mirrored"]]
    assert sorted(digits.labels[mirrored]) == sorted(l for l in digits.labels if l in data.MIRRORED)
    turned = [rows.get(np.rot90(t, k).tobytes()) for t in proxies["quarter turn"] for k in (1, 3)]
    assert sorted(digits.labels[[i for i in turned if i is not None]]) == \
        sorted(l for l in digits.labels if l in data.TURNED)


class ToyClassifier(torch.nn.Module):
    """Features are the input itself; the head a fixed linear map to 4 logits."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(4, 4).double()
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(4, dtype=torch.float64))
            self.head.bias.zero_()

    def features(self, x):
        return x


@pytest.fixture
def toy_detector(scorer):
    scorer = scorer.double()
    reconstruction = detectors.ReconstructionDetector(torch.nn.Identity(), {})
    return detectors.CombinedDetector(ToyClassifier(), reconstruction, scorer, ("RMD", "ReAct", "ASH"))


def test_library_rmd_is_the_nearest_class_distance_minus_the_background_distance(scorer, toy_detector):
    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 5
    s = scorer.double()

    def squared(points, mean, precision):
        d = points - mean
        return torch.einsum("...d,de,...e->...", d, precision, d)

    expected = (squared(z[:, None], s.means[None], s.precision).min(1).values
                - squared(z, s.background_mean, s.background_precision))
    np.testing.assert_allclose(toy_detector.raw_scores(z, z)["RMD"], expected.numpy(), rtol=1e-9)


def test_react_and_ash_are_the_energy_of_edited_activations(scorer, toy_detector):
    z = torch.rand(20, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 20
    raw = toy_detector.raw_scores(z, z)
    clipped = z.clamp(max=float(scorer.react_clip))
    np.testing.assert_allclose(raw["ReAct"], -torch.logsumexp(clipped, 1).numpy(), rtol=1e-12)
    # ASH-S on 4 activations keeps the largest round(4 * 0.35) = 1, scaled by exp(sum before / sum after)
    top = z.max(1).values
    kept = torch.where(z == top[:, None], z, 0.0) * torch.exp(z.sum(1) / top)[:, None]
    np.testing.assert_allclose(raw["ASH"], -torch.logsumexp(kept, 1).numpy(), rtol=1e-12)


def test_react_clip_leaves_a_tenth_of_the_training_activations_above_it(scorer):
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat(50)
    features = torch.eye(4)[labels] * 10 + torch.randn(200, 4, generator=gen)
    above = (features > float(scorer.react_clip)).double().mean().item()
    assert abs(above - 0.10) <= 1 / 800  # 80 of the 800 activations, give or take the one it sits on


def test_new_library_scores_are_higher_for_an_unfamiliar_feature(scorer, toy_detector):
    # weak, flat activations: what these scores expect of an unknown (ASH-S would rank flat but strong ones
    # as familiar, its sharpening rewards a large sum)
    familiar, odd = torch.tensor([[10.0, 0, 0, 0]]), torch.tensor([[0.1, 0.1, 0.1, 0.1]])
    both = torch.cat([familiar, odd]).double()
    for name, s in toy_detector.raw_scores(both, both).items():
        assert s[1] > s[0], name


def test_the_trained_score_without_its_network_is_refused():
    with pytest.raises(ValueError, match="digit-or-not"):
        detectors.CombinedDetector(models.ConvNet(), None, detectors.FeatureScorer(), ("kNN", detectors.DIGIT_OR_NOT_SCORE))


def test_an_unknown_digit_rule_or_one_without_its_network_is_refused():
    with pytest.raises(ValueError, match="digit rule"):
        detectors.CombinedDetector(models.ConvNet(), None, detectors.FeatureScorer(), ("kNN",), digits="vote")
    with pytest.raises(ValueError, match="digit-or-not"):
        detectors.CombinedDetector(models.ConvNet(), None, detectors.FeatureScorer(), ("kNN",), digits="both")


def test_digit_or_not_read_gives_its_score_and_the_ten_digits_log_probabilities():
    torch.manual_seed(0)
    net = models.DigitOrNot().eval()
    x = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        score, digits = net.read(x)
        logits = net.logits(x)
        torch.testing.assert_close(score, net(x))
    torch.testing.assert_close(digits.exp().sum(1), torch.ones(6))
    torch.testing.assert_close(digits.argmax(1), logits[:, :10].argmax(1))


def test_digit_rules_weigh_each_networks_log_probabilities():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    theirs = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]).log()
    read = {rule: detectors.read_digits(logits, theirs, rule).argmax(1).tolist() for rule in detectors.DIGIT_RULES}
    assert read == {"classifier": [0, 1], "digit-or-not": [1, 2], "both": [1, 1]}


def test_the_chosen_digit_rule_is_the_most_accurate_and_the_classifier_among_equals():
    assert detectors.chosen_rule({"classifier": 99.1, "digit-or-not": 99.3, "both": 99.2}) == "digit-or-not"
    assert detectors.chosen_rule({"classifier": 99.3, "digit-or-not": 99.3, "both": 99.3}) == "classifier"
