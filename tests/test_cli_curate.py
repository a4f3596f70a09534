"""``python -m paperlib curate``: paper B's 60/30/10 loop on a user's folder and a trained run,
with automatic ratings or a selections file, and bad input refused up front (exit 2, the flag
named, nothing written)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_cli_more import _main, _write_images, images, trained  # noqa: F401 (fixtures)

from paperlib import cli, config, engine, paper_b
from paperlib.models import get_model, model_names

#: Smoke-size loop: a 10-image curated set (6 generated, 3 yours, 1 copy) from 12 generated.
SMALL = ["--rounds", "1", "--size", "10", "--generate", "12", "--top-k", "2", "--epochs", "1",
         "--no-progress"]


@pytest.fixture(scope="module")
def photos(images):  # noqa: F811 (the imported fixture)
    """20 random 32-px images (test_cli_more's)."""
    return images


@pytest.fixture(scope="module")
def run(trained):  # noqa: F811 (the imported fixture)
    """A 1-epoch unconditional run trained through the CLI on them (test_cli_more's)."""
    return trained


def test_curate_automatic_rating_writes_the_loop_and_says_where(run, photos, tmp_path,
                                                                capsys):
    out = tmp_path / "loop"
    code, stdout, err = _main(["curate", "--run", run, "--data", photos, "--out", out, *SMALL],
                              capsys)
    assert code == 0, err
    log = json.loads((out / "curation_log.json").read_text())
    (entry,) = log["rounds"]
    assert entry["rating"] == "auto" and entry["n_top"] == 2 and entry["n_generated"] == 12
    assert entry["top_mean_satisfaction"] >= entry["mean_satisfaction"]
    assert entry["counts"] == {"generated-similar": 6, "human-similar": 3, "top-copy": 1}
    # the rated batch, numbered as a selections file counts it; the curated set
    assert sorted(p.name for p in (out / "round_0" / "batch").glob("*.png")) == \
        [f"{i:05d}.png" for i in range(12)]
    trainset = out / "round_0" / "trainset"
    assert len(list(trainset.glob("*.png"))) == 10
    prov = paper_b.read_provenance(trainset)
    assert {f["original_path"].rsplit("/", 1)[0] for f in prov["files"]
            if f["source"] == "human-similar"} == {str(photos.resolve())}
    # the retrained model: fine-tuned from --run on the curated set, under --out/runs
    (final,) = engine.list_runs(out / "runs")
    cfg = engine.read_config(final)
    assert cfg["data"]["n_images"] == 10 and engine.list_checkpoints(final)
    assert Path(cfg["config"]["init_from"]).parent.parent == run.resolve()
    assert str(out / "curation_log.json") in stdout and str(final) in stdout
    assert "rated auto" in stdout and f"python -m paperlib generate --run {final}" in stdout
    # a rerun reuses the retrained run (cached by the curated images)
    mtime = (final / "log.csv").stat().st_mtime_ns
    code, _, err = _main(["curate", "--run", run, "--data", photos, "--out", out, *SMALL],
                         capsys)
    assert code == 0, err
    assert engine.list_runs(out / "runs") == [final]
    assert (final / "log.csv").stat().st_mtime_ns == mtime


def test_curate_with_a_selections_file_uses_your_selection(run, photos, tmp_path, capsys):
    sel = tmp_path / "mine.json"     # written by hand: no image hashes
    sel.write_text(json.dumps({"version": 1, "rounds": {"0": {"selected": [11, 4],
                                                              "n_shown": 12}}}))
    out = tmp_path / "loop"
    code, stdout, err = _main(["curate", "--run", run, "--data", photos, "--out", out,
                               "--selections", sel, *SMALL], capsys)
    assert code == 0, err
    (entry,) = json.loads((out / "curation_log.json").read_text())["rounds"]
    assert entry["rating"] == "human" and sorted(entry["top_idx"]) == [4, 11]
    assert "rated human" in stdout and "using the saved human selection (2 images)" in stdout


def test_curate_refuses_a_selection_made_on_other_images(run, photos, tmp_path, capsys):
    sel = tmp_path / "other.json"     # saved by the gallery on 12 other (blank) images
    paper_b.save_selections(sel, 0, [3], images=np.zeros((12, 32, 32, 3), dtype=np.uint8))
    code, _, err = _main(["curate", "--run", run, "--data", photos, "--out", tmp_path / "loop",
                          "--selections", sel, *SMALL], capsys)
    assert code == 2 and "--selections" in err and "differ from the ones shown" in err, err
    assert not (tmp_path / "loop" / "round_0" / "trainset").exists()


def test_curate_defaults(run, photos, tmp_path, monkeypatch):
    # no --profile: $PAPERLIB_PROFILE's (smoke: a 60-image set from 40 generated, top 5 %
    # (2), 1 round); a quarter of the run's 1 x 20 images shown is under one epoch: 1
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    argv = ["curate", "--run", str(run), "--data", str(photos), "--out", str(tmp_path / "loop")]
    job = cli._curation_job(cli._build_parser().parse_args(argv))
    prof = config.get_profile("smoke")
    assert isinstance(job, paper_b.CurationJob)
    assert (job.size, job.n_generate, job.top_k, job.rounds, job.epochs) == \
        (prof.curation_size, prof.curation_generate, 2, prof.curation_rounds, 1)
    assert job.selections is None and job.gen_seed == 1000 and job.form is None
    # neither: cpu's 400-image set, whose 30 % part (120) the 20 photos cannot fill
    monkeypatch.delenv("PAPERLIB_PROFILE")
    with pytest.raises(ValueError, match="--size 400"):
        cli._curation_job(cli._build_parser().parse_args(argv))
    args = cli._build_parser().parse_args(["curate", "--run", str(run), "--data", str(photos),
                                           "--out", str(tmp_path / "loop"), "--profile",
                                           "smoke", "--kimg", "0.1"])
    job = cli._curation_job(args)
    assert (job.size, job.n_generate, job.rounds) == \
        (prof.curation_size, prof.curation_generate, prof.curation_rounds)
    assert job.epochs == engine.epochs_for_kimg(0.1, prof.curation_size)
    assert not (tmp_path / "loop").exists()


def _fake_run(folder, model):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"config": {"model": model, "res": 32}}))
    return folder


@pytest.mark.parametrize("case, flag", [
    ("no-run", "--run"), ("not-a-run", "--run"), ("conditional", "--run"),
    ("no-checkpoint", "--run"), ("no-data", "--data"), ("one-image", "--data"),
    ("size", "--size"), ("generate", "--generate"), ("top-k", "--top-k"),
    ("no-selections", "--selections"), ("bad-selections", "--selections"),
    ("selections-count", "--generate"), ("out-in-data", "--out"), ("rounds-0", "--rounds"),
    ("epochs-and-kimg", "--kimg"), ("bad-profile", "profile"),
])
def test_curate_refuses_bad_input_up_front(case, flag, run, photos, tmp_path, capsys):
    out = tmp_path / "loop"
    args = {"--run": run, "--data": photos, "--out": out}
    extra = list(SMALL)
    if case == "no-run":
        args["--run"] = tmp_path / "nope"
    elif case == "not-a-run":
        args["--run"] = photos
    elif case == "conditional":
        args["--run"] = _fake_run(tmp_path / "p2p", next(
            n for n in model_names() if get_model(n).data_kind == "pairs"))
    elif case == "no-checkpoint":
        args["--run"] = tmp_path / "fresh"
        shutil.copytree(run, args["--run"], ignore=shutil.ignore_patterns("checkpoints"))
    elif case == "no-data":
        args["--data"] = tmp_path / "nope"
    elif case == "one-image":
        args["--data"] = _write_images(tmp_path / "one", 1)
    elif case == "size":
        extra[3] = "100"          # 30 % = 30 of your images; --data has 20
    elif case == "generate":
        extra[5] = "7"            # 6 generated-similar + top 2 need 8
    elif case == "top-k":
        extra[7] = "12"
    elif case == "no-selections":
        extra += ["--selections", tmp_path / "nope.json"]
    elif case == "bad-selections":
        (tmp_path / "bad.json").write_text("{not json")
        extra += ["--selections", tmp_path / "bad.json"]
    elif case == "selections-count":
        (tmp_path / "sel.json").write_text(json.dumps(
            {"version": 1, "rounds": {"0": {"selected": [1], "n_shown": 40}}}))
        extra += ["--selections", tmp_path / "sel.json"]
    elif case == "out-in-data":
        args["--out"] = out = photos / "loop"
    elif case == "rounds-0":
        extra[1] = "0"
    elif case == "epochs-and-kimg":
        extra += ["--kimg", "1"]
    elif case == "bad-profile":
        extra += ["--profile", "huge"]
    argv = ["curate", *[x for kv in args.items() for x in kv], *extra]
    code, _, err = _main(argv, capsys)
    assert code == 2 and flag in err, err
    assert not out.exists()
