"""Random transformations of normalised training batches: the classifiers' affine jitter, system B's half-batch
augmentation, and the digit-or-not network's random pen. Every draw comes from the CPU generator it is given,
whatever the batch's device, so that a GPU run draws what a CPU run draws."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from preprocess import MNIST_MEAN, MNIST_STD, centre_by_mass


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 10.0, translate: float = 0.08,
                  scale: tuple[float, float] = (0.9, 1.1), shear: float = 0.0) -> torch.Tensor:
    """Each image of a normalised batch rotated, sheared, scaled and shifted at random (bilinear, border fill)."""
    n = len(x)

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator)

    angle, s, sh = torch.deg2rad(uniform(-degrees, degrees)), uniform(*scale), uniform(-shear, shear)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([  # s * rotation @ shear, plus a shift (affine_grid's coordinates span 2 per side)
        torch.stack([s * cos, s * (cos * sh - sin), 2 * uniform(-translate, translate)], 1),
        torch.stack([s * sin, s * (sin * sh + cos), 2 * uniform(-translate, translate)], 1),
    ], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def half_batch_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """System B's classifier input: the first half of the batch augmented as in the seed (rotation 8 degrees,
    shear 0.3, zoom from a 92-100% crop, shift 8%), the second half clean."""
    half = len(x) // 2
    moved = random_affine(x[:half], generator, degrees=8.0, translate=0.08, scale=(0.92, 1.0), shear=0.3)
    return torch.cat([moved, x[half:]])


def style_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random pen and finish for a normalised batch, digits and outliers alike, so that the digit-or-not network
    cannot tell them apart by how they were drawn: the ink thickened (30%) or thinned (30%) by a 3x3 grey-level
    dilation or erosion, blended in at a random strength; blurred (30%); peak rescaled to white; then rotated up
    to 10 degrees, scaled 0.85-1.1, sheared up to 0.2, and moved to MNIST's centre of mass as the best system
    reads every input."""
    n = len(x)
    ink = x * MNIST_STD + MNIST_MEAN
    # drawn from the CPU generator whatever the device, so a GPU run draws what a CPU run draws
    pen = torch.rand(n, generator=generator)[:, None, None, None].to(x.device)
    strength = torch.rand(n, 1, 1, 1, generator=generator).to(x.device)
    thick, thin = F.max_pool2d(ink, 3, 1, 1), -F.max_pool2d(-ink, 3, 1, 1)
    ink = torch.where(pen < 0.3, ink + (thick - ink) * strength,
                      torch.where(pen > 0.7, ink + (thin - ink) * strength, ink))
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None] / 16).to(ink)[None, None]
    blur = torch.rand(n, generator=generator)[:, None, None, None].to(x.device) < 0.3
    ink = torch.where(blur, F.conv2d(ink, kernel, padding=1), ink)
    ink = ink / ink.amax((1, 2, 3), keepdim=True).clamp_min(1e-6)
    moved = random_affine((ink - MNIST_MEAN) / MNIST_STD, generator, degrees=10.0, translate=0.0, scale=(0.85, 1.1),
                          shear=0.2)
    return centre_by_mass(moved)


def elastic(x: torch.Tensor, generator: torch.Generator, alpha: float = 34.0, sigma: float = 4.0, share: float = 0.5
            ) -> torch.Tensor:
    """A share of a normalised batch elastically distorted (Simard et al. 2003: each pixel moved by uniform noise
    smoothed by a Gaussian of `sigma` px and scaled by `alpha`; about 1.4 px on average here), the rest unchanged;
    uncovered pixels are background. Other writers' digits differ by such warps more than by affine moves."""
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=generator) * 2 - 1
    r = int(2 * sigma)
    kernel = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(2, 1, 1, 1)  # one separable Gaussian per displacement axis
    field = F.conv2d(F.pad(field, (r, r, 0, 0), mode="reflect"), kernel.view(2, 1, 1, -1), groups=2)
    field = F.conv2d(F.pad(field, (0, 0, r, r), mode="reflect"), kernel.view(2, 1, -1, 1), groups=2)
    on = (torch.rand(n, generator=generator) < share).float()[:, None, None, None]
    field = (field * alpha * on).to(x)
    ys, xs = torch.meshgrid(torch.linspace(-1 + 1 / h, 1 - 1 / h, h), torch.linspace(-1 + 1 / w, 1 - 1 / w, w),
                            indexing="ij")
    grid = torch.stack([xs.to(x) + field[:, 0] * 2 / w, ys.to(x) + field[:, 1] * 2 / h], -1)  # 2 per side
    background = -MNIST_MEAN / MNIST_STD
    return F.grid_sample(x - background, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + background


def elastic_style(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """`elastic`, then `style_augment`: the digit-or-not network's pen with other writers' warps (a candidate,
    `leave_out.py --new-ink`)."""
    return style_augment(elastic(x, generator), generator)
