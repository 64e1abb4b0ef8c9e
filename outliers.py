"""Outliers made by a program, to teach a network what a non-digit looks like (`../shared/GUIDE.md`, section 3):
drawn ones, which hold no data from any image set, and near-digit ones made from MNIST's training digits.

Two drawn families train the digit-or-not network (`models.DigitOrNot`): pen strokes (1-4 cubic Bezier curves)
and smooth blobs. One is kept for selection and never trained on: pen scribbles made of circular arcs and
straight segments. A third, oscillating pen paths ("loops"), is a candidate measured by `leave_out.py --pens`.
Strokes, scribbles and loops are drawn on a 105 px canvas with Omniglot's pen width and rendered as
MNIST's digits were made (`data.mnist_format`: MNIST's pen, the ink box scaled into 20x20, centred by mass);
blobs are thresholded smooth noise with soft edges, anywhere in the frame. Two made families train it too
(`MAKERS`): side chimeras (the left and right halves of two digits of different classes) and digits turned
upside down; the selection's proxies made from digits (`data.proxy_unknowns`: top and bottom halves, mirrored and
quarter-turned digits...) stay held out; digits with a fragment of another digit (two variants), parts of
digits blown up to a digit's size and glyphs of digits' strokes (`MADE_CANDIDATES`) are candidates measured by
`leave_out.py`. Every generator is seeded: the same seed gives the same images. uint8 (N, 28, 28), white ink on
black.
"""
from __future__ import annotations

from functools import partial

import numpy as np
from PIL import Image, ImageDraw

from data import OMNIGLOT_PEN, SEED, Split, mnist_format_all
from preprocess import MNIST_CENTRE

CANVAS = 105  # px, Omniglot's drawing size: the pen and the rendering are then those of data.mnist_format
PEN = round(OMNIGLOT_PEN)
TRAINED = ("strokes", "blobs")
HELD_OUT = ("scribbles",)  # a second pen model: selection only
CANDIDATES = ("loops",)  # a third pen model, measured as a candidate only (`leave_out.py --pens`)


def _canvas(paths: list[np.ndarray]) -> np.ndarray:
    """Polylines (points in canvas pixels) drawn with the pen: bool (CANVAS, CANVAS), True = ink."""
    canvas = Image.new("1", (CANVAS, CANVAS))
    draw = ImageDraw.Draw(canvas)
    for path in paths:
        draw.line([tuple(p) for p in path], fill=1, width=PEN, joint="curve")
        for end in (path[0], path[-1]):  # round pen ends, as a pen lifted from paper leaves them
            draw.ellipse([*(end - PEN / 2), *(end + PEN / 2)], fill=1)
    return np.asarray(canvas, bool)


def _render(characters: list[list[np.ndarray]]) -> np.ndarray:
    """Pen paths drawn (`_canvas`), every other character in MNIST's format (`data.mnist_format_all`), the ones
    between as drawn: the canvas shrunk to 28x28 as it is (data.omniglot's "raw" rendering: a thin pen, the
    character where it was drawn)."""
    out = np.empty((len(characters), 28, 28), np.uint8)
    out[0::2] = mnist_format_all(_canvas(paths) for paths in characters[0::2])
    for i in range(1, len(characters), 2):
        shrunk = Image.fromarray(_canvas(characters[i]).astype(np.uint8) * 255).resize((28, 28), Image.BOX)
        out[i] = np.asarray(shrunk)
    return out


def _bezier(rng: np.random.Generator, points: int = 40) -> np.ndarray:
    """One cubic Bezier curve with control points anywhere in the canvas' inner 80%."""
    control = rng.uniform(0.1 * CANVAS, 0.9 * CANVAS, (4, 2))
    t = np.linspace(0, 1, points)[:, None]
    return ((1 - t) ** 3 * control[0] + 3 * (1 - t) ** 2 * t * control[1] + 3 * (1 - t) * t**2 * control[2]
            + t**3 * control[3])


def strokes(n: int, seed: int = SEED) -> np.ndarray:
    """Pseudo-characters of 1-4 cubic Bezier strokes (training family)."""
    rng = np.random.default_rng(seed)
    return _render([[_bezier(rng) for _ in range(rng.integers(1, 5))] for _ in range(n)])


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """One pen path of 2-5 pieces, each a circular arc (20-300 degrees) or a straight segment, joined end to end
    with the heading carried over, so the path turns and loops as handwriting does."""
    position = rng.uniform(0.3 * CANVAS, 0.7 * CANVAS, 2)
    heading = rng.uniform(0, 2 * np.pi)
    path = [position]
    for _ in range(rng.integers(2, 6)):
        length = rng.uniform(0.15, 0.5) * CANVAS
        turn = 0.0 if rng.random() < 0.4 else rng.choice([-1, 1]) * np.deg2rad(rng.uniform(20, 300))
        for step in range(1, 21):
            angle = heading + turn * step / 20
            position = position + length / 20 * np.array([np.cos(angle), np.sin(angle)])
            path.append(position)
        heading += turn + (rng.uniform(-np.pi, np.pi) if rng.random() < 0.3 else 0.0)  # sometimes a corner
    return np.clip(np.array(path), 0, CANVAS - 1)


def scribbles(n: int, seed: int = SEED) -> np.ndarray:
    """Pseudo-characters of 1-2 arc-and-segment pen paths (held-out family)."""
    rng = np.random.default_rng(seed)
    return _render([[_scribble(rng) for _ in range(rng.integers(1, 3))] for _ in range(n)])


def _oscillation(rng: np.random.Generator, points: int = 120) -> np.ndarray:
    """One pen path after Hollerbach's oscillation model of handwriting (Biological Cybernetics, 1981): the pen
    swings up and down and left and right at one frequency while drifting sideways, for 0.6-2.5 cycles; the
    amplitudes and the phase between the two swings change from one half-cycle to the next (what makes an e, an l
    or a u of the same motion), then a slant, sometimes a turn, a size of 40-80% of the canvas."""
    cycles = rng.uniform(0.6, 2.5)
    t = np.linspace(0, 2 * np.pi * cycles, points)
    knots = np.linspace(0, t[-1], int(np.ceil(2 * cycles)) + 2)
    wide, tall = (np.interp(t, knots, rng.uniform(low, 1.0, len(knots))) for low in (0.2, 0.4))
    phase = np.interp(t, knots, rng.normal(np.pi / 2, 0.6, len(knots)))
    x = wide * np.sin(t + phase) + rng.uniform(0.0, 1.0) * t / (2 * np.pi)
    y = tall * np.sin(t)
    x = x + rng.uniform(-0.5, 0.5) * y  # slant
    turn = rng.uniform(0, 2 * np.pi) if rng.random() < 0.3 else 0.0
    path = np.stack([np.cos(turn) * x - np.sin(turn) * y, np.sin(turn) * x + np.cos(turn) * y], 1)
    path = path - path.min(0)
    path = path / max(path.max(), 1e-9) * rng.uniform(0.4, 0.8) * CANVAS
    return path + rng.uniform(0.1 * CANVAS, 0.9 * CANVAS - path.max(0))


def loops(n: int, seed: int = SEED) -> np.ndarray:
    """Pseudo-characters of 1-2 oscillating pen paths (`_oscillation`; candidate family)."""
    rng = np.random.default_rng(seed)
    return _render([[_oscillation(rng) for _ in range(1 if rng.random() < 0.7 else 2)] for _ in range(n)])


_WINDOW = np.exp(-((np.arange(28) - 13.5) ** 2)[:, None] / 128 - ((np.arange(28) - 13.5) ** 2)[None] / 128)


def blobs(n: int, seed: int = SEED) -> np.ndarray:
    """Smooth random shapes: Gaussian noise smoothed at 1.5-4 px and faded towards the border (a Gaussian
    window of 8 px), its top 8-30% kept with soft edges (training family)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    out = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        field = gaussian_filter(rng.normal(size=(28, 28)), rng.uniform(1.5, 4.0)) * _WINDOW
        level = np.quantile(field, 1 - rng.uniform(0.08, 0.30))
        soft = np.clip((field - level) / (rng.uniform(0.05, 0.5) * field.std() + 1e-12), 0, 1)
        out[i] = np.round(255 * soft / max(soft.max(), 1e-12))
    return out


GENERATORS = {"strokes": strokes, "blobs": blobs, "scribbles": scribbles, "loops": loops}


def draw(family: str, n: int, seed: int = SEED) -> np.ndarray:
    """n images of one family (`GENERATORS`)."""
    if family not in GENERATORS:
        raise ValueError(f"unknown outlier family {family!r}; choose one of {tuple(GENERATORS)}")
    return GENERATORS[family](n, seed)


UPSIDE_DOWN = (3, 4, 5, 7)  # digits that a half turn makes into no digit (6 and 9 swap; 0, 1, 8 stay; a 2 turns
# into a Z, which many write as their 2)


def side_chimeras(digits: Split, n: int, rng: np.random.Generator) -> np.ndarray:
    """The left half of one digit beside the right half of a digit of another class."""
    left, right = rng.choice(len(digits), (2, 2 * n))
    keep = np.flatnonzero(digits.labels[left] != digits.labels[right])[:n]
    if len(keep) < n:
        raise ValueError(f"side chimeras: only {len(keep)} of {2 * n} random pairs of the digits given differ in "
                         f"class, {n} asked for")
    return np.concatenate([digits.images[left[keep], :, :14], digits.images[right[keep], :, 14:]], axis=2)


def upside_down(digits: Split, n: int, rng: np.random.Generator) -> np.ndarray:
    """Digits of UPSIDE_DOWN turned by half a turn."""
    pool = np.flatnonzero(np.isin(digits.labels, UPSIDE_DOWN))
    return digits.images[rng.choice(pool, n)][:, ::-1, ::-1].copy()


def digit_and_fragment(digits: Split, n: int, rng: np.random.Generator, ink: int = 20, new: bool = False
                       ) -> np.ndarray:
    """A digit with a piece of another digit added where it lands: a square of 8-14 px cut from anywhere in the
    other digit's frame (at least `ink` pixels of ink in it; with `new`, at least `ink` pixels of ink where the
    first digit has none, so that no piece hides in the digit's own strokes) and laid over a random place of the
    first (the brighter pixel kept): a digit with a stroke too many, in MNIST's own pen."""
    out = digits.images[rng.choice(len(digits), n)].copy()
    for image in out:
        while True:
            size = int(rng.integers(8, 15))
            (y, x), (top, left) = rng.integers(0, 29 - size, (2, 2))
            piece = digits.images[rng.integers(len(digits)), y: y + size, x: x + size]
            here = image[top: top + size, left: left + size]
            if np.count_nonzero((piece > 127) & ((here <= 127) if new else True)) >= ink:
                break
        np.maximum(here, piece, out=here)
    return out


def zoomed_parts(digits: Split, n: int, rng: np.random.Generator, ink: int = 20, share: float = 0.6
                 ) -> np.ndarray:
    """A part of a digit blown up to a digit's size: a square of 10-15 px cut from a digit's frame, scaled to 20x20
    and laid in the middle of the 28x28 frame, as MNIST lays its digits: an arc, a corner or a crossing of a
    digit's strokes written as large as a character (the pen thicker by the same factor, which the training pen's
    own changes of thickness blur). The square holds at least `ink` pixels of ink and at most `share` of the
    digit's, so that it is a part, not the whole; parts that would read as a digit are drawn again: a straight
    stroke (a 1) and a closed loop (a 0)."""
    from scipy.ndimage import binary_fill_holes

    out = np.zeros((n, 28, 28), np.uint8)
    for image in out:
        while True:
            digit = digits.images[rng.integers(len(digits))]
            size = int(rng.integers(10, 16))
            y, x = rng.integers(0, 29 - size, 2)
            piece = digit[y: y + size, x: x + size]
            inked = piece > 127
            if not ink <= np.count_nonzero(inked) <= share * np.count_nonzero(digit > 127):
                continue
            spread = np.linalg.eigvalsh(np.cov(np.argwhere(inked).T))  # ascending: across, along the ink
            if spread[0] > 0.2 * spread[1] and binary_fill_holes(inked).sum() == inked.sum():
                break
        image[4:24, 4:24] = np.asarray(Image.fromarray(piece).resize((20, 20), Image.BILINEAR))
    return out


EIGHT = np.ones((3, 3), np.uint8)  # a pixel and the 8 around it: 8-connectivity


def skeleton_neighbours(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mask's skeleton (`skimage`'s thinning) and, at each pixel, how many of the 8 around it are on the skeleton
    (a skeleton pixel with one is an end point, with three or more a junction)."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    skeleton = skeletonize(mask)
    return skeleton, ndimage.convolve(skeleton.astype(np.uint8), EIGHT, mode="constant") - skeleton


def _stroke_pieces(digit: np.ndarray, rng: np.random.Generator, length: int) -> np.ndarray | None:
    """One stroke of a digit, in its own pen: a piece of its skeleton between end points and junctions (at least
    `length` px long) chosen at random, and the digit's ink within 2 px of it; None where the digit has no such
    piece."""
    from scipy import ndimage

    skeleton, neighbours = skeleton_neighbours(digit > 127)
    junctions = skeleton & (neighbours >= 3)
    labels, count = ndimage.label(skeleton & ~ndimage.binary_dilation(junctions, EIGHT), EIGHT)
    long = [i for i in range(1, count + 1) if np.count_nonzero(labels == i) >= length]
    if not long:
        return None
    near = ndimage.binary_dilation(labels == long[rng.integers(len(long))], EIGHT, iterations=2)
    return np.where(near, digit, 0).astype(np.uint8)


def digit_strokes(digits: Split, n: int, rng: np.random.Generator, length: int = 6) -> np.ndarray:
    """Glyphs written with digits' own strokes: 2-3 strokes (`_stroke_pieces`), each of a digit drawn at random,
    mirrored or not and turned by a random number of quarter turns, laid with its centre of mass at a random point
    of the frame's middle (the brighter pixel kept), then centred by mass as MNIST centres its digits: new
    characters in the digits' own pen and hand, unlike any one digit."""
    from scipy import ndimage

    out = np.zeros((n, 28, 28), np.uint8)
    for image in out:
        for _ in range(rng.integers(2, 4)):
            piece, tries = None, 0
            while piece is None:
                if tries == 1000:  # digits without a stroke that long would draw again for ever
                    raise ValueError(f"digits' strokes: none of 1,000 random digits has a stroke of {length} px")
                piece, tries = _stroke_pieces(digits.images[rng.integers(len(digits))], rng, length), tries + 1
            piece = np.rot90(piece[:, ::-1] if rng.random() < 0.5 else piece, rng.integers(4))
            shift = rng.uniform(9, 19, 2) - ndimage.center_of_mass(piece)
            np.maximum(image, ndimage.shift(piece, shift, order=0), out=image)
        shift = MNIST_CENTRE - np.array(ndimage.center_of_mass(image))
        image[:] = ndimage.shift(image, np.round(shift), order=0)
    return out


MAKERS = {"side chimeras": side_chimeras, "upside down": upside_down}
FRAGMENT, NEW_INK_FRAGMENT, ZOOMED, STROKES = ("digit + fragment", "digit + fragment adding ink", "zoomed part",
                                             "digits' strokes")
MADE_CANDIDATES = {FRAGMENT: digit_and_fragment,  # measured by `leave_out.py --fragments` and `--full-network`
                   NEW_INK_FRAGMENT: partial(digit_and_fragment, new=True),  # by `leave_out.py --new-ink`
                   ZOOMED: zoomed_parts,  # by `leave_out.py --zoom`
                   STROKES: digit_strokes}  # by `leave_out.py --digit-strokes`


def make(family: str, digits: Split, n: int, seed: int = SEED) -> np.ndarray:
    """n non-digits of one family made from the given digits (`MAKERS`, or a candidate of `MADE_CANDIDATES`; to
    train on, from MNIST train only)."""
    makers = MAKERS | MADE_CANDIDATES
    if family not in makers:
        raise ValueError(f"unknown made family {family!r}; choose one of {tuple(makers)}")
    return makers[family](digits, n, np.random.default_rng(seed))
