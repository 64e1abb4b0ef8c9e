"""The grader's API: loading verified weights and the predict/score/threshold contract."""
import json
import shutil

import numpy as np
import pytest
import torch

import models
from data import noise_images

WEIGHTS = models.Path(__file__).resolve().parents[1] / "weights"


@pytest.fixture(scope="module")
def model_a():
    return models.load_osr_model(WEIGHTS, system="A")


@pytest.fixture
def weights_copy(tmp_path):
    return shutil.copytree(WEIGHTS, tmp_path / "weights")


def digits_and_noise(n: int = 64) -> np.ndarray:
    from data import mnist_splits

    return np.concatenate([mnist_splits()["test"].images[:n], noise_images("uniform", n)])


def test_predict_is_unknown_exactly_where_score_exceeds_threshold(model_a):
    images = digits_and_noise()
    preds, scores = model_a.predict(images), model_a.score(images)
    assert preds.shape == scores.shape == (len(images),) and scores.dtype == np.float64
    assert np.array_equal(preds == 10, scores > model_a.threshold)
    assert set(preds) <= set(range(11))


def test_digits_are_mostly_accepted_and_uniform_noise_rejected(model_a):
    images = digits_and_noise()
    preds = model_a.predict(images)
    assert (preds[:64] != 10).mean() > 0.9 and (preds[64:] == 10).all()


def test_predict_gives_the_same_answer_for_an_image_alone_or_in_a_batch(model_a):
    images = digits_and_noise(8)
    assert model_a.predict(images[3:4]).tolist() == model_a.predict(images)[3:4].tolist()


def test_unknown_system_name_is_refused():
    with pytest.raises(ValueError, match="unknown system"):
        models.load_osr_model(WEIGHTS, system="Z")


def test_a_tampered_weights_file_is_refused(weights_copy):
    path = weights_copy / "autoencoder_a.pth"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="sha256.*python train.py"):
        models.load_osr_model(weights_copy)


def test_a_missing_weights_file_is_refused_with_the_retrain_command(weights_copy):
    (weights_copy / "classifier.pth").unlink()
    with pytest.raises(FileNotFoundError, match="python train.py"):
        models.load_osr_model(weights_copy)


def test_a_state_dict_of_the_wrong_architecture_is_refused(weights_copy):
    path = weights_copy / "classifier.pth"
    torch.save(models.ConvNet(width=8).state_dict(), path)
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    manifest["files"]["classifier.pth"]["sha256"] = models.sha256(path)
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="does not fit ConvNet"):
        models.load_osr_model(weights_copy)


def test_manifest_matches_every_committed_weights_file():
    manifest = models.read_manifest(WEIGHTS)
    for path in WEIGHTS.glob("*.pth"):
        assert manifest["files"][path.name]["sha256"] == models.sha256(path), path.name
