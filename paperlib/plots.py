"""Figures and tables the notebooks save under ``figures/<profile>/``.

Importing this module sets the figure resolution once for every notebook (:func:`use_style`):
inline figures at :data:`INLINE_DPI` (kept low so executed notebooks, which embed every
figure as a PNG, stay small enough to publish) and saved figures at :data:`SAVE_DPI`.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from .config import figures_dir
from .engine.runs import load_run
from .paper_a.instability import instability_onset

#: Inline (notebook) figure resolution: Jupyter's inline backend renders at ``figure.dpi``.
INLINE_DPI = 80


#: Resolution of the PNGs :func:`save_figure` writes under ``figures/<profile>/``.
SAVE_DPI = 130


def use_style() -> None:
    """Set the notebooks' matplotlib defaults: ``figure.dpi`` (inline figures) and
    ``savefig.dpi`` (saved figures). Called on import; call again after a style reset."""
    matplotlib.rcParams.update({"figure.dpi": INLINE_DPI, "savefig.dpi": SAVE_DPI})


use_style()


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """A (3,H,W) grid in [0,1] from images in [-1,1] (torchvision's make_grid)."""
    return make_grid(images.detach().cpu().float(), nrow=nrow, padding=2, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)


def show_grid(images: torch.Tensor, title: str = "", nrow: int = 8, ax=None):
    """Draw an image grid on ``ax`` (a new figure when None); return the axes."""
    if ax is None:
        n = min(len(images), nrow)
        rows = -(-len(images) // nrow)
        _, ax = plt.subplots(figsize=(1.1 * n, 1.1 * rows + 0.4))
    ax.imshow(image_grid(images, nrow).permute(1, 2, 0).numpy())
    ax.set_title(title)
    ax.axis("off")
    return ax


def save_figure(fig, name: str, profile) -> Path:
    """Save ``fig`` as ``figures/<profile>/<name>.png`` and return the path."""
    out = figures_dir(profile) / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=SAVE_DPI, bbox_inches="tight")
    return out


def save_table(df, name: str, profile, floatfmt: str = ".3f") -> tuple[Path, Path]:
    """Save a pandas DataFrame as CSV and Markdown under ``figures/<profile>/``."""
    base = figures_dir(profile) / name
    base.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(base.with_suffix(".csv"), index=False)
    base.with_suffix(".md").write_text(df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return base.with_suffix(".csv"), base.with_suffix(".md")


def loss_curves(ax, rows: list[dict], title: str = "", onset: int | None = None,
                legend: bool = True):
    """Paper A's Fig. 2 panel: D and G loss per epoch; the instability onset, if any, is
    marked by a vertical line and the epochs after it shaded."""
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["d_loss"] for r in rows], label="D loss", color="tab:blue")
    ax.plot(epochs, [r["g_loss"] for r in rows], label="G loss", color="tab:orange")
    if onset is not None:
        ax.axvline(onset, color="tab:red", ls="--", lw=1)
        ax.axvspan(onset, epochs[-1], color="tab:red", alpha=0.08,
                   label=f"instability from epoch {onset}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if legend:
        ax.legend(fontsize=8)
    return ax


def loss_grid(results: dict, title: str = ""):
    """One loss panel per run: ``results`` maps a panel title to a ``RunResult``; panels
    are laid out one row per first word of the title (the config)."""

    keys = list(results)
    rows_of = sorted({k.split()[0] for k in keys}, key=[k.split()[0] for k in keys].index)
    ncol = max(sum(k.split()[0] == r for k in keys) for r in rows_of)
    fig, axes = plt.subplots(len(rows_of), ncol, figsize=(4.2 * ncol, 3.2 * len(rows_of)),
                             squeeze=False)
    col = {r: 0 for r in rows_of}
    for key in keys:
        r = rows_of.index(key.split()[0])
        res = results[key]
        label = f"{key} — {res.status}"
        loss_curves(axes[r][col[key.split()[0]]], res.rows, label, instability_onset(res.rows),
                    legend=col[key.split()[0]] == 0)
        col[key.split()[0]] += 1
    for ax in axes.flat:
        if not ax.has_data():
            ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def samples_figure(runs: dict, n: int = 64, seed: int = 0):
    """Side-by-side sample grids: ``runs`` maps a title to a run folder (latest checkpoint)."""

    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 6.3), squeeze=False)
    for ax, (title, run_dir) in zip(axes[0], runs.items()):
        gan = load_run(run_dir)
        show_grid(gan.sample(n, seed=seed), f"{title}, epoch {gan.epoch}", ax=ax)
    return fig
