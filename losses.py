"""The training losses: each `loss_fn(net, x, y)` returns the batch's loss and the number it got right (None for
the autoencoder), as `train.train_network` expects."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from augment import half_batch_augment
from data import UNKNOWN
from models import SystemB


def k_plus_one_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The digit-or-not network's loss: cross-entropy over its eleven outputs (y: the digit, or UNKNOWN for an
    outlier), and the number of images given their class."""
    logits = net.logits(x)
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).sum()


def digit_or_not_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A binary network's loss (`leave_out.py`'s probes of the families): cross-entropy of one "not a digit" logit
    (y == UNKNOWN: an outlier), and the number of correct decisions."""
    logits, outlier = net(x), y == UNKNOWN
    return F.binary_cross_entropy_with_logits(logits, outlier.to(logits.dtype)), ((logits > 0) == outlier).sum()


def contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Seed B's loss: mean distance of same-label pairs + mean max(0, margin - distance) of different-label
    pairs, divided by the embedding size."""
    sq = (embeddings[:, None] - embeddings[None]).pow(2).sum(-1)
    dist = sq.clamp_min(1e-12).sqrt()  # the clamp keeps the gradient finite for coinciding embeddings
    same = labels[:, None] == labels[None]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    neg = ~same
    # masked means (0 where a batch has no such pair), without boolean indexing: its size depends on the data
    loss = ((dist * pos).sum() / pos.sum().clamp_min(1)
            + ((margin - dist).clamp_min(0) * neg).sum() / neg.sum().clamp_min(1))
    return loss / embeddings.shape[1]


def system_b_loss(generator: torch.Generator, weight: float = 1.0, margin: float = 1.0):
    """B's joint loss: cross-entropy on the half-augmented batch + autoencoder MSE on the clean batch
    + weight * contrastive loss on the classifier's embedding."""

    def loss_fn(net: SystemB, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
        emb = net.classifier.features(half_batch_augment(x, generator) if net.training else x)
        logits = net.classifier.head(emb)
        loss = (F.cross_entropy(logits, y) + F.mse_loss(net.autoencoder(x), x)
                + weight * contrastive_loss(emb, y, margin))
        return loss, (logits.argmax(1) == y).sum()

    return loss_fn


def classifier_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cross-entropy and the number of correct predictions."""
    logits = net(x)
    return F.cross_entropy(logits, y), (logits.argmax(1) == y).sum()


def autoencoder_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, None]:
    """Pixel MSE of the reconstruction (labels unused)."""
    return F.mse_loss(net(x), x), None
