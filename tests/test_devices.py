"""Any torch device: training steps, augmentation, centring and inference on the `meta` device, where a CPU tensor
mixed into a computation raises as it would on a GPU ("Tensor on device cpu is not on the expected device meta")."""
import numpy as np
import pytest
import torch

import augment
import loop
import losses
import models
import osr
import preprocess

META = torch.device("meta")


def _batch(n: int = 8, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(n, 1, 28, 28, dtype=dtype).to(META)


@pytest.mark.parametrize("name", ["classifier", "autoencoder", "system B", "digit-or-not", "split network"])
def test_a_training_step_of_every_network_stays_on_its_device(name):
    generator = torch.Generator().manual_seed(0)
    x, digits, known = _batch(), torch.randint(0, 10, (8,)), torch.randint(0, 6, (8,))
    digits_or_not = torch.randint(0, 11, (8,))  # 10: not a digit
    net, loss_fn, transform, y = {
        "classifier": (models.ConvNet(), losses.classifier_loss, augment.random_affine, digits),
        "autoencoder": (models.Autoencoder(), losses.autoencoder_loss, None, digits),
        "system B": (models.SystemB(), losses.system_b_loss(generator), None, digits),
        "digit-or-not": (models.DigitOrNot(), losses.k_plus_one_loss, augment.style_augment, digits_or_not),
        "split network": (models.GapNet(classes=6), losses.classifier_loss, augment.random_affine, known),
    }[name]
    net.to(META)
    optimizer = torch.optim.Adam(net.parameters())
    loss, correct = loop._epoch_sums(net, loss_fn, x, y.to(META), 4, optimizer, generator, transform)
    assert loss.device == META and (correct is None or correct.device == META)
    assert all(p.device == META for p in net.parameters())


def test_augmentations_and_centring_stay_on_the_device():
    generator = torch.Generator().manual_seed(0)
    x = _batch()
    for out in (augment.style_augment(x, generator), augment.half_batch_augment(x, generator),
                augment.random_affine(x, generator), preprocess.centre_by_mass(x.double())):
        assert out.device == META and out.shape == x.shape
    assert all(o.device == META for o in (*preprocess.mass_offsets(x[:, 0]), *preprocess.box_offsets(x[:, 0] > 0)))


@pytest.mark.parametrize("system", ["A", "B"])
def test_a_loaded_system_runs_its_networks_on_the_device_it_is_given(system):
    model = osr.load_osr_model(system=system, device=META)
    x = preprocess.centre_by_mass(_batch(dtype=preprocess.DTYPE))
    assert model.device == META
    assert model.classifier.head(model.classifier.features(x)).device == META
    assert model.detector.autoencoder(x).device == META


def test_the_best_models_scorer_and_digit_or_not_network_run_on_the_device():
    model = osr.load_osr_model()
    scorer = model.detector.scorer.to(META)
    features = model.classifier.to(META).features(_batch(dtype=preprocess.DTYPE))
    assert scorer.knn(features).device == META
    assert model.detector.digit_or_not.to(META)(_batch(dtype=preprocess.DTYPE)).device == META


def test_prediction_batches_reach_the_networks_on_their_device_centred_there():
    seen = preprocess.batched(lambda x: {"on device": np.full(len(x), x.device == META)},
                              np.zeros((300, 28, 28), np.uint8), centre=True, device=META)
    assert len(seen["on device"]) == 300 and seen["on device"].all()
