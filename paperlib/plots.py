"""Figures and tables the notebooks save under ``figures/<profile>/``.

Importing this module sets the figure resolution once for every notebook (:func:`use_style`):
inline figures at :data:`INLINE_DPI` (kept low so executed notebooks, which embed every
figure as a PNG, stay small enough to publish) and saved figures at :data:`SAVE_DPI`.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

from .config import figures_dir
from .engine.runs import load_run
from .paper_a.explorer import (
    component_images,
    default_controls,
    interpolation_strip,
    mu_sweep,
    pca_sweep,
)
from .paper_a.instability import instability_onset
from .utils.images import tile

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


# ----------------------------------------------------------------------------- latent explorer
def show_tile(ax, stack, cols=(), rows=(), title=""):
    """Draw a (R, C, H, W, 3) uint8 stack as one canvas with column / row labels."""
    stack = np.asarray(stack)
    if stack.ndim == 4:
        stack = stack[None]
    h, w, pad = stack.shape[2], stack.shape[3], 2
    ax.imshow(tile(stack, pad=pad), interpolation="nearest")
    ax.set_xticks([j * (w + pad) + w / 2 for j in range(len(cols))], cols, fontsize=7)
    ax.set_yticks([i * (h + pad) + h / 2 for i in range(len(rows))], rows, fontsize=7)
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(title, fontsize=9)


def image_table(states: dict, title: str = ""):
    """One row of images per key of ``states`` (``{row label: {column title: uint8 HWC
    image}}``, e.g. :func:`paperlib.paper_a.explorer_states`), four columns; returns the
    figure."""
    fig, axes = plt.subplots(len(states), 4, figsize=(8, 2.2 * len(states)), squeeze=False)
    for r, (label, row) in enumerate(states.items()):
        for c, (what, img) in enumerate(row.items()):
            axes[r][c].imshow(img, interpolation="nearest")
            axes[r][c].set_title(what, fontsize=8)
            axes[r][c].set_xticks([]), axes[r][c].set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def latent_spaces_figure(gans: dict, pcas: dict, profile_name: str, sweep=(-2, -1, 0, 1, 2),
                         seeds=(0, 1, 2), steps: int = 9,
                         mu_offsets=(-1.0, -0.5, 0.0, 0.5, 1.0)):
    """Notebook 07's static view of the latent spaces (``{label: TrainedGAN}``,
    ``{label: PCADirections}``): PCA-direction sweeps of each run (top), seed interpolation
    (middle), the DeLiGAN run's mixture components and the proposed run's global mu offset
    (bottom; a note where there is no such run). Returns the figure."""
    labels = list(gans)
    res_px = next(iter(gans.values())).config.res
    fig = plt.figure(figsize=(13, 12), layout="constrained")
    top, mid, bottom = fig.subfigures(3, 1, height_ratios=[3.2, 2.5, 3.0])
    for ax, label in zip(top.subplots(1, len(labels), squeeze=False)[0], labels):
        p = pcas[label]
        show_tile(ax, pca_sweep(gans[label], {"seed_a": 0}, sweep, 4, p),
                  [f"{v:+d} std" if v else "0" for v in sweep],
                  [f"PC{i + 1} ({100 * p.explained[i]:.1f}%)" for i in range(min(4, p.k))],
                  label)
    top.suptitle("PCA-direction sweeps of the mapped latent z (seed 0)", fontsize=10)

    ax = mid.subplots()
    show_tile(ax, [interpolation_strip(gans[lab], 0, 1, steps) for lab in labels],
              [f"t={t:.2g}" for t in np.linspace(0, 1, steps)], labels)
    mid.suptitle("Seed interpolation (slerp of the noise, seed 0 → seed 1)", fontsize=10)

    ax_k, ax_mu = bottom.subplots(1, 2, width_ratios=[8, 5])
    deligan = next((lab for lab in labels if "k" in default_controls(gans[lab])), None)
    proposed = next((lab for lab in labels if default_controls(gans[lab]).keys()
                     >= {"mu_offset"}), None)
    if deligan:
        K = gans[deligan].latent.K
        ks = sorted(set(np.linspace(0, K - 1, min(K, 8)).round().astype(int).tolist()))
        show_tile(ax_k, [component_images(gans[deligan], ks, {"seed_a": s}) for s in seeds],
                  [f"k={k}" for k in ks], [f"seed {s}" for s in seeds],
                  f"{deligan}: mixture components (same eps per row, K={K})")
    else:
        ax_k.axis("off"), ax_k.text(0.5, 0.5, "no DeLiGAN run", ha="center")
    if proposed:
        show_tile(ax_mu, [mu_sweep(gans[proposed], mu_offsets, {"seed_a": s}) for s in seeds],
                  [f"offset {o:+.1f}" for o in mu_offsets], [f"seed {s}" for s in seeds],
                  f"{proposed}: global mu offset")
    else:
        ax_mu.axis("off"), ax_mu.text(0.5, 0.5, "no proposed run with mean adjustment",
                                      ha="center")
    fig.suptitle(f"Paper A latent spaces ({profile_name} profile, {res_px} px)", fontsize=11)
    return fig
