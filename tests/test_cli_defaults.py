"""What a user runs gets what the notebooks get (issue 25, item 1): ``train`` with no flag
but --model/--data/--out trains every model with the config the notebooks' stage for it
builds on the profile (``--profile``, else ``$PAPERLIB_PROFILE``, else cpu), data, seed and
length aside; explicit flags override one setting; ``--help`` says the effective defaults;
the augmentation kind ``ada`` is now ``ada-diffaug`` and the old name still resolves."""
import json
from pathlib import Path

import pytest
from test_cli_more import _main, _write_images

from paperlib import cli, config, data, engine, paper_b
from paperlib.engine.augment import Augmenter
from paperlib.engine.runs import RunDir
from paperlib.models import model_names

#: what the comparison sets aside: data, seed and length (and the device, "auto" in both)
ASIDE = ("epochs", "seed", "device")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of a user's images (no manifest, no recipes: edge maps for pix2pixhd)."""
    return _write_images(tmp_path_factory.mktemp("defaults") / "photos", 20)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A stand-in artist set (recipe label maps: pix2pixhd keeps its feature encoder)."""
    folder = tmp_path_factory.mktemp("defaults") / "artist"
    data.build_artist_set(folder, "geometric", n=6, res=32, seed=0)
    return folder


def notebook_config(profile, model, folder):
    """The config the notebooks' stage for ``model`` builds on ``profile`` for ``folder``:
    paper A's notebooks 02-04 (``engine.profile_jobs``), notebook 01's StyleGAN2 stage
    (``paper_b.StageJob``, augment ``paper_b.setup``'s default: the profile's b_augment),
    notebook 01b's Pix2pixHD (``paper_b.conditional_config``)."""
    prof = config.get_profile(profile)
    if model == "pix2pixhd":
        return paper_b.conditional_config(prof, folder, 0)[0]
    if model == "stylegan2":
        return paper_b.StageJob.from_profile(prof, "x", 0, "alone", folder, folder, epochs=1,
                                             model=model, augment=prof.b_augment).cfg
    return engine.profile_jobs(prof, model, folder, folder)[("paper", prof.seeds[0])][0]


def _aside(cfg) -> dict:
    return {k: v for k, v in cfg.to_dict().items() if k not in ASIDE}


def _cli_config(argv) -> engine.TrainConfig:
    args = cli._build_parser(argv).parse_args(argv)
    return cli._train_config(args)[0]


@pytest.mark.parametrize("profile, how", [*((p, h) for p in config.PROFILES
                                              for h in ("flag", "env")),
                                            (config.DEFAULT_PROFILE, "default")])
@pytest.mark.parametrize("model", model_names())
def test_train_without_flags_builds_the_notebooks_config(model, profile, how, photos,
                                                         stand_in, monkeypatch, tmp_path):
    """Every registered model, every profile (by --profile, $PAPERLIB_PROFILE or the cpu
    default), a user's folder and a stand-in set: the same config as the notebooks'."""
    if how == "env":
        monkeypatch.setenv("PAPERLIB_PROFILE", profile)
    else:
        monkeypatch.delenv("PAPERLIB_PROFILE", raising=False)
    for folder in (photos, stand_in):
        argv = ["train", "--model", model, "--data", str(folder), "--out", str(tmp_path / "o")]
        cfg = _cli_config(argv + (["--profile", profile] if how == "flag" else []))
        assert _aside(cfg) == _aside(notebook_config(profile, model, folder))
        kimg = engine.profile_sizes(profile, model)["kimg"]   # the length: the profile's budget
        assert cfg.epochs == engine.epochs_for_kimg(kimg, len(data.image_files(folder)))


def test_the_notebook_settings_the_issue_names(photos, stand_in, monkeypatch):
    """cpu: StyleGAN2 with the profile's adaptive augmentation (not none), Pix2pixHD with
    resize upsampling, L1 x100 and the encoder on label maps, off (with a note) on edges."""
    monkeypatch.delenv("PAPERLIB_PROFILE", raising=False)
    base = ["--out", "unused", "--data"]
    sg = _cli_config(["train", "--model", "stylegan2", *base, str(photos)])
    assert sg.augment == "ada-diffaug" and sg.sg_lr == 0.01 and sg.sg_channels == 32
    p2p = _cli_config(["train", "--model", "pix2pixhd", *base, str(stand_in)])
    assert (p2p.p2p_up, p2p.l1_lambda, p2p.p2p_feat) == ("resize", 100.0, 3)
    args = cli._build_parser().parse_args(["train", "--model", "pix2pixhd", *base, str(photos),
                                           "--maps", "edges", "--kimg", "16"])
    cfg, note = cli._train_config(args)
    assert cfg.p2p_feat == 0 and cfg.map_source == "edges" and "no instance ids" in note
    assert note == paper_b.conditional_config("cpu", photos, 0, "edges")[1]


def test_an_explicit_flag_overrides_one_setting(photos, monkeypatch):
    monkeypatch.setenv("PAPERLIB_PROFILE", "cpu")
    argv = ["train", "--model", "stylegan2", "--data", str(photos), "--out", "unused"]
    cfg = _cli_config([*argv, "--augment", "none", "--channels", "16", "--epochs", "3"])
    want = notebook_config("cpu", "stylegan2", photos).to_dict()
    got = cfg.to_dict()
    assert (got["augment"], got["sg_channels"], got["epochs"]) == ("none", 16, 3)
    assert {k: v for k, v in got.items() if k not in ("augment", "sg_channels", *ASIDE)} == \
        {k: v for k, v in want.items() if k not in ("augment", "sg_channels", *ASIDE)}


def test_help_says_the_profiles_defaults(capsys, monkeypatch):
    monkeypatch.setenv("PAPERLIB_PROFILE", "cpu")
    code, out, _ = _main(["train", "--help"], capsys)
    flat = " ".join(out.split()).replace("- ", "-")          # argparse wraps at hyphens
    assert code == 0 and "always uses lr 0.0025" not in flat and "default 64" not in flat
    assert "stylegan2 lr 0.01" in flat                       # cpu's calibrated StyleGAN2 lr
    assert "feature maps per layer at most (channel_base = 16 x it) (default: the " \
           "profile's, cpu: 32)" in flat
    assert "stylegan2 ada-diffaug" in flat and "stylegan2 64 kimg" in flat
    code, out, _ = _main(["train", "--profile", "smoke", "--help"], capsys)
    flat = " ".join(out.split())
    assert code == 0 and "smoke: 8)" in flat and "here smoke" in flat


def test_train_end_to_end_writes_the_notebooks_config(photos, tmp_path, capsys, monkeypatch):
    """Real ``train`` calls at smoke size (the profile from $PAPERLIB_PROFILE), no length
    flag: the run folder's config.json is the notebooks' config; pix2pixhd on edge maps
    trains (the encoder off, the note printed) instead of being refused."""
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    for model, extra in (("stylegan2", []), ("pix2pixhd", ["--maps", "edges"])):
        out = tmp_path / model
        code, printed, err = _main(["train", "--model", model, "--data", photos, "--out", out,
                                    "--no-progress", *extra], capsys)
        assert code == 0, err
        saved = RunDir(out).config["config"]
        want = notebook_config("smoke", model, photos)
        if model == "pix2pixhd":
            want = paper_b.conditional_config("smoke", photos, 0, "edges")[0]
            assert "note:" in printed and "no instance ids" in printed
        saved = _aside(engine.make_config(**saved))
        saved.pop("map_channels", None)   # settled from the data when training starts
        want = _aside(want)
        want.pop("map_channels", None)
        assert saved == want


# ----------------------------------------------------------------------------- ada -> ada-diffaug
def test_old_augment_name_is_accepted_and_keeps_the_run_name():
    old = engine.profile_config("cpu", "stylegan2", n_images=320, augment="ada")
    new = engine.profile_config("cpu", "stylegan2", n_images=320, augment="ada-diffaug")
    assert old.augment == new.augment == "ada-diffaug"
    assert engine.run_name(old, "k") == engine.run_name(new, "k")
    assert config.get_profile("cpu").b_augment == "ada-diffaug"
    aug = Augmenter("ada-diffaug")
    aug.load_state_dict({**Augmenter("ada").state_dict(), "kind": "ada"})   # old checkpoint
    assert Augmenter("ada").kind == "ada-diffaug"


def test_a_run_saved_with_the_old_name_loads_and_resumes(photos, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    out = tmp_path / "run"
    argv = ["train", "--model", "dcgan", "--data", photos, "--out", out, "--no-progress",
            "--augment", "ada-diffaug"]
    assert _main([*argv, "--epochs", "1"], capsys)[0] == 0
    path = Path(out) / "config.json"
    saved = json.loads(path.read_text())
    saved["config"]["augment"] = "ada"                       # as a run made before the rename
    path.write_text(json.dumps(saved))
    assert engine.load_run(out).config.augment == "ada-diffaug"
    code, printed, err = _main([*argv, "--epochs", "2"], capsys)
    assert code == 0, err
    assert "(2 epochs)" in printed
