"""Training on a few batches: the loop learns, keeps its history and its best epoch; refitting the best model,
and the literature's split networks, on the committed networks reproduces their fit."""
import shutil

import numpy as np
import pytest
import torch

import augment
import loop
import losses
import models
import protocols
import store
import train
from data import Split


def tiny_split(n: int, seed: int) -> Split:
    """Two separable 'classes': a bright left half (0) or a bright right half (1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
    for img, y in zip(images, labels):
        img[:, 14 * y: 14 * y + 14] += 200
    return Split(images, labels.astype(np.int64))


def test_classifier_training_on_a_few_batches_records_history_and_learns():
    net, history = loop.train_network(models.ConvNet(width=4, hidden=16), losses.classifier_loss,
                                       tiny_split(256, 0), tiny_split(64, 1), epochs=3, name="smoke",
                                       augment=augment.random_affine, lr=1e-2, batch_size=32)
    assert len(history["train_loss"]) == len(history["val_acc"]) == 3
    assert history["best_epoch"] == 1 + int(np.argmax(history["val_acc"])) and history["seconds"] > 0
    assert max(history["val_acc"]) > 90
    assert not net.training


def test_autoencoder_training_lowers_the_reconstruction_loss():
    torch.manual_seed(0)
    net, history = loop.train_network(models.Autoencoder(), losses.autoencoder_loss,
                                       tiny_split(256, 0), tiny_split(64, 1), epochs=3, name="smoke")
    assert history["val_acc"] == [None] * 3
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_reconstruction_thresholds_are_mean_plus_3_std_of_validation_scores():
    # An autoencoder of zero weights reconstructs every image as 0 (MNIST's mean), so a constant image of pixel
    # value v has L2 norm 28 |v/255 - 0.1307| / 0.3081 and no Otsu-binarised pixel differs; half the validation
    # images black, half white: L2 norms 11.878 and 79.000, mean 45.439, std 33.561, threshold 146.12.
    ae = models.Autoencoder()
    for param in ae.parameters():
        torch.nn.init.zeros_(param)
    val = Split(np.repeat(np.array([0, 255], np.uint8), 4)[:, None, None] * np.ones((1, 28, 28), np.uint8),
                np.zeros(8, np.int64))
    thresholds = train.fit_reconstruction_thresholds(models.for_inference(ae), val)
    black, white = 28 * 0.1307 / 0.3081, 28 * (1 - 0.1307) / 0.3081
    assert thresholds["l2"] == pytest.approx((black + white) / 2 + 3 * (white - black) / 2)
    assert thresholds["l2"] == pytest.approx(146.12, abs=0.01) and thresholds["otsu"] == 0.0 and thresholds["z"] == 3.0


def test_random_affine_with_no_motion_is_the_identity():
    x = torch.randn(3, 1, 28, 28)
    out = augment.random_affine(x, torch.Generator().manual_seed(0), degrees=0, translate=0, scale=(1, 1))
    torch.testing.assert_close(out, x, atol=1e-4, rtol=0)


def test_random_affine_moves_each_image_differently_and_keeps_the_shape():
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    out = augment.random_affine(x, torch.Generator().manual_seed(0), degrees=30, translate=0.1)
    assert out.shape == x.shape
    assert not torch.allclose(out, x, atol=1e-3) and not torch.allclose(out[0], out[1], atol=1e-3)


def test_contrastive_loss_on_a_hand_computed_batch():
    emb = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.5]])
    labels = torch.tensor([0, 0, 1])
    # same-label pairs: distance 5 (both orders) -> mean 5
    # different-label pairs: 0.5 (hinge 0.5, both orders) and sqrt(21.25) > 1 (hinge 0) -> mean 0.25
    # divided by the embedding size 2
    assert losses.contrastive_loss(emb, labels, margin=1.0).item() == pytest.approx((5 + 0.25) / 2)


def test_contrastive_loss_is_zero_for_coinciding_classes_beyond_the_margin():
    emb = torch.tensor([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]], requires_grad=True)
    loss = losses.contrastive_loss(emb, torch.tensor([0, 0, 1]))
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-5) and torch.isfinite(emb.grad).all()


def test_half_batch_augmentation_changes_only_the_first_half():
    x = torch.zeros(6, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 2.0
    out = augment.half_batch_augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(out[3:], x[3:])
    assert all(not torch.allclose(out[i], x[i], atol=1e-3) for i in range(3))


@pytest.mark.thorough
def test_refit_on_the_committed_networks_reproduces_the_best_models_fit(tmp_path):
    weights = shutil.copytree(store.WEIGHTS, tmp_path / "weights")
    committed = store.read_manifest(store.WEIGHTS)["systems"]["best"]
    refitted = train.refit(weights)["systems"]["best"]
    assert refitted["components"] == committed["components"] and refitted["centre_by_mass"] is True
    assert refitted["digits"] == committed["digits"] and refitted["digit_rules"] == committed["digit_rules"]
    # the features come from the float32 classifier, whose rounding differs from CPU to CPU in the 7th digit
    assert refitted["threshold"] == pytest.approx(committed["threshold"], rel=1e-6)
    for name, (mean, std) in committed["stats"].items():
        assert refitted["stats"][name] == pytest.approx([mean, std], rel=1e-6), name


@pytest.mark.thorough
def test_fitting_the_literature_on_the_committed_split_networks_reproduces_its_selection(splits):
    manifest = store.read_manifest(store.WEIGHTS)
    committed = manifest["literature"]
    fitted = train.fit_literature(protocols.load_networks(store.WEIGHTS, manifest),
                                  protocols.load_digit_or_nots(store.WEIGHTS, manifest), splits)
    assert fitted["detector"] == committed["detector"] and fitted["splits"] == committed["splits"]
    for mine, theirs in zip(fitted["stats"], committed["stats"]):  # float32 features: CPUs differ in the 7th digit
        for fit, stored in zip([mine["ensemble"], *mine["members"]], [theirs["ensemble"], *theirs["members"]]):
            for name, (mean, std) in stored.items():
                assert fit[name] == pytest.approx([mean, std], rel=1e-5), name
    for name, row in committed["selection"].items():  # one image at a threshold moves a mean by < 0.01 points
        assert fitted["selection"][name] == pytest.approx(row, abs=0.05), name


def _rates(optimizer: torch.optim.Optimizer, scheduler, steps: int) -> list[float]:
    """The learning rate at each of `steps` optimizer steps under a schedule."""
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_step_lr_multiplies_the_rate_by_0_4_every_third_of_the_epochs():
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler, per_batch = loop.step_lr(optimizer, epochs=6, batches=10)
    assert not per_batch and _rates(optimizer, scheduler, 6) == pytest.approx([1.0, 1.0, 0.4, 0.4, 0.16, 0.16])


def test_one_cycle_steps_every_batch_from_a_low_rate_to_its_peak_and_back_down():
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.1)
    scheduler, per_batch = loop.one_cycle(optimizer, epochs=2, batches=10)
    rates = _rates(optimizer, scheduler, 20)
    assert per_batch and not loop.cosine(torch.optim.Adam(net.parameters()), 2, 10)[1]
    assert rates[0] == pytest.approx(0.1 / 25) and max(rates) == pytest.approx(0.1, rel=1e-3)
    assert int(np.argmax(rates)) == 5 and rates[-1] < 1e-3  # peak at the 6th of 20 batches (30%), then near zero


def test_the_manifest_records_the_outliers_the_digit_or_not_network_trains_on():
    """report.py renders the training outliers from the manifest: it must say what train.py trains with."""
    assert store.read_manifest(store.WEIGHTS)["systems"]["best"]["outliers"] == train.DRAWN | train.MADE


def test_a_split_digit_or_not_network_trains_on_its_known_digits_against_outliers_and_no_unknown_digit():
    rng = np.random.default_rng(0)
    digits = Split(rng.integers(0, 256, (300, 28, 28)).astype(np.uint8), np.arange(300) % 10)
    known = (2, 4, 5, 9, 8, 3)
    split = train.split_outliers(digits, known, 40, seed=1)
    kept = np.isin(digits.labels, known)
    assert len(split) == kept.sum() + 40 and np.bincount(split.labels).tolist() == [30] * 6 + [40]
    assert np.array_equal(split.images[: kept.sum()], digits.images[kept])  # the known digits, none other
    assert np.array_equal(split.labels[: kept.sum()], protocols.remap(digits.labels[kept], known))


def test_the_manifest_records_the_recipe_of_the_splits_digit_or_not_networks():
    literature = store.read_manifest(store.WEIGHTS)["literature"]
    assert literature["digit_or_not"] == train.SPLIT_DIGIT_OR_NOT and len(literature["digit_or_not_files"]) == 5
