"""Run names are cache keys: the re-layout of paperlib must find every existing run.

The expected names were computed with the flat-module paperlib at 76c3a63 (before the
re-layout into subpackages). A change here orphans every cached run of that config.
pix2pixhd's pins were recomputed when its options and defaults changed (issue 18: the
generator's fix, the instance-boundary channel, netE, the lr schedule, and the profiles'
Pix2pixHD settings: feature channels, lr decay, D scales, L1); the cpu profile's StyleGAN2
pins when it took lr 0.005 (issue 18, benchmarks/calibrate_stylegan2_configs.py): the new
``sg_lr`` field is left out of a key at its default, so no other name changed. DeLiGAN's
pins are its old setting (K 50, uniform assignment, lambda 0.1: :data:`OLD_DELIGAN`), whose
names stay when the defaults changed to the reference's (issue 27); the new defaults'
names are :data:`NEW_DELIGAN`."""
import json

import pytest

from paperlib import config, engine

PINNED = {
    "smoke/dcgan/paper": "dcgan-paper-s1-6a28d59818",
    "smoke/dcgan/conventional": "dcgan-conventional-s1-8fbb060f52",
    "smoke/deligan/paper": "deligan-paper-s1-22164333f2",
    "smoke/deligan/conventional": "deligan-conventional-s1-9227884c27",
    "smoke/proposed/paper": "proposed-paper-s1-572642b5db",
    "smoke/proposed/conventional": "proposed-conventional-s1-ac319de53e",
    "smoke/stylegan2/paper": "stylegan2-paper-s1-3e9df13133",
    "smoke/stylegan2/conventional": "stylegan2-conventional-s1-0c6971394d",
    "smoke/pix2pixhd/paper": "pix2pixhd-paper-s1-e57c5c56e9",
    "smoke/pix2pixhd/conventional": "pix2pixhd-conventional-s1-e9dde45889",
    "cpu/dcgan/paper": "dcgan-paper-s1-3123743a51",
    "cpu/dcgan/conventional": "dcgan-conventional-s1-cd94e16393",
    "cpu/deligan/paper": "deligan-paper-s1-5bbed4fbb6",
    "cpu/deligan/conventional": "deligan-conventional-s1-282e863972",
    "cpu/proposed/paper": "proposed-paper-s1-ee5b975f4c",
    "cpu/proposed/conventional": "proposed-conventional-s1-e3c3a18dd4",
    "cpu/stylegan2/paper": "stylegan2-paper-s1-b93978d96e",
    "cpu/stylegan2/conventional": "stylegan2-conventional-s1-4a215eda7b",
    "cpu/pix2pixhd/paper": "pix2pixhd-paper-s1-c7cdb785ed",
    "cpu/pix2pixhd/conventional": "pix2pixhd-conventional-s1-6a7a63854a",
    "paper/dcgan/paper": "dcgan-paper-s1-6e068fe254",
    "paper/dcgan/conventional": "dcgan-conventional-s1-e20ef3dd11",
    "paper/deligan/paper": "deligan-paper-s1-11a219962f",
    "paper/deligan/conventional": "deligan-conventional-s1-61fc34e5f4",
    "paper/proposed/paper": "proposed-paper-s1-31739e5f27",
    "paper/proposed/conventional": "proposed-conventional-s1-c41d3f9bfb",
    "paper/stylegan2/paper": "stylegan2-paper-s1-3d19355778",
    "paper/stylegan2/conventional": "stylegan2-conventional-s1-70769f6070",
    "paper/pix2pixhd/paper": "pix2pixhd-paper-s1-9d69a52570",
    "paper/pix2pixhd/conventional": "pix2pixhd-conventional-s1-04214f574a",
    "cpu/proposed/paper/N3-ada": "proposed-paper-s2-5a43a3c965",
    "cpu/stylegan2/paper/ada-r1": "stylegan2-paper-s0-a0dca2fac4",
}

EXTRA = {"cpu/proposed/paper/N3-ada": dict(profile="cpu", model="proposed", config="paper", seed=2,
                                          n_images=320, proposed_N=3, augment="ada", key="datakey1"),
         "cpu/stylegan2/paper/ada-r1": dict(profile="cpu", model="stylegan2", config="paper", seed=0,
                                            n_images=320, augment="ada", r1_gamma=0.5, key="datakey1")}


#: DeLiGAN's setting before issue 27 (the PINNED names are this setting's).
OLD_DELIGAN = dict(deligan_K=50, deligan_lambda=0.1, deligan_assign="uniform")

#: DeLiGAN's names at its current defaults (K 35, row assignment, lambda 0.05; issue 27).
NEW_DELIGAN = {
    "smoke/deligan/paper": "deligan-paper-s1-1b317f02c7",
    "smoke/deligan/conventional": "deligan-conventional-s1-c63e0ea9b4",
    "cpu/deligan/paper": "deligan-paper-s1-073ad11318",
    "cpu/deligan/conventional": "deligan-conventional-s1-c5d3404963",
    "paper/deligan/paper": "deligan-paper-s1-ca6ebb93bd",
    "paper/deligan/conventional": "deligan-conventional-s1-6245e1e25e",
}


def _pinned_config(name, **options):
    if name in EXTRA:
        kw = dict(EXTRA[name])
        prof, model, cfgname, seed, key = (kw.pop(k) for k in ("profile", "model", "config", "seed", "key"))
    else:
        prof, model, cfgname = name.split("/")
        seed, key, kw = 1, "datakey0", {"n_images": 400}
    return engine.profile_config(prof, model, cfgname, seed=seed, **kw, **options), key


@pytest.mark.parametrize("name", sorted(PINNED))
def test_run_name_unchanged(name):
    cfg, key = _pinned_config(name, **(OLD_DELIGAN if "/deligan/" in name else {}))
    assert engine.run_name(cfg, key) == PINNED[name]


@pytest.mark.parametrize("name", sorted(NEW_DELIGAN))
def test_deligan_new_defaults_have_new_names_and_the_old_setting_its_old_ones(name):
    new, key = _pinned_config(name)
    assert (new.deligan_K, new.deligan_assign, new.deligan_lambda) == (35, "row", 0.05)
    assert engine.run_name(new, key) == NEW_DELIGAN[name] != PINNED[name]
    old, _ = _pinned_config(name, **OLD_DELIGAN)
    assert engine.run_name(old, key) == PINNED[name]
    # the new options at their legacy values are left out of the key; other values are not
    same, _ = _pinned_config(name, **OLD_DELIGAN, deligan_sigma_init=0.2)
    assert engine.run_name(same, key) == PINNED[name]
    other, _ = _pinned_config(name, **OLD_DELIGAN, deligan_sigma_init=0.5)
    assert engine.run_name(other, key) not in (PINNED[name], NEW_DELIGAN[name])


def test_an_old_deligan_run_folder_reads_as_its_old_setting(tmp_path):
    """A config.json written before deligan_assign / deligan_sigma_init existed reads them
    at their legacy values: the run keeps its name, loads and resumes as it was trained."""
    from paperlib.engine.loop import _check_resumable

    cfg, key = _pinned_config("cpu/deligan/paper", **OLD_DELIGAN)
    flat = cfg.to_dict()
    saved = {k: v for k, v in flat.items() if k not in ("deligan_assign", "deligan_sigma_init")}
    assert len(saved) == len(flat) - 2
    data = {"source": "x", "n_images": 400, "sha1": "abc"}
    (tmp_path / "config.json").write_text(json.dumps({"config": saved, "data": data}))
    run = engine.RunDir(tmp_path)
    back = run.train_config()
    assert (back.deligan_assign, back.deligan_sigma_init) == ("uniform", 0.2)
    assert back.to_dict() == {**flat, "device": "auto"}
    assert engine.run_name(back, key) == PINNED["cpu/deligan/paper"]
    _check_resumable(run, cfg, data)                      # the old setting resumes it
    with pytest.raises(engine.RunMismatch, match="deligan_assign"):
        _check_resumable(run, engine.make_config(**{**flat, "deligan_assign": "row"}), data)


def test_new_deligan_options_leave_other_models_keys_alone():
    for model in ("dcgan", "proposed"):
        cfg = engine.profile_config("cpu", model, "paper", seed=1, n_images=400)
        assert "deligan_assign" not in cfg.to_dict() and "deligan_sigma_init" not in cfg.to_dict()
        assert engine.run_name(cfg, "datakey0") == PINNED[f"cpu/{model}/paper"]


def test_every_profile_and_model_is_pinned():
    models = {"dcgan", "deligan", "proposed", "stylegan2", "pix2pixhd"}
    assert {k for k in PINNED if k.count("/") == 2} == {f"{p}/{m}/{c}" for p in config.PROFILES
                                                       for m in models for c in ("paper", "conventional")}
