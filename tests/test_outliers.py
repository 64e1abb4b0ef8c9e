"""Outliers made by a program: seeded, in MNIST's form, made from the digits they are given, and the held-out
families kept apart from training."""
import numpy as np
import pytest
import torch

import augment
import data
import detectors
import loop
import losses
import models
import outliers
import train
from data import Split
from preprocess import MNIST_MEAN, MNIST_STD, mass_offsets, normalize


@pytest.mark.parametrize("family", outliers.GENERATORS)
def test_each_family_is_seeded_uint8_28x28_with_ink_in_every_image(family):
    images = outliers.draw(family, 12, seed=5)
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert (images.reshape(12, -1).max(1) > 128).all()  # every image holds real ink
    assert np.array_equal(images, outliers.draw(family, 12, seed=5))
    assert not np.array_equal(images, outliers.draw(family, 12, seed=6))


def test_pen_families_come_in_mnist_format_and_as_drawn():
    """Even images: the ink box scaled into 20x20 and centred by mass, as MNIST's digits; odd: as drawn."""
    for family in ("strokes", "scribbles", "loops"):
        images = outliers.draw(family, 40, seed=1)
        formatted = images[::2] > 0
        rows, cols = formatted.any(2), formatted.any(1)
        extent = np.maximum(rows.sum(1), cols.sum(1))
        assert (extent <= 22).all() and (extent >= 19).mean() > 0.9  # 20 px, plus anti-aliasing
        dy, dx = mass_offsets(torch.from_numpy(images[::2]).double())
        assert (dy.abs() <= 1).all() and (dx.abs() <= 1).all()
        assert (images[1::2] > 0).mean() < (images[::2] > 0).mean()  # the thin pen of the drawing itself


def test_an_unknown_family_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="strokes"):
        outliers.draw("letters", 3)


def _numbered_digits(n: int = 120) -> Split:
    """Digits whose pixels say which image and which half they came from: image i's left half holds 2i, its
    right half 2i + 1, its top row 255; labels i % 10."""
    images = np.empty((n, 28, 28), np.uint8)
    images[:, :, :14] = (2 * np.arange(n))[:, None, None]
    images[:, :, 14:] = (2 * np.arange(n) + 1)[:, None, None]
    images[:, 0] = 255
    return Split(images, np.arange(n) % 10)


def test_side_chimeras_join_the_left_and_right_halves_of_digits_of_two_classes():
    digits = _numbered_digits()
    chimeras = outliers.make("side chimeras", digits, 50, seed=3)
    assert chimeras.shape == (50, 28, 28) and chimeras.dtype == np.uint8
    left, right = chimeras[:, 5, 0].astype(int) // 2, chimeras[:, 5, 27].astype(int) // 2  # which images
    assert (chimeras[:, 5, 0] % 2 == 0).all() and (chimeras[:, 5, 27] % 2 == 1).all()  # a left, then a right half
    assert (left % 10 != right % 10).all()
    assert np.array_equal(chimeras, outliers.make("side chimeras", digits, 50, seed=3))


def test_upside_down_turns_only_digits_that_a_half_turn_makes_into_no_digit():
    digits = _numbered_digits()
    turned = outliers.make("upside down", digits, 60, seed=4)
    assert (turned[:, 27] == 255).all() and (turned[:, 0, 0] % 2 == 1).all()  # the top row at the bottom, halves swapped
    assert set((turned[:, 5, 0].astype(int) // 2) % 10) <= set(outliers.UPSIDE_DOWN)
    with pytest.raises(ValueError, match="side chimeras"):
        outliers.make("jigsaw", digits, 3)


def test_a_digit_and_fragment_keeps_a_whole_digit_and_adds_an_inked_square_of_another():
    digits = Split(np.zeros((40, 28, 28), np.uint8), np.arange(40) % 10)
    digits.images[:, 10:18, 12:16] = 200  # each "digit" a bar: every fragment with enough ink is a piece of one
    made = outliers.make("digit + fragment", digits, 30, seed=5)
    assert made.shape == (30, 28, 28) and made.dtype == np.uint8
    assert (made[:, 10:18, 12:16] == 200).all()  # the whole digit is still there, under the fragment
    extra = (made > 0).sum((1, 2)) - 32
    assert (extra > 0).sum() > 20 and extra.max() <= 32  # most fragments land off the bar; none brings more ink
    assert np.array_equal(made, outliers.make("digit + fragment", digits, 30, seed=5))
    assert "digit + fragment" not in outliers.MAKERS  # a candidate: the committed network never trained on it


def test_a_fragment_adding_ink_always_adds_twenty_inked_pixels_where_the_digit_had_none():
    digits = Split(np.zeros((40, 28, 28), np.uint8), np.arange(40) % 10)
    digits.images[:, 10:18, 12:16] = 200
    made = outliers.make(outliers.NEW_INK_FRAGMENT, digits, 30, seed=5)
    assert (made[:, 10:18, 12:16] == 200).all()
    assert ((made > 127).sum((1, 2)) - 32 >= 20).all()  # no piece hides under the bar


def test_a_zoomed_part_is_a_piece_of_a_digit_blown_up_never_a_straight_stroke_or_a_closed_loop():
    from scipy.ndimage import binary_fill_holes

    digits = Split(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10)
    digits.images[:10, 4:24, 13:16] = 255  # bars: every part of them a straight stroke
    digits.images[10:, 4:12, 10:18] = 255  # 9s: a ring on a long stem, a piece with the ring is a closed loop
    digits.images[10:, 6:10, 12:16] = 0
    digits.images[10:, 12:27, 15:18] = 255
    made = outliers.make(outliers.ZOOMED, digits, 30, seed=6)
    assert made.shape == (30, 28, 28) and made.dtype == np.uint8
    assert not made[:, :4].any() and not made[:, 24:].any() and not made[:, :, :4].any()  # in the middle 20x20
    inked = made > 127
    assert (inked.sum((1, 2)) >= 34).all()  # 20 inked pixels or more, blown up by 20/15 or more each way
    assert (inked.any(1).sum(1) > 6).all() and (inked.any(2).sum(1) > 6).all()  # ink both ways: no bar
    assert all(np.array_equal(binary_fill_holes(image), image) for image in inked)  # no loop
    assert np.array_equal(made, outliers.make(outliers.ZOOMED, digits, 30, seed=6))
    assert outliers.ZOOMED not in outliers.MAKERS


def test_digits_strokes_are_pieces_of_their_skeletons_laid_together_and_centred_by_mass():
    from scipy import ndimage

    digits = Split(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10)
    for i, image in enumerate(digits.images[:15]):  # Ts, each in its own shade: three strokes meet at a junction
        image[5:8, 6:22], image[5:24, 13:16] = 130 + 4 * i, 130 + 4 * i
    digits.images[15:, 12:15, 12:15] = 255  # dots: no stroke long enough, never used
    made = outliers.make(outliers.STROKES, digits, 30, seed=6)
    assert made.shape == (30, 28, 28) and made.dtype == np.uint8
    assert not (made == 255).any() and (made > 127).sum((1, 2)).min() >= 12
    for image in made:
        assert np.abs(np.array(ndimage.center_of_mass(image)) - outliers.MNIST_CENTRE).max() <= 0.5
    whole_t = (digits.images[0] > 0).sum()
    assert ((made > 0).sum((1, 2)) < 3 * whole_t).all()  # pieces of Ts, not whole ones: at most 3 of them
    assert np.array_equal(made, outliers.make(outliers.STROKES, digits, 30, seed=6))
    assert outliers.STROKES not in outliers.MAKERS
    with pytest.raises(ValueError, match="stroke of 6 px"):  # dots alone: refused, not drawn again for ever
        outliers.make(outliers.STROKES, Split(digits.images[15:], digits.labels[15:]), 1)


def test_selection_ranks_on_families_the_digit_or_not_network_never_saw():
    digits = Split(np.zeros((50, 28, 28), np.uint8) + np.eye(28, dtype=np.uint8) * 255, np.arange(50) % 10)
    held_out, trained = detectors.held_out_proxies(digits, 20), detectors.trained_proxies(digits, 20)
    assert not set(outliers.HELD_OUT) & set(outliers.TRAINED)
    assert not set(outliers.CANDIDATES) & set(train.DRAWN)  # a candidate family trains only leave_out.py's probes
    assert set(train.DRAWN) == set(outliers.TRAINED) and set(train.MADE) == set(outliers.MAKERS)
    trained_on = (*outliers.TRAINED, *outliers.MAKERS)
    assert not any(f in name for f in trained_on for name in held_out)
    assert all(any(f in name for f in trained_on) for name in trained) and len(trained) == len(trained_on)
    assert any(f in name for f in outliers.HELD_OUT for name in held_out)


def test_outlier_split_labels_digits_by_class_and_outliers_unknown_made_from_its_own_digits():
    digits = _numbered_digits(20)
    split = train.outlier_split(digits, {"strokes": 3, "blobs": 2}, seed=0, made={"upside down": 4})
    assert split.images.shape == (29, 28, 28)
    assert split.labels.tolist() == digits.labels.tolist() + [data.UNKNOWN] * 9
    assert (split.images[-4:, 27] == 255).all()  # the last four: these digits turned


def test_style_augment_is_seeded_keeps_the_shape_and_centres_by_mass():
    x = normalize(outliers.draw("strokes", 8, seed=2)[1::2])  # as drawn: off-centre
    out = augment.style_augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    torch.testing.assert_close(out, augment.style_augment(x, torch.Generator().manual_seed(0)))
    ink = (out * MNIST_STD + MNIST_MEAN).clamp_min(0)[:, 0]
    dy, dx = mass_offsets(ink.double())
    assert (dy.abs() <= 1).all() and (dx.abs() <= 1).all()


def test_elastic_moves_the_chosen_share_keeps_the_ink_and_is_seeded():
    bars = np.zeros((64, 28, 28), np.uint8)
    bars[:, 6:22, 11:17] = 255  # thick bars in the middle: a warp moves their edges, no ink leaves the frame
    x = normalize(bars)
    none = augment.elastic(x, torch.Generator().manual_seed(0), share=0.0)
    torch.testing.assert_close(none, x, atol=1e-5, rtol=0)  # no displacement: every pixel read where it was
    warped = augment.elastic(x, torch.Generator().manual_seed(0), share=1.0)
    moved = (warped - x).abs().amax((1, 2, 3)) > 0.1
    assert moved.float().mean() > 0.9
    ink = lambda t: (t * MNIST_STD + MNIST_MEAN).sum((1, 2, 3))
    assert ((ink(warped) - ink(x)).abs() / ink(x) < 0.6).all()  # a warp (it stretches and squeezes), not an eraser
    torch.testing.assert_close(warped, augment.elastic(x, torch.Generator().manual_seed(0), share=1.0))


@pytest.mark.parametrize("outputs, loss", [(data.UNKNOWN + 1, losses.k_plus_one_loss),
                                           (1, losses.digit_or_not_loss)])
def test_digit_or_not_training_learns_to_tell_digits_from_strokes(outputs, loss):
    """A few batches on 'digits' (bright vertical bars, a 1, and horizontal ones, a 7 of sorts) against drawn
    strokes: the committed network's eleven outputs and the probes' one; its score higher on the strokes."""
    bars = np.zeros((300, 28, 28), np.uint8)
    bars[::2, 5:23, 12:16] = 255
    bars[1::2, 12:16, 5:23] = 255
    labels = np.tile([1, 7], 150)
    split = train.outlier_split(Split(bars, labels), {"strokes": 300}, seed=0)
    val = train.outlier_split(Split(bars[:60], labels[:60]), {"strokes": 60}, seed=9)
    net, history = loop.train_network(models.DigitOrNot(width=8, hidden=16, outputs=outputs), loss, split, val,
                                       epochs=3, name="smoke", lr=3e-3, batch_size=32)
    assert max(history["val_acc"]) > 90
    with torch.no_grad():
        score = net(normalize(val.images)).numpy()
    outlier = val.labels == data.UNKNOWN
    assert (score[outlier][:, None] > score[~outlier][None]).mean() > 0.95  # AUROC


@pytest.mark.thorough
def test_held_out_drawn_proxies_share_with_the_drawn_training_outliers_only_a_straight_bar():
    """By pixels, not by names: every drawn image the digit-or-not network trains or validates on (the draws of
    `train.digit_or_not_splits`) against the held-out scribbles the selection ranks on. One of the 2,000 is
    byte-identical with a training stroke: a straight bar, which both pen models draw alike once scaled into
    MNIST's 20x20 box. Any other shared image fails this test."""
    digits = _numbered_digits(20)
    trained = train.digit_or_not_splits({"train": digits, "val": digits})  # what the network trains on, drawn alike
    seen = {image.tobytes() for split in trained for image in split.images}
    blank = Split(np.zeros((detectors.PROXY_COUNT, 28, 28), np.uint8), np.arange(detectors.PROXY_COUNT) % 10)
    held_out = detectors.held_out_proxies(blank)
    drawn = np.concatenate([images for name, images in held_out.items() if "(drawn)" in name])
    shared = [image for image in drawn if image.tobytes() in seen]
    assert len(drawn) == 2000 and len(shared) == 1
    ink = np.argwhere(shared[0] > 0)
    assert np.ptp(ink[:, 1]) <= 1 and np.ptp(ink[:, 0]) >= 19  # one bar, two pixels wide, 20 tall


def test_side_chimeras_refuse_digits_too_alike_to_give_the_number_asked_for():
    ones = Split(np.zeros((50, 28, 28), np.uint8), np.ones(50, np.int64))
    with pytest.raises(ValueError, match="only 0 of 20 random pairs"):
        outliers.make("side chimeras", ones, 10)


def test_the_held_out_drawings_are_drawn_once_and_cannot_be_changed_by_a_caller():
    digits = _numbered_digits(20)
    first, again = detectors.held_out_proxies(digits, 20), detectors.held_out_proxies(digits, 20)
    drawn = [name for name in first if "(drawn)" in name]
    assert drawn and all(first[name] is again[name] for name in drawn)
    with pytest.raises(ValueError, match="read-only"):
        first[drawn[0]][0, 0, 0] = 1
