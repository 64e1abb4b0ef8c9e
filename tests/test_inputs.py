"""predict accepts what a grader plausibly passes, and rejects the rest with a clear ValueError."""
import numpy as np
import pytest
import torch
from PIL import Image

import data
import preprocess


@pytest.fixture(scope="module")
def digits():
    return np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference(digits):
    return preprocess.normalize(digits)


@pytest.mark.parametrize("form", ["chan_first", "chan_last", "float_0_1", "float_0_255", "normalised", "tensor",
                                  "pil_list", "rgb_last", "rgb_first", "int64"])
def test_every_batch_form_gives_the_same_network_input(digits, reference, form):
    x = {
        "chan_first": digits[:, None], "chan_last": digits[..., None], "float_0_1": digits / 255.0,
        "float_0_255": digits.astype(np.float32), "normalised": reference[:, 0].numpy(),
        "tensor": torch.tensor(digits), "pil_list": [Image.fromarray(d) for d in digits],
        "rgb_last": np.repeat(digits[..., None], 3, -1), "rgb_first": np.repeat(digits[:, None], 3, 1),
        "int64": digits.astype(np.int64),
    }[form]
    torch.testing.assert_close(preprocess.normalize(x), reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize("single", ["array", "pil", "rgb_pil", "chan_last_1", "chan_first_1", "rgb_last"])
def test_a_single_image_is_a_batch_of_one(digits, reference, single):
    x = {"array": digits[0], "pil": Image.fromarray(digits[0]),
         "rgb_pil": Image.fromarray(np.repeat(digits[0][..., None], 3, -1)),
         "chan_last_1": digits[0][..., None], "chan_first_1": digits[0][None],
         "rgb_last": np.repeat(digits[0][..., None], 3, -1)}[single]
    torch.testing.assert_close(preprocess.normalize(x), reference[:1], atol=1e-5, rtol=0)


def test_other_sizes_are_resized_to_28px(digits, reference):
    big = np.kron(digits, np.ones((2, 2), dtype=np.uint8))  # 56x56, each pixel doubled
    out = preprocess.normalize(big)
    assert out.shape == (5, 1, 28, 28)
    assert (out - reference).abs().mean() < 0.5  # an antialiased resize of a 2x upsampling is close, not exact


def test_a_single_palette_pil_image_is_read_by_its_colours_not_its_palette_indices(digits, reference):
    grey = Image.fromarray(digits[0])
    palette = grey.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    assert not np.array_equal(np.asarray(palette), digits[0])  # the indices are not the grey levels
    torch.testing.assert_close(preprocess.normalize(palette), preprocess.normalize([palette]))
    assert (preprocess.normalize(palette) - reference[:1]).abs().max() < 0.1  # an adaptive palette rounds a little


@pytest.mark.parametrize("n", [3, 4])
def test_a_3d_tensor_that_could_be_one_colour_image_or_several_grey_ones_is_refused(n):
    with pytest.raises(ValueError, match=rf"ambiguous.*\(1, {n}, H, W\).*\({n}, 1, H, W\)"):
        preprocess.prepare(torch.rand(n, 28, 28))
    assert len(preprocess.prepare(torch.rand(1, n, 28, 28))) == 1  # what torchvision's ToTensor gives, batched
    assert len(preprocess.prepare(torch.rand(n, 1, 28, 28))) == n
    assert len(preprocess.prepare(np.zeros((n, 28, 28)))) == n  # arrays are (N, H, W), as README says


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 28, 28), np.uint8), "empty"),
    (np.full((28, 28), np.nan), "NaN or infinite"),
    (np.full((28, 28), np.inf), "NaN or infinite"),
    (np.zeros((1, 1, 1, 28, 28)), "2 to 4 dimensions"),
    (np.zeros(28), "2 to 4 dimensions"),
    (np.array([["a"] * 28] * 28), "numeric"),
    (np.zeros((28, 28), bool), "numeric"),
    (np.full((28, 28), 300), "0-255"),
    (np.full((28, 28), 300.0), "0-1, 0-255, or MNIST-normalised"),
    (np.zeros((2, 28, 28, 2)), "1, 3 or 4 channels"),
])
def test_bad_input_is_refused_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        preprocess.normalize(bad)


def test_corruptions_keep_the_raw_mnist_form_and_change_the_image(digits):
    for kind in (k for k in data.CORRUPTIONS if k != "box-centred"):  # random pixels fill the box already
        out = data.corrupt(digits, kind)
        assert out.shape == digits.shape and out.dtype == np.uint8, kind
        assert not np.array_equal(out, digits), kind
    for unknown in ("inverted", "melted"):  # inverted digits are a proxy unknown, not a corruption of a known
        with pytest.raises(ValueError):
            data.corrupt(digits, unknown)


def test_shift_moves_each_image_by_its_own_whole_pixels_and_fills_the_border():
    x = torch.arange(2 * 4 * 4, dtype=torch.float64).reshape(2, 4, 4)
    out = preprocess.shift(x, torch.tensor([1, -2]), torch.tensor([0, 1]), fill=-1.0)
    assert torch.equal(out[0, 1:], x[0, :3]) and torch.equal(out[0, 0], torch.full((4,), -1.0))
    assert torch.equal(out[1, :2, 1:], x[1, 2:, :3]) and (out[1, 2:] == -1).all() and (out[1, :, 0] == -1).all()
    assert (preprocess.shift(x, torch.tensor([9, 0]), torch.tensor([0, -9]), fill=0.0) == 0).all()


def test_offsets_bring_the_centre_of_mass_or_the_ink_box_to_the_centre():
    ink = torch.zeros(2, 28, 28)
    ink[0, 2:5, 3:6] = 1.0  # mass centre (3, 4): 11 down, 10 right
    assert [int(o[0]) for o in preprocess.mass_offsets(ink)] == [11, 10]
    assert [int(o[1]) for o in preprocess.mass_offsets(ink)] == [0, 0]  # blank: stays
    assert [int(o[0]) for o in preprocess.box_offsets(ink > 0)] == [10, 10]  # (27 - 2 - 4) / 2, (27 - 3 - 5) / 2: to even


def test_centre_by_box_centres_the_ink_box_by_whole_pixels():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 2:10, 3:7] = 200  # rows 2-9, columns 3-6: box centre (5.5, 4.5)
    out = data.centre_by_box(img)[0]
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert (rows[0] + rows[-1]) / 2 == 13.5 and abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5
    assert out.sum() == img.sum()


def test_centre_by_mass_moves_ink_by_whole_pixels_to_mnists_centre_of_mass():
    img = np.zeros((3, 28, 28), np.uint8)
    img[0, 2:9, 3:6] = 200  # off centre (mass at row 5, column 4): moved, every value kept
    img[1] = data.corrupt(img[:1], "shift 2 px")[0]  # the same ink elsewhere lands on the same place
    out = preprocess.centre_by_mass(preprocess.normalize(img, torch.float64))  # img[2] is blank: it stays
    assert torch.equal(out[0], out[1])
    unit = out[0, 0] * preprocess.MNIST_STD + preprocess.MNIST_MEAN
    ys, xs = torch.meshgrid(torch.arange(28.0, dtype=torch.float64), torch.arange(28.0, dtype=torch.float64),
                            indexing="ij")
    assert abs(float((unit * ys).sum() / unit.sum()) - preprocess.MNIST_CENTRE) <= 0.5
    assert abs(float((unit * xs).sum() / unit.sum()) - preprocess.MNIST_CENTRE) <= 0.5
    assert torch.equal(torch.sort(out[0].flatten()).values, torch.sort(preprocess.normalize(img[:1],
                                                                      torch.float64).flatten()).values)
    assert torch.equal(out[2], preprocess.normalize(img[2:], torch.float64)[0])


def test_a_centre_on_a_half_pixel_moves_the_same_way_whatever_the_last_bits_of_the_sums():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 10:16, 10:14] = 255  # centre of mass at (12.5, 11.5): exactly on half pixels
    x = preprocess.normalize(img, torch.float64)
    nudged = torch.stack([x, x + 1e-12 * torch.rand(x.shape, generator=torch.Generator().manual_seed(0)),
                          x - 1e-12 * torch.rand(x.shape, generator=torch.Generator().manual_seed(1))])[:, 0]
    moved = preprocess.centre_by_mass(nudged)
    assert torch.equal((moved[0] > 0).nonzero(), (moved[1] > 0).nonzero())
    assert torch.equal((moved[0] > 0).nonzero(), (moved[2] > 0).nonzero())
    assert preprocess.whole_pixels(np.array([1.5, 1.5 + 1e-9, 1.5 - 1e-9, -0.5, 1.6])).tolist() == [1, 1, 1, -1, 2]


def test_centre_by_mass_leaves_mnist_test_digits_where_they_are(mnist_test):
    x = preprocess.normalize(mnist_test.images, torch.float64)
    assert torch.equal(preprocess.centre_by_mass(x), x)
