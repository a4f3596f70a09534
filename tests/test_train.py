import json
import math

import pytest
import torch

from paperlib import engine, paper_a

SMALL = dict(res=32, ngf=4, ndf=4, nz=16, batch_size=10, sample_every=1, ckpt_every=1,
             device="cpu")


@pytest.fixture(scope="module")
def images():
    return torch.rand(24, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1


def cfg(**kw):
    return engine.make_config(**{"model": "dcgan", "epochs": 3, **SMALL, **kw})


def strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def final_state(run_dir):
    ckpt = engine.list_checkpoints(run_dir)[-1][1]
    return torch.load(ckpt, weights_only=True)


def assert_same_state(a, b):
    for key in ("G", "D", "latent"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


@pytest.mark.parametrize("model,extra", [("deligan", {"augment": "ada"}),
                                         ("proposed", {"augment": "diffaugment"})])
def test_resumed_run_equals_uninterrupted(tmp_path, images, model, extra):
    c3 = cfg(model=model, **extra)
    full = engine.train(c3, images, tmp_path / "full", progress=False)
    assert full.status == "finished" and full.epochs_done == 3
    part = engine.train(cfg(model=model, epochs=2, **extra), images, tmp_path / "resumed", progress=False)
    assert part.epochs_done == 2
    resumed = engine.train(c3, images, tmp_path / "resumed", progress=False)
    assert resumed.status == "finished" and resumed.epochs_done == 3
    assert strip(resumed.rows) == strip(full.rows) and len(full.rows) == 3
    assert_same_state(final_state(tmp_path / "full"), final_state(tmp_path / "resumed"))
    # a real kill -9 of `python -m paperlib train`: tests/test_faults.py


def test_run_folder_layout_and_load_run(tmp_path, images):
    res = engine.train(cfg(epochs=2, ckpt_every=5, sample_every=5, model="deligan"), images,
                  tmp_path, progress=False)
    assert (tmp_path / "config.json").exists() and (tmp_path / "log.csv").exists()
    assert [e for e, _ in engine.list_checkpoints(tmp_path)] == [2]  # final epoch only
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_0002.png"]
    status = engine.read_status(tmp_path)
    assert status["status"] == "finished" and status["epochs_done"] == 2
    row = res.rows[0]
    assert list(row) == ["epoch", "kimg", "d_loss", "g_loss", "d_real", "d_fake", "sigma_mean",
                         "sigma_min", "sigma_max", "sigma_abs_mean", "sigma_abs_min",
                         "sigma_abs_max", "aug_p", "seconds"]
    assert 0 <= row["d_real"] <= 1 and row["sigma_min"] <= row["sigma_mean"] <= row["sigma_max"]
    assert 0 <= row["sigma_abs_min"] <= row["sigma_abs_mean"] <= row["sigma_abs_max"]
    ckpt = torch.load(engine.list_checkpoints(tmp_path)[0][1], weights_only=True)
    assert {"G", "D", "latent", "opt_g", "opt_d", "augment", "rng", "epoch",
            "fixed_noise"} <= set(ckpt)
    gan = engine.load_run(tmp_path, device="cpu")
    assert gan.epoch == 2 and gan.config.model == "deligan"
    x = gan.sample(7, seed=3, batch_size=3)
    assert x.shape == (7, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, gan.sample(7, seed=3, batch_size=3))
    assert torch.allclose(x, gan.sample(7, seed=3), atol=1e-5)
    assert not torch.equal(x, gan.sample(7, seed=4))
    with pytest.raises(ValueError, match="epoch 1"):
        engine.load_run(tmp_path, epoch=1)


def test_an_old_deligan_run_resumes_with_its_setting_and_new_log_columns(tmp_path, images):
    """A DeLiGAN run made before deligan_assign / deligan_sigma_init and the |sigma| log
    columns existed: its config reads as the old setting, and resuming it writes "nan" for
    the new columns of its earlier epochs."""
    old = dict(model="deligan", deligan_K=50, deligan_lambda=0.1, deligan_assign="uniform")
    engine.train(cfg(epochs=2, **old), images, tmp_path, progress=False)
    record = json.loads((tmp_path / "config.json").read_text())
    for key in ("deligan_assign", "deligan_sigma_init"):
        del record["config"][key]
    (tmp_path / "config.json").write_text(json.dumps(record))
    lines = (tmp_path / "log.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if not c.startswith("sigma_abs")]
    (tmp_path / "log.csv").write_text("".join(
        ",".join(line.split(",")[i] for i in keep) + "\r\n" for line in lines))
    res = engine.train(cfg(epochs=3, **old), images, tmp_path, progress=False)
    assert res.status == "finished" and [r["epoch"] for r in res.rows] == [1, 2, 3]
    assert all(math.isnan(r["sigma_abs_mean"]) for r in res.rows[:2])
    assert 0 < res.rows[2]["sigma_abs_min"] <= res.rows[2]["sigma_abs_max"]
    assert engine.load_run(tmp_path, device="cpu").latent.assign == "uniform"


def test_finished_run_returns_at_once_and_other_config_is_refused(tmp_path, images):
    engine.train(cfg(epochs=2), images, tmp_path, progress=False)
    mtime = (tmp_path / "log.csv").stat().st_mtime_ns
    again = engine.train(cfg(epochs=1), images, tmp_path, progress=False)
    assert again.status == "finished" and again.epochs_done == 2
    assert (tmp_path / "log.csv").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="another run folder"):
        engine.train(cfg(epochs=2, config="conventional"), images, tmp_path, progress=False)
    with pytest.raises(ValueError, match="different images"):
        engine.train(cfg(epochs=2), images.flip(0), tmp_path, progress=False)
    fresh = engine.train(cfg(epochs=1, seed=5), images, tmp_path, progress=False, resume=False)
    assert fresh.epochs_done == 1 and len(fresh.rows) == 1
    assert [e for e, _ in engine.list_checkpoints(tmp_path)] == [1]


def test_injected_nan_ends_run_as_diverged(tmp_path, images):
    res = engine.train(cfg(epochs=4, inject_nan_at_epoch=3), images, tmp_path, progress=False)
    assert res.status == "diverged at epoch 3" and res.diverged
    assert engine.read_status(tmp_path)["status"] == "diverged at epoch 3"
    assert [e for e, _ in engine.list_checkpoints(tmp_path)] == [1, 2]
    assert len(res.rows) == 3 and math.isnan(res.rows[-1]["d_loss"])
    assert not paper_a.is_stable(res.rows, past_epoch=1)
    again = engine.train(cfg(epochs=4, inject_nan_at_epoch=3), images, tmp_path, progress=False)
    assert again.status == "diverged at epoch 3"


def test_same_seed_same_losses_other_seed_differs(tmp_path, images):
    a = engine.train(cfg(epochs=2, seed=1, ckpt_every=9, sample_every=9), images, tmp_path / "a",
                progress=False)
    b = engine.train(cfg(epochs=2, seed=1, ckpt_every=9, sample_every=9), images, tmp_path / "b",
                progress=False)
    c = engine.train(cfg(epochs=2, seed=2, ckpt_every=9, sample_every=9), images, tmp_path / "c",
                progress=False)
    assert strip(a.rows) == strip(b.rows)
    assert strip(a.rows) != strip(c.rows)


@pytest.mark.parametrize("bad", [
    dict(model="gan"), dict(config="fast"), dict(augment="mixup"), dict(epochs=0),
    dict(res=48), dict(batch_size=0), dict(proposed_N=0), dict(deligan_K=0),
    dict(deligan_lambda=-1.0), dict(seed=-1), dict(ngf=0), dict(sample_every=0),
    dict(ckpt_every=0), dict(epochs=2.5), dict(adjust="yes"), dict(device="tpu"),
    dict(learning_rate=1.0),
])
def test_make_config_rejects_bad_values(bad, tmp_path):
    with pytest.raises(ValueError):
        engine.make_config(**{"model": "dcgan", "epochs": 3, **bad})


def test_bad_data_fails_before_training(tmp_path, images):
    with pytest.raises(FileNotFoundError):
        engine.train(cfg(), tmp_path / "missing", tmp_path / "run")
    with pytest.raises(ValueError, match="32"):
        engine.train(cfg(), torch.zeros(4, 3, 64, 64), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_train_from_a_folder(tmp_path):
    from PIL import Image
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = torch.Generator().manual_seed(0)
    for i in range(12):
        arr = (torch.rand(40, 40, 3, generator=rng) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(folder / f"{i:02d}.png")
    res = engine.train(cfg(epochs=1), folder, tmp_path / "run", progress=False)
    assert res.status == "finished" and len(res.rows) == 1
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert saved["n_images"] == 12 and saved["source"] == str(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises((FileNotFoundError, ValueError)):
        engine.train(cfg(), tmp_path / "empty", tmp_path / "run2")
    assert not (tmp_path / "run2").exists()


def test_config_round_trip():
    c = cfg(model="proposed", proposed_N=3, adjust=False)
    assert engine.TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert engine.make_config(model="dcgan", epochs=1).optim == {"lr": 1e-2, "betas": (0.5, 0.999)}
    assert engine.make_config(model="dcgan", epochs=1, config="conventional").optim["lr"] == 2e-4


def _rows(pairs):
    return [{"epoch": i + 1, "d_loss": d, "g_loss": g, "d_fake": 0.5}
            for i, (d, g) in enumerate(pairs)]


def test_instability_onset_and_is_stable():
    ok, bad = (1.2, 1.0), (0.05, 6.0)
    rows = _rows([ok] * 3 + [bad] * 2 + [ok] + [bad] * 5 + [ok])
    assert paper_a.instability_onset(rows, k=5) == 7
    assert paper_a.instability_onset(rows, k=2) == 4
    assert paper_a.instability_onset(_rows([ok] * 10)) is None
    assert not paper_a.is_stable(rows, past_epoch=3)
    assert paper_a.is_stable(_rows([bad] * 5 + [ok] * 5), past_epoch=5)  # early instability tolerated
    assert not paper_a.is_stable(_rows([ok] * 4), past_epoch=5)  # did not reach epoch 5
    # D(G(z)) near 0 also counts as G losing, even with a moderate G loss
    near_zero = [{**r, "g_loss": 2.0, "d_fake": 0.001} for r in _rows([bad] * 5)]
    assert paper_a.instability_onset(near_zero) == 1


def test_init_from_starts_from_checkpoint_weights(tmp_path):


    imgs = torch.rand(20, 3, 32, 32) * 2 - 1
    base = engine.make_config(model="dcgan", epochs=1, res=32, ngf=4, ndf=4, batch_size=10)
    engine.train(base, imgs, tmp_path / "pre", progress=False)
    ckpt = engine.list_checkpoints(tmp_path / "pre")[-1][1]
    pre = torch.load(ckpt, weights_only=True)["G"]
    fine = engine.make_config(**{**base.to_dict(), "init_from": str(ckpt), "seed": 5})
    engine.train(fine, imgs, tmp_path / "fine", progress=False)
    # the fine-tuned run's epoch-1 weights moved away from the pre-trained ones by one
    # epoch of Adam steps, not from a fresh seed-5 init: compare to a from-scratch run
    scratch = engine.make_config(**{**base.to_dict(), "seed": 5})
    engine.train(scratch, imgs, tmp_path / "scratch", progress=False)
    g_fine = engine.load_run(tmp_path / "fine").G.state_dict()
    g_scratch = engine.load_run(tmp_path / "scratch").G.state_dict()
    key = next(k for k in pre if k.endswith("weight"))
    d_pre = (g_fine[key] - pre[key]).abs().mean()
    d_scratch = (g_scratch[key] - pre[key]).abs().mean()
    assert d_pre < d_scratch
    with pytest.raises(ValueError, match="does not exist"):
        engine.make_config(**{**base.to_dict(), "init_from": str(tmp_path / "nope.pt")})
