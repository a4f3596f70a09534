"""The checks notebooks 06 (the evaluation, :func:`check_evaluation`) and 07 (the latent
explorer) assert, as functions the tests call: one code path, so what the notebook checks is
what is tested."""
from __future__ import annotations

import numpy as np
import torch

from ..metrics.verdicts import EFFECT_VERDICTS
from .explorer import default_controls, latent_vector, mean_adjustment, render, seed_noise
from .instability import DECIDING_HORIZON


class ExplorerCheckFailed(AssertionError):
    """One of :func:`check_explorer_rendering` / :func:`check_explorer_widget`'s checks
    failed; the message says which."""


def _check(ok, msg) -> None:
    if not ok:
        raise ExplorerCheckFailed(msg)


def check_explorer_rendering(gans: dict, pcas: dict) -> None:
    """Per run (``{label: TrainedGAN}``, ``{label: PCADirections}``): rendering is
    deterministic; the interpolation's ends are its seeds; neutral controls reproduce
    ``TrainedGAN.sample`` (up to float rounding); the PCA directions are orthonormal and an
    offset moves z by that many stds along them; a mixture latent's component k is
    ``mu_k + sigma_k * eps``; the proposed model's adjusted mean stays in [-1, 1]. Raises
    :class:`ExplorerCheckFailed` naming the run and the failed check."""
    for label, gan in gans.items():
        ctl = {"seed_a": 3, "seed_b": 4, "t": 0.3, "offsets": (1.0, -1.0)}
        _check(np.array_equal(render(gan, ctl), render(gan, dict(ctl))),
               f"{label}: rendering is not deterministic")
        img0, img1 = render(gan, {"seed_a": 0}), render(gan, {"seed_a": 1})
        _check(np.array_equal(img0, render(gan, {"seed_a": 0, "seed_b": 1, "t": 0.0})),
               f"{label}: t = 0 is not seed a")
        _check(np.array_equal(img1, render(gan, {"seed_a": 0, "seed_b": 1, "t": 1.0})),
               f"{label}: t = 1 is not seed b")
        # neutral controls reproduce TrainedGAN.sample exactly (up to float rounding)
        diff = np.abs(img0.astype(int) - (gan.sample(1, seed=0)[0].add(1).mul(127.5).round()
                                          .clamp(0, 255).permute(1, 2, 0).numpy().astype(int)))
        _check(diff.max() <= 1, f"{label}: neutral controls differ from sample() by "
                                f"{diff.max()}")
        v = pcas[label].components.double()
        _check(torch.allclose(v @ v.T, torch.eye(len(v), dtype=torch.float64), atol=1e-5),
               f"{label}: PCA directions not orthonormal")
        z0 = latent_vector(gan, {"seed_a": 0}, pcas[label])
        z2 = latent_vector(gan, {"seed_a": 0, "offsets": (2.0,)}, pcas[label])
        _check(torch.allclose(z2 - z0, 2 * pcas[label].std[0] * pcas[label].components[:1],
                              atol=1e-4), f"{label}: a PC1 offset of 2 std moves z elsewhere")
        if "k" in default_controls(gan):   # a mixture latent
            eps = seed_noise(gan, 0)[1]
            z = latent_vector(gan, {"seed_a": 0, "k": 1})
            with torch.no_grad():
                _check(torch.allclose(z, gan.latent.mu[1] + gan.latent.sigma[1] * eps,
                                      atol=1e-5), f"{label}: component 1 is not mu + sigma eps")
        if "mu_offset" in default_controls(gan):
            for off in np.linspace(-1, 1, 9):
                for scale in (0.0, 0.5, 1.0):
                    mu = mean_adjustment(gan, {"mu_offset": off, "mu_scale": scale})
                    _check(-1 <= mu.min() and mu.max() <= 1,
                           f"{label}: adjusted mean out of [-1, 1] at {(off, scale)}")


def check_explorer_widget(explorer, gans: dict, pcas: dict, profile_name: str) -> dict:
    """The widget redraws when a control moves (the observers fire, no error), and moving
    PC1 by 2.5 std changes its image exactly when it changes the rendered image; some run's
    image moves (a generator collapsed after a couple of ``smoke`` epochs may ignore z).
    Leaves the first run selected, PC1 at 0; returns ``{label: whether PC1 moved it}``."""
    labels = list(gans)
    _ = explorer.set(run=labels[0], mode="pca", offsets=(), t=0.0)
    before, n0 = explorer.image.value, explorer.n_renders
    explorer.sliders[0].value = 2.5
    _check(explorer.n_renders == n0 + 1 and explorer.last_error is None,
           f"moving a slider did not redraw once ({explorer.n_renders - n0} renders, "
           f"error {explorer.last_error})")
    changed = explorer.image.value != before
    explorer.sliders[0].value = 0.0
    moved = {lab: not np.array_equal(render(gans[lab], {"offsets": (2.5,)}, pcas[lab]),
                                     render(gans[lab], {}, pcas[lab])) for lab in labels}
    print("moving PC1 by 2.5 std changes the image:", moved)
    _check(changed == moved[labels[0]], f"the widget's image changed: {changed}; the "
                                        f"rendered one: {moved[labels[0]]}")
    _check(any(moved.values()) or profile_name == "smoke", f"no run's image moves: {moved}")
    return moved


def check_evaluation(per_run, audit, curves: dict, best: dict, ckpts: dict, floor: dict, gate,
                     *, n_runs: int, n_fake: int, n_real: int, n_fake_curve: int, first_key,
                     seeds, profile_name: str) -> None:
    """Notebook 06's checks. ``per_run``: Table 1's rows (one per run); ``audit``: the
    claims audit; ``curves``: ``{run key: scored checkpoints}``; ``best``: ``{run key: its
    lowest-FID row}``; ``ckpts``: ``{run key: checkpoint epochs}``; ``floor``: the held-out
    floor; ``first_key``: the run whose every checkpoint is scored (Fig. 3). Checked: finite
    metrics over ``n_fake`` generated and ``n_real`` real images, one row per run, FID > 0,
    precision in [0, 1]; known verdicts, each with its scale and reason, the audit's
    measure, horizon and deciding rows (docs/DECISIONS.md); Table 1 uses a
    scored checkpoint; Fig. 3's run is scored at every checkpoint; a finite floor at
    ``n_fake_curve``; on the cpu profile (the reference run) paper-config runs trained to
    the deciding horizon (200 epochs) with 3+ seeds, and one passes the gate. Raises
    :class:`EvaluationCheckFailed` naming the first failed check."""
    finite = ["fid", "kid", "precision", "recall"]
    _eval(np.isfinite(per_run[finite].to_numpy(dtype=float)).all(),
          "a non-finite FID, KID, precision or recall")
    _eval((per_run.n_fake == n_fake).all() and len(per_run) == n_runs,
          f"not {n_runs} runs scored at {n_fake} images")
    _eval((per_run.n_real == n_real).all(), f"not {n_real} real images")
    _eval((per_run.fid > 0).all() and per_run.precision.between(0, 1).all(),
          "FID <= 0 or precision outside [0, 1]")
    _eval(set(audit.verdict) <= set(EFFECT_VERDICTS),
          f"unknown verdicts {set(audit.verdict) - set(EFFECT_VERDICTS)}")
    _eval({"measure", "horizon", "primary"} <= set(audit) and audit.primary.any(),
          "a claims audit without its measure, horizon and deciding (primary) rows")
    _eval(all(audit.scale.str.contains("px")) and audit.reason.str.len().gt(0).all(),
          "a claim without its scale or reason")
    # Table 1 uses each run's lowest-FID scored checkpoint; the curves score what Fig. 3 shows
    for k, rows_k in curves.items():
        _eval(best[k]["epoch"] in [r["epoch"] for r in rows_k],
              f"{k}: Table 1's epoch {best[k]['epoch']} was not scored")
    _eval([r["epoch"] for r in curves[first_key]] == ckpts[first_key],
          f"{first_key}: not every checkpoint scored")
    _eval(np.isfinite([floor["fid"], floor["kid"]]).all() and floor["n"] == n_fake_curve,
          f"held-out floor {floor}")
    if profile_name == "cpu":   # the reference run: paper-config models that learned the data
        paper_runs = per_run[per_run.config == "paper"]
        _eval((paper_runs.epochs_trained >= DECIDING_HORIZON).all() and len(seeds) >= 3,
              f"cpu: paper-config runs under {DECIDING_HORIZON} epochs or under 3 seeds")
        _eval(paper_runs.gate.any() and paper_runs.curve_fid.min() < gate.fid,
              f"cpu: no paper-config run passes the gate (best FID "
              f"{paper_runs.curve_fid.min()})")
        print(f"best FID of a paper-config run: {paper_runs.curve_fid.min():.1f} at "
              f"{n_fake_curve} images, {paper_runs.fid.min():.1f} at {n_fake}")


class EvaluationCheckFailed(AssertionError):
    """One of :func:`check_evaluation`'s checks failed; the message says which."""


def _eval(ok, msg) -> None:
    if not ok:
        raise EvaluationCheckFailed(msg)
