"""Figures for the notebook and the report: each function returns a matplotlib figure; `save` writes it as PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

FIGURES = Path(__file__).resolve().parent / "report" / "figures"
CLASS_NAMES = [str(d) for d in range(10)] + ["unk"]


def save(fig: plt.Figure, name: str, folder: Path | None = FIGURES) -> plt.Figure:
    """Write fig to <folder>/<name>.png (the report's figures come only from here) and return it; with folder
    None, only return it (PNG bytes vary across machines and library versions, so writing is opt-in)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        fig.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
    return fig


def sample_grid(sets: dict[str, np.ndarray], n: int = 10, title: str = "") -> plt.Figure:
    """n evenly spaced images of each set (so class-sorted sets show every class), one row per set."""
    fig, axes = plt.subplots(len(sets), n, figsize=(n * 0.9, len(sets) * 1.0))
    for row, (name, images) in zip(np.atleast_2d(axes), sets.items()):
        for ax, img in zip(row, images[np.linspace(0, len(images) - 1, n).astype(int)]):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    return fig


def training_curves(histories: dict[str, dict]) -> plt.Figure:
    """Loss (and accuracy where there is one) per epoch, train vs validation, one column per network."""
    fig, axes = plt.subplots(2, len(histories), figsize=(4.5 * len(histories), 6), squeeze=False)
    for col, (name, h) in enumerate(histories.items()):
        epochs = np.arange(1, len(h["train_loss"]) + 1)
        for row, key in enumerate(("loss", "acc")):
            ax = axes[row, col]
            if h[f"train_{key}"][0] is None:
                ax.axis("off")
                continue
            ax.plot(epochs, h[f"train_{key}"], "o-", label="train")
            ax.plot(epochs, h[f"val_{key}"], "o-", label="validation")
            ax.axvline(h["best_epoch"], ls=":", c="grey", label="kept (best validation)")
            ax.set(title=f"{name}: {key}", xlabel="epoch", ylabel="accuracy %" if key == "acc" else "loss")
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _confusion_axes(ax: plt.Axes, cm: np.ndarray, title: str, names: list[str]) -> None:
    """A row-normalised confusion matrix on ax: the share of each true class in each cell, annotated."""
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    sns.heatmap(share, ax=ax, vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2f", square=True, cbar=False,
                annot_kws={"fontsize": 7 if len(cm) > 3 else 11}, xticklabels=names, yticklabels=names)
    ax.set(xlabel="predicted", ylabel="true", title=title)


def confusion_heatmap(cm: np.ndarray, title: str, names: list[str] | None = None) -> plt.Figure:
    """Row-normalised confusion matrix with the share in each cell."""
    size = 1.2 + 0.55 * len(cm)
    fig, ax = plt.subplots(figsize=(size, size))
    _confusion_axes(ax, cm, title, names or CLASS_NAMES[: len(cm)])
    fig.tight_layout()
    return fig


def confusion_pair(cm: np.ndarray, binary: np.ndarray, title: str) -> plt.Figure:
    """The 11-class confusion matrix beside the known/unknown one, both row-normalised."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [11, 4]})
    _confusion_axes(axes[0], cm, f"{title}: 11 classes", CLASS_NAMES)
    _confusion_axes(axes[1], binary, "known vs unknown", ["known", "unknown"])
    fig.tight_layout()
    return fig


def score_distributions(scores: dict[str, dict[str, np.ndarray]], thresholds: dict[str, float],
                        titles: dict[str, str]) -> plt.Figure:
    """Density of each raw score per set (first set: MNIST validation) with the fitted threshold line."""
    keys = list(thresholds)
    fig, axes = plt.subplots(1, len(keys), figsize=(6.5 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        top = np.percentile(np.concatenate([s[key] for s in scores.values()]), 99.5)
        frame = pd.DataFrame([(name, v) for name, s in scores.items() for v in np.clip(s[key], 0, top)],
                             columns=["set", "score"])
        sns.histplot(frame, x="score", hue="set", bins=np.linspace(0, top, 80), element="step", fill=False,
                     stat="density", common_norm=False, ax=ax)
        ax.axvline(thresholds[key], c="red", ls="--")
        ax.text(thresholds[key], ax.get_ylim()[1] * 0.95, f" threshold {thresholds[key]:.1f}", color="red",
                fontsize=8, va="top")
        ax.set(title=titles[key], xlabel="score (clipped at the 99.5th percentile)")
    fig.tight_layout()
    return fig


def reconstruction_grid(images: np.ndarray, recons: np.ndarray, preds: np.ndarray, labels: np.ndarray) -> plt.Figure:
    """Originals (top) over reconstructions (bottom), titled with true and predicted label."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.0, 2.6))
    for i in range(n):
        ok = preds[i] == labels[i]
        axes[0, i].imshow(images[i], cmap="gray")
        axes[0, i].set_title(f"true {CLASS_NAMES[labels[i]]}", fontsize=8)
        axes[1, i].imshow(recons[i], cmap="gray")
        axes[1, i].set_title(f"pred {CLASS_NAMES[preds[i]]}", fontsize=8, color="green" if ok else "red")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("input"), axes[1, 0].set_ylabel("recon.")
    fig.tight_layout()
    return fig


def tsne_scatter(points: np.ndarray, preds: np.ndarray, sources: np.ndarray) -> plt.Figure:
    """2-D t-SNE points coloured by predicted class; OOD-sourced images drawn as crosses."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    cmap = plt.get_cmap("tab10")
    for c in range(11):
        label = f"pred {CLASS_NAMES[c]}"  # once per class
        for is_ood, marker in ((False, "o"), (True, "x")):
            m = (preds == c) & (sources == is_ood)
            if m.any():
                ax.scatter(*points[m].T, s=6, marker=marker, color="black" if c == 10 else cmap(c), alpha=0.6,
                           label=label)
                label = None
    ax.legend(markerscale=2.5, fontsize=7, ncol=2, title="o: MNIST, x: OOD image")
    ax.set(title="t-SNE of the autoencoder codes, coloured by prediction", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def roc_curves(known: dict[str, np.ndarray], unknown: dict[str, dict[str, np.ndarray]],
               detectors: list[str]) -> plt.Figure:
    """ROC curve of each detector per OOD set (log false-positive axis, top of the TPR axis); unknown = positive."""
    from sklearn.metrics import roc_curve

    cols = 3
    rows = -(-len(unknown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), sharey=True, squeeze=False)
    for ax, (name, scores) in zip(axes.ravel(), unknown.items()):
        for det in detectors:
            y = np.r_[np.zeros(len(known[det])), np.ones(len(scores[det]))]
            fpr, tpr, _ = roc_curve(y, np.r_[known[det], scores[det]])
            ax.plot(np.maximum(fpr, 1e-4), tpr, label=det)
        ax.set(xscale="log", xlim=(1e-4, 1), ylim=(0.9, 1.002), title=name, xlabel="MNIST test rejected (FPR)")
    for ax in axes[:, 0]:
        ax.set_ylabel("unknowns rejected (TPR)")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def score_histogram(scores: dict[str, np.ndarray], threshold: float, title: str) -> plt.Figure:
    """Density of one score per set, with the threshold line (scores of any sign, clipped to the range from the
    lowest set's 0.5th to the highest set's 99.5th percentile, so no set piles up at an edge)."""
    lo = min(np.percentile(s, 0.5) for s in scores.values())
    hi = max(np.percentile(s, 99.5) for s in scores.values())
    frame = pd.DataFrame([(name, v) for name, s in scores.items() for v in np.clip(s, lo, hi)], columns=["set", "score"])
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.histplot(frame, x="score", hue="set", bins=np.linspace(lo, hi, 90), element="step", fill=False,
                 stat="density", common_norm=False, ax=ax)
    ax.axvline(threshold, c="red", ls="--")
    ax.text(threshold, ax.get_ylim()[1] * 0.5, f" threshold {threshold:.2f}", color="red", fontsize=8, va="top")
    ax.set(title=title, xlabel="score (higher = more unknown)")
    fig.tight_layout()
    return fig


def labelled_grid(images: np.ndarray, titles: list[str], title: str, cols: int = 12) -> plt.Figure:
    """Images in rows of `cols`, each with a short title."""
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.3 + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, text in zip(axes.ravel(), images, titles):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(text, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def nearest_pairs(rows: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> plt.Figure:
    """One row per set: its images (blue frame), each beside the training digit nearest it."""
    n = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), 2 * n, figsize=(2 * n * 0.7, len(rows) * 0.95 + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
        ax.spines[:].set_visible(False)
    for row, (name, (images, digits)) in zip(axes, rows.items()):
        row[0].set_ylabel(name.replace(" (", "\n("), fontsize=7, rotation=0, ha="right", va="center")
        for i, (image, digit) in enumerate(zip(images, digits)):
            row[2 * i].imshow(image, cmap="gray", vmin=0, vmax=255)
            row[2 * i].spines[:].set(visible=True, color="tab:blue", linewidth=2)
            row[2 * i + 1].imshow(digit, cmap="gray", vmin=0, vmax=255)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def operating_curve(known: np.ndarray, unknown: dict[str, np.ndarray], threshold: float) -> plt.Figure:
    """Unknowns rejected vs digits falsely rejected as the threshold moves, with the fitted threshold marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    cuts = np.quantile(known, np.linspace(0.5, 1.0, 400))
    for name, scores in unknown.items():
        ax.plot(100 * np.mean(known[:, None] > cuts, 0), 100 * np.mean(scores[:, None] > cuts, 0), label=name)
        ax.plot(100 * np.mean(known > threshold), 100 * np.mean(scores > threshold), "o", c="red")
    ax.plot([], [], "o", c="red", label=f"fitted threshold {threshold:.2f}")
    ax.set(xscale="symlog", xlim=(0, 50), xlabel="MNIST test digits rejected % (false alarms)",
           ylabel="unknowns rejected %", title="Operating points of the best model")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def literature_bars(table: pd.DataFrame) -> plt.Figure:
    """Mean AUROC of each method (`protocols.against_published`), with its std where known: published rows grey,
    this project's coloured; hatched by what a row trained with besides the known digits."""
    table = table.iloc[::-1]  # highest at the top
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(table) + 1.4))
    ours = table["from"] == "measured here"
    std = pd.to_numeric(table["std"], errors="coerce").fillna(0.0).to_numpy(float)
    bars = ax.barh(table.index, table["AUROC"].astype(float), xerr=std, color=np.where(ours, "tab:blue", "0.75"),
                   error_kw={"lw": 1})
    hatches = {"none": "", "generated": "..", "made from the known images": "\\\\",
               "drawn, or made from the known images": "++", "real outlier images": "//", "not stated": "xx"}
    for bar, trained in zip(bars, table["trained with"]):
        bar.set_hatch(hatches[trained])
    ax.legend(handles=[mpatches.Patch(facecolor="white", edgecolor="0.3", hatch=h, label=name or "none")
                       for name, h in hatches.items()], title="trained with", fontsize=7, title_fontsize=7,
              loc="upper center", bbox_to_anchor=(0.5, -0.6 / fig.get_figheight()), ncol=2)
    low = float(table["AUROC"].astype(float).min())
    ax.set_xlim(np.floor(low) - 0.5, 100)
    ax.set_xlabel("AUROC %, known vs unknown digits (this project: mean over splits 2-5)")
    ax.set_title("MNIST 6/4 open-set splits: published rows (grey) and this project (blue)", fontsize=9)
    fig.tight_layout()
    return fig


def letter_bars(table: pd.DataFrame) -> plt.Figure:
    """The share of each EMNIST letter rejected, one bar per system (`evaluate.letter_table`)."""
    systems = [s for s in table.columns.get_level_values(0).unique() if s]
    fig, ax = plt.subplots(figsize=(10, 3.2))
    width = 0.8 / len(systems)
    x = np.arange(len(table))
    for i, system in enumerate(systems):
        ax.bar(x + (i - (len(systems) - 1) / 2) * width, table[(system, "rejected %")].astype(float), width,
               label=system)
    ax.set_xticks(x, table.index)
    ax.set_ylim(0, 100)
    ax.set_ylabel("rejected as unknown %")
    ax.set_title("EMNIST letters (test set): share of each letter rejected")
    ax.legend(ncol=len(systems), fontsize=8)
    fig.tight_layout()
    return fig
