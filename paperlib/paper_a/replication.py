"""Paper A replicated on real face emoji (notebook 08; issue 27, item 6): which data the
notebook uses or why it skips, the counts per vendor and class, the sample grid, the runs
(the stand-in's number of epochs, counted in epochs of this set), the median seed, and the
verdicts beside the stand-in's (notebook 06's claims audit). The scoring, Table 1, the
instability measures and the verdicts themselves are notebook 06's functions
(:mod:`paperlib.paper_a.report`, :mod:`paperlib.paper_a.instability`). Choices:
docs/DECISIONS.md, "Paper A on real emoji"."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import EMOJI_SET_SIZE, Profile, data_dir, figures_dir, get_profile
from ..data import real_emoji as re_
from ..data.folders import MANIFEST, class_folders, image_files, load_folder, read_manifest
from ..data.real_emoji_fixture import build_real_emoji_fixture
from ..engine.config import epochs_for_kimg, profile_jobs
from .report import AUDIT_COLUMNS, MODELS

#: The real set notebook 08 trains on: every vendor's faces together.
REAL_SET = re_.COMBINED

#: Where a choice of data leads (:func:`choose_source`): a folder given, the installed
#: sets, the fixture (smoke only), or a skip.
SOURCES = ("given", "installed", "fixture", "skip: no data", "skip: no cairosvg")

#: The claims' config: paper A's optimiser settings (lr 1e-2), the only one run here.
CLAIMS_CONFIG = "paper"

#: The stand-in's claims audit (notebook 06) that the verdicts are shown beside.
STANDIN_AUDIT = "06_claims_audit"


# ----------------------------------------------------------------------------- the data
def choose_source(profile_name: str, given: bool, installed: bool, cairo: bool) -> str:
    """Which data notebook 08 uses (one of :data:`SOURCES`): a folder the caller gave, else
    the installed real sets, else at the ``smoke`` profile the fixture when cairosvg can
    rasterise it; otherwise a skip (the real data is missing, or cairosvg for the fixture)."""
    if given:
        return "given"
    if installed:
        return "installed"
    if profile_name != "smoke":
        return "skip: no data"
    return "fixture" if cairo else "skip: no cairosvg"


@dataclass(frozen=True)
class RealData:
    """The data notebook 08 runs on: ``folder`` (None: skip every later cell), ``source``
    (:data:`SOURCES`) and ``message``, what to print."""

    folder: Path | None
    source: str
    message: str

    @property
    def ok(self) -> bool:
        return self.folder is not None


def how_to_install() -> str:
    """How to get the real sets, in words."""
    return ("install them with `make real-emoji` (fetches the pinned OpenMoji, Fluent Emoji "
            "and Twemoji npm packages once with npm, rasterises their faces with cairosvg; "
            "docs/DATA_REAL_EMOJI.md), or pass data_folder=<a labelled folder>")


def locate_real_data(profile, data_folder=None, real_root=None, fixture_root=None,
                     vendor: str = REAL_SET) -> RealData:
    """The data of notebook 08 by :func:`choose_source`: ``data_folder`` when given (it must
    exist: ``FileNotFoundError``), else the installed set ``vendor`` under ``real_root``
    (default: the home's ``data/real_emoji``), else at the smoke profile the fixture built
    in ``fixture_root`` (default ``data/smoke/real_emoji_fixture``), else a skip whose
    message says how to get the data. Nothing is downloaded."""
    prof = get_profile(profile)
    if data_folder is not None:
        folder = Path(data_folder)
        if not image_files(folder):
            raise FileNotFoundError(f"data_folder {folder} holds no images")
        return RealData(folder, "given", f"data: the folder given, {folder}")
    real_root = Path(real_root if real_root is not None else re_.REAL_EMOJI_DIR)
    installed = (real_root / vendor / MANIFEST).is_file()
    source = choose_source(prof.name, False, installed, re_.cairosvg_available())
    if source == "installed":
        return RealData(real_root / vendor, source,
                        f"data: the installed real emoji, {real_root / vendor}")
    if source == "fixture":
        root = Path(fixture_root if fixture_root is not None
                    else data_dir(prof) / "real_emoji_fixture")
        build_real_emoji_fixture(root)
        return RealData(root / vendor, source,
                        f"data: the real emoji are not installed ({real_root}), so this smoke "
                        f"run uses the tiny fixture of hand-written SVGs built by "
                        f"paperlib.data.real_emoji_fixture ({root / vendor}): it exercises the "
                        "code path, its numbers mean nothing. To run on the real faces, "
                        + how_to_install() + ".")
    if source == "skip: no cairosvg":
        return RealData(None, source,
                        f"SKIPPED: the real emoji are not installed ({real_root}) and cairosvg "
                        "is missing, so not even the smoke fixture can be built; "
                        + how_to_install() + ". Every later cell is skipped.")
    return RealData(None, source,
                    f"SKIPPED: the real emoji are not installed ({real_root / vendor} has no "
                    f"{MANIFEST}); " + how_to_install() + ". Every later cell is skipped.")


def _vendor_order(vendors) -> list[str]:
    """Distinct ``vendors`` in :data:`~paperlib.data.real_emoji.VENDORS` order, others after."""
    known = [v.name for v in re_.VENDORS]
    return sorted(dict.fromkeys(vendors), key=lambda v: (known.index(v) if v in known
                                                         else len(known), v))


def _entries(folder) -> list[dict]:
    """``[{file, label, vendor, subgroup}]`` of a folder: from its manifest when it has one
    (the real sets), else its class sub-folders (vendor and subgroup ``"-"``)."""
    folder = Path(folder)
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        if manifest.get("images"):
            return [{"file": e["file"], "label": e["label"],
                     "vendor": e.get("recipe", {}).get("vendor", "-"),
                     "subgroup": e.get("recipe", {}).get("subgroup", "-")}
                    for e in manifest["images"]]
    _, files = class_folders(folder)
    return [{"file": p.relative_to(folder).as_posix(), "label": p.relative_to(folder).parts[0],
             "vendor": "-", "subgroup": "-"} for p in files]


def counts_table(folder) -> pd.DataFrame:
    """Images per vendor and class of a labelled set, one row per vendor (in
    :data:`~paperlib.data.real_emoji.VENDORS` order) then ``all``:
    ``vendor``, ``package``, ``licence``, one column per class, ``total`` and ``missing``
    (the faces the vendor's package lacks). Package, licence and missing come from a real
    set's manifest (``-`` for other folders)."""
    folder = Path(folder)
    entries = pd.DataFrame(_entries(folder))
    params = read_manifest(folder).get("params", {}) if (folder / MANIFEST).is_file() else {}
    pins, missing = params.get("vendors", {}), params.get("missing", {})
    classes = sorted(entries.label.unique(), key=lambda c: (c != "positive", c))
    rows = []
    for vendor in _vendor_order(entries.vendor):
        sub = entries[entries.vendor == vendor]
        pin = pins.get(vendor, {})
        rows.append({"vendor": vendor, "package": pin.get("package", "-"),
                     "licence": pin.get("licence", "-"),
                     **{c: int((sub.label == c).sum()) for c in classes}, "total": len(sub),
                     "missing": ", ".join(f"U+{m}" for m in missing.get(vendor, [])) or "-"})
    rows.append({"vendor": "all", "package": "-", "licence": "-",
                 **{c: int((entries.label == c).sum()) for c in classes},
                 "total": len(entries), "missing": "-"})
    return pd.DataFrame(rows)


def vendor_class_samples(folder, res: int, per_cell: int = 8, seed: int = 0) -> dict:
    """``{(vendor, class): images (k, 3, res, res) in [-1, 1]}``: up to ``per_cell`` images
    of each vendor and class drawn with ``seed``, vendors in
    :data:`~paperlib.data.real_emoji.VENDORS` order, positive first (drawn by
    :func:`paperlib.plots.vendor_class_figure`)."""
    folder = Path(folder)
    entries = _entries(folder)
    loaded = load_folder(folder, res)
    index = {p.relative_to(folder).as_posix(): i for i, p in enumerate(loaded.paths)}
    rng = np.random.default_rng(seed)
    out = {}
    labels = sorted({e["label"] for e in entries}, key=lambda c: (c != "positive", c))
    for vendor in _vendor_order(e["vendor"] for e in entries):
        for label in labels:
            files = [e["file"] for e in entries if e["vendor"] == vendor
                     and e["label"] == label and e["file"] in index]
            if not files:
                continue
            pick = sorted(rng.choice(len(files), min(per_cell, len(files)), replace=False))
            out[vendor, label] = loaded.images[torch.tensor([index[files[i]] for i in pick])]
    return out


# ----------------------------------------------------------------------------- the runs
def standin_epochs(profile) -> int:
    """The epochs a profile trains paper A's models on the stand-in (804 images): its
    ``kimg`` in epochs of :data:`~paperlib.config.EMOJI_SET_SIZE` (200 at cpu and paper)."""
    return epochs_for_kimg(get_profile(profile).kimg, EMOJI_SET_SIZE)


def replication_profile(profile, n_images: int) -> Profile:
    """``profile`` with its paper-A budget (``kimg``) set to the stand-in's number of epochs
    (:func:`standin_epochs`) of an ``n_images`` set, so the runs here train as many epochs
    as notebooks 02-04's (fewer images shown: the set is smaller). Everything else is the
    profile's."""
    prof = get_profile(profile)
    if int(n_images) < 1:
        raise ValueError(f"need at least one image, got {n_images!r}")
    return dataclasses.replace(prof, kimg=standin_epochs(prof) * int(n_images) / 1000)


def real_jobs(profile, data_folder, root, seeds, N: int) -> dict:
    """The runs of the replication: ``{(model, "paper", seed): (TrainConfig, data, root)}``
    for the three models of paper A at the claims' config with ``seeds``, the proposed model
    with ``N``, sized by ``profile`` (pass :func:`replication_profile`'s); ready for
    :func:`paperlib.engine.train_many`."""
    opts = {m: {} for m in MODELS}
    opts["proposed"] = {"proposed_N": int(N)}
    return {(m, c, s): job for m in MODELS
            for (c, s), job in profile_jobs(profile, m, data_folder, root, (CLAIMS_CONFIG,),
                                            tuple(seeds), **opts[m]).items()}


# ----------------------------------------------------------------------------- beside the stand-in
def standin_audit(profile, folder=None) -> tuple[pd.DataFrame | None, str]:
    """The stand-in's claims audit (``figures/<profile>/06_claims_audit.csv`` of notebook
    06; ``folder``: another figures folder) and a note: ``(None, why)`` when it is missing
    or predates the measure/horizon columns."""
    path = Path(folder if folder is not None else figures_dir(profile)) / f"{STANDIN_AUDIT}.csv"
    if not path.is_file():
        return None, (f"no stand-in claims audit at {path}: run notebook 06 at this profile "
                      "first; the stand-in column reads 'no stand-in audit'")
    table = pd.read_csv(path)
    lacking = [c for c in ("claim", "measure", "horizon", "verdict") if c not in table]
    if lacking:
        return None, (f"the stand-in claims audit {path} lacks {lacking}: it was written by an "
                      "older notebook 06 (before the four instability measures); rerun "
                      "notebook 06 at this profile to compare verdicts")
    table["horizon"] = pd.to_numeric(table["horizon"], errors="coerce").astype("Int64")
    scales = "; ".join(dict.fromkeys(str(x) for x in table.get("scale", pd.Series())
                                     .dropna() if str(x))) or "not recorded"
    return table, f"stand-in verdicts from {path} (scale: {scales})"


#: Columns of :func:`beside_standin`.
BESIDE_COLUMNS = ("claim", "measure", "horizon", "primary", "real emoji", "stand-in",
                  "ratio real", "ratio stand-in", "paper ratio")

NO_STANDIN = "no stand-in audit"

NOT_IN_STANDIN = "not in the stand-in audit"

NOT_IN_REAL = "not in the real-emoji audit"


def beside_standin(real: pd.DataFrame, standin: pd.DataFrame | None) -> pd.DataFrame:
    """The real set's claims audit and the stand-in's side by side, matched on claim,
    measure and horizon: every row of ``real`` in its order, then the stand-in's rows it
    lacks (e.g. the IS ratios, where the real set has no IS), with both verdicts and both
    ratios (Table-1 rows). ``standin`` None: its column reads :data:`NO_STANDIN`; a row only
    one side has reads :data:`NOT_IN_STANDIN` or :data:`NOT_IN_REAL` on the other."""
    missing = [c for c in AUDIT_COLUMNS if c not in real]
    if missing:
        raise ValueError(f"the real audit lacks {missing}")
    keys = ["claim", "measure", "horizon"]
    left = real[keys + ["primary", "verdict", "ratio", "paper ratio"]].copy()
    left["horizon"] = left["horizon"].astype("Int64")
    if standin is None:
        left["verdict_s"], left["ratio_s"] = NO_STANDIN, np.nan
        merged = left
    else:
        right = standin[[c for c in keys + ["primary", "verdict", "ratio", "paper ratio"]
                         if c in standin]].drop_duplicates(keys)
        right = right.rename(columns={"verdict": "verdict_s", "ratio": "ratio_s"})
        if "ratio_s" not in right:
            right["ratio_s"] = np.nan
        merged = left.merge(right[keys + ["verdict_s", "ratio_s"]], on=keys, how="left")
        merged["verdict_s"] = merged["verdict_s"].fillna(NOT_IN_STANDIN)
        seen = set(map(tuple, left[keys].astype(str).to_numpy()))
        extra = right[[tuple(k) not in seen for k in right[keys].astype(str).to_numpy()]]
        if len(extra):
            extra = extra.assign(verdict=NOT_IN_REAL, ratio=np.nan)
            for col in ("primary", "paper ratio"):
                if col not in extra:
                    extra[col] = np.nan
            merged = pd.concat([merged, extra[list(merged.columns)]], ignore_index=True)
    out = merged.rename(columns={"verdict": "real emoji", "verdict_s": "stand-in",
                                 "ratio": "ratio real", "ratio_s": "ratio stand-in"})
    return out[list(BESIDE_COLUMNS)].reset_index(drop=True)


def table1_beside_standin(real_table1: pd.DataFrame, profile, folder=None
                          ) -> pd.DataFrame | None:
    """Table 1's FID and KID of the claims' config per model on the real set beside the
    stand-in's (``figures/<profile>/06_table1.csv``), with the paper's FID; None when the
    stand-in table is missing."""
    path = Path(folder if folder is not None else figures_dir(profile)) / "06_table1.csv"
    if not path.is_file():
        return None
    std = pd.read_csv(path)
    std = std[std.config == CLAIMS_CONFIG].set_index("model")
    rows = []
    for _, r in real_table1[real_table1.config == CLAIMS_CONFIG].iterrows():
        s = std.loc[r.model] if r.model in std.index else {}
        rows.append({"model": r.model, "runs real": r.runs,
                     "runs stand-in": s.get("runs", np.nan),
                     "FID real": r.FID, "FID stand-in": s.get("FID", "-"),
                     "KID real": r.KID, "KID stand-in": s.get("KID", "-"),
                     "paper FID": r["paper FID"]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- checks
class ReplicationCheckFailed(AssertionError):
    """One of :func:`check_replication`'s checks failed; the message says which."""


def _check(ok, msg) -> None:
    if not ok:
        raise ReplicationCheckFailed(msg)


def check_replication(counts: pd.DataFrame, n_images: int, runs: dict, per_run: pd.DataFrame,
                      audit: pd.DataFrame, beside: pd.DataFrame, seeds, epochs: int,
                      n_fake: int) -> None:
    """Notebook 08's checks: the counts add up to the set (per class and vendor), every run
    of the three models and ``seeds`` finished its ``epochs`` (or diverged), Table 1 has one
    finite row per run over ``n_fake`` generated and all ``n_images`` real images, the audit has deciding rows and its
    ``overfit`` rows read every run unknown (no held-out set), and the table beside the stand-in
    holds every audit row."""
    total = counts[counts.vendor == "all"]
    classes = [c for c in counts if c not in ("vendor", "package", "licence", "total",
                                              "missing")]
    per_vendor = counts[counts.vendor != "all"]
    _check(len(total) == 1 and int(total.total.iloc[0]) == n_images
           and (per_vendor[classes].sum(axis=1) == per_vendor.total).all()
           and all(int(per_vendor[c].sum()) == int(total[c].iloc[0]) for c in classes),
           f"the counts do not add up to the {n_images} images")
    want = {(m, CLAIMS_CONFIG, s) for m in MODELS for s in seeds}
    _check(set(runs) == want, f"runs {sorted(runs)} are not {sorted(want)}")
    for k, r in runs.items():
        _check(r.diverged or (r.status == "finished" and r.epochs_done == epochs),
               f"{k}: {r.status} at {r.epochs_done} of {epochs} epochs")
    _check(len(per_run) == len(want), f"Table 1 has {len(per_run)} rows, not {len(want)}")
    _check(np.isfinite(per_run[["fid", "kid"]].to_numpy(float)).all()
           and (per_run.fid > 0).all(), "a non-finite or non-positive FID/KID")
    _check((per_run.n_fake == n_fake).all() and (per_run.n_real == n_images).all(),
           f"Table 1 not at {n_fake} generated vs {n_images} real images")
    _check({"measure", "horizon", "primary"} <= set(audit) and audit.primary.any(),
           "an audit without its deciding rows")
    overfit = audit[audit.measure == "overfit"]
    _check(len(overfit) and overfit.reason.str.contains("unknown").all(),
           "the overfit rows must read every run unknown (no held-out set: r_v not measured)")
    _check(len(beside) >= len(audit)
           and list(beside["real emoji"].iloc[:len(audit)]) == list(audit.verdict),
           "the table beside the stand-in does not hold every audit row, in order")
