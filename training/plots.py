"""PNG plots of a training run: loss curves and median EMD vs occupancy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asicgen.core.atomic import atomic_path  # noqa: E402
from training.metrics import OCCUPANCY_BINS, bin_label  # noqa: E402

_STYLES = {
    "autoencoder": dict(color="black", marker="o", lw=2.0),
    "threshold": dict(color="tab:blue", marker="s"),
    "best_choice": dict(color="tab:orange", marker="^"),
    "stc4": dict(color="tab:green", marker="v"),
    "stc16": dict(color="tab:red", marker="D"),
}


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_loss(history: dict[str, list[float]], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="training")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(f"loss: {title}")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def plot_emd_vs_occupancy(emd: dict[str, Any], path: Path, title: str) -> None:
    """Median EMD (with 68% interval bars) per occupancy bin, one line per algorithm."""
    labels = [bin_label(lo, hi) for lo, hi in OCCUPANCY_BINS]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, (name, summaries) in enumerate(emd.items()):
        xs, med, lo, hi = [], [], [], []
        for i, label in enumerate(labels):
            s = summaries[label]
            if s["count"]:
                xs.append(i + 0.06 * (k - len(emd) / 2))
                med.append(s["median"])
                lo.append(s["median"] - s["low68"])
                hi.append(s["high68"] - s["median"])
        ax.errorbar(xs, med, yerr=[lo, hi], label=name, capsize=2, **_STYLES.get(name, {}))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("occupancy (TCs above 1 MIP$_T$)")
    ax.set_ylabel("EMD [sensor-cell pitch]")
    ax.set_title(f"median EMD vs occupancy: {title}")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
