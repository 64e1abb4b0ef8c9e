"""The training loop every network shares: seeded, Adam (or another optimizer) with a learning-rate schedule, a
per-epoch history, and the best validation epoch kept; `train.py` says what is trained on what.
"""
from __future__ import annotations

import copy
import random
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from data import SEED, Split
from preprocess import normalize


def set_seed(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _epoch_sums(net, loss_fn, x, y, batch_size, optimizer=None, generator=None, augment=None, after_step=None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass over (x, y) on their device: trains (augmenting each batch) when an optimizer is given. The summed
    loss and number right stay tensors on that device (no wait for the GPU per batch)."""
    net.train(optimizer is not None)
    order = torch.randperm(len(x), generator=generator) if optimizer else torch.arange(len(x))
    exact = torch.float32 if x.device.type == "mps" else torch.float64  # as the loss's Python float sum was
    total_loss, correct = torch.zeros((), dtype=exact, device=x.device), torch.zeros((), dtype=torch.long,
                                                                                  device=x.device)
    with torch.set_grad_enabled(optimizer is not None):
        for i in range(0, len(x), batch_size):
            idx = order[i: i + batch_size].to(x.device)
            xb = augment(x[idx], generator) if optimizer and augment else x[idx]
            loss, n_correct = loss_fn(net, xb, y[idx])
            if optimizer:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if after_step:
                    after_step()
            total_loss = total_loss + loss.detach().to(exact) * len(idx)
            correct = None if n_correct is None else correct + n_correct
    return total_loss, correct


def _run_epoch(net, loss_fn, x, y, batch_size, optimizer=None, generator=None, augment=None, after_step=None
               ) -> tuple[float, float | None]:
    """`_epoch_sums` as the history keeps it: mean loss, and accuracy in % or None."""
    total_loss, correct = _epoch_sums(net, loss_fn, x, y, batch_size, optimizer, generator, augment, after_step)
    return float(total_loss) / len(x), None if correct is None else 100.0 * int(correct) / len(x)


# A schedule: (optimizer, epochs, batches per epoch) -> (scheduler, whether it steps after every batch).
def cosine(optimizer: torch.optim.Optimizer, epochs: int, batches: int):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), False


def one_cycle(optimizer: torch.optim.Optimizer, epochs: int, batches: int):
    """The learning rate rises from lr/25 to lr over the first 30% of the batches, then falls to near zero."""
    lr = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * batches), True


def train_network(net: nn.Module, loss_fn, train: Split, val: Split, epochs: int, name: str, augment=None,
                  lr: float = 1e-3, batch_size: int = 128, seed: int = SEED, schedule=cosine, device: str = "cpu",
                  optimizer=torch.optim.Adam) -> tuple[nn.Module, dict]:
    """Adam (or another optimizer class) with a learning-rate schedule (cosine decay per epoch by default) and a
    per-epoch history; keeps
    the best validation epoch (accuracy, else loss). `augment(batch, generator)` transforms training batches.
    Trains on `device` (e.g. "cuda"); the network comes back on the CPU, where everything after training runs."""
    set_seed(seed)
    net.to(device)
    xt, yt = normalize(train.images).to(device), torch.as_tensor(train.labels).to(device)
    xv, yv = normalize(val.images).to(device), torch.as_tensor(val.labels).to(device)
    optimizer = optimizer(net.parameters(), lr=lr)
    scheduler, per_batch = schedule(optimizer, epochs, -(-len(xt) // batch_size))
    generator = torch.Generator().manual_seed(seed)
    history = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    best, best_state, best_epoch = -np.inf, None, 0
    start = time.perf_counter()
    for epoch in (bar := tqdm(range(1, epochs + 1), desc=name, unit="epoch")):
        tl, ta = _run_epoch(net, loss_fn, xt, yt, batch_size, optimizer, generator, augment,
                            scheduler.step if per_batch else None)
        if not per_batch:
            scheduler.step()
        vl, va = _run_epoch(net, loss_fn, xv, yv, 4 * batch_size)
        for k, v in zip(history, (tl, vl, ta, va)):
            history[k].append(v)
        quality = va if va is not None else -vl
        if quality > best:
            best, best_state, best_epoch = quality, copy.deepcopy(net.state_dict()), epoch
        bar.set_postfix(val_loss=f"{vl:.4f}", **({"val_acc": f"{va:.2f}"} if va is not None else {}))
    net.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, epochs=epochs, seconds=time.perf_counter() - start)
    return net.cpu().eval(), history


def step_lr(optimizer: torch.optim.Optimizer, epochs: int, batches: int):
    """Seed B's StepLR (x0.4 every 25 of 300 epochs on a GPU), scaled to a short CPU run: x0.4 every third of the
    epochs (every 2 of B's 6)."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.4), False
