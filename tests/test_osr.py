"""The grader's API: loading verified weights and the predict/score/threshold contract."""
import functools
import json
import shutil

import numpy as np
import pytest
import torch

import models
import osr
import store
from data import noise_images

WEIGHTS = store.WEIGHTS


@pytest.fixture(scope="module", params=["best", "A", "B"])
def model(request):
    return osr.load_osr_model(WEIGHTS, system=request.param)


@pytest.fixture
def weights_copy(tmp_path):
    return shutil.copytree(WEIGHTS, tmp_path / "weights")


@functools.lru_cache(maxsize=1)
def mnist_test_images() -> np.ndarray:
    """MNIST test alone (also in the subprocesses below, which need no training digits)."""
    from data import mnist_test

    return mnist_test().images


def digits_and_noise(n: int = 64) -> np.ndarray:
    return np.concatenate([mnist_test_images()[:n], noise_images("uniform", n)])


def test_predict_is_unknown_exactly_where_score_exceeds_threshold(model):
    images = digits_and_noise()
    preds, scores = model.predict(images), model.score(images)
    assert preds.shape == scores.shape == (len(images),) and scores.dtype == np.float64
    assert np.array_equal(preds == 10, scores > model.threshold)
    assert set(preds) <= set(range(11))


def test_digits_are_mostly_accepted_and_uniform_noise_rejected(model):
    images = digits_and_noise()
    preds = model.predict(images)
    assert (preds[:64] != 10).mean() > 0.9 and (preds[64:] == 10).all()


def test_predict_gives_the_same_answer_for_an_image_alone_or_in_a_batch(model):
    images = digits_and_noise(8)
    assert model.predict(images[3:4]).tolist() == model.predict(images)[3:4].tolist()


def test_the_default_weights_are_the_projects_own_wherever_the_caller_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert osr.load_osr_model().threshold == store.read_manifest(WEIGHTS)["systems"]["best"]["threshold"]


def test_unknown_system_name_is_refused():
    with pytest.raises(ValueError, match="unknown system"):
        osr.load_osr_model(WEIGHTS, system="Z")


def test_a_tampered_weights_file_is_refused(weights_copy):
    path = weights_copy / "autoencoder_a.pth"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="sha256.*python train.py"):
        osr.load_osr_model(weights_copy)


def test_a_missing_weights_file_is_refused_with_the_retrain_command(weights_copy):
    (weights_copy / "classifier.pth").unlink()
    with pytest.raises(FileNotFoundError, match="python train.py"):
        osr.load_osr_model(weights_copy)


def test_a_state_dict_of_the_wrong_architecture_is_refused(weights_copy):
    path = weights_copy / "classifier.pth"
    torch.save(models.ConvNet(width=8).state_dict(), path)
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    manifest["files"]["classifier.pth"]["sha256"] = store.sha256(path)
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="does not fit ConvNet"):
        osr.load_osr_model(weights_copy)


def test_a_manifest_from_an_older_train_py_is_refused_naming_what_it_lacks(weights_copy):
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    del manifest["systems"]["best"]["centre_by_mass"], manifest["files"]["classifier.pth"]["sha256"]
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"files.classifier.pth.sha256, systems.best.centre_by_mass.*train.py"):
        osr.load_osr_model(weights_copy)


def test_a_weights_file_the_manifest_does_not_list_is_refused_as_unlisted(weights_copy):
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    del manifest["files"]["classifier_b.pth"]
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="classifier_b.pth is not listed in manifest.json"):
        osr.load_osr_model(weights_copy, system="B")


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["systems"]["best"].update(threshold=float("nan")), r"systems.best.threshold = nan"),
    (lambda m: m["systems"]["A"]["thresholds"].update(l2=float("inf")), r"systems.A.thresholds.l2 = inf"),
    (lambda m: m["systems"]["best"]["stats"]["kNN"].__setitem__(1, 0.0), r"systems.best.stats.kNN \(std 0.0\)"),
    (lambda m: m["literature"]["stats"][2]["ensemble"]["max logit"].__setitem__(1, 0.0),
     r"literature.stats\[2\].ensemble.max logit \(std 0.0\)"),
    (lambda m: m["literature"]["stats"][4]["members"][1]["MSP"].__setitem__(1, -1.0),
     r"literature.stats\[4\].members\[1\].MSP \(std -1.0\)"),
])
def test_a_manifest_with_a_non_finite_threshold_or_a_zero_std_is_refused(weights_copy, edit, message):
    manifest = json.loads((weights_copy / "manifest.json").read_text())
    edit(manifest)
    (weights_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=message):
        osr.load_osr_model(weights_copy)


def test_manifest_matches_every_committed_weights_file():
    manifest = store.read_manifest(WEIGHTS)
    for path in WEIGHTS.glob("*.pth"):
        assert manifest["files"][path.name]["sha256"] == store.sha256(path), path.name


def test_the_default_system_is_the_best_model_with_its_fitted_threshold():
    model = osr.load_osr_model(WEIGHTS)
    spec = store.read_manifest(WEIGHTS)["systems"]["best"]
    assert model.name == "best" and model.threshold == spec["threshold"]
    assert model.detector.components == tuple(spec["components"])


def test_the_best_model_reads_the_digit_by_its_rule_the_one_most_accurate_on_validation():
    from detectors import DIGIT_RULES
    from preprocess import normalize

    model = osr.load_osr_model(WEIGHTS)
    spec = store.read_manifest(WEIGHTS)["systems"]["best"]
    rules = spec["digit_rules"]
    assert set(rules) == set(DIGIT_RULES) and spec["digits"] == max(rules, key=rules.get) == model.detector.digits
    # MNIST test's first digits, and five where the committed rule ("both") and the classifier read differently
    images = mnist_test_images()[np.r_[:100, 625, 659, 1014, 1039, 1226]]
    x = normalize(images)  # MNIST's own digits: centring by mass leaves them where they are
    with torch.no_grad():
        logits, theirs = model.classifier(x), model.detector.digit_or_not.read(x)[1]
    mine, other = DIGIT_RULES[spec["digits"]]
    expected = (mine * logits.log_softmax(1) + other * theirs).argmax(1).numpy()
    out = model.outputs(images)
    np.testing.assert_array_equal(out.digits, expected)
    assert np.array_equal(out.preds == 10, out.scores > model.threshold)
    assert (out.digits != logits.argmax(1).numpy()).sum() == (5 if spec["digits"] == "both" else 0)


def test_the_best_model_reads_a_digit_the_same_wherever_it_sits():
    from data import corrupt

    model = osr.load_osr_model(WEIGHTS)
    digits = mnist_test_images()[:32]
    reference = model.score(digits)
    for kind in ("shift 1 px", "shift 3 px", "box-centred"):
        moved = corrupt(digits, kind)
        whole = moved.sum((1, 2), dtype=np.int64) == digits.sum((1, 2), dtype=np.int64)  # no ink pushed out
        assert whole.mean() > 0.5, kind
        np.testing.assert_array_equal(model.predict(moved)[whole], model.predict(digits)[whole], err_msg=kind)
        np.testing.assert_allclose(model.score(moved)[whole], reference[whole], rtol=1e-12, err_msg=kind)


@pytest.mark.thorough
def test_the_best_models_threshold_rejects_its_false_alarm_rate_of_validation_digits(splits):
    model = osr.load_osr_model(WEIGHTS)
    spec = store.read_manifest(WEIGHTS)["systems"]["best"]
    scores = model.score(splits["val"].images)
    assert spec["false_alarms"] == 0.01
    assert np.mean(scores > model.threshold) == pytest.approx(spec["false_alarms"], abs=1 / len(scores))


@pytest.mark.thorough
def test_system_b_threshold_is_mean_plus_3_std_of_validation_mse(splits):
    from helpers import fit_threshold

    model = osr.load_osr_model(WEIGHTS, system="B")
    spec = store.read_manifest(WEIGHTS)["systems"]["B"]
    mse = model.score(splits["val"].images)
    assert spec["thresholds"]["validation"] == pytest.approx(fit_threshold(mse, 3.0), rel=1e-6)
    assert model.threshold == spec["thresholds"][spec["threshold_from"]]


def _pool() -> np.ndarray:
    """Digits upright and turned a quarter: many of the turned ones score near each system's threshold."""
    digits = mnist_test_images()[100:1100]
    return np.concatenate([digits, np.rot90(digits, 1, axes=(1, 2))])


@functools.lru_cache(maxsize=1)
def near_thresholds(n: int = 40) -> list[int]:
    """The indices in `_pool` of the n images closest to each system's threshold: where a flip would show."""
    picks = set()
    for system in osr.SYSTEMS:
        model = osr.load_osr_model(WEIGHTS, system=system)
        picks |= set(np.argsort(np.abs(model.score(_pool()) - model.threshold))[:n].tolist())
    return sorted(picks)


def _scores_and_predictions(picks: list[int]) -> dict[str, tuple[list[float], list[int]]]:
    """Every system's scores and predictions of a fixed batch of digits and noise and of the picked images of
    `_pool`, from freshly loaded models."""
    images = np.concatenate([digits_and_noise(100), _pool()[picks]])
    return {system: (model.score(images).tolist(), model.predict(images).tolist())
            for system, model in ((s, osr.load_osr_model(WEIGHTS, system=s)) for s in osr.SYSTEMS)}


def _in_a_subprocess(limits: dict[str, str], picks: list[int]) -> dict[str, tuple[list[float], list[int]]]:
    """`_scores_and_predictions` in a fresh process whose environment adds `limits`."""
    import os
    import subprocess
    import sys

    code = ("import json, sys; sys.path.insert(0, 'tests'); import test_osr; "
            f"print(json.dumps(test_osr._scores_and_predictions({picks!r})))")
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                     cwd=WEIGHTS.parent, env=os.environ | limits).stdout)


@pytest.mark.thorough
def test_evaluation_is_identical_twice_in_one_process_and_in_another_process():
    first = _scores_and_predictions(near_thresholds())
    assert _scores_and_predictions(near_thresholds()) == first
    assert _in_a_subprocess({}, near_thresholds()) == json.loads(json.dumps(first))


# What the float kernels depend on: oneDNN's instruction set (float32 convolutions), MKL's (matrix products and
# float64 convolutions), ATen's own vector kernels, and the thread count (the order of reductions).
OTHER_CPUS = {
    "SSE4.1 convolutions": {"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"},
    "AVX2 convolutions": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "SSE4.2 BLAS": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "one thread": {"OMP_NUM_THREADS": "1"},
}


@pytest.mark.thorough
@pytest.mark.parametrize("cpu", OTHER_CPUS)
def test_another_cpus_kernels_give_the_same_predictions_and_scores(cpu):
    """A process limited to another CPU's kernels: every prediction equal, of the images closest to each system's
    threshold too. System A's scores come from its
    float64 autoencoder alone (its classifier gives only the argmax): the same to 12 significant digits. B's
    MSE and the best model's z-sum come from float32 networks: B's to 5 significant digits, the z-sum (in units
    of validation standard deviations, centred near 0, its threshold a few units) to 1e-4, far below anything
    printed."""
    here, there = _scores_and_predictions(near_thresholds()), _in_a_subprocess(OTHER_CPUS[cpu], near_thresholds())
    for system, rtol, atol in (("A", 1e-12, 0), ("best", 0, 1e-4), ("B", 1e-5, 0)):
        assert there[system][1] == here[system][1], system
        np.testing.assert_allclose(there[system][0], here[system][0], rtol=rtol, atol=atol, err_msg=system)


@pytest.mark.thorough
def test_predict_on_many_images_peaks_at_its_input_plus_500_mb_in_a_plain_process():
    """In one process as a user runs it (no allocator settings), A (slower: its Otsu diff) over 20,000 images,
    then the default model over 45,000 (35 MB of uint8): each time the peak resident size, measured from one
    baseline, grows by at most that input + 500 MB. Results are written into arrays allocated once
    (`preprocess.batched`): kept per batch, they pinned freed batch buffers in the heap and the peak grew with
    the input (default model 9.9 GB seen at 865e376 over 180,000, A 3.8 GB over 60,000 with float32 classifiers:
    grown in proportion, 1.3 GB and 2.5 GB at these sizes, 2.5 and 4.6 times the bound)."""
    import os
    import subprocess
    import sys

    code = ("import resource, numpy as np, osr\n"
            "models = {s: osr.load_osr_model(system=s) for s in ('A', 'best')}\n"
            "for model in models.values(): model.predict(np.zeros((1000, 28, 28), np.uint8))\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "for system, n in (('A', 20_000), ('best', 45_000)):\n"
            "    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)\n"
            "    models[system].predict(images)\n"
            "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "    print(system, (peak - before) / 1024, images.nbytes / 2**20)\n"
            "    del images\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=WEIGHTS.parent, env=env).stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["A", "best"]
    for system, growth_mb, input_mb in (line.split() for line in lines):
        assert float(growth_mb) <= float(input_mb) + 500, \
            f"{system}: peak memory grew by {float(growth_mb):.0f} MB for {float(input_mb):.0f} MB of input"


def test_readme_rebuilds_system_a_by_hand_with_the_labels_load_osr_model_gives(monkeypatch):
    readme = (WEIGHTS.parent / "README.md").read_text()
    code = readme.split("### The weights by hand", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    digits = mnist_test_images()[:1500]
    turned = np.rot90(digits[:1500], 1, axes=(1, 2))  # many near A's threshold, on both sides of it
    model = osr.load_osr_model(WEIGHTS, system="A")
    candidates = np.concatenate([digits, turned, noise_images("uniform", 50)])
    closest = np.argsort(np.abs(model.score(candidates) - 1.0))[:300]  # where a flip would show
    images = candidates[closest]
    expected = model.predict(images)
    assert 50 < (expected == 10).sum() < 250  # both sides of the threshold
    monkeypatch.chdir(WEIGHTS.parent)
    scope = {"images": images}
    exec(code, scope)
    assert np.array_equal(scope["labels"], expected)
