"""Scoring helpers on tiny hand-made inputs."""
import numpy as np
import pytest
import torch

import helpers


def square(size: int = 8, lo: float = 0.0, hi: float = 1.0, box=(2, 6)) -> np.ndarray:
    img = np.full((size, size), lo)
    img[box[0]: box[1], box[0]: box[1]] = hi
    return img


def test_otsu_threshold_separates_a_bright_square_from_the_background():
    img = square()
    (t,) = helpers.otsu_thresholds(img[None])
    assert 0.0 < t < 1.0 and (img > t).sum() == 16


@pytest.mark.parametrize("kind", ["gaussian", "three levels", "constant", "mnist-like"])
def test_vectorised_otsu_equals_skimage_threshold_otsu_exactly(kind):
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(0)
    images = {
        "gaussian": rng.normal(size=(200, 28, 28)),
        "three levels": rng.integers(0, 3, (200, 28, 28)).astype(float),
        "constant": np.full((3, 28, 28), 0.7),
        "mnist-like": np.where(rng.random((200, 28, 28)) < 0.2, rng.random((200, 28, 28)) * 2.8, -0.4242),
    }[kind]
    expected = np.array([threshold_otsu(im) for im in images])
    assert np.array_equal(helpers.otsu_thresholds(images), expected)


def test_otsu_diff_counts_flipped_pixels():
    a = square()
    b = a.copy()
    b[0, 0] = b[0, 1] = 1.0  # two background pixels turned bright
    b[3, 3] = 0.0  # one square pixel turned dark
    assert helpers.otsu_diff(a[None], b[None]).tolist() == [3.0]


def test_otsu_diff_ignores_contrast_changes():
    # Otsu binarises each image at its own threshold, so a dimmer copy of the same shape differs nowhere
    assert helpers.otsu_diff(square()[None], square(hi=0.3)[None]).tolist() == [0.0]


def test_otsu_diff_of_a_constant_image_counts_the_other_images_foreground():
    flat = np.zeros((1, 8, 8))
    assert helpers.otsu_diff(flat, square()[None]).tolist() == [16.0]


def test_l2_norm_is_the_per_image_euclidean_distance():
    x = torch.zeros(2, 1, 3, 3)
    recon = torch.zeros(2, 1, 3, 3)
    recon[0, 0, 0, :2] = torch.tensor([3.0, 4.0])
    np.testing.assert_allclose(helpers.l2_norm(x, recon), [5.0, 0.0])


def test_fit_threshold_is_mean_plus_z_std():
    scores = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, population std sqrt(1.25)
    assert helpers.fit_threshold(scores, z=2.0) == pytest.approx(2.5 + 2 * np.sqrt(1.25))
    assert isinstance(helpers.fit_threshold(scores), float)


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan])])
def test_fit_threshold_rejects_empty_or_non_finite_scores(bad):
    with pytest.raises(ValueError):
        helpers.fit_threshold(bad)


def test_osr_decision_rejects_only_scores_strictly_above_the_threshold():
    out = helpers.osr_decision(np.array([3, 4, 5]), np.array([0.5, 1.0, 1.5]), threshold=1.0)
    assert out.tolist() == [3, 4, 10]


def test_quantile_threshold_rejects_the_asked_share_of_known_scores():
    scores = np.arange(1000, dtype=float)
    threshold = helpers.quantile_threshold(scores, 0.01)
    assert np.mean(scores > threshold) == pytest.approx(0.01, abs=0.001)


@pytest.mark.parametrize("bad, rate", [(np.array([]), 0.01), (np.array([1.0, np.inf]), 0.01), (np.ones(3), 1.0)])
def test_quantile_threshold_refuses_empty_or_non_finite_scores_and_a_rate_outside_0_1(bad, rate):
    with pytest.raises(ValueError):
        helpers.quantile_threshold(bad, rate)
