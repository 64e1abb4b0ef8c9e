"""Leave one family out: every family can be made, every design's run without each of its families is planned,
runs hold the same number of outliers, and the table reads each family from the run that never saw it."""
import numpy as np
import pytest
import torch

import leave_out
import outliers
import report
from data import UNKNOWN, Split
from preprocess import MNIST_MEAN, MNIST_STD, normalize


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    return Split(rng.integers(0, 256, (300, 28, 28)).astype(np.uint8), np.arange(300) % 10)


@pytest.fixture
def generator(monkeypatch):
    """An untrained class-conditional autoencoder in place of the one trained on MNIST (minutes) for the generated
    family."""
    torch.manual_seed(0)
    net = leave_out.for_inference(leave_out.ClassConditional())
    monkeypatch.setattr(leave_out, "conditional_autoencoder", lambda: net)
    return net


def test_every_family_gives_the_images_asked_for(digits, generator):
    pool = leave_out.pools(digits, 40, seed=1)
    assert list(pool) == list(leave_out.FAMILIES)
    assert all(images.shape == (40, 28, 28) and images.dtype == np.uint8 for images in pool.values())
    candidates = leave_out.pools(digits, 40, seed=1, families=tuple(outliers.MADE_CANDIDATES))
    assert all(images.shape == (40, 28, 28) and images.dtype == np.uint8 for images in candidates.values())


def test_each_design_is_run_whole_and_without_each_of_its_families():
    runs = leave_out.runs()
    for families in leave_out.DESIGNS.values():
        assert families in runs.values()
        for held_out in families:
            assert tuple(f for f in families if f != held_out) in runs.values()
    assert len(runs) == len(set(runs.values()))


def test_a_run_holds_the_same_number_of_outliers_spread_evenly(digits):
    pool = {"strokes": np.full((60, 28, 28), 1, np.uint8), "blobs": np.full((60, 28, 28), 2, np.uint8),
            "jigsaw": np.full((60, 28, 28), 3, np.uint8)}
    for families in (("strokes",), ("strokes", "blobs", "jigsaw")):
        split = leave_out.family_split(digits, pool, families, total=60)
        outliers = split.images[split.labels == UNKNOWN]
        assert len(outliers) == 60 and np.array_equal(split.labels[: len(digits)], digits.labels)
        assert np.bincount(outliers[:, 0, 0])[1:].tolist() == [60 // len(families)] * len(families)


def test_the_table_reads_each_family_from_the_run_without_it():
    designs = {"before": ["strokes", "blobs"], "after": ["strokes", "blobs", "jigsaw"]}
    measured = ["MNIST validation", "strokes", "blobs", "jigsaw", "scribbles", "Omniglot dev (MNIST format)"]
    kept = [["strokes", "blobs"], ["blobs"], ["strokes"], ["strokes", "blobs", "jigsaw"], ["blobs", "jigsaw"],
            ["strokes", "jigsaw"]]
    runs = {" + ".join(k): {"rejected": {name: {"sum": float(i), "alone": -1.0} for name in measured}}
            for i, k in enumerate(kept)}
    table = report.leave_one_out_table({"designs": designs, "runs": runs})
    assert table["before"].tolist()[:5] == [1.0, 2.0, 0.0, 0.0, 0.0]  # strokes, blobs; the rest: the whole run
    assert table["after"].tolist()[:5] == [4.0, 5.0, 0.0, 3.0, 3.0]  # jigsaw held out: the strokes + blobs run
    assert table.loc["mean of the families", "after"] == 3.0  # the development set is not a family
    assert table.loc["families above before", "after"] == 3 and table.loc["families above before", "before"] == 0
    assert report.leave_one_out_table({"designs": designs, "runs": runs}, "alone").loc["strokes", "after"] == -1.0


def test_the_rotation_candidate_learns_each_digit_under_four_turns_labelled_by_the_turn(digits):

    from models import DigitOrNot

    turned = leave_out.quarter_turns(Split(digits.images[:3], digits.labels[:3]))
    assert turned.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert np.array_equal(turned.images[4], np.rot90(digits.images[1]))  # one turn, counter-clockwise
    assert np.array_equal(turned.images[7], digits.images[1][::-1, ::-1])
    x = torch.zeros(5, 1, 28, 28)
    assert DigitOrNot(outputs=4)(x).shape == (5, 4) and DigitOrNot()(x).shape == (5,)


def test_the_error_map_candidate_reads_the_image_and_its_reconstruction_error():

    from models import Autoencoder

    net = leave_out.ErrorMapped(Autoencoder())
    assert net.net.conv1.in_channels == 2 and net(torch.zeros(3, 1, 28, 28)).shape == (3,)
    assert not any(p.requires_grad for p in net.autoencoder.parameters())  # the committed autoencoder stays as it is


def test_pushed_outliers_stay_near_where_they_started_and_look_more_like_digits_to_the_network():

    from preprocess import MNIST_MEAN, MNIST_STD

    torch.manual_seed(0)
    net = leave_out.binary().train()
    start = (torch.rand(16, 1, 28, 28) - MNIST_MEAN) / MNIST_STD
    moved = leave_out.pushed(net, start)
    ink = lambda x: x * MNIST_STD + MNIST_MEAN  # noqa: E731
    assert (ink(moved) - ink(start)).abs().max() <= leave_out.ACET["radius"] + 1e-5
    assert ink(moved).min() >= -1e-5 and ink(moved).max() <= 1 + 1e-5
    assert net.training and not moved.requires_grad  # the search leaves the network as it found it
    with torch.no_grad():
        net.eval()
        assert net(moved).mean() < net(start).mean()  # lower "not a digit" logit: pushed towards the digits
    loss, correct = leave_out.pushed_towards_digits(net.train(), start, torch.full((16,), UNKNOWN))
    assert loss.requires_grad and 0 <= int(correct) <= 16  # counted on the batch as given


def test_a_designs_runs_are_the_whole_design_and_the_design_less_each_family_skipping_those_done(monkeypatch):
    trained = []
    monkeypatch.setattr(leave_out, "trained_and_measured",
                        lambda net, kept, name, *probed: trained.append(kept) or {"families": list(kept)})
    runs = leave_out.design_runs(("strokes", "blobs", "jigsaw"), "test", (None,) * 4, make=lambda: None,
                                 done={"strokes + blobs": {}})
    assert list(runs) == ["strokes + blobs + jigsaw", "blobs + jigsaw", "strokes + jigsaw"]
    assert trained == [("strokes", "blobs", "jigsaw"), ("blobs", "jigsaw"), ("strokes", "jigsaw")]



def test_the_class_conditional_autoencoder_draws_the_digit_it_is_told_and_is_pushed_off_the_wrong_ones(monkeypatch):

    torch.manual_seed(0)
    net = leave_out.ClassConditional().eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        errors = net.errors(x)
        code = net.encoder(x)
        drawings = [net.draw(code, torch.full((4,), k)) for k in (3, 5)]
    assert errors.shape == (4, 10) and (errors >= 0).all()
    assert not torch.allclose(*drawings)  # the digit told changes the drawing of one code
    assert ((drawings[0] >= 0) & (drawings[0] <= 1)).all()  # pixels
    y = torch.tensor([0, 1, 2, 3])
    monkeypatch.setitem(leave_out.CONDITIONAL, "margin", 0.0)  # no hinge: the loss is the match term alone
    match, _ = leave_out.class_conditional_loss(net, x, y)
    with torch.no_grad():
        assert torch.isclose(match, (errors[torch.arange(4), y] ** 2).mean(), rtol=1e-4)
    monkeypatch.setitem(leave_out.CONDITIONAL, "margin", 1e6)  # every wrong drawing inside the margin: it adds
    assert leave_out.class_conditional_loss(net, x, y)[0] > match + 1e5


def test_the_narrow_candidate_trains_the_committed_recipe_at_each_width_from_the_committed_seed(monkeypatch):
    import train
    from data import SEED

    built = []
    monkeypatch.setattr(train, "digit_or_not_splits", lambda splits, made: (made, None))
    monkeypatch.setattr(train, "train_network", lambda net, loss, made, *rest, **kw: (net, {"made": made, **kw}))
    monkeypatch.setattr(leave_out, "full_network_table", lambda variants, seed: [
        built.append((seed, made, leave_out.full_digit_or_not(None, seed, made, name, pen, width))) for
        name, (made, pen, width) in variants.items()])
    leave_out.narrow_candidate((16, 24))
    assert [(seed, made) for seed, made, _ in built] == [(SEED, train.MADE)] * 2
    assert [net.conv1.out_channels for *_, net in built] == [16, 24]
    assert [net.conv3.out_channels for *_, net in built] == [32, 48]


def test_glyphs_beyond_a_digit_are_images_of_the_seed_and_not_the_digit_redrawn(digits, generator):

    net = generator
    made = leave_out.family_images(leave_out.BEYOND, digits, 30, seed=5)
    assert made.shape == (30, 28, 28) and made.dtype == np.uint8
    assert np.array_equal(made, outliers.make(leave_out.BEYOND, digits, 30, seed=5))  # as train.py makes them
    assert not np.array_equal(made, outliers.make(leave_out.BEYOND, digits, 30, seed=6))
    pick = np.random.default_rng(5).choice(len(digits), 30)
    normalised = torch.as_tensor(leave_out.batched(lambda x: {"x": x.float()}, digits.images[pick])["x"])
    with torch.inference_mode():
        codes = net.encoder(normalised)
        redrawn = (net.draw(codes, torch.as_tensor(digits.labels[pick]))[:, 0] * 255).round().to(torch.uint8).numpy()
    assert not np.array_equal(made, redrawn)  # told a point beyond the digit, not the digit itself


def test_the_readings_disagree_where_the_two_networks_name_different_digits():
    sure = torch.full((2, 10), -30.0)
    sure[0, 3] = sure[1, 3] = 30.0  # the classifier reads 3 in both images
    other = torch.full((2, 10), -30.0)
    other[0, 3] = other[1, 7] = 30.0  # the digit-or-not network: 3, then 7

    class Reader:
        def read(self, x):
            return None, other.log_softmax(1)

    found = leave_out.readings(lambda x: sure, Reader(), torch.zeros(2, 1, 28, 28))
    assert found[leave_out.DISAGREEMENT].tolist() == pytest.approx([0.0, 1.0], abs=1e-6)
    assert found[leave_out.DOUBT][0] == pytest.approx(0.0, abs=1e-6)  # both sure of the same digit
    assert found[leave_out.DOUBT][1] > 50  # the best joint digit is one that one of them rules out


def test_the_ink_again_candidate_is_the_reading_candidates_ten_thousand_from_the_committed_seed(monkeypatch):
    from data import SEED

    asked = {}
    monkeypatch.setattr(leave_out, "full_network_table", lambda variants, seed: asked.setdefault(
        len(asked), (list(variants.values()), seed)))
    leave_out.reading_candidate()
    leave_out.ink_again_candidate()
    (reading, reading_seed), (again, again_seed) = asked[0], asked[1]
    assert again == reading[:1] and again_seed == reading_seed == SEED
    assert again[0][0][outliers.NEW_INK_FRAGMENT] == 10000


def test_the_recipe_from_another_seed_is_the_recipe_trained_again_but_for_the_seed(monkeypatch):
    import inspect

    from data import SEED

    asked = []
    default = inspect.signature(leave_out.full_network_table).parameters["seed"].default
    monkeypatch.setattr(leave_out, "full_network_table", lambda variants, seed=default: asked.append((variants, seed)))
    leave_out.beyond_full_candidate()
    leave_out.recipe_seed_candidate()
    (again, again_seed), (other, other_seed) = asked
    assert list(other.values()) == [again["the committed seed again"]]
    assert again_seed == SEED != other_seed


def test_a_score_less_its_fit_keeps_only_what_the_covariate_does_not_explain_on_digits():
    rng = np.random.default_rng(0)
    covariate = rng.uniform(50, 150, 500)
    wobble = rng.normal(0, 1, 500)
    score = 0.03 * covariate + 4 + wobble
    left = leave_out.less_fit(score, covariate, score, covariate)
    assert np.corrcoef(left, covariate)[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert left.std() < score.std()
    # another set: its score is judged by the digits' line, not by a line of its own
    assert leave_out.less_fit(np.array([10.0]), np.array([100.0]), score, covariate)[0] == pytest.approx(
        10.0 - 7.0, abs=0.3)


def test_complexity_counts_ink_and_a_noisy_image_compresses_worse_than_a_stroke():
    blank = np.zeros((28, 28), np.uint8)
    stroke = blank.copy()
    stroke[4:24, 13:15] = 255
    noise = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    found = leave_out.complexity(np.stack([blank, stroke, noise]))
    assert found[leave_out.INK][:2].tolist() == [0.0, 40.0]
    assert found[leave_out.COMPRESSED][0] < found[leave_out.COMPRESSED][1] < found[leave_out.COMPRESSED][2]


def test_the_contrastive_loss_is_lowest_when_each_class_sits_apart():
    class Fixed(torch.nn.Module):  # its "projection" is the input itself: eval mode, so no augmented views
        def forward(self, x):
            return x.flatten(1)

    net = Fixed().eval()
    y = torch.tensor([0, 0, 1, 1])
    apart = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    mixed = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    loss = leave_out.supervised_contrastive_loss(torch.Generator())
    assert loss(net, apart, y)[0] < loss(net, mixed, y)[0]


def test_topology_counts_pieces_holes_end_points_and_junctions():
    ring, plus, bars = (np.zeros((28, 28), np.uint8) for _ in range(3))
    ring[6:22, 6:22], ring[9:19, 9:19] = 255, 0
    plus[4:24, 13:15], plus[13:15, 4:24] = 255, 255
    bars[4:24, 6:8], bars[4:24, 20:22] = 255, 255
    found = leave_out.topology(np.stack([ring, plus, bars]))
    assert found[:, :3].tolist() == [[1, 1, 0], [1, 0, 4], [2, 0, 4]]
    assert found[0, 3] == 0 and found[1, 3] >= 1 and found[2, 3] == 0
    cells = leave_out.topology_cells(np.stack([ring, plus, bars]))
    assert len(set(cells.tolist())) == 3 and (cells < np.prod(np.array(leave_out.TOPOLOGY["caps"]) + 1)).all()


def test_moved_views_are_seeded_and_their_spread_is_none_for_a_blank_image():
    from types import SimpleNamespace

    from models import ConvNet, DigitOrNot

    torch.manual_seed(0)
    model = SimpleNamespace(classifier=ConvNet().eval(), detector=SimpleNamespace(digit_or_not=DigitOrNot().eval()))
    x = torch.randn(3, 1, 28, 28)
    x[0] = -0.4242  # a blank image in MNIST's normalisation: moving it changes nothing
    with torch.no_grad():
        first, again = leave_out.moved_views(model, x), leave_out.moved_views(model, x)
    assert list(first) == list(leave_out.VIEW_SCORES)
    assert all(torch.equal(first[k], again[k]) for k in first)
    spread = first[leave_out.VIEW_SCORES[1]]
    assert spread[0] < 1e-5 and (spread[1:] > 1e-3).all()
    doubt = first[leave_out.VIEW_SCORES[2]]
    assert ((doubt >= 0) & (doubt <= 0.9)).all()


def test_the_repelling_loss_asks_digits_to_be_drawn_and_outliers_to_miss_by_the_margin():
    class Blank(torch.nn.Module):  # draws nothing: each image's error is its own squared sum
        def forward(self, x):
            return torch.zeros_like(x)

    x = torch.zeros(3, 1, 2, 2)
    x[1], x[2] = 1.0, 3.0  # squared errors 0, 4 and 36
    y = torch.tensor([0, leave_out.UNKNOWN, leave_out.UNKNOWN])
    loss = leave_out.repelling_loss(margin=10.0)
    assert loss(Blank(), x, y)[0].item() == pytest.approx((10.0 - 4.0) / 3)  # the digit drawn, one outlier short
    y[0] = 1
    x[0] = 1.0
    assert loss(Blank(), x, y)[0].item() == pytest.approx((4.0 + 6.0) / 3)


def test_quarter_turns_told_add_a_second_loss_on_the_digits_and_leave_the_score_to_the_first_eleven_outputs():
    torch.manual_seed(0)
    net = leave_out.RotationAided().eval()  # no dropout: both passes see the same network
    x, y = torch.randn(6, 1, 28, 28), torch.tensor([0, 3, 7, leave_out.UNKNOWN, leave_out.UNKNOWN, 1])
    logits = net.logits(x)
    assert logits.shape == (6, 15)
    odds = logits[:, leave_out.UNKNOWN] - torch.logsumexp(logits[:, : leave_out.UNKNOWN], 1)
    assert torch.allclose(net(x), odds)
    eleven = torch.nn.functional.cross_entropy(logits[:, : leave_out.UNKNOWN + 1], y)
    loss, right = leave_out.rotation_aided_loss(net, x, y)
    assert loss > eleven and right == (logits[:, : leave_out.UNKNOWN + 1].argmax(1) == y).sum()
    outliers = torch.full((6,), leave_out.UNKNOWN)
    assert leave_out.rotation_aided_loss(net, x, outliers)[0].item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits[:, : leave_out.UNKNOWN + 1], outliers).item(), rel=1e-5)


def test_the_pixel_cnn_reads_each_pixel_only_from_the_pixels_before_it():
    torch.manual_seed(0)
    net = leave_out.PixelCNN().eval()
    ink = (torch.rand(1, 1, 28, 28) > 0.7).float()
    with torch.no_grad():
        base = net(ink)
        for row, col in [(0, 0), (5, 7), (13, 13), (10, 27), (27, 27)]:
            changed = ink.clone()
            changed[0, 0, row, col] = 1 - changed[0, 0, row, col]
            moved = torch.nonzero((net(changed) - base)[0, 0].abs().flatten() > 0).flatten()
            assert moved.numel() == 0 or int(moved.min()) > row * 28 + col  # never the pixel itself or one before
        assert net(ink).shape == (1, 1, 28, 28)
    assert (net(torch.zeros(1, 1, 28, 28)) - net(ink)).abs()[0, 0, 0, 0] == 0  # the first pixel sees nothing


def test_the_negative_log_likelihood_is_per_image_and_the_background_noise_sets_its_share_to_no_or_full_ink():
    torch.manual_seed(0)
    net = leave_out.PixelCNN().eval()
    x = normalize(np.zeros((3, 28, 28), np.uint8))
    with torch.no_grad():
        nll = leave_out.pixel_nll(net, x)
    assert nll.shape == (3,) and torch.allclose(nll, nll[0].expand(3)) and float(nll[0]) > 0
    noisy = leave_out.with_noise(x[:1].expand(50, 1, 28, 28), torch.Generator().manual_seed(0), share=0.2)
    ink = leave_out.ink_of(noisy)
    assert abs(float(ink.mean()) - 0.1) < 0.01  # a fifth replaced, half of those by full ink
    assert set(torch.unique(noisy * MNIST_STD + MNIST_MEAN).round(decimals=6).tolist()) == {0.0, 1.0}


def test_the_generative_classifier_is_sure_where_one_digit_explains_the_ink_and_unsure_where_all_do():
    likelihood = np.array([[-50.0] + [-90.0] * 9, [-70.0] * 10])
    scores = leave_out.generative_scores(likelihood, np.array([3, 3]))
    given, doubt, doubt_of_read = (scores[n] for n in leave_out.GENERATIVE_SCORES)
    np.testing.assert_allclose(given, [90.0, 70.0])
    np.testing.assert_allclose(doubt, [0.0, np.log(10)], atol=1e-12)
    np.testing.assert_allclose(doubt_of_read, [40.0, np.log(10)], atol=1e-12)
    torch.manual_seed(0)
    net = leave_out.ConditionalPixelCNN().eval()
    with torch.no_grad():
        torch.nn.init.normal_(net.digit.weight)
        x = normalize((np.random.default_rng(0).random((2, 28, 28)) > 0.7).astype(np.uint8) * 255)
        by_digit = leave_out.digit_likelihoods(net, x)
        assert by_digit.shape == (2, 10) and len(set(by_digit[0].tolist())) == 10  # the digit told matters
        np.testing.assert_allclose(by_digit[:, 4], -leave_out.pixel_nll(net, x, torch.full((2,), 4)))


def test_the_four_cell_groups_hide_every_pixel_once_and_no_two_hidden_cells_touch_by_a_side():
    groups = leave_out.cell_groups()
    assert groups.shape == (4, 1, 28, 28) and bool((groups.sum(0) == 1).all())
    cells = groups[:, 0, ::7, ::7]  # one pixel per 7x7 cell: 4x4 cells
    assert cells.sum((1, 2)).tolist() == [4, 4, 4, 4]
    assert not (cells[:, 1:] & cells[:, :-1]).any() and not (cells[:, :, 1:] & cells[:, :, :-1]).any()


def test_the_inpainter_never_sees_a_hidden_pixel_and_its_error_takes_each_pixel_from_the_pass_that_hid_it():
    torch.manual_seed(0)
    net = leave_out.Inpainter().eval()
    x, hidden = torch.randn(2, 1, 28, 28), leave_out.cell_groups()[1:2].expand(2, -1, -1, -1)
    with torch.no_grad():
        assert net(x, hidden).shape == (2, 1, 28, 28)
        assert torch.equal(net(x, hidden), net(torch.where(hidden, torch.randn(2, 1, 28, 28), x), hidden))
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(leave_out.inpainting_error(lambda x, hidden: x, x), torch.zeros(3))
    blank = leave_out.inpainting_error(lambda x, hidden: torch.zeros_like(x), x)
    assert torch.allclose(blank, x.flatten(1).norm(dim=1))
    loss, _ = leave_out.inpainting_loss(lambda x, hidden: torch.zeros_like(x), x, torch.zeros(3))
    hidden = leave_out.cell_groups()[:3]  # image i hides group i
    assert loss.item() == pytest.approx(float((x.pow(2) * hidden).flatten(1).sum(1).mean()), rel=1e-6)


def test_joined_features_weigh_each_networks_cosine_similarity_by_its_share():
    first, second = torch.randn(4, 128) * 5, torch.randn(4, 128) * 0.1
    joint = leave_out.joined((first, second), share=0.25)
    assert joint.shape == (4, 256) and torch.allclose(joint.norm(dim=1), torch.ones(4))
    cos = [torch.nn.functional.normalize(f, dim=1) @ torch.nn.functional.normalize(f, dim=1).T for f in (first, second)]
    assert torch.allclose(joint @ joint.T, 0.75 * cos[0] + 0.25 * cos[1], atol=1e-6)
    assert torch.allclose(leave_out.joined((first, second), share=1.0)[:, 128:],
                          torch.nn.functional.normalize(second, dim=1))
