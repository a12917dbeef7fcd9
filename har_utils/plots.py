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


def tsne_scatter(Z: np.ndarray, y: np.ndarray, title: str) -> plt.Figure:
    """2-D embedding coloured by activity, legend with names (the paper's Fig. 4)."""
    Z, y = np.asarray(Z), np.asarray(y).ravel()
    fig, ax = plt.subplots(figsize=(7, 6))
    size = 4 if len(y) > 2000 else 8
    for aid, name in config.ACTIVITIES.items():
        m = y == aid
        if m.any():
            ax.scatter(Z[m, 0], Z[m, 1], s=size, alpha=0.7, color=PALETTE[name],
                       label=f"{name} ({int(m.sum())})", linewidths=0, rasterized=True)
    ax.legend(fontsize=8, markerscale=3, loc="best", frameon=True)
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2", title=title, xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def confusion_matrices(confusion: list[list[int]], title: str) -> plt.Figure:
    """Counts and row-normalised (recall) confusion matrices side by side (the paper's
    Fig. 6); rows true, columns predicted, in activity-id order."""
    cm = np.asarray(confusion, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    names = config.ACTIVITY_NAMES
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.8))
    for ax, grid, fmt, label, scale in ((axes[0], cm.astype(int), "d", "windows", {}),
                                        (axes[1], norm, ".2f", "share of true class",
                                         {"vmin": 0, "vmax": 1})):
        sns.heatmap(grid, annot=True, fmt=fmt, cmap="Blues", square=True, xticklabels=names,
                    yticklabels=names, annot_kws={"fontsize": 8}, ax=ax,
                    cbar_kws={"label": label, "shrink": 0.8}, **scale)
    for ax, sub in zip(axes, ("counts", "row-normalised (recall)")):
        ax.set(xlabel="predicted", ylabel="true", title=sub)
        ax.tick_params(axis="x", rotation=40, labelsize=8)
        ax.tick_params(axis="y", rotation=0, labelsize=8)
        plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_subject_accuracy(table: pd.DataFrame, title: str, overall: float) -> plt.Figure:
    """Accuracy per test subject (``table`` from ``evaluation.per_subject_table``), with a
    line at the overall (pooled) accuracy."""
    t = table.sort_values("subject")
    fig, ax = plt.subplots(figsize=(8, 4))
    x = [str(int(s)) for s in t["subject"]]
    bars = ax.bar(x, t["accuracy"], color=sns.color_palette("colorblind")[0])
    ax.bar_label(bars, labels=[f"{a:.3f}\n(n={n})" for a, n in zip(t["accuracy"], t["n"])],
                 fontsize=7)
    ax.axhline(overall, color="0.2", ls="--", lw=1, label=f"overall {overall:.3f}")
    low = float(min(t["accuracy"].min(), overall))
    ax.set_ylim(max(0.0, low - 0.1), 1.06)
    ax.set(xlabel="test subject", ylabel="accuracy", title=title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _layer_color(kind: str) -> tuple[float, float, float]:
    pastel = sns.color_palette("pastel", 8)
    for i, key in enumerate(("Conv", "Pool", "Dropout", "LSTM", "Dense")):
        if key in kind:
            return pastel[i]
    return (0.93, 0.93, 0.93)


def architecture_diagram(model, title: str) -> plt.Figure:
    """Vertical block diagram of ``model``: one box per layer (name, type, output shape,
    parameters), arrows between them (the paper's Fig. 2, drawn from the code)."""
    from matplotlib.patches import FancyBboxPatch

    from .models import layer_table

    table = layer_table(model)
    n = len(table)
    step, box_h = 1.0, 0.62
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.62 * n))
    for i, row in enumerate(table.itertuples(index=False)):
        y = (n - 1 - i) * step
        ax.add_patch(FancyBboxPatch((0.06, y - box_h / 2), 0.88, box_h,
                                    boxstyle="round,pad=0,rounding_size=0.06",
                                    fc=_layer_color(row.type), ec="0.35", lw=0.8))
        ax.text(0.09, y + 0.12, row.layer, ha="left", va="center", fontsize=9,
                fontweight="bold")
        ax.text(0.91, y + 0.12, row.type, ha="right", va="center", fontsize=8.5)
        ax.text(0.09, y - 0.15, f"output {row.output_shape}", ha="left", va="center",
                fontsize=8, family="monospace", color="0.2")
        ax.text(0.91, y - 0.15, f"{row.params:,} params" if row.params else "no params",
                ha="right", va="center", fontsize=8, color="0.2")
        if i < n - 1:
            ax.annotate("", xy=(0.5, y - step + box_h / 2), xytext=(0.5, y - box_h / 2),
                        arrowprops={"arrowstyle": "-|>", "color": "0.3", "lw": 1})
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6 - 0.35, (n - 1) * step + 0.6)
    ax.text(0.5, -0.6 - 0.1, f"total {model.count_params():,} parameters", ha="center",
            va="center", fontsize=9)
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def framework_diagram(title: str) -> plt.Figure:
    """The paper's Fig. 1 framework as boxes and arrows, labelled from the project constants."""
    import textwrap

    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .signals import Preprocessing

    p = Preprocessing()
    stages = [
        (f"smartphone accelerometer + gyroscope ({config.SAMPLING_RATE_HZ:g} Hz)", "data"),
        (f"preprocessing: median + {p.noise_cutoff_hz:g} Hz low-pass, gravity split at "
         f"{p.gravity_cutoff_hz:g} Hz", "data"),
        (f"windows {p.window / p.fs:g}\u00a0s ({p.window}\u00a0x\u00a0{len(config.CHANNELS)}), "
         f"{100 * (1 - p.step / p.window):g}\u00a0% overlap", "data"),
        ("CNN (per sub-sequence) feature extraction", "model"),
        ("LSTM (temporal)", "model"),
        (f"dense + softmax: {len(config.ACTIVITIES)} activities", "model"),
    ]
    colors = {"data": "#dbe9f6", "model": "#fde4c8"}
    w, h, gap = 2.1, 1.3, 0.55
    fig, ax = plt.subplots(figsize=(14, 2.9))
    for i, (label, kind) in enumerate(stages):
        x = i * (w + gap)
        ax.add_patch(FancyBboxPatch((x, 0), w, h, boxstyle="round,pad=0.05,rounding_size=0.12",
                                    fc=colors[kind], ec="0.25", lw=1.2))
        ax.text(x + w / 2, h / 2, textwrap.fill(label, 19, break_on_hyphens=False),
                ha="center", va="center", fontsize=10)
        if i:
            ax.add_patch(FancyArrowPatch((x - gap + 0.04, h / 2), (x - 0.06, h / 2),
                                         arrowstyle="-|>", mutation_scale=16, lw=1.4,
                                         color="0.2"))
    ax.text(0, -0.3, "signal pipeline (UCI HAR)", fontsize=9, color="0.3", va="top")
    ax.text(3 * (w + gap), -0.3, "CNN-LSTM model", fontsize=9, color="0.3", va="top")
    ax.set(xlim=(-0.15, len(stages) * (w + gap) - gap + 0.15), ylim=(-0.6, h + 0.15))
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def zoo_accuracy(rows: list[dict], reported: dict[str, tuple[float, str]], title: str
                 ) -> plt.Figure:
    """Table II re-run as a figure: per model, each seed's test accuracy, the mean and the 95 %
    subject-bootstrap interval; the reported number (``reported``, as
    :func:`har_utils.paper.reported_by_model` gives) as a labelled red cross."""
    rows = sorted(rows, key=lambda r: r["accuracy_mean"])
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.5))
    colors = sns.color_palette("colorblind", 3)
    for i, r in enumerate(rows):
        low, high = (100 * v for v in r["ci95_subject_bootstrap"])
        ax.plot([low, high], [i, i], color=colors[0], lw=2, solid_capstyle="butt",
                label="95 % interval (test subjects)" if i == 0 else None)
        seeds = [100 * a for a in r.get("accuracy_per_seed", [r["accuracy_mean"]])]
        ax.scatter(seeds, [i] * len(seeds), s=14, color="0.3", zorder=3,
                   label="one seed" if i == 0 else None)
        ax.scatter([100 * r["accuracy_mean"]], [i], marker="|", s=300, color=colors[0], zorder=4)
        if r["model"] in reported:
            value, label = reported[r["model"]]
            ax.scatter([value], [i], marker="x", s=60, color="tab:red", zorder=5,
                       label="number printed in Table II (or the literature)" if i == min(
                           j for j, q in enumerate(rows) if q["model"] in reported) else None)
            ax.annotate(label, (value, i), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=7, color="tab:red")
    ax.set_yticks(range(len(rows)), [f"{r['model']} (n={r['n_seeds']})" for r in rows])
    ax.margins(x=0.08)  # room for the labels beside the crosses
    ax.set(xlabel="test accuracy % (the crosses: what their labels say)", title=title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def cv_curves(entry: dict, title: str) -> plt.Figure:
    """The honest counterpart of the paper's Fig. 5: training and held-out fold curves, mean ±
    std over folds, and the chosen epoch count (``entry``: one model of the cv summary)."""
    curves, choice = entry["fold_curves"], entry["choice"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = sns.color_palette("colorblind", 2)
    for ax, metric in ((axes[0], "accuracy"), (axes[1], "loss")):
        for key, name, c in ((metric, "training (fit subjects)", colors[0]),
                             (f"val_{metric}", "held-out fold subjects", colors[1])):
            stats = curves.get(key)
            if not stats:
                continue
            mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
            x = np.arange(1, len(mean) + 1)
            ax.plot(x, mean, color=c, lw=1.4, label=f"{name}, mean of {choice['folds']} folds")
            ax.fill_between(x, mean - std, mean + std, color=c, alpha=0.2, lw=0)
        ax.axvline(choice["epochs"], color="0.3", ls="--", lw=1,
                   label=f"chosen: {choice['epochs']} epochs")
        ax.set(xlabel="epoch", ylabel=metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
