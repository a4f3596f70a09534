"""Figures and tables the notebooks save under ``figures/<profile>/``."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from .reproduce import figures_dir


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
    fig.savefig(out, dpi=110, bbox_inches="tight")
    return out


def save_table(df, name: str, profile, floatfmt: str = ".3f") -> tuple[Path, Path]:
    """Save a pandas DataFrame as CSV and Markdown under ``figures/<profile>/``."""
    base = figures_dir(profile) / name
    base.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(base.with_suffix(".csv"), index=False)
    base.with_suffix(".md").write_text(df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return base.with_suffix(".csv"), base.with_suffix(".md")
