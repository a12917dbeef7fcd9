"""Figures, each stamped with the data it came from and saved at a fixed dpi."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import config

DPI = 150
PALETTE = dict(zip(config.ACTIVITY_NAMES, sns.color_palette("colorblind", 6)))


def stamp(fig: plt.Figure, source_label: str) -> None:
    """Write the data source in the figure's bottom-right corner."""
    fig.text(0.995, 0.005, f"data: {source_label}", ha="right", va="bottom",
             fontsize=7, color="0.35")


def save_figure(fig: plt.Figure, name: str, source_label: str) -> Path:
    """Stamp ``fig`` and save it as ``figures_dir()/name.png`` (atomically, fixed dpi)."""
    from .io import atomic_write

    stamp(fig, source_label)
    path = config.figures_dir() / f"{name}.png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI, bbox_inches="tight",
                    metadata={"Software": None})  # no version string: stable bytes
    return path


def class_distribution(counts: pd.DataFrame, title: str) -> plt.Figure:
    """Bar chart of windows per activity and split (the paper's Fig. 3)."""
    per = counts.groupby(["activity", "split"], sort=False)["n_windows"].sum().reset_index()
    per["activity"] = pd.Categorical(per["activity"], config.ACTIVITY_NAMES, ordered=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.barplot(data=per.sort_values("activity"), x="activity", y="n_windows", hue="split",
                hue_order=["train", "test"], ax=ax)
    for c in ax.containers:
        ax.bar_label(c, fontsize=7)
    ax.set(xlabel="", ylabel="windows (2.56 s)", title=title)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def fidelity_heatmap(table: pd.DataFrame, title: str) -> plt.Figure:
    """Rebuilt minus official windows per subject and activity."""
    t = table.copy()
    t["activity"] = pd.Categorical(t["activity"], config.ACTIVITY_NAMES, ordered=True)
    grid = t.pivot_table(index="activity", columns="subject", values="diff", observed=False)
    fig, ax = plt.subplots(figsize=(12, 3.2))
    lim = max(1, int(np.abs(grid.to_numpy()).max()))
    sns.heatmap(grid, cmap="RdBu_r", center=0, vmin=-lim, vmax=lim, annot=True, fmt=".0f",
                annot_kws={"fontsize": 6}, cbar_kws={"label": "rebuilt - official"}, ax=ax)
    test_cols = [i for i, s in enumerate(grid.columns) if s in config.TEST_SUBJECTS]
    for i in test_cols:
        ax.get_xticklabels()[i].set_fontweight("bold")
    ax.set(xlabel="subject (bold: test)", ylabel="", title=title)
    fig.tight_layout()
    return fig


def example_windows(X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                    title: str) -> plt.Figure:
    """One random window per activity: body acceleration, gyroscope and total acceleration."""
    groups = [("body_acc", slice(0, 3), "g"), ("body_gyro", slice(3, 6), "rad/s"),
              ("total_acc", slice(6, 9), "g")]
    t = np.arange(X.shape[1]) / config.SAMPLING_RATE_HZ
    fig, axes = plt.subplots(3, 6, figsize=(15, 6), sharex=True, sharey="row")
    for j, (aid, name) in enumerate(config.ACTIVITIES.items()):
        i = rng.choice(np.flatnonzero(y == aid))
        for r, (g, sl, unit) in enumerate(groups):
            ax = axes[r, j]
            for k, axis in enumerate("xyz"):
                ax.plot(t, X[i, :, sl][:, k], lw=0.8, label=axis)
            if r == 0:
                ax.set_title(name, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{g} ({unit})")
            if r == 2:
                ax.set_xlabel("s")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
