"""Checks that notebooks 01 and 05, the ``curate`` command and the tests share (one code
path): one curation loop (:func:`check_curation`), notebook 01's runs and tables, notebook
05's beyond the loops, notebook 01b's (:func:`check_conditional`) and saved figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.folders import image_files, read_manifest
from ..engine.runs import RunDir, read_config
from ..metrics.verdicts import VERDICTS
from .curation import CURATION_LOG, SOURCES, read_provenance, split_counts
from .jobs import CurationJob, as_job
from .kind import MIX_KIND
from .report import DECIDING_ARMS
from .selections import random_top_idx, selection_for_round


class CurationCheckFailed(AssertionError):
    """One of :func:`check_curation`'s checks failed; the message says which."""


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise CurationCheckFailed(msg)


def check_curation(job: CurationJob | dict, result: dict) -> list[str]:
    """Check one curation loop (``job``: a :class:`paperlib.paper_b.CurationJob` or its
    dict; ``result``: what it returned); return each round's rating (``"human"``/``"auto"``,
    ``"random"`` for the random rater).

    Per round: a human round used the saved selection, an auto round the ``top_k`` best, a
    random round the draw of the job's seed and the round;
    the 60/30/10 counts; the retrained run's epochs, start, model and size; the human part
    from ``train_dir`` only; the log in ``loop_dir``. Raises :class:`CurationCheckFailed`.
    """
    job = as_job({"kind": "curation", **job} if isinstance(job, dict) else job)
    log, models = result["log"], [Path(m) for m in result["models"]]
    rounds, runs = log["rounds"], [Path(r) for r in result["runs"]]
    n_rounds = int(job.rounds)
    _check(len(rounds) == n_rounds == len(runs) == len(models) - 1,
           f"{len(rounds)} logged rounds, {len(runs)} retrained runs, {len(models)} models "
           f"for {n_rounds} round(s)")
    _check(models[0] == Path(job.start_run),
           f"the loop started from {models[0]}, not {job.start_run}")
    _check(all(s == "finished" for s in result["statuses"]), f"statuses {result['statuses']}")
    _check(all(e == int(job.epochs) for e in result["epochs_done"]),
           f"epochs done {result['epochs_done']}, want {job.epochs} per round")
    start_model = RunDir(models[0]).config["config"]["model"]
    want_counts = dict(zip(SOURCES, split_counts(int(job.size))))
    train_dir = Path(job.train_dir).resolve()
    loop_dir = Path(job.loop_dir)
    ratings = []
    for r, (entry, run_dir) in enumerate(zip(rounds, runs)):
        where = f"round {r}"
        how = entry["rating"]
        _check(how in (("random",) if job.rater == "random" else ("human", "auto")),
               f"{where}: rating {how!r} by the {job.rater} rater")
        top = [int(i) for i in entry["top_idx"]]
        _check(len(top) == entry["n_top"] == len(set(top)) and top
               and all(0 <= i < int(job.n_generate) for i in top),
               f"{where}: top-rated indices {top} (n_top {entry['n_top']})")
        saved = selection_for_round(job.selections, r) if job.selections else None
        if how == "random":
            want = random_top_idx(int(job.n_generate), int(job.top_k), int(job.seed), r)
            _check(top == want.tolist(), f"{where}: random top-rated {top}, the seed draws "
                                         f"{want.tolist()}")
        elif how == "human":
            _check(bool(saved) and sorted(top) == sorted(saved),
                   f"{where}: rated by a person but the top-rated images {sorted(top)} are "
                   f"not the saved selection {saved}")
        else:
            _check(not saved, f"{where}: a selection was saved ({saved}) but the automatic "
                              "rating was used")
            _check(len(top) == int(job.top_k), f"{where}: {len(top)} top-rated, want "
                                               f"top_k {job.top_k}")
            # the automatic rating keeps the best by the automatic score
            _check(entry["top_mean_satisfaction"] >= entry["mean_satisfaction"] - 1e-12,
                   f"{where}: automatic top-rated mean satisfaction "
                   f"{entry['top_mean_satisfaction']} < the batch's {entry['mean_satisfaction']}")
        _check(0.0 <= entry["top_mean_satisfaction"] <= 1.0
               and 0.0 <= entry["mean_satisfaction"] <= 1.0,
               f"{where}: satisfaction outside [0, 1]")
        _check(entry["counts"] == want_counts, f"{where}: counts {entry['counts']}, want "
                                               f"{want_counts}")
        cfg = RunDir(run_dir).config
        _check(Path(cfg["config"]["init_from"]).parent.parent == models[r],
               f"{where}: {run_dir} did not start from {models[r]}")
        _check(cfg["config"]["model"] == start_model,
               f"{where}: model {cfg['config']['model']}, want {start_model}")
        _check(cfg["data"]["n_images"] == int(job.size),
               f"{where}: trained on {cfg['data']['n_images']} images, want {job.size}")
        prov = read_provenance(loop_dir / entry["trainset"])
        originals = [Path(f["original_path"]).parent for f in prov["files"]
                     if f["source"] == "human-similar"]
        # the human part comes from the training images only (never a held-out part)
        _check(all(o == train_dir for o in originals)
               and len(originals) == want_counts["human-similar"],
               f"{where}: human-similar images not all from {train_dir}")
        ratings.append(how)
    _check((loop_dir / CURATION_LOG).is_file(), f"no {CURATION_LOG} in {loop_dir}")
    return ratings


# ----------------------------------------------------------------------------- notebook checks
class NotebookCheckFailed(AssertionError):
    """One of a notebook's checks (:func:`check_shape_learning_runs`,
    :func:`check_shape_learning_tables`, :func:`check_curation_notebook`,
    :func:`check_figures`) failed; the message says which."""


def _nb_check(ok, msg) -> None:
    if not ok:
        raise NotebookCheckFailed(msg)


def check_figures(fig_dir, names) -> None:
    """Every file of ``names`` exists in ``fig_dir`` (what a notebook saved)."""
    for f in names:
        _nb_check((Path(fig_dir) / f).is_file(), f"no {f} in {fig_dir}")


def check_shape_learning_runs(runs: dict, aug_runs: dict, splits: dict, epochs_used: dict,
                              model: str) -> None:
    """Notebook 01's training runs (``runs``, ``aug_runs``, ``splits``, ``epochs_used``):
    finished epochs with ``model``, no held-out image trained on, "alone"/"longer" one run,
    fine-tuning from the pre-training, disjoint complete splits. Raises
    :class:`NotebookCheckFailed`."""
    for (name, s), stage_runs in runs.items():
        for stage, res in stage_runs.items():
            where = (name, s, stage)
            _nb_check(res.status == "finished", f"{where}: status {res.status}")
            want = epochs_used[name][stage]
            _nb_check(res.epochs_done == want, f"{where}: {res.epochs_done} epochs, not {want}")
            cfg = read_config(res.run_dir)
            _nb_check(cfg["config"]["model"] == model,
                      f"{where}: model {cfg['config']['model']}, not {model}")
            # no model trains on a held-out image: every run's data is the training part, a
            # mix built from it, or the shape set
            src = Path(cfg["data"]["source"]).resolve()
            _nb_check(src != splits[name].held_out.resolve(), f"{where}: trained on {src}")
            if stage == "alone":
                _nb_check(src == splits[name].train.resolve(),
                          f"{where}: trained on {src}, not the training part")
        if "alone" in stage_runs and "longer" in stage_runs:   # one run, read at B and at 2B
            _nb_check(stage_runs["alone"].run_dir == stage_runs["longer"].run_dir,
                      f"{(name, s)}: alone and longer are different runs")
            _nb_check(stage_runs["alone"].epochs_done < stage_runs["longer"].epochs_done,
                      f"{(name, s)}: longer is not read after alone")
        if "finetune" in stage_runs:
            ft_cfg = read_config(stage_runs["finetune"].run_dir)["config"]
            _nb_check(Path(ft_cfg["init_from"]).parent.parent == stage_runs["pretrain"].run_dir,
                      f"{(name, s)}: fine-tuning starts from {ft_cfg['init_from']}")
    for name, sp in splits.items():
        sources = {part: {e["recipe"]["source_sha256"] for e in read_manifest(d)["images"]}
                   for part, d in (("train", sp.train), ("held_out", sp.held_out))}
        _nb_check(sources["train"] and sources["held_out"]
                  and not (sources["train"] & sources["held_out"]),
                  f"{name}: training and held-out parts share source images (or one is empty)")
        _nb_check(len(sources["train"]) + len(sources["held_out"])
                  == len(image_files(sp.source)), f"{name}: the split loses source images")
    for res in aug_runs.values():
        _nb_check(res.status == "finished", f"augmentation run {res}")


def check_shape_learning_tables(per_run, verdict_df, explained, *, artists, seeds, stages,
                                augments, augment_seeds, n_eval: int,
                                calibrated: bool = False) -> None:
    """Notebook 01's tables (``per_run``, ``verdict_df``, ``explained``): row counts,
    ``n_eval`` images and finite metrics per generated row, known verdicts, the floor's FID
    best; where the mix ran, one :data:`~paperlib.paper_b.kind.MIX_KIND` row per artist and
    seed (:func:`check_kind_rows`), in no verdict; ``calibrated``: the reference setting's
    expectations on artist_donglein. Raises :class:`NotebookCheckFailed`."""
    artists = list(artists)
    stages = [st for st in stages if st != MIX_KIND]
    n_kind = len(seeds) if "mix" in stages else 0
    want = len(artists) * (1 + len(seeds) * len(stages) + n_kind
                           + len(augments) * len(augment_seeds))
    _nb_check(len(per_run) == want, f"{len(per_run)} evaluated rows, not {want}")
    kind_rows = per_run[per_run.stage == MIX_KIND]
    _nb_check(len(kind_rows) == n_kind * len(artists),
              f"{len(kind_rows)} '{MIX_KIND}' rows, not {n_kind * len(artists)}")
    if n_kind:
        check_kind_rows(kind_rows, n_eval)
    _nb_check("stage" not in verdict_df or MIX_KIND not in set(verdict_df.stage),
              f"the '{MIX_KIND}' row entered a verdict")
    gen = per_run[~per_run.stage.isin(["training data", MIX_KIND])]
    _nb_check((gen.n == n_eval).all(), f"not every run evaluated {n_eval} images")
    _nb_check(gen.main_score.between(0, 1).all() and (gen.fid >= 0).all(),
              "a main-form score outside [0, 1] or a negative FID")
    _nb_check(np.isfinite(gen[["fid", "kid", "diversity", "main_score"]].to_numpy(float)).all(),
              "a non-finite FID, KID, diversity or main-form score")
    _nb_check(set(verdict_df.verdict) <= set(VERDICTS),
              f"unknown verdicts {set(verdict_df.verdict) - set(VERDICTS)}")
    if {"alone", "longer"} <= set(stages):   # each deciding arm vs the 1st result and control
        arms = [a for a in DECIDING_ARMS if a in stages]
        n_expl = len([a for a in ("mix", *DECIDING_ARMS) if a in stages])
        _nb_check(verdict_df.primary.sum() == 2 * len(arms) * len(artists)
                  and len(explained) == n_expl * len(artists),
                  f"not two primary comparisons per deciding arm {arms} and one explanation "
                  "per arm and artist")
    for name in artists:
        ref = per_run[(per_run.artist == name) & (per_run.stage == "training data")].iloc[0]
        _nb_check(ref.fid < gen[gen.artist == name].fid.min(),   # real images beat every model
                  f"{name}: a model's FID beats the training data's {ref.fid}")
        if name == "artist_donglein":
            _nb_check(ref.main_score > 0.6 and ref.inner_count_ok > 0.4,   # the measure works
                      f"{name}: the form measure fails on real images: {dict(ref)}")
            if calibrated:   # the calibrated reference setting
                alone = gen[(gen.artist == name) & (gen.stage == "alone")]
                # the reference budget: the 1st result draws the round face
                _nb_check(alone.draws.sum() >= 2,
                          f"{name}: the 1st result draws in {alone.draws.sum()} seeds")
                _nb_check(alone.fid.max() < 300,   # models that draw
                          f"{name}: 1st-result FID up to {alone.fid.max()}")


def check_kind_rows(kind_rows, n_eval: int) -> None:
    """The mix's artist-kind rows (:func:`paperlib.paper_b.evaluate_kind_subset`): subsets
    of the ``n_eval`` images the mix row scores, ``kind_share`` their share, FID and KID
    finite exactly from ``min_subset`` images, form scores in [0, 1]. Raises
    :class:`NotebookCheckFailed`."""
    for _, r in kind_rows.iterrows():
        where = f"{r.artist} seed {r.seed} '{MIX_KIND}'"
        _nb_check(int(r.n_all) == n_eval and 0 <= int(r.n) <= n_eval,
                  f"{where}: {r.n} of {r.n_all} samples, not a subset of {n_eval}")
        _nb_check(abs(float(r.kind_share) - int(r.n) / n_eval) < 1e-12,
                  f"{where}: share {r.kind_share}, not {r.n}/{n_eval}")
        big = int(r.n) >= int(r.min_subset)
        _nb_check(all(np.isfinite(float(r[c])) == big for c in ("fid", "kid")),
                  f"{where}: FID {r.fid}, KID {r.kid} with {r.n} samples (minimum "
                  f"{r.min_subset}: finite exactly from it)")
        _nb_check(int(r.n) == 0 or 0 <= float(r.main_score) <= 1,
                  f"{where}: main-form score {r.main_score}")


def check_curation_notebook(loops: dict, controls: dict, base: dict, table1, t1, verdict_df, *,
                            model: str, shape_stage: str, root, loop_dirs: dict,
                            control_epochs: dict, artists, seeds, epochs: int, n_eval: int,
                            pretrain_column: bool, control: bool,
                            calibrated: bool = False, random_control: bool = False,
                            first_row: bool = False) -> None:
    """Notebook 05's checks beyond :func:`check_curation`: loops, controls and the 1st
    result ran as planned; Table 1's rows and per-seed metrics are complete and finite;
    known verdicts; ``calibrated``: artist_donglein's generated FID < 300;
    ``random_control``: Table 1 has the random-selection column and its claim;
    ``first_row``: the 2 x 2's loop and control on the 1st result, and their claims. Raises
    :class:`NotebookCheckFailed`."""
    artists = list(artists)
    for (name, s), out in loops.items():
        _nb_check(Path(out["models"][0]) == Path(base[name, s][shape_stage].run_dir),
                  f"{(name, s)}: the loop starts from {out['models'][0]}")
        _nb_check(all(read_config(r)["config"]["model"] == model for r in out["runs"]),
                  f"{(name, s)}: a retrained run is not {model}")
        _nb_check(Path(loop_dirs[name, s]).resolve().is_relative_to(Path(root).resolve()),
                  f"{(name, s)}: {loop_dirs[name, s]} is not under {root}")
    for key, c in controls.items():
        _nb_check(c["status"] == "finished" and c["epochs_done"] == control_epochs[key[0]],
                  f"control {key}: {c['status']}, {c['epochs_done']} epochs")
    want = len(artists) * (5 + bool(pretrain_column) + bool(control) + bool(random_control)
                           + 2 * bool(first_row))
    _nb_check(len(table1) == want, f"Table 1 has {len(table1)} rows, not {want}")
    for (name, s), r in base.items():   # the 1st result is the longer control's run, read at B
        _nb_check(r["alone"].run_dir == r["longer"].run_dir,
                  f"{(name, s)}: alone and longer are different runs")
        _nb_check(r["alone"].epochs_done == epochs and r["longer"].epochs_done > epochs,
                  f"{(name, s)}: alone read at {r['alone'].epochs_done}, longer at "
                  f"{r['longer'].epochs_done} (B = {epochs})")
        _nb_check(r[shape_stage].status == "finished" and r["longer"].status == "finished",
                  f"{(name, s)}: a shape-learning run did not finish")
    _nb_check((table1[table1.column != "training data"].n_seeds == len(seeds)).all(),
              f"a Table 1 column without {len(seeds)} seeds")
    gen = t1[t1.column != "training data"]
    _nb_check((gen.n == n_eval).all() and gen.main_score.between(0, 1).all()
              and (gen.fid >= 0).all(),
              f"not {n_eval} images evaluated, a form score outside [0, 1] or a negative FID")
    _nb_check(np.isfinite(gen[["fid", "kid", "diversity"]].to_numpy(float)).all(),
              "a non-finite FID, KID or diversity")
    _nb_check(set(verdict_df.verdict) <= set(VERDICTS),
              f"unknown verdicts {set(verdict_df.verdict) - set(VERDICTS)}")
    want = (5 + bool(pretrain_column) + bool(random_control) + 2 * bool(first_row)
            + ("outcome_form_score" in t1)) * len(artists)   # (5: the KID claim)
    _nb_check(len(verdict_df) == want, f"{len(verdict_df)} claims, not {want}")
    if calibrated and "artist_donglein" in artists:
        # the generated columns are models that draw (FID well below the floor's scale)
        fid = gen[gen.artist == "artist_donglein"].fid.max()
        _nb_check(fid < 300, f"artist_donglein: a generated column's FID is {fid}")


def check_conditional(p2p_runs: dict, sg_runs: dict, splits: dict, per_seed, verdicts, *,
                      p2p_epochs: dict, seeds, n_columns: int, recipe_maps: bool,
                      profile_name: str) -> None:
    """Notebook 01b's checks (``p2p_runs``, ``sg_runs``, ``p2p_epochs``): runs finished,
    Pix2pixHD without VGG weights on the training part only, disjoint splits, equal image
    counts and one row per seed and column, known verdicts. Raises
    :class:`NotebookCheckFailed`."""
    for (name, s), res in p2p_runs.items():
        where = (name, s)
        _nb_check(res.status == "finished", f"{where}: status {res.status}")
        _nb_check(res.epochs_done == p2p_epochs[name],
                  f"{where}: {res.epochs_done} epochs, not {p2p_epochs[name]}")
        saved = read_config(res.run_dir)
        _nb_check(saved["config"]["model"] == "pix2pixhd"
                  and saved["config"]["vgg_weights"] is None,
                  f"{where}: not a pix2pixhd run without VGG weights")
        # trained on the training part only: the held-out maps were never seen
        _nb_check(Path(saved["data"]["source"]).resolve() == splits[name].train.resolve(),
                  f"{where}: trained on {saved['data']['source']}")
        if recipe_maps:
            _nb_check(saved["data"]["map_source"] == "recipe", f"{where}: {saved['data']}")
    for (name, s), stage_runs in sg_runs.items():
        for stage, res in stage_runs.items():
            _nb_check(res.status == "finished" and res.epochs_done > 0,
                      f"{(name, s, stage)}: {res.status}, {res.epochs_done} epochs")
    for name, sp in splits.items():
        held = {e["recipe"]["source_sha256"] for e in read_manifest(sp.held_out)["images"]}
        seen = {e["recipe"]["source_sha256"] for e in read_manifest(sp.train)["images"]}
        _nb_check(held and not (held & seen), f"{name}: held-out images seen in training")
    # every column scored with the same number of images, one row per seed and column
    _nb_check((per_seed.groupby("artist").n.nunique() == 1).all(),
              f"columns scored with different numbers of images: "
              f"{per_seed[['artist', 'column', 'n']]}")
    counts = per_seed[per_seed.model != "real"].groupby(["artist", "column"]).size()
    _nb_check((counts == len(seeds)).all() and len(counts) == len(splits) * n_columns,
              f"rows per generated column: {counts.to_dict()}")
    if profile_name == "cpu":
        _nb_check(len(seeds) >= 3 and set(splits) == {"artist_donglein", "artist_geometric"},
                  f"cpu: seeds {seeds}, artists {set(splits)}")
    _nb_check(set(verdicts.verdict) <= set(VERDICTS),
              f"unknown verdicts {set(verdicts.verdict) - set(VERDICTS)}")
