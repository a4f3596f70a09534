"""Paper A's latent explorer (ipywidgets): :func:`latent_explorer` over trained runs, and the
pure logic it draws with (:func:`render`, :func:`latent_vector`, :func:`pca_directions`,
the sweep helpers), which needs no browser. Widgets return at once and act only on clicks
or values set from code, so notebooks run unchanged under papermill / nbval.
"""
from __future__ import annotations

import contextlib
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W
import numpy as np
import torch

from ..engine.runs import CONFIG_FILE, RunDir, load_run
from ..utils.images import png_bytes, to_uint8_hwc
from ..utils.threads import pinned_threads

EXPLORER_MODES = ("pca", "raw")


INTERP_KINDS = ("slerp", "linear")


N_DIRECTIONS = 4          # sliders shown by the explorer


SLIDER_RANGE = 3.0        # sliders move -3..+3 std


_MU_RESAMPLE_BASE = 10_000  # first mu_seed the "resample mu" button uses


def _model(gan) -> str:
    return gan.config.model


def _has_mu(gan) -> bool:
    return _model(gan) == "proposed" and bool(gan.config.mean_adjust)


def default_controls(gan, n_dirs: int = N_DIRECTIONS) -> dict:
    """The neutral controls of ``gan``'s model (only the keys that model takes)."""
    c = {"seed_a": 0, "seed_b": 1, "t": 0.0, "interp": "slerp", "mode": "pca",
         "offsets": (0.0,) * n_dirs, "raw_start": 0}
    if _model(gan) == "deligan":
        c["k"] = None
    if _has_mu(gan):
        c.update(mu_offset=0.0, mu_scale=1.0, mu_seed=None)
    return c


def _int(name: str, v, low: int = 0, high: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"control {name} must be an integer, got {v!r}")
    if v < low or (high is not None and v > high):
        raise ValueError(f"control {name} must be in [{low}, {high if high is not None else 'inf'}],"
                         f" got {v}")
    return int(v)


def _float(name: str, v, low: float, high: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        raise ValueError(f"control {name} must be a number, got {v!r}")
    v = float(v)
    if not (low <= v <= high):
        raise ValueError(f"control {name} must be in [{low}, {high}], got {v}")
    return v


def _check_controls(gan, controls: dict | None) -> dict:
    """``controls`` merged over the defaults and validated (``ValueError`` when bad)."""
    controls = dict(controls or {})
    n_dirs = len(controls.get("offsets", ())) or N_DIRECTIONS
    base = default_controls(gan, n_dirs)
    unknown = sorted(set(controls) - set(base))
    if unknown:
        raise ValueError(f"unknown control(s) {unknown} for a {_model(gan)} run; "
                         f"valid: {sorted(base)}")
    c = {**base, **controls}
    c["seed_a"], c["seed_b"] = _int("seed_a", c["seed_a"]), _int("seed_b", c["seed_b"])
    c["t"] = _float("t", c["t"], 0.0, 1.0)
    for name, valid in (("interp", INTERP_KINDS), ("mode", EXPLORER_MODES)):
        if c[name] not in valid:
            raise ValueError(f"control {name} must be one of {valid}, got {c[name]!r}")
    c["offsets"] = tuple(_float("offsets", o, -math.inf, math.inf) for o in c["offsets"])
    nz = gan.config.nz
    c["raw_start"] = _int("raw_start", c["raw_start"], 0, nz - len(c["offsets"]))
    if "k" in c and c["k"] is not None:
        c["k"] = _int("k", c["k"], 0, gan.latent.K - 1)
    if "mu_offset" in c:
        c["mu_offset"] = _float("mu_offset", c["mu_offset"], -1.0, 1.0)
        c["mu_scale"] = _float("mu_scale", c["mu_scale"], 0.0, 1.0)
        if c["mu_seed"] is not None:
            c["mu_seed"] = _int("mu_seed", c["mu_seed"])
    return c


def seed_noise(gan, seed: int) -> tuple:
    """The noise tuple (batch of 1, CPU) that ``seed`` draws: what ``gan.sample(1, seed)``
    uses (``eps`` for DCGAN, ``(k, eps)`` for DeLiGAN, ``(eps[, mu])`` for the proposed)."""
    return gan.latent.sample_noise(1, torch.Generator().manual_seed(int(seed)), "cpu")


def interpolate(a: torch.Tensor, b: torch.Tensor, t: float, kind: str = "slerp") -> torch.Tensor:
    """Row-wise interpolation from ``a`` (t = 0, exactly) to ``b`` (t = 1, exactly):
    ``"linear"`` or ``"slerp"`` (keeps a Gaussian's norm typical; linear for (anti)parallel rows).
    """
    if kind not in INTERP_KINDS:
        raise ValueError(f"interpolation must be one of {INTERP_KINDS}, got {kind!r}")
    t = float(t)
    if t == 0.0:
        return a.clone()
    if t == 1.0:
        return b.clone()
    if kind == "linear":
        return (1.0 - t) * a + t * b
    a64, b64 = a.double(), b.double()
    cos = (torch.nn.functional.normalize(a64, dim=-1) * torch.nn.functional.normalize(b64, dim=-1)
           ).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    lin = (1.0 - t) * a64 + t * b64
    sl = (torch.sin((1.0 - t) * omega) * a64 + torch.sin(t * omega) * b64) / so
    ok = (so.abs() > 1e-6) & torch.isfinite(sl).all(-1, keepdim=True)
    return torch.where(ok, sl, lin).to(a.dtype)


@dataclass
class PCADirections:
    """Principal directions of a run's mapped latent ``z = latent(*noise)``: ``components``
    (k, D) orthonormal, largest variance first, sign fixed (largest entry positive); ``std``
    (k,), ``explained`` (k,) variance share, ``mean`` (D,), ``n``, ``seed``."""

    mean: torch.Tensor
    components: torch.Tensor
    std: torch.Tensor
    explained: torch.Tensor
    n: int
    seed: int

    @property
    def k(self) -> int:
        return int(self.components.shape[0])


@torch.no_grad()
def pca_directions(gan, n: int = 2048, seed: int = 0, k: int = 8) -> PCADirections:
    """PCA (exact float64 SVD) of ``n`` mapped latents ``z = latent(*noise)`` drawn from
    ``seed``, the latent as G sees it. Deterministic for a given run."""
    if n < 2:
        raise ValueError(f"pca_directions needs n >= 2 samples, got {n}")
    gan.latent.eval()
    noise = gan.latent.sample_noise(n, torch.Generator().manual_seed(int(seed)), "cpu")
    with pinned_threads(1):
        z = gan.latent(*(t.to(gan.device) for t in noise)).double().cpu()
        mean = z.mean(0)
        _, s, vt = torch.linalg.svd(z - mean, full_matrices=False)
    k = min(k, vt.shape[0])
    var = s ** 2 / (n - 1)
    comps = vt[:k]
    signs = torch.sign(comps[torch.arange(k), comps.abs().argmax(1)])
    comps = comps * signs[:, None]
    return PCADirections(mean.float(), comps.float().contiguous(), var[:k].sqrt().float(),
                         (var[:k] / var.sum()).float(), int(n), int(seed))


def mean_adjustment(gan, controls: dict | None = None) -> torch.Tensor:
    """The proposed model's mean adjustment mu (1, out_dim) for ``controls``, always in
    [-1, 1]: the seeds' own U(-1, 1) draws linearly interpolated in t (a convex mix, so in
    range) or ``mu_seed``'s draw, times ``mu_scale``, plus ``mu_offset``, clamped."""
    if not _has_mu(gan):
        raise ValueError(f"this {_model(gan)} run has no mean adjustment mu")
    c = _check_controls(gan, controls)
    if c["mu_seed"] is not None:
        base = seed_noise(gan, c["mu_seed"])[1]
    else:
        base = interpolate(seed_noise(gan, c["seed_a"])[1], seed_noise(gan, c["seed_b"])[1],
                           c["t"], "linear")
    lo, hi = gan.latent.mean_adjust_range
    return (c["mu_scale"] * base + c["mu_offset"]).clamp(lo, hi)


@torch.no_grad()
def latent_vector(gan, controls: dict | None = None, pca: PCADirections | None = None
                  ) -> torch.Tensor:
    """The mapped latent z (1, D) on the CPU that ``controls`` give; ``pca`` defaults to
    :func:`pca_directions` when needed."""
    c = _check_controls(gan, controls)
    lat, dev = gan.latent, gan.device
    lat.eval()
    na, nb = seed_noise(gan, c["seed_a"]), seed_noise(gan, c["seed_b"])
    eps_i = 1 if _model(gan) == "deligan" else 0
    eps = interpolate(na[eps_i], nb[eps_i], c["t"], c["interp"])
    if c["mode"] == "raw" and any(c["offsets"]):
        s = c["raw_start"]
        eps[0, s:s + len(c["offsets"])] += torch.tensor(c["offsets"], dtype=eps.dtype)
    eps = eps.to(dev)
    if _model(gan) == "deligan":
        if c["k"] is not None:
            z = lat(torch.tensor([c["k"]], device=dev), eps)
        else:
            za, zb = lat(na[0].to(dev), eps), lat(nb[0].to(dev), eps)
            # (1-t)(mu_a + s_a eps) + t(mu_b + s_b eps): mu and sigma blended linearly
            z = za if c["t"] == 0.0 else zb if c["t"] == 1.0 else (1 - c["t"]) * za + c["t"] * zb
    elif _has_mu(gan):
        z = lat(eps, mean_adjustment(gan, c).to(dev))
    else:
        z = lat(eps)
    z = z.float().cpu()
    if c["mode"] == "pca" and any(c["offsets"]):
        pca = pca if pca is not None else pca_directions(gan)
        if len(c["offsets"]) > pca.k:
            raise ValueError(f"{len(c['offsets'])} PCA offsets but only {pca.k} directions")
        off = torch.tensor(c["offsets"], dtype=torch.float32)
        m = len(off)
        z = z + ((off * pca.std[:m]) @ pca.components[:m])[None]
    return z


@torch.no_grad()
def render(gan, controls: dict | None = None, pca: PCADirections | None = None) -> np.ndarray:
    """The image ``controls`` give: uint8 (H, W, 3), G in eval mode, no grad; deterministic
    (same run + controls -> the same array)."""

    with pinned_threads(1):
        z = latent_vector(gan, controls, pca)
        gan.G.eval()
        return to_uint8_hwc(gan.G(z.to(gan.device))[0].float().cpu())


# -- sweeps for static figures (uint8 stacks; one canvas: paperlib.plots.show_tile)
def pca_sweep(gan, controls: dict | None = None, values=(-2, -1, 0, 1, 2), n_dirs: int = 4,
              pca: PCADirections | None = None) -> np.ndarray:
    """(n_dirs, len(values), H, W, 3): row i moves along principal direction i by each of
    ``values`` (in stds) from ``controls`` (mode forced to "pca")."""
    pca = pca if pca is not None else pca_directions(gan)
    base = {**(controls or {}), "mode": "pca"}
    rows = []
    for i in range(min(n_dirs, pca.k)):
        row = []
        for v in values:
            off = [0.0] * (i + 1)
            off[i] = float(v)
            row.append(render(gan, {**base, "offsets": tuple(off)}, pca))
        rows.append(np.stack(row))
    return np.stack(rows)


def interpolation_strip(gan, seed_a: int = 0, seed_b: int = 1, steps: int = 8,
                        kind: str = "slerp", controls: dict | None = None) -> np.ndarray:
    """(steps, H, W, 3): t = 0 .. 1 from ``seed_a`` to ``seed_b``."""
    base = {**(controls or {}), "seed_a": seed_a, "seed_b": seed_b, "interp": kind}
    return np.stack([render(gan, {**base, "t": float(t)}) for t in np.linspace(0, 1, steps)])


def component_images(gan, ks, controls: dict | None = None) -> np.ndarray:
    """(len(ks), H, W, 3): DeLiGAN's components ``ks`` with the same eps (seed A's)."""
    return np.stack([render(gan, {**(controls or {}), "k": int(k)}) for k in ks])


def mu_sweep(gan, offsets=(-1.0, -0.5, 0.0, 0.5, 1.0), controls: dict | None = None
             ) -> np.ndarray:
    """(len(offsets), H, W, 3): the proposed model's global mu offset swept."""
    return np.stack([render(gan, {**(controls or {}), "mu_offset": float(o)}) for o in offsets])


# -- the widget
def run_label(run_dir) -> str:
    """``model · config · seed s[ · N=n][ · reading][ · ablation] · epoch e`` from a run
    folder (the reading named when not the primary, linear)."""

    run = RunDir(run_dir)
    cfg = run.config["config"]
    parts = [cfg["model"], cfg.get("config", "?"), f"seed {cfg.get('seed', '?')}"]
    if cfg["model"] == "proposed":
        parts.append(f"N={cfg.get('proposed_N')}")
        if cfg.get("proposed_reading", "linear") != "linear":
            parts.append(f"{cfg['proposed_reading']} reading")
        if not cfg.get("adjust", True):
            parts.append("no adjustment layer")
        if not cfg.get("mean_adjust", True):
            parts.append("no mean adjustment")
    if cfg["model"] == "deligan":
        parts.append(f"K={cfg.get('deligan_K')}")
    ckpts = run.checkpoints()
    if ckpts:
        parts.append(f"epoch {ckpts[-1][0]}")
    return " · ".join(map(str, parts))


def _normalise_runs(runs) -> dict[str, Path]:
    if isinstance(runs, (str, Path)):
        runs = [runs]
    pairs = ([(str(k), Path(v)) for k, v in runs.items()] if isinstance(runs, dict)
             else [(None, Path(r)) for r in runs])
    if not pairs:
        raise ValueError("latent_explorer needs at least one run folder")
    items: dict[str, Path] = {}
    for label, p in pairs:
        if not RunDir(p).is_run():
            raise ValueError(f"{p} is not a training run folder (no {CONFIG_FILE})")
        if label is None:
            label = run_label(p)
            if label in items:
                label = f"{label} ({p.name})"
        items[label] = p
    return items


class LatentExplorer(W.VBox):
    """The widget :func:`latent_explorer` returns (a ``VBox``; display it).

    :meth:`controls` is the dict passed to :func:`render`; :meth:`set` changes several
    controls with one redraw; ``gan``, ``pca``, ``image_array`` (last uint8 image),
    ``n_renders`` and ``last_error`` hold its state. Model-specific widgets are None when
    not applicable.
    """

    def __init__(self, runs, n_dirs: int = N_DIRECTIONS, display_px: int = 256,
                 n_pca: int = 2048, device=None, epoch: int | None = None):
        self.runs = _normalise_runs(runs)
        self.n_dirs, self.display_px, self.n_pca = int(n_dirs), int(display_px), int(n_pca)
        self.device, self.epoch = device, epoch
        self._gans: dict[str, Any] = {}
        self._pcas: dict[str, PCADirections] = {}
        self._hold = 0
        self._mu_seed: int | None = None
        self._n_resample = 0
        self.n_renders = 0
        self.last_error: Exception | None = None
        self.image_array: np.ndarray | None = None
        self.k_slider = self.k_from_seeds = None
        self.mu_offset = self.mu_scale = self.mu_resample = self.mu_reset = None

        wide = W.Layout(width="420px")
        self.run_dropdown = W.Dropdown(options=list(self.runs), description="run",
                                       layout=W.Layout(width="520px"))
        self.info = W.HTML()
        self.mode = W.ToggleButtons(options=[("PCA", "pca"), ("raw", "raw")], value="pca",
                                    description="sliders",
                                    tooltips=["principal directions of the mapped latent z",
                                              "raw noise dimensions eps[i]"])
        self.sliders = [W.FloatSlider(value=0.0, min=-SLIDER_RANGE, max=SLIDER_RANGE, step=0.1,
                                      description=f"PC{i + 1}", readout_format=".1f",
                                      layout=wide, style={"description_width": "110px"})
                        for i in range(self.n_dirs)]
        self.raw_start = W.BoundedIntText(value=0, min=0, max=1, description="first dim",
                                          layout=W.Layout(width="180px", display="none"))
        self.seed_a = W.IntText(value=0, description="seed A", layout=W.Layout(width="180px"))
        self.seed_b = W.IntText(value=1, description="seed B", layout=W.Layout(width="180px"))
        self.t = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="t (A→B)",
                               layout=wide)
        self.interp = W.ToggleButtons(options=["slerp", "linear"], value="slerp",
                                      description="interp.")
        self.reset_button = W.Button(description="reset", icon="undo",
                                     tooltip="all controls back to neutral")
        self.model_box = W.VBox()
        self.image = W.Image(format="png", width=self.display_px, height=self.display_px)
        self.status = W.HTML()

        self.run_dropdown.observe(self._on_run, names="value")
        self.mode.observe(self._on_mode, names="value")
        self.raw_start.observe(self._on_raw_start, names="value")
        for w in (*self.sliders, self.seed_a, self.seed_b, self.t, self.interp):
            w.observe(self._on_change, names="value")
        self.reset_button.on_click(self._on_reset)

        controls = W.VBox([
            W.HTML("<b>Latent directions</b> (in standard deviations)"),
            W.HBox([self.mode, self.raw_start]), *self.sliders,
            W.HTML("<b>Interpolation</b> between two noise seeds"),
            W.HBox([self.seed_a, self.seed_b]), self.t, self.interp,
            self.model_box, self.reset_button,
        ])
        super().__init__([self.run_dropdown, self.info,
                          W.HBox([controls, W.VBox([self.image, self.status])]) ])
        self._load_run()

    # -- state
    @property
    def gan(self):
        key = self.run_dropdown.value
        if key not in self._gans:

            self._gans[key] = load_run(self.runs[key], epoch=self.epoch, device=self.device)
        return self._gans[key]

    @property
    def pca(self) -> PCADirections:
        key = self.run_dropdown.value
        if key not in self._pcas:
            self._pcas[key] = pca_directions(self.gan, n=self.n_pca, k=max(8, self.n_dirs))
        return self._pcas[key]

    def controls(self) -> dict:
        """The current controls as a :func:`render` dict."""
        c = {"seed_a": int(self.seed_a.value), "seed_b": int(self.seed_b.value),
             "t": float(self.t.value), "interp": self.interp.value, "mode": self.mode.value,
             "offsets": tuple(float(s.value) for s in self.sliders),
             "raw_start": int(self.raw_start.value)}
        if self.k_slider is not None:
            c["k"] = None if self.k_from_seeds.value else int(self.k_slider.value)
        if self.mu_offset is not None:
            c.update(mu_offset=float(self.mu_offset.value), mu_scale=float(self.mu_scale.value),
                     mu_seed=self._mu_seed)
        return c

    @contextlib.contextmanager
    def _held(self):
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1

    _ORDER = ("run", "mode", "raw_start", "seed_a", "seed_b", "t", "interp", "offsets", "k",
              "mu_offset", "mu_scale", "mu_seed")

    def set(self, **values) -> np.ndarray:
        """Set several controls (``run`` = a dropdown label, or any :meth:`controls` key;
        ``k=None`` ticks "k from the seeds") with one redraw; returns the new image."""
        unknown = sorted(set(values) - set(self._ORDER))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; valid: {list(self._ORDER)}")
        with self._held():
            for name in (n for n in self._ORDER if n in values):
                v = values[name]
                if name == "run":
                    self.run_dropdown.value = v
                elif name == "offsets":
                    if len(v) > len(self.sliders):
                        raise ValueError(f"{len(v)} offsets for {len(self.sliders)} sliders")
                    for s, o in zip(self.sliders, list(v) + [0.0] * len(self.sliders)):
                        s.value = float(o)
                elif name == "k":
                    if self.k_slider is None:
                        raise ValueError(f"{self.gan.config.model} runs have no component k")
                    self.k_from_seeds.value = v is None
                    if v is not None:
                        self.k_slider.value = int(v)
                elif name == "mu_seed":
                    if self.mu_offset is None:
                        raise ValueError("this run has no mean adjustment mu")
                    self._mu_seed = v
                elif name in ("mu_offset", "mu_scale") and self.mu_offset is None:
                    raise ValueError("this run has no mean adjustment mu")
                else:
                    getattr(self, name).value = v
        self.redraw()
        return self.image_array

    # -- drawing
    def redraw(self) -> None:
        """Render the current controls into ``image`` (errors go to ``status``)."""
        try:
            img = render(self.gan, self.controls(), self.pca)
        except Exception as err:  # a widget callback must not die silently
            self.last_error = err
            self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self.last_error = None
        self.image_array = img
        self.image.value = png_bytes(img, self.display_px)
        self.n_renders += 1
        extra = ""
        if self.mu_offset is not None:
            mu = mean_adjustment(self.gan, self.controls())
            src = "the seeds'" if self._mu_seed is None else f"resampled (seed {self._mu_seed})"
            extra = (f"<br>mu: {src}; mean {mu.mean():+.2f}, range [{mu.min():+.2f}, "
                     f"{mu.max():+.2f}]")
        self.status.value = f"<small>{img.shape[1]}×{img.shape[0]} px, shown at " \
                            f"{self.display_px} px{extra}</small>"

    def _maybe_redraw(self) -> None:
        if not self._hold:
            self.redraw()

    def _label_sliders(self) -> None:
        if self.mode.value == "pca":
            p = self.pca
            for i, s in enumerate(self.sliders):
                s.description = (f"PC{i + 1} ({100 * p.explained[i].item():.1f}%)"
                                 if i < p.k else f"PC{i + 1} (n/a)")
                s.disabled = i >= p.k
        else:
            for i, s in enumerate(self.sliders):
                s.description = f"eps[{self.raw_start.value + i}]"
                s.disabled = False

    # -- callbacks
    def _on_change(self, change: Any = None) -> None:
        self._maybe_redraw()

    def _on_mode(self, change: Any = None) -> None:
        with self._held():  # offsets mean something else now: start from zero
            for s in self.sliders:
                s.value = 0.0
        self.raw_start.layout.display = None if self.mode.value == "raw" else "none"
        self._label_sliders()
        self._maybe_redraw()

    def _on_raw_start(self, change: Any = None) -> None:
        self._label_sliders()
        self._maybe_redraw()

    def _on_run(self, change: Any = None) -> None:
        try:
            self._load_run()
        except Exception as err:  # e.g. a run folder without checkpoints
            self.last_error = err
            self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"

    def _on_resample(self, _button: Any = None) -> None:
        self._n_resample += 1
        self._mu_seed = _MU_RESAMPLE_BASE + self._n_resample
        self._maybe_redraw()

    def _on_mu_reset(self, _button: Any = None) -> None:
        self._mu_seed = None
        self._maybe_redraw()

    def _on_k_follow(self, change: Any = None) -> None:
        self.k_slider.disabled = bool(self.k_from_seeds.value)
        self._maybe_redraw()

    def _on_reset(self, _button: Any = None) -> None:
        with self._held():
            for s in self.sliders:
                s.value = 0.0
            self.t.value = 0.0
            if self.mu_offset is not None:
                self.mu_offset.value, self.mu_scale.value = 0.0, 1.0
                self._mu_seed = None
        self.redraw()

    def _load_run(self) -> None:
        """(Re)build everything that depends on the selected run, then draw."""
        with self._held():
            gan = self.gan
            cfg = gan.config
            self.k_slider = self.k_from_seeds = None
            self.mu_offset = self.mu_scale = self.mu_resample = self.mu_reset = None
            self._mu_seed = None
            children: list = []
            if cfg.model == "deligan":
                k0 = int(seed_noise(gan, self.seed_a.value)[0].item()) \
                    if self.seed_a.value >= 0 else 0
                self.k_slider = W.IntSlider(value=k0, min=0, max=gan.latent.K - 1,
                                            description="component k", layout=W.Layout(
                                                width="420px"))
                self.k_from_seeds = W.Checkbox(value=False, description="k from the seeds")
                self.k_slider.observe(self._on_change, names="value")
                self.k_from_seeds.observe(self._on_k_follow, names="value")
                children = [W.HTML(f"<b>DeLiGAN mixture component</b> (z = mu_k + sigma_k·eps, "
                                   f"K = {gan.latent.K}; starts at seed A's own k = {k0})"),
                            W.HBox([self.k_slider, self.k_from_seeds])]
            elif _has_mu(gan):
                self.mu_offset = W.FloatSlider(value=0.0, min=-1.0, max=1.0, step=0.05,
                                               description="mu offset", layout=W.Layout(
                                                   width="420px"))
                self.mu_scale = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05,
                                              description="mu scale", layout=W.Layout(
                                                  width="420px"))
                self.mu_resample = W.Button(description="resample mu", icon="random")
                self.mu_reset = W.Button(description="seeds' mu", icon="undo")
                for w in (self.mu_offset, self.mu_scale):
                    w.observe(self._on_change, names="value")
                self.mu_resample.on_click(self._on_resample)
                self.mu_reset.on_click(self._on_mu_reset)
                children = [W.HTML("<b>Mean adjustment</b> mu = clamp(scale·mu<sub>drawn</sub> "
                                   "+ offset, −1, 1), mu<sub>drawn</sub> ~ U(−1, 1) per "
                                   f"component ({gan.latent.out_dim} components)"),
                            self.mu_offset, self.mu_scale,
                            W.HBox([self.mu_resample, self.mu_reset])]
            self.model_box.children = tuple(children)
            self.raw_start.max = cfg.nz - len(self.sliders)
            self.raw_start.value = min(self.raw_start.value, self.raw_start.max)
            for s in self.sliders:
                s.value = 0.0
            p = self.pca
            self.info.value = (
                f"<small>{html.escape(str(self.runs[self.run_dropdown.value]))} — "
                f"{html.escape(run_label(self.runs[self.run_dropdown.value]))}; latent z has "
                f"{gan.latent.out_dim} dims; top {min(p.k, len(self.sliders))} principal "
                f"directions explain {100 * p.explained[:len(self.sliders)].sum().item():.0f}% "
                f"of its variance ({p.n} samples)</small>")
            self._label_sliders()
        self.redraw()


def latent_explorer(runs, n_dirs: int = N_DIRECTIONS, display_px: int = 256,
                    n_pca: int = 2048, device=None, epoch: int | None = None) -> LatentExplorer:
    """Build the latent explorer over trained paper-A runs and return it at once.

    ``runs``: ``{label: run folder}`` or a list of run folders (labelled by
    :func:`run_label`); each is loaded (latest checkpoint, or ``epoch``) when first
    selected, its PCA (``n_pca`` samples) computed once. Works headless via :meth:`LatentExplorer.set`.
    """
    return LatentExplorer(runs, n_dirs=n_dirs, display_px=display_px, n_pca=n_pca,
                          device=device, epoch=epoch)


def explorer_models(explorer) -> tuple[dict, dict]:
    """``({label: TrainedGAN}, {label: PCADirections})`` of every run of a
    :class:`LatentExplorer`, in its dropdown's order (selecting each run in turn; the first
    is selected afterwards)."""
    gans, pcas = {}, {}
    labels = list(explorer.run_dropdown.options)
    for label in labels:
        explorer.set(run=label)
        gans[label], pcas[label] = explorer.gan, explorer.pca
    _ = explorer.set(run=labels[0])
    return gans, pcas


def explorer_states(explorer) -> dict[str, dict[str, np.ndarray]]:
    """The explorer driven from code, as clicks would: per run ``{state: image}`` (seed 0,
    PC1 +2 std, t = 0.5, the model's own control); each run is reset afterwards and the
    last stays selected."""
    states = {}
    for label in list(explorer.run_dropdown.options):
        explorer.set(run=label)
        gan = explorer.gan
        row = {"seed 0": explorer.set(mode="pca", offsets=(), seed_a=0, seed_b=1, t=0.0)}
        row["PC1 +2 std"] = explorer.set(offsets=(2.0,))
        row["t = 0.5 (seeds 0→1)"] = explorer.set(offsets=(), t=0.5)
        explorer.set(t=0.0)
        if "k" in default_controls(gan):   # a mixture latent
            k = (explorer.k_slider.value + gan.latent.K // 2) % gan.latent.K
            row[f"component k = {k}"] = explorer.set(k=k)
        elif explorer.mu_offset is not None:
            row["mu offset +0.8"] = explorer.set(mu_offset=0.8)
        else:
            row["raw eps[0] +3 std"] = explorer.set(mode="raw", raw_start=0, offsets=(3.0,))
        explorer.reset_button.click()
        explorer.set(mode="pca")
        states[label] = row
    return states
