"""Figures and tables the notebooks save under ``figures/<profile>/``. Importing it sets the
figure resolution (:func:`use_style`: :data:`INLINE_DPI` inline, kept low so executed
notebooks stay small enough to publish; :data:`SAVE_DPI` saved)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from torchvision.utils import make_grid

from .config import figures_dir
from .data.folders import load_folder
from .data.paired import load_pairs, map_to_rgb
from .engine.runs import load_run
from .models.pix2pixhd import translate
from .paper_a.explorer import (
    component_images,
    default_controls,
    interpolation_strip,
    mu_sweep,
    pca_sweep,
)
from .paper_a.instability import d_wins, instability_onset
from .paper_b.kind import MIX_KIND
from .paper_b.tables import exact_form_metric
from .utils.images import tile
from .utils.io import atomic_savefig, atomic_write_text

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
    return atomic_savefig(out, fig, dpi=SAVE_DPI, bbox_inches="tight")


def save_table(df, name: str, profile, floatfmt: str = ".3f") -> tuple[Path, Path]:
    """Save a pandas DataFrame as CSV and Markdown under ``figures/<profile>/`` (each file
    atomically)."""
    base = figures_dir(profile) / name
    csv = atomic_write_text(base.with_suffix(".csv"), df.to_csv(index=False))
    md = atomic_write_text(base.with_suffix(".md"),
                           df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    return csv, md


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


def vendor_class_figure(samples: dict, title: str = ""):
    """One grid row per vendor and class: ``samples`` maps ``(vendor, class)`` to images
    in [-1, 1] (:func:`paperlib.paper_a.replication.vendor_class_samples`)."""
    per_cell = max(len(x) for x in samples.values())
    fig, axes = plt.subplots(len(samples), 1, figsize=(1.1 * per_cell + 0.6,
                                                       1.35 * len(samples) + 0.5),
                             squeeze=False)
    for ax, ((vendor, label), images) in zip(axes[:, 0], samples.items()):
        show_grid(images, f"{vendor}, {label} ({len(images)} shown)", nrow=per_cell, ax=ax)
        ax.title.set_fontsize(9)
    fig.suptitle(title)
    fig.tight_layout()
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
    """Notebook 07's static view of the latent spaces: PCA sweeps per run, seed
    interpolation, DeLiGAN's components and the proposed model's mu offset. Returns the figure."""
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


# ----------------------------------------------------------------------------- paper B, notebook 01
STAGE_COLORS = {"alone": "tab:gray", "mix": "tab:blue", "longer": "tab:purple",
                "finetune": "tab:green", "cond": "tab:cyan", MIX_KIND: "lightsteelblue"}
#: Notebook 01's names of its stages, as its tables and text say them.
STAGE_LABELS = {"alone": "1st result", "longer": "longer training", "finetune":
                "transfer (fine-tuned)", "pretrain": "shape pre-training", "cond":
                "class-conditional", "mix": "mix (secondary)",
                MIX_KIND: "mix, artist-kind samples"}


def stage_samples_figure(splits: dict, runs: dict, aug_runs: dict, stages, augments, seeds,
                         augment_seeds, res: int, title: str, n: int = 16,
                         extra: dict | None = None):
    """Notebook 01's samples per stage: per artist ``n`` held-out images, then each stage's
    and each augmentation's run (first seed). A stage named in ``extra`` (``{stage:
    {artist: images}}``, e.g. the mix's artist-kind samples) shows those images instead
    (a note where there are none). Returns the figure."""
    extra = extra or {}
    panels = ["held-out data", *stages, *(["pretrain"] if "finetune" in stages else []),
              *[f"alone+{a}" for a in augments]]
    fig, axes = plt.subplots(len(splits), len(panels),
                             figsize=(2.3 * len(panels), 2.6 * len(splits)), squeeze=False)
    for i, (name, sp) in enumerate(splits.items()):
        for ax, panel in zip(axes[i], panels):
            label = STAGE_LABELS.get(panel, panel)
            if panel in extra:
                imgs = extra[panel][name][:n]
                if not len(imgs):
                    ax.set_axis_off()
                    ax.set_title(label)
                    ax.text(0.5, 0.5, "none among\nthe samples", ha="center", va="center",
                            fontsize=9, transform=ax.transAxes)
                    continue
            elif panel == "held-out data":
                imgs = load_folder(sp.held_out, res).images[:n]
            else:
                run = (aug_runs[name, panel.split("+")[1], augment_seeds[0]] if "+" in panel
                       else runs[name, seeds[0]][panel])
                imgs = load_run(run.run_dir, epoch=run.epochs_done).sample(n, seed=0)
            show_grid(imgs, f"{name}\n{label}" if panel == "held-out data" else label,
                      nrow=4, ax=ax)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


#: The bar panels of notebooks 01 and 01b: (table column, axis label).
METRIC_PANELS = [("main_score", "main-form score (higher better)"),
                 ("inner_score", "inner-form score (higher better)"),
                 ("fid", "FID vs held-out (lower better)"),
                 ("kid", "KID vs held-out (lower better)")]


def _panel_grid(rows: int, width: float, row_height: float):
    """``(fig, axes)``: ``rows`` rows of one panel per :data:`METRIC_PANELS` entry."""
    return plt.subplots(rows, len(METRIC_PANELS), figsize=(width, row_height * rows),
                        squeeze=False)


def artist_panels(rows) -> list:
    """:data:`METRIC_PANELS` for one artist's ``rows``: the first is the set's own form
    measure (:func:`paperlib.paper_b.tables.exact_form_metric`: the disc score on
    geometric), the inner-form panel ``None`` where the set has no inner forms (no finite
    value)."""
    exact = exact_form_metric(rows)
    first = (exact, "form score (higher better)" if exact == "form_score" else
             METRIC_PANELS[0][1])
    inner = METRIC_PANELS[1] if "inner_score" in rows and np.isfinite(
        rows.inner_score.astype(float)).any() else None
    return [first, inner, *METRIC_PANELS[2:]]


def _no_panel(ax, name: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{name}: no inner forms\nin this set", ha="center", va="center",
            fontsize=9, transform=ax.transAxes)


def stage_metrics_figure(per_run, artists, stages, augments):
    """Notebook 01's form, FID and KID per stage: per artist, bars of the mean over seeds,
    dots for single seeds and a dashed line at the training data's own value. Returns the
    figure."""
    order = [*stages, *[f"alone+{a}" for a in augments]]
    artists = list(artists)
    fig, axes = _panel_grid(len(artists), width=18, row_height=3.3)
    for i, name in enumerate(artists):
        sub = per_run[per_run.artist == name]
        ref = sub[sub.stage == "training data"].iloc[0]
        for ax, panel in zip(axes[i], artist_panels(sub)):
            if panel is None:
                _no_panel(ax, name)
                continue
            col, label = panel
            means = [sub[sub.stage == st][col].mean() for st in order]
            ax.bar(range(len(order)), means, color=[STAGE_COLORS[st] for st in stages]
                   + ["tab:orange"] * len(augments))
            for k, st in enumerate(order):
                v = sub[sub.stage == st][col]
                ax.plot([k] * len(v), v, "k.", ms=6)
            ax.axhline(ref[col], color="tab:red", ls="--", lw=1, label="training data")
            ax.set_xticks(range(len(order)), [STAGE_LABELS.get(st, st) for st in order],
                          rotation=25, ha="right", fontsize=8)
            ax.set_ylabel(label.split(" (")[0], fontsize=9)
            ax.set_title(f"{name}: {label}", fontsize=10)
            if col in ("main_score", "inner_score", "form_score"):
                ax.set_ylim(0, 1)
                ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- paper B, notebook 05
def curation_rounds_figure(rounds_df, artists, seeds, control: bool, title: str):
    """Notebook 05's metrics per curation round: per artist a line of the mean over seeds,
    dots for single seeds and, with ``control``, crosses for the control at the last
    round. Returns the figure."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.4))
    for name in artists:
        sub = rounds_df[(rounds_df.artist == name) & (rounds_df["round"] != "control")]
        g = sub.groupby("round", sort=False)[["main_score", "fid", "kid", "diversity"]].mean()
        for ax, col in zip(axes, ["main_score", "fid", "kid", "diversity"]):
            line, = ax.plot(range(len(g)), g[col], "o-", label=name)
            for k, rd in enumerate(g.index):
                v = sub[sub["round"] == rd][col]
                ax.plot([k] * len(v), v, ".", color=line.get_color(), alpha=0.5)
            if control:
                c = rounds_df[(rounds_df.artist == name) & (rounds_df["round"] == "control")][col]
                ax.plot([len(g) - 1] * len(c), c, "x", ms=8, color="tab:red",
                        label=f"{name}: control")
            ax.set_xticks(range(len(g)), ["shape\nlearning", *[f"after\nround {r}" for r in
                                                                g.index[1:]]])
    for ax, title_ in zip(axes, ["main-form score (higher better)",
                                 "FID vs held-out (lower better)",
                                 "KID vs held-out (lower better)",
                                 "diversity (higher: more varied)"]):
        ax.set_title(title_, fontsize=10)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def composition_figure(comp_df, seed: int, sources):
    """Notebook 05's curated sets for ``seed`` (``comp_df``,
    :func:`paperlib.paper_b.curation_composition`): images per source and mean distance to
    the nearest top-rated image. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    sub = comp_df[comp_df.seed == seed]
    labels = [f"{a}\nround {r}" for a, r in dict.fromkeys(zip(sub.artist, sub["round"]))]
    bottom = np.zeros(len(labels))
    colors = {"generated-similar": "tab:blue", "human-similar": "tab:green", "top-copy": "tab:red"}
    for src in sources:
        v = sub[sub.source == src]
        axes[0].bar(range(len(labels)), v.images.values, bottom=bottom, color=colors[src],
                    label=src)
        for k, (n_img, n_dist) in enumerate(zip(v.images.values, v.distinct.values)):
            if n_img:
                axes[0].text(k, bottom[k] + n_img / 2, f"{n_img} ({n_dist} distinct)",
                             ha="center", va="center", fontsize=7, color="white")
        bottom += v.images.values
        axes[1].bar(np.arange(len(labels)) + 0.27 * (sources.index(src) - 1),
                    v.mean_distance.fillna(0).values, width=0.27, color=colors[src], label=src)
    for ax, title in zip(axes, ["curated set: images per source", "mean selection-feature "
                                "distance to the nearest top-rated image"]):
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def table1_samples_figure(splits: dict, base: dict, loops: dict, table1, seed: int,
                          shape_stage: str, res: int, title: str, n: int = 16,
                          more: dict | None = None):
    """Notebook 05's Table 1 as samples (``seed``), titled with the set's exact-form score
    and FID; ``more``: further columns, ``{column: {(artist, seed): run folder}}`` (the
    controls, the random loop, the 2 x 2's row on the 1st result), each at its latest
    checkpoint. Returns the figure."""
    more = more or {}
    t1_cols = ["training data", "1st result", "shape learning", "longer training",
               "shape learning + technique", *more]
    fig, axes = plt.subplots(len(splits), len(t1_cols),
                             figsize=(2.3 * len(t1_cols), 2.6 * len(splits)), squeeze=False)
    for i, (name, sp) in enumerate(splits.items()):
        last = loops[name, seed]["models"][-1]
        runs_i = [None, *[(base[name, seed][st].run_dir, base[name, seed][st].epochs_done)
                          for st in ("alone", shape_stage, "longer")], (last, None),
                  *[(more[c][name, seed], None) for c in more]]
        form = exact_form_metric(table1[table1.artist == name])
        for j, (ax, col, run) in enumerate(zip(axes[i], t1_cols, runs_i)):
            imgs = (load_folder(sp.held_out, res).images[:n] if run is None
                    else load_run(run[0], epoch=run[1]).sample(n, seed=0))
            row = table1[(table1.artist == name) & (table1.column == col)].iloc[0]
            ax = show_grid(imgs, "", nrow=4, ax=ax)
            ax.set_title((f"{col}\n" if i == 0 else "") + f"form {row[form]:.2f} · "
                         f"FID {row.fid:.0f}", fontsize=8)
            if j == 0:
                ax.axis("on")
                ax.set_xticks([]), ax.set_yticks([])
                ax.set_ylabel(name, fontsize=10)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- paper B, notebook 01b
def conditional_grid_figure(splits: dict, p2p_runs: dict, seed: int, res: int, map_source: str,
                            n_show: int = 8):
    """Notebook 01b's grid, per artist (run ``p2p_runs[artist, seed]``): rows of held-out
    maps, Pix2pixHD's outputs (sampled features; with instance features also the truth's)
    and the ground truth. Returns the figure."""
    fig, axes = plt.subplots(len(splits), 1, figsize=(9.0, 6.0 * len(splits)), squeeze=False)
    for ax, (name, sp) in zip(axes[:, 0], splits.items()):
        pairs = load_pairs(sp.held_out, res, map_source)[:n_show]
        run = load_run(p2p_runs[name, seed].run_dir)
        outs = [translate(run, pairs, features=f)
                for f in (("clusters", "gt") if run.config.p2p_feat else ("clusters",))]
        grid = torch.cat([map_to_rgb(pairs.maps), *outs, pairs.images])
        show_grid(grid, f"{name} (seed {seed}), rows: held-out map | Pix2pixHD"
                  + (" |\nPix2pixHD with the truth's features" if len(outs) > 1 else "")
                  + " | ground truth", nrow=n_show, ax=ax)
    fig.tight_layout()
    return fig


def conditional_metrics_figure(per_seed, artists, order, gt_column: str, title: str):
    """Notebook 01b's form, FID and KID: per artist, bars of the mean over seeds of each
    column of ``order``, dots for single seeds, triangles for ``gt_column`` (the upper
    bound) and a dashed line at the training data's value. Returns the figure."""
    artists = list(artists)
    fig, axes = _panel_grid(len(artists), width=17, row_height=3.4)
    for i, name in enumerate(artists):
        sub = per_seed[per_seed.artist == name]
        floor_row = sub[sub.model == "real"].iloc[0]
        for ax, panel in zip(axes[i], artist_panels(sub[sub.model != "real"])):
            if panel is None:
                _no_panel(ax, name)
                continue
            col, label = panel
            ax.bar(range(len(order)), [sub[sub.column == c][col].mean() for c in order],
                   color=["tab:purple", "tab:gray", "tab:green", "tab:cyan", "tab:blue"
                          ][:len(order)])
            gt = sub[sub.column == gt_column][col]
            ax.plot([0] * len(gt), gt, "^", color="tab:pink", ms=5,
                    label="conditional, ground-truth features")
            for k, c in enumerate(order):
                v = sub[sub.column == c][col]
                ax.plot([k] * len(v), v, "k.", ms=6)
            ax.axhline(floor_row[col], color="tab:red", ls="--", lw=1, label="training data")
            ax.set_xticks(range(len(order)), [c.replace(" (", "\n(") for c in order],
                          fontsize=7, rotation=20, ha="right")
            ax.set_ylabel(label.split(" (")[0], fontsize=9)
            ax.set_title(f"{name}: {label}", fontsize=9)
            if col in ("main_score", "inner_score", "form_score"):
                ax.set_ylim(0, 1)
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- paper A, notebook 06
def detector_demo_figure(cands: dict, demo):
    """Notebook 06's instability detector, firing and silent (``demo``,
    :func:`paperlib.paper_a.detector_demo`; losses from ``cands``). Returns the figure."""
    fig, axes = plt.subplots(1, max(1, len(demo)), figsize=(7 * max(1, len(demo)), 3.4),
                             squeeze=False)
    for ax, (word, row) in zip(axes[0], demo):
        rows_ = cands[row.run]
        loss_curves(ax, rows_, f"detector {word}: {row.run}\n(onset "
                    f"{int(row.onset) if word == 'fires' else 'none'}, {row.epochs} epochs)",
                    int(row.onset) if word == "fires" else None)
        for r in rows_:
            if d_wins(r):
                ax.axvspan(r["epoch"] - 0.5, r["epoch"] + 0.5, color="tab:red", alpha=0.12,
                           lw=0)
    fig.tight_layout()
    return fig


def over_training_figure(curves: dict, models, config: str, seeds, first_seed: int, gate_fid,
                         is_kind=None):
    """Notebook 06's Fig. 3: FID (and, given ``is_kind``, IS) over kimg shown for each
    model of ``config`` (``curves[model, config, seed]``: scored checkpoints; lines: seed
    ``first_seed``, dots: the other ``seeds``), with the gate's FID. Returns the figure."""
    has_is = is_kind is not None
    fig, axes = plt.subplots(1, 2 if has_is else 1, figsize=(12 if has_is else 6.5, 3.8),
                             squeeze=False)
    ax_fid = axes[0][0]
    for m in models:
        first = curves[m, config, first_seed]
        line, = ax_fid.plot([r["kimg"] for r in first], [r["fid"] for r in first],
                            marker="o", label=m)
        for s in seeds[1:]:
            if (m, config, s) in curves:
                ax_fid.plot([r["kimg"] for r in curves[m, config, s]],
                            [r["fid"] for r in curves[m, config, s]], ".",
                            color=line.get_color())
        if has_is:
            axes[0][1].plot([r["kimg"] for r in first], [r["is"] for r in first], marker="o",
                            label=m)
    ax_fid.axhline(gate_fid, color="k", ls="--", lw=1, label="gate")
    ax_fid.set(title=f"FID ({config} config)", xlabel="kimg shown",
               ylabel="FID (lower is better)")
    ax_fid.legend(fontsize=8)
    if has_is:
        axes[0][1].set(title=f"IS ({is_kind})", xlabel="kimg shown",
                       ylabel="IS (higher is better)")
        axes[0][1].legend(fontsize=8)
    fig.tight_layout()
    return fig
