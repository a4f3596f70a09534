"""Adding a model is adding one module: a tiny MLP GAN written to a temporary file registers
itself with its own options, and then trains, samples and is evaluated through the CLI,
and shows its options in ``train --help``, with no other file changed."""
import importlib.util
import json
import sys

import pytest
from test_cli_more import _main, _write_images

from paperlib import config, engine, metrics
from paperlib.models import base

MODULE = '''
"""A tiny MLP GAN: one module that registers itself with its own options."""
from dataclasses import dataclass

from torch import nn

from paperlib.models.base import ModelSpec, Options, check_int, option, register, sizes_by_profile
from paperlib.models.dcgan import DCGANStep, GaussianLatent


@dataclass
class MLPOptions(Options):
    mlp_hidden: int = option(24, "hidden units per layer", flag="--mlp-hidden")
    mlp_depth: int = option(1, "hidden layers")

    def validate(self):
        self.mlp_hidden = check_int("mlp_hidden", self.mlp_hidden, 1)
        self.mlp_depth = check_int("mlp_depth", self.mlp_depth, 1)


def _mlp(n_in, hidden, depth, n_out):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(n_in, hidden), nn.LeakyReLU(0.2)]
        n_in = hidden
    return layers + [nn.Linear(n_in, n_out)]


class G(nn.Module):
    def __init__(self, nz, res, o):
        super().__init__()
        self.res = res
        self.net = nn.Sequential(*_mlp(nz, o.mlp_hidden, o.mlp_depth, 3 * res * res), nn.Tanh())

    def forward(self, z, noise_gen=None):
        return self.net(z).view(-1, 3, self.res, self.res)


class D(nn.Module):
    def __init__(self, res, o):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), *_mlp(3 * res * res, o.mlp_hidden, o.mlp_depth, 1))

    def forward(self, x):
        return self.net(x).view(-1)


register(ModelSpec(
    name="mlpgan", options=MLPOptions, help="a tiny MLP GAN (one module)",
    networks=lambda cfg: (GaussianLatent(cfg.nz), G(cfg.nz, cfg.res, cfg.options),
                          D(cfg.res, cfg.options)),
    step=lambda cfg, latent, g, d, device: DCGANStep(latent, g, d, cfg.optim),
    profile_sizes=sizes_by_profile({"default": {"kimg": 1.0, "batch_size": 8, "nz": 8},
                                    "smoke": {"kimg": 0.02, "mlp_hidden": 16}})))
'''


@pytest.fixture
def mlpgan(tmp_path, monkeypatch):
    """The module written to ``tmp_path`` and imported (registered only for this test)."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    path = tmp_path / "mlpgan_model.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("mlpgan_model", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mlpgan_model", module)
    spec.loader.exec_module(module)
    return module


def test_a_model_in_one_module_trains_samples_and_is_evaluated(mlpgan, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    code, out, _ = _main(["train", "--help"], capsys)
    flat = " ".join(out.split())
    assert code == 0 and "mlpgan: a tiny MLP GAN" in out
    assert "--mlp-hidden" in out and "hidden units per layer (default: the profile's, " \
                                     "smoke: 16)" in flat
    code, out, _ = _main(["train", "--profile", "cpu", "--help"], capsys)
    assert "hidden units per layer (default 24)" in " ".join(out.split())
    images = _write_images(tmp_path / "photos", 12)
    run = tmp_path / "run"
    code, _, err = _main(["train", "--model", "mlpgan", "--data", images, "--out", run,
                          "--epochs", "1", "--res", "32", "--mlp-hidden", "20",
                          "--no-progress"], capsys)
    assert code == 0, err
    saved = engine.read_config(run)["config"]
    assert saved["model"] == "mlpgan" and saved["mlp_hidden"] == 20 and saved["mlp_depth"] == 1
    sizes = engine.profile_sizes(config.get_profile(None), "mlpgan")
    assert saved["batch_size"] == sizes["batch_size"] and saved["nz"] == sizes["nz"]  # the profile's
    cfg = engine.make_config(**saved)
    assert cfg.options == mlpgan.MLPOptions(mlp_hidden=20) and cfg.mlp_hidden == 20
    assert engine.run_name(cfg, "k").startswith("mlpgan-paper-s0-")
    code, _, err = _main(["generate", "--run", run, "--n", "3", "--out", tmp_path / "gen"],
                         capsys)
    assert code == 0, err
    assert len(list((tmp_path / "gen").glob("*.png"))) == 3
    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    monkeypatch.setattr(metrics.features, "DEFAULT_CACHE_DIR", tmp_path / "cache")
    code, _, err = _main(["evaluate", "--run", run, "--data", images, "--json",
                          tmp_path / "eval.json"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "eval.json").read_text())
    assert isinstance(res["fid"], float) and res["n_fake"] == config.get_profile().n_fake


def test_its_options_validate_and_size_by_profile(mlpgan):
    with pytest.raises(ValueError, match="mlp_hidden must be an integer >= 1"):
        engine.make_config(model="mlpgan", epochs=1, mlp_hidden=0)
    cfg = engine.profile_config("smoke", "mlpgan", epochs=1)
    assert (cfg.options.mlp_hidden, cfg.batch_size, cfg.nz) == (16, 8, 8)
    assert cfg.res == config.get_profile("smoke").res
    # another model's config takes the new option by its flat name only to record it; the
    # existing models' run keys never see it
    dc = engine.make_config(model="dcgan", epochs=1)
    assert engine.run_name(dc, "k") == engine.run_name(
        engine.make_config(model="dcgan", epochs=1, mlp_hidden=5), "k")


def test_train_config_holds_no_model_option():
    import dataclasses

    from paperlib.engine import config as engine_config
    from paperlib.models import get_model, model_names

    fields = {f.name for f in dataclasses.fields(engine.TrainConfig)}
    options = {n for m in model_names() for n in get_model(m).option_names}
    assert fields == {"model", "epochs", "seed", "config", "res", "batch_size", "nz", "ngf",
                      "ndf", "sample_every", "ckpt_every", "augment", "device", "threads",
                      "init_from", "inject_nan_at_epoch", "options", "other_options"}
    assert not fields & options
    # the legacy map (old flat fields, recorded in every config.json) keeps the owners' old
    # defaults: today's, but DeLiGAN's K and lambda (changed to the reference's in issue 27)
    changed = {"deligan_K": (50, 35), "deligan_lambda": (0.1, 0.05)}
    for name, default in engine_config._LEGACY_OPTIONS.items():
        owner = base.option_owner(name)
        now = getattr(owner.options(), name)
        assert (default, now) == changed[name] if name in changed else now == default, name
    # a flat config of the old layout (every model's options at their defaults) still loads
    for model in model_names():
        cfg = engine.profile_config("smoke", model, epochs=1)
        flat = cfg.to_dict()
        assert set(engine_config._LEGACY_OPTIONS) <= set(flat)
        assert engine.TrainConfig.from_dict(flat) == cfg
