"""The plan of a reference run before it starts: every training run the notebooks of a
profile will train, once each, with its model, purpose, seed, kimg and cost
(:func:`reproduce_plan`), and the core-minutes and wall minutes per notebook and paper
(:func:`plan_summary`; ``python -m paperlib plan``).

The jobs come from the functions the notebooks call (``paper_b.setup``,
``paper_b.plan_shape_learning``, ``paper_b.conditional_config``, ``paper_b.CurationJob`` /
``ControlJob``'s rules, ``engine.profile_jobs``, ``paper_a.search_jobs``,
``paper_a.ablation_jobs`` / ``secondary_seeds``' rule, ``paper_a.replication``) with the
notebooks' parameter defaults (:data:`NOTEBOOK_DEFAULTS`), on the profile's stand-in sets
built in a temporary folder (seconds; ``data/`` is never written). A run is keyed by its
root and :func:`paperlib.engine.run_name` with the data set's *name* in place of its
manifest hash, so the plan is the same on a cold machine and a warm one. Nothing trains;
evaluation (FID/KID/IS, curation rating, the IS classifier) is not in the plan: paperlib
has no estimate of it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from . import config
from .data.folders import MANIFEST, image_files
from .data.real_emoji import COMBINED, REAL_EMOJI_DIR
from .data.sets import build_all
from .engine.config import TrainConfig, profile_jobs, run_name
from .engine.probe import step_probe
from .models import get_model
from .paper_a import ablation, instability, replication
from .paper_a.report import MODELS as PAPER_A_MODELS
from .paper_b import jobs as b_jobs
from .paper_b import shape_learning as sl
from .paper_b.conditional import conditional_config
from .utils.io import atomic_write_text

#: The notebooks that train or read runs, in run order, and their paper.
NOTEBOOKS = {"01": "B", "01b": "B", "02": "A", "03": "A", "04": "A", "05": "B", "06": "A",
             "07": "A", "08": "A"}

#: The notebooks' own parameter defaults the plan needs (their parameters cells; a test
#: checks them against the notebooks).
NOTEBOOK_DEFAULTS = {
    "01": {"shape_ratio": 0.5, "pretrain_frac": 0.5, "budget": "artist", "optimiser": "paper"},
    "01b": {"artists": ("artist_donglein", "artist_geometric"), "map_source": "auto",
            "compare_stages": ("alone", "finetune", "cond")},
    "03": {"OLD_SETTING": {"deligan_K": 50, "deligan_assign": "uniform",
                           "deligan_lambda": 0.1}},
    "05": {"shape_stage": "finetune", "control": True, "random_control": True,
           "first_row": True},
}

#: Images of the installed real-emoji set notebook 08 trains on (``combined``: OpenMoji,
#: Fluent and Twemoji faces, docs/DATA_REAL_EMOJI.md); planned with this count where the
#: set is not installed.
REAL_EMOJI_IMAGES = 208

#: Notebook 01's arms by stage. Deciding: the deciding arms (transfer, class conditioning)
#: and what they are compared with (the 1st result, the longer control; docs/DECISIONS.md,
#: "The deciding arms"); the mix and the augmentation comparison are secondary.
B_ARMS = {"alone": "1st result", "longer": "longer control", "pretrain": "pretrain",
          "finetune": "finetune", "cond": "cond", "mix": "mix"}
B_DECIDING = ("alone", "longer", "pretrain", "finetune", "cond")

#: Notebook 05's cells: (arm, deciding). Issue 26 names the whole 2 x 2 (the technique and
#: its control on the 1st result and on shape learning) and the random-selection control as
#: deciding: none of them may be cut for time.
CURATION_CELLS = {"shape": ("curation loop", True), "random": ("random control", True),
                  "first": ("2x2: 1st result + technique", True)}

#: The plan's columns (:func:`reproduce_plan`).
PLAN_COLUMNS = ["notebook", "paper", "model", "arm", "data", "seed", "config", "kimg",
                "s_per_kimg", "rate", "core_min", "shared", "deciding", "conditional", "run"]

#: The wall-time limit each paper's invocation is planned against (minutes).
LIMIT_MIN = 120.0

#: What the plan leaves out, said beside every summary.
EVALUATION_NOTE = ("Evaluation (FID/KID/IS scoring, notebook 05's rating, the emoji-parts IS "
                   "classifier, samples) is not in the plan: paperlib has no estimate of it.")


@dataclass
class _Use:
    """One notebook's use of a training run."""

    notebook: str
    arm: str
    model: str
    data: str
    seed: int | None
    config: str
    kimg: float
    key: str
    deciding: bool
    conditional: bool = False


@dataclass
class _Planner:
    """Collects the uses of every notebook on stand-in sets built under ``tmp``."""

    prof: Any
    tmp: Path
    chosen_n: dict
    uses: list = field(default_factory=list)
    setups: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sets_dir = self.tmp / "data"
        self.root = self.tmp / "runs"
        p = self.prof
        self.sets = {name: self.sets_dir / name for name in
                     build_all(self.sets_dir, seed=0, res=p.res, n_shapes=p.n_shapes,
                               n_artist=p.n_artist)}

    # ------------------------------------------------------------------------- keys
    def data_name(self, folder: Any) -> str:
        """A data folder's name for run keys: its path under the temporary sets (hash
        fragments of mix names dropped), else its own folder name."""
        folder = Path(folder)
        try:
            rel = folder.relative_to(self.sets_dir).as_posix()
        except ValueError:
            return folder.name
        return re.sub(r"-[0-9a-f]{8}(?=[+\-]|$)", "", rel)

    def key(self, cfg: TrainConfig, data_dir: Any, root: Any, start: str | None = None) -> str:
        """``<root name>/<run_name>`` with the data set's name (and ``start``, the run a
        fine-tuning starts from, in place of a checkpoint that does not exist yet)."""
        if start is not None:
            cfg = dataclasses.replace(cfg, init_from=start)
        return f"{Path(root).name}/{run_name(cfg, self.data_name(data_dir))}"

    def add(self, notebook: str, arm: str, cfg: TrainConfig, data_dir: Any, root: Any, *,
            deciding: bool, conditional: bool = False, start: str | None = None) -> str:
        """Record a use of ``cfg`` on ``data_dir`` (kimg: its epochs of that folder)."""
        key = self.key(cfg, data_dir, root, start)
        kimg = cfg.epochs * len(image_files(data_dir)) / 1000.0
        self.uses.append(_Use(notebook, arm, cfg.model, self.data_name(data_dir), cfg.seed,
                              cfg.config, kimg, key, deciding, conditional))
        return key

    # ------------------------------------------------------------------------- paper B
    def b_setups(self, artists) -> dict:
        """``paper_b.setup`` per stand-in artist (its held-out split made here)."""
        for name in artists:
            if name not in self.setups:
                self.setups[name] = b_jobs.setup(self.prof, artist_folder=self.sets[name])
        return {name: self.setups[name] for name in artists}

    def shape_jobs(self, setups: dict, stages, model: str, augment: str, seeds) -> list:
        """``paper_b.plan_shape_learning`` as notebook 01 calls it (01b and 05 pass the same
        values), its mixes built under the temporary folder."""
        nb = NOTEBOOK_DEFAULTS["01"]
        train = {name: b.train_dirs[name] for name, b in setups.items()}
        epochs = next(iter(setups.values())).epochs
        return sl.plan_shape_learning(
            self.prof, train, self.sets["shapes"], seeds, self.root / "paper_b", stages,
            shape_ratio=nb["shape_ratio"], pretrain_frac=nb["pretrain_frac"],
            budget=nb["budget"], augment=augment, mixes_dir=self.sets_dir / "mixes",
            model=model, config=nb["optimiser"], epochs=epochs)

    def add_shape_jobs(self, notebook: str, plan: list, reader: bool = False,
                       arm_tail: str = "") -> dict:
        """Uses of :func:`plan_shape_learning`'s jobs; ``{(artist, seed, stage): key}``.
        A fine-tuning is keyed by its pre-training run (its checkpoint does not exist)."""
        keys = {}
        for j in plan:
            start = None
            if j.stage == "finetune" and j.cfg.init_from is None:
                start = f"checkpoint of {keys[j.name, j.seed, 'pretrain']}"
            deciding = not reader and j.stage in B_DECIDING and not arm_tail
            keys[j.name, j.seed, j.stage] = self.add(
                notebook, B_ARMS[j.stage] + arm_tail, j.cfg, j.data_dir, j.root,
                deciding=deciding, start=start)
        return keys

    def notebook_01(self) -> None:
        """The profile's stages for every artist and seed, then the other augmentations."""
        p = self.prof
        setups = self.b_setups(p.artists)
        b = next(iter(setups.values()))
        stages = tuple(p.b_stages)
        self.add_shape_jobs("01", self.shape_jobs(setups, stages, b.model, b.augment, b.seeds))
        augment_seeds = b.seeds[:1] if p.name == "cpu" else b.seeds
        for aug in (a for a in p.augments if a != b.augment):
            self.add_shape_jobs("01", self.shape_jobs(setups, ("alone",), b.model, aug,
                                                      augment_seeds), arm_tail=f" ({aug})")

    def notebook_01b(self) -> None:
        """Pix2pixHD per artist and seed; the StyleGAN2 columns read notebook 01's runs."""
        nb = NOTEBOOK_DEFAULTS["01b"]
        setups = self.b_setups(nb["artists"])
        b = next(iter(setups.values()))
        for name, bs in setups.items():
            for s in b.seeds:
                cfg, _ = conditional_config(self.prof, bs.train_dirs[name], s,
                                            nb["map_source"], None)
                self.add("01b", "conditional route (maps)", cfg, bs.train_dirs[name],
                         self.root / "paper_b", deciding=True)
        self.add_shape_jobs("01b", self.shape_jobs(setups, nb["compare_stages"], b.model,
                                                   b.augment, b.seeds), reader=True)

    def notebook_05(self) -> None:
        """The loops and controls per artist and seed, from notebook 01's runs (its
        ``CurationJob`` built from the profile's values and the class's default rules: the
        start runs do not exist yet)."""
        nb, p = NOTEBOOK_DEFAULTS["05"], self.prof
        setups = self.b_setups(p.artists)
        b = next(iter(setups.values()))
        stage = nb["shape_stage"]
        base = tuple(dict.fromkeys(("alone", stage, "longer")))
        keys = self.add_shape_jobs("05", self.shape_jobs(setups, base, b.model, b.augment,
                                                         b.seeds), reader=True)
        top_k = b_jobs.CurationJob.default_top_k(p.curation_generate)
        for name, bs in setups.items():
            train = bs.train_dirs[name]
            epochs = b_jobs.CurationJob.default_epochs(bs.epochs * bs.n_train[name],
                                                       p.curation_size)
            for s in bs.seeds:
                starts = [("shape", keys[name, s, stage], "auto")]
                if nb["random_control"]:
                    starts.append(("random", keys[name, s, stage], "random"))
                if nb["first_row"]:
                    starts.append(("first", f"{keys[name, s, 'alone']}@epoch{bs.epochs}",
                                   "auto"))
                for cell, start, rater in starts:
                    job = b_jobs.CurationJob(start, str(train), "", str(self.root), p.res,
                                             p.curation_rounds, p.curation_size,
                                             p.curation_generate, top_k, epochs, name=name,
                                             seed=s, rater=rater)
                    self.add_curation(cell, job, b.model, NOTEBOOK_DEFAULTS["01"]["optimiser"],
                                      nb["control"] and cell != "random")

    def add_curation(self, cell: str, job: Any, model: str, cfg_name: str, control: bool
                     ) -> None:
        """Notebook 05's loop rounds (and control) from ``job`` (a ``CurationJob``)."""
        arm, deciding = CURATION_CELLS[cell]
        data = f"{Path(job.train_dir).name} (curated)"
        for r in range(job.rounds):
            self.uses.append(_Use("05", f"{arm} round {r}", model, data, job.seed, cfg_name,
                                  job.epochs * job.size / 1000.0,
                                  f"paper_b/curation/{job.start_run}/{job.rater}/round{r}",
                                  deciding))
        if control:
            ctl = b_jobs.ControlJob.from_profile(self.prof, job)
            tail = "control" if cell == "shape" else "2x2: 1st result + control"
            self.uses.append(_Use("05", tail, model, Path(job.train_dir).name, job.seed,
                                  cfg_name, ctl.epochs * len(image_files(job.train_dir)) / 1e3,
                                  f"paper_b/control/{job.start_run}", deciding))

    # ------------------------------------------------------------------------- paper A
    def paper_a_jobs(self, model: str, configs=None, seeds=None, **opts) -> dict:
        """``engine.profile_jobs`` of ``model`` on the stand-in emoji set."""
        return profile_jobs(self.prof, model, self.sets["emoji"], self.root / "paper_a",
                            configs, seeds, **opts)

    def add_a_jobs(self, notebook: str, jobs: dict, arm: str = "", reader: bool = False
                   ) -> None:
        for (c, _), (cfg, data, root) in jobs.items():
            self.add(notebook, arm or f"{c} config", cfg, data, root,
                     deciding=not reader and c == "paper")

    def notebook_02_03(self) -> None:
        """DCGAN and DeLiGAN in both configs; DeLiGAN's old setting at the first seed."""
        for nb, model in (("02", PAPER_A_MODELS[0]), ("03", PAPER_A_MODELS[1])):
            self.add_a_jobs(nb, self.paper_a_jobs(model))
        for (_, _), (cfg, data, root) in self.paper_a_jobs(
                PAPER_A_MODELS[1], ("paper",), self.prof.seeds[:1],
                **NOTEBOOK_DEFAULTS["03"]["OLD_SETTING"]).items():
            self.add("03", "old DeLiGAN setting (collapse contrast)", cfg, data, root,
                     deciding=False)

    def notebook_04(self) -> None:
        """Both readings' N searches, the runs at the chosen N, the ablation, and the runs
        the secondary-seeds rule adds (``conditional``: assumed to fire)."""
        p, emoji, root = self.prof, self.sets["emoji"], self.root / "paper_a"
        prim, sec = instability.PRIMARY_READING, instability.SECONDARY_READING
        for r in (prim, sec):
            ns, jobs = instability.search_jobs(p, emoji, root, reading=r)
            for n, (cfg, data, rt) in zip(ns, jobs):
                # both readings' searches are asked for (issue 27): neither is cut for time
                self.add("04", f"N search {r} N={n}", cfg, data, rt, deciding=True)
        N = self.chosen_n[prim]
        self.add_a_jobs("04", self.paper_a_jobs(PAPER_A_MODELS[2], proposed_N=N))
        seeds = {prim: tuple(p.ablation_seeds), sec: tuple(p.ablation_seeds_secondary)}
        abl = ablation.ablation_jobs(p, emoji, root, self.chosen_n, seeds)
        for (r, v, _s), (cfg, data, rt) in abl.items():
            # the test of the mechanism: 3 seeds primary, 1 secondary (issue 27), not cut
            self.add("04", f"ablation {r}: {v}", cfg, data, rt, deciding=True)
        # the rule decided in advance, fed FIDs that make the secondary reading better
        more, _ = ablation.secondary_seeds({(prim, s): math.inf for s in seeds[prim]} |
                                           {(sec, s): 0.0 for s in seeds[sec]},
                                           seeds[prim], seeds[sec])
        rule = ablation.ablation_jobs(p, emoji, root, self.chosen_n, {**seeds, sec: more},
                                      baseline=False)
        for (r, v, s), (cfg, data, rt) in rule.items():
            if (r, v, s) not in abl:
                self.add("04", f"ablation {r}: {v} (secondary seeds rule)", cfg, data, rt,
                         deciding=False, conditional=True)

    def notebook_06_07(self) -> None:
        """What notebooks 06 (Table 1, every run of 02-04) and 07 (seed 0) read."""
        N = self.chosen_n[instability.PRIMARY_READING]
        for m in PAPER_A_MODELS:
            opts = {"proposed_N": N} if m == PAPER_A_MODELS[2] else {}
            self.add_a_jobs("06", self.paper_a_jobs(m, **opts), "Table 1 and claims audit",
                            reader=True)
            self.add_a_jobs("07", self.paper_a_jobs(m, ("paper",), (0,), **opts),
                            "latent explorer", reader=True)

    def notebook_08(self) -> None:
        """The real-emoji N search and runs (the installed set, else its size; at ``smoke``
        the notebook falls back to a tiny fixture instead)."""
        p = self.prof
        folder = Path(REAL_EMOJI_DIR) / COMBINED
        if not (folder / MANIFEST).is_file():   # not installed: its size, no images
            folder = self.tmp / "real_emoji" / COMBINED
            folder.mkdir(parents=True)
            for i in range(REAL_EMOJI_IMAGES):   # counted only (the DCGAN family's configs
                (folder / f"{i:04d}.png").touch()   # depend on the set's size alone)
        n = len(image_files(folder))
        rprof = replication.replication_profile(p, n)
        root = self.root / "paper_a_real"
        ns, jobs = instability.search_jobs(rprof, folder, root)
        for k, (cfg, data, rt) in zip(ns, jobs):
            self.add("08", f"real emoji: N search N={k}", cfg, data, rt, deciding=True)
        N = instability.first_n(instability.PRIMARY_READING)
        for cfg, data, rt in replication.real_jobs(rprof, folder, root, p.seeds, N).values():
            self.add("08", "real emoji: paper config", cfg, data, rt, deciding=True)

    def collect(self) -> list:
        """Every notebook's uses, in run order."""
        self.notebook_01()
        self.notebook_01b()
        self.notebook_02_03()
        self.notebook_04()
        self.notebook_05()
        self.notebook_06_07()
        self.notebook_08()
        order = list(NOTEBOOKS)
        return sorted(self.uses, key=lambda u: order.index(u.notebook))


# ----------------------------------------------------------------------------- rates
def model_rates(models, profile: Any, s_per_kimg: Mapping | None = None) -> dict:
    """``{model: (s/kimg, source)}``: the reference machine's (:attr:`ModelSpec.
    seconds_per_kimg`, NaN without one) when ``s_per_kimg`` is None; else the measured
    value, and for a model not measured its reference times the median measured/reference
    ratio of the others."""
    name = config.get_profile(profile).name
    ref = {m: get_model(m).seconds_per_kimg.get(name, math.nan) for m in models}
    if s_per_kimg is None:
        return {m: (r, "reference") for m, r in ref.items()}
    ratios = [float(s) / ref[m] for m, s in s_per_kimg.items()
              if m in ref and math.isfinite(ref[m]) and ref[m] > 0]
    scale = statistics.median(ratios) if ratios else math.nan
    return {m: ((float(s_per_kimg[m]), "measured") if m in s_per_kimg
                else (ref[m] * scale, f"reference x {scale:.2f} (median measured ratio)"))
            for m in models}


def manifest_rates(manifest: Any) -> dict:
    """``{model: median training seconds per kimg}`` over the finished runs a results
    manifest records (:func:`paperlib.reproduce.run_records`; ``manifest``: its path or the
    loaded dict): the rates a past reference run measured, for :func:`reproduce_plan`."""
    if not isinstance(manifest, Mapping):
        manifest = json.loads(Path(manifest).read_text())
    rates: dict = {}
    for r in manifest.get("runs") or []:
        if r.get("status") == "finished" and (r.get("kimg") or 0) > 0 \
                and r.get("train_seconds") is not None:
            rates.setdefault(r["model"], []).append(float(r["train_seconds"]) / r["kimg"])
    return {m: statistics.median(v) for m, v in rates.items()}


def probe_rates(profile: Any, **probe_kw) -> tuple[dict, dict]:
    """This machine's ``({model: s/kimg}, probe result)`` from the one-thread step probe
    (:func:`paperlib.engine.probe.step_probe`)."""
    res = step_probe(profile, **probe_kw)
    return {m: r["s_per_kimg"] for m, r in res.items()}, res


def probe_report(profile: Any, **probe_kw) -> tuple[dict, str, str]:
    """:func:`probe_rates` with the load average before it: ``(rates, a table of the probe,
    what the plan's rates are)``; the table says when the machine was loaded (1-minute load
    average above its core count: other processes inflate the probe)."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    rates, res = probe_rates(profile, **probe_kw)
    lines = [f"step probe ({config.get_profile(profile).name} profile, 1 thread), load "
             f"average {load:.2f} on {cores} cores",
             f"{'model':10s} {'s/kimg':>8s} {'reference':>10s} {'ratio':>6s}"]
    lines += [f"{m:10s} {r['s_per_kimg']:8.2f} {r['reference_s_per_kimg']:10.2f} "
              f"{r['slowdown']:6.2f}" for m, r in res.items()]
    loaded = load > cores
    if loaded:
        lines.append(f"note: taken on a loaded machine (load average {load:.2f} > {cores} "
                     "cores): the probe's s/kimg are inflated")
    what = (f"this machine's step probe, load average {load:.2f} on {cores} cores"
            + (", a loaded machine" if loaded else ""))
    return rates, "\n".join(lines) + "\n", what


# ----------------------------------------------------------------------------- the plan
def reproduce_plan(profile: Any = "cpu", s_per_kimg: Mapping | None = None,
                   chosen_n: Mapping | None = None) -> pd.DataFrame:
    """One row per training run of every notebook at ``profile`` (:data:`PLAN_COLUMNS`),
    each run once: in the first notebook (run order) that trains it, ``arm`` its purposes
    there, ``kimg`` the longest use (the longer control extends the 1st result's run),
    ``shared`` the other notebooks/arms that reuse it, ``deciding`` True when any use is a
    claim's deciding arm/seed/horizon, ``conditional`` True when every use happens only
    under a rule (notebook 04's secondary-seeds rule, assumed to fire). ``s_per_kimg``:
    None for the reference machine's rates, or ``{model: measured s/kimg}``
    (:func:`model_rates`). ``chosen_n``: ``{reading: N}`` the N searches choose (default:
    each reading's first N; the cost does not depend on it, since every N is searched)."""
    prof = config.get_profile(profile)
    chosen = {r: instability.first_n(r) for r in (instability.PRIMARY_READING,
                                                  instability.SECONDARY_READING)}
    chosen.update(chosen_n or {})
    with tempfile.TemporaryDirectory(prefix="paperlib-plan-") as tmp:
        uses = _Planner(prof, Path(tmp), chosen).collect()
    rates = model_rates(sorted({u.model for u in uses}), prof, s_per_kimg)
    by_key: dict = {}
    for u in uses:
        by_key.setdefault(u.key, []).append(u)
    rows = []
    for key, group in by_key.items():
        own = group[0]
        arms = [u.arm for u in group if u.notebook == own.notebook]
        others = [f"{u.notebook}: {u.arm}" for u in group if u.notebook != own.notebook]
        rate, source = rates[own.model]
        kimg = round(max(u.kimg for u in group), 3)
        rows.append({"notebook": own.notebook, "paper": NOTEBOOKS[own.notebook],
                     "model": own.model, "arm": " + ".join(dict.fromkeys(arms)),
                     "data": own.data, "seed": own.seed, "config": own.config,
                     "kimg": kimg, "s_per_kimg": rate, "rate": source,
                     "core_min": kimg * rate / 60.0,
                     "shared": "; ".join(dict.fromkeys(others)),
                     "deciding": any(u.deciding for u in group),
                     "conditional": all(u.conditional for u in group), "run": key})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_summary(plan: pd.DataFrame, slots: int = 2, limit_min: float = LIMIT_MIN
                 ) -> pd.DataFrame:
    """Per notebook, per paper and in all: ``runs``, ``kimg``, ``core_min`` of the planned
    runs, ``wall_min`` on ``slots`` workers, and the conditional runs apart
    (``cond_runs``, ``cond_core_min``, ``wall_min_if_rule`` with them). A notebook's wall
    time is a lower bound: ``core_min / slots``, never under its longest run; a paper's and
    the total are the sums (the notebooks run one after another). ``fits`` (papers and the
    total): ``wall_min_if_rule <= limit_min``; ``over_min`` by how much it misses."""
    slots = max(1, int(slots))

    def wall(rows: pd.DataFrame) -> float:
        return max(rows.core_min.sum() / slots, rows.core_min.max()) if len(rows) else 0.0

    out = []
    for nb in NOTEBOOKS:
        g = plan[plan.notebook == nb]
        planned, cond = g[~g.conditional], g[g.conditional]
        out.append({"scope": "notebook", "paper": NOTEBOOKS[nb], "notebook": nb,
                    "runs": len(planned), "kimg": planned.kimg.sum(),
                    "core_min": planned.core_min.sum(), "wall_min": wall(planned),
                    "cond_runs": len(cond), "cond_core_min": cond.core_min.sum(),
                    "wall_min_if_rule": wall(g)})
    nbs = pd.DataFrame(out)
    groups = [(f"paper {p}", nbs[nbs.paper == p]) for p in sorted(set(nbs.paper))]
    groups.append(("all", nbs))
    for name, g in groups:
        total = {c: g[c].sum() for c in ("runs", "kimg", "core_min", "wall_min", "cond_runs",
                                         "cond_core_min", "wall_min_if_rule")}
        over = total["wall_min_if_rule"] - limit_min
        out.append({"scope": "paper" if name != "all" else "total",
                    "paper": name.removeprefix("paper ") if name != "all" else "A+B",
                    "notebook": name, **total, "fits": bool(over <= 0),
                    "over_min": max(0.0, over)})
    df = pd.DataFrame(out)
    return df[["scope", "paper", "notebook", "runs", "kimg", "core_min", "wall_min",
               "cond_runs", "cond_core_min", "wall_min_if_rule", "fits", "over_min"]]


def summary_text(summary: pd.DataFrame, slots: int, rates: str,
                 limit_min: float = LIMIT_MIN) -> str:
    """The summary as a Markdown table with a line per paper on the limit, and the note."""
    shown = summary.assign(
        fits=summary.fits.map(lambda v: "" if v is None or v != v else ("yes" if v else "no")),
        over_min=summary.over_min.map(lambda v: "" if v != v else f"{v:.1f}"))
    lines = [shown.to_markdown(index=False, floatfmt=".1f"), ""]
    for r in summary[summary.scope == "paper"].itertuples():
        verdict = ("fits" if r.fits else f"does not fit: {r.over_min:.1f} min over")
        lines.append(f"- paper {r.paper}: {r.wall_min:.1f} min planned on {slots} cores "
                     f"({r.wall_min_if_rule:.1f} min if the conditional runs train): "
                     f"{verdict} {limit_min:g} min ({rates}).")
    return "\n".join([*lines, "", EVALUATION_NOTE])


def write_plan(plan: pd.DataFrame, summary: pd.DataFrame, out: Any, text: str) -> list:
    """``plan.csv``, ``plan.md``, ``plan_summary.csv`` and ``plan_summary.md`` (the summary
    ``text``) under ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"plan.csv": plan.to_csv(index=False),
             "plan.md": plan.to_markdown(index=False, floatfmt=".2f") + "\n",
             "plan_summary.csv": summary.to_csv(index=False),
             "plan_summary.md": text + "\n"}
    return [atomic_write_text(out / name, body) for name, body in files.items()]


# ----------------------------------------------------------------------------- the command
def _slots(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_command(sub) -> None:
    """The command line's ``plan`` subcommand (:mod:`paperlib.cli` registers it)."""
    p = sub.add_parser("plan", help="every training run a reproduction trains, and its time",
                       description="List every training run the notebooks of a profile train "
                                   "(once each, with the notebooks that share it), its kimg "
                                   "and core-minutes, and the wall minutes per notebook and "
                                   "paper on --slots workers. Nothing trains; evaluation is "
                                   "not in the plan. Details: paperlib/plan.py.")
    p.add_argument("--profile", default=None,
                   help=f"one of {', '.join(config.PROFILES)} (default $PAPERLIB_PROFILE or cpu)")
    p.add_argument("--probe", action="store_true",
                   help="first time this machine (the one-thread step probe, seconds) and "
                        "plan with its s/kimg instead of the reference machine's")
    p.add_argument("--slots", type=_slots, default=2,
                   help="workers the runs are spread over (default 2)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="also write plan.csv, plan.md, plan_summary.csv and plan_summary.md "
                        "to DIR (default: print only)")


def run_command(args) -> int:
    """``python -m paperlib plan``: print the summary (after the probe with ``--probe``),
    write the files with ``--out``; exit status 0."""
    prof = config.get_profile(args.profile)
    rates, what = None, "the reference machine's s/kimg (ModelSpec.seconds_per_kimg)"
    if args.probe:
        rates, text, what = probe_report(prof)
        print(text)
    plan = reproduce_plan(prof, rates)
    summary = plan_summary(plan, args.slots)
    text = summary_text(summary, args.slots, what)
    print(f"plan of the {prof.name} profile: {len(plan)} training runs\n")
    print(text)
    if args.out is not None:
        for path in write_plan(plan, summary, args.out, text):
            print(f"wrote {path}")
    return 0


__all__ = ["EVALUATION_NOTE", "NOTEBOOKS", "NOTEBOOK_DEFAULTS", "PLAN_COLUMNS",
           "REAL_EMOJI_IMAGES", "add_command", "manifest_rates", "model_rates", "plan_summary", "probe_report",
           "probe_rates", "reproduce_plan", "run_command", "summary_text", "write_plan"]
