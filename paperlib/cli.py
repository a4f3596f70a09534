"""Command line: ``python -m paperlib {build-data,train,generate,evaluate,fid,split,curate,
reproduce,plan,verify,selfcheck} ...``.

Every subcommand validates its arguments before doing any work and exits with status 2
and a one-line message naming the problem (an unknown model, a missing folder, ...). The
other exit statuses: :data:`EXIT_CODES` (``--help``'s epilog).
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import shlex
import sys
import traceback
import warnings
from pathlib import Path
from typing import Callable

# paper_a and paper_b are imported for their registrations (paper A's IS source)
from . import __version__, cli_field, config, engine, metrics, paper_a, paper_b, reproduce  # noqa: F401
from . import plan as plan_mod
from . import selfcheck as selfcheck_mod
from . import verify as verify_mod
from .data import build_all, readable_images, split_held_out
from .models import get_model, model_names
from .utils.io import atomic_write_text


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text}")
    return value


class _UsageError(engine.BadInput):
    """Bad command-line input found before any work (exit 2)."""


#: Exit statuses of :func:`main`.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_BUSY, EXIT_IO = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
EXIT_CODES = """exit status:
  0    done
  1    failed while working (an error after the checks: traceback, then a one-line
       summary; train resumes when rerun), or a check found a difference (verify,
       selfcheck) or a notebook failed (reproduce)
  2    bad input, refused before any work: a one-line message naming the problem
  3    train: the run diverged (NaN/inf losses; status.json says "diverged at epoch E")
  4    train: another process is writing the run folder (its pid is named); wait for it
  5    a file could not be written or read: disk full, permission denied, I/O error
       (the message names the file; fix it and rerun: train resumes)
  130  interrupted (Ctrl-C); rerun the same command to resume"""


class _KeepLinesFormatter(argparse.HelpFormatter):
    """Wraps a description or epilog unless it has lines of its own (:data:`EXIT_CODES`)."""

    def _fill_text(self, text, width, indent):
        if "\n" not in text:
            return super()._fill_text(text, width, indent)
        return "".join(indent + line for line in text.splitlines(keepends=True))


class _WorkFailed(Exception):
    """An exception (its ``__cause__``) raised after a command's work started."""


@contextlib.contextmanager
def _working(*passing: type):
    """Mark the block as the command's work: an exception raised in it is a failure
    (:data:`EXIT_FAILED`, or :data:`EXIT_IO` for an ``OSError``), never bad input -- except
    the engine's up-front :class:`~paperlib.engine.BadInput` and
    :class:`~paperlib.engine.RunBusy` and the ``passing`` types, which pass unchanged."""
    try:
        yield
    except (engine.BadInput, engine.RunBusy, *passing):
        raise
    except Exception as err:
        raise _WorkFailed(str(err)) from err


#: Training needs at least this many images: KID (``evaluate``) needs at least 2 per set.
MIN_IMAGES = 2


def _help_profile(argv: list[str] | None) -> config.Profile:
    """The profile whose values ``--help`` shows: ``--profile NAME`` in ``argv`` when it names
    one, else :func:`paperlib.config.get_profile`'s (``$PAPERLIB_PROFILE``, else cpu)."""
    argv = list(argv or ())
    for i, word in enumerate(argv):
        name = word.split("=", 1)[1] if word.startswith("--profile=") else (
            argv[i + 1] if word == "--profile" and i + 1 < len(argv) else None)
        if name is not None and name.strip().lower() in config.PROFILES:
            return config.get_profile(name)
    try:
        return config.get_profile(None)
    except ValueError:      # a bad $PAPERLIB_PROFILE is refused when a command runs
        return config.get_profile(config.DEFAULT_PROFILE)


def _build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser, built from the model registry at call time (a model
    registered after import gets its ``train`` flags); its help shows the defaults of the
    profile :func:`_help_profile` finds in ``argv``."""
    prof = _help_profile(argv)
    parser = argparse.ArgumentParser(
        prog="python -m paperlib",
        description="Reproduce paper A (emoji DCGAN latent adjustment) and paper B (shape "
                    "learning, curation loop); train and evaluate GANs on your own images.",
        epilog=EXIT_CODES, formatter_class=_KeepLinesFormatter)
    parser.add_argument("--version", action="version", version=f"paperlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_build_data, _add_evaluate, _add_generate, cli_field.add_fid, _add_split,
                _add_reproduce, plan_mod.add_command, _add_verify, _add_selfcheck):
        add(sub)
    _add_train(sub, prof)
    _add_curate(sub, prof)
    return parser


def _add_build_data(sub) -> None:
    """The ``build-data`` subcommand's parser."""
    p = sub.add_parser("build-data", help="write the emoji, shape and stand-in artist sets",
                       description="Write the emoji set (402 positive + 402 negative), the "
                                   "shape set and the stand-in artist sets as PNG folders "
                                   "with manifest.json. The same seed gives identical files.")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--res", type=int, default=64, help="image size in pixels (default 64)")
    p.add_argument("--n-shapes", type=_positive_int, default=1000,
                   help="images in the shape set (default 1000)")
    p.add_argument("--n-artist", type=_positive_int, default=400,
                   help="images per stand-in artist set (default 400)")


#: Where a command's profile comes from, for the help texts.
_PROFILE_SOURCE = "--profile, else $PAPERLIB_PROFILE, else cpu"


def _profile_configs(prof) -> dict:
    """``{model: TrainConfig}`` the notebooks would train each model with under ``prof``,
    before a folder is known (one epoch): what ``train``'s help shows as defaults."""
    return {n: engine.profile_config(prof, n, epochs=1, **engine.stage_defaults(prof, n)[0])
            for n in model_names()}


def _per_model(values: dict) -> str:
    """``"dcgan/deligan 35, stylegan2 32"``: ``{model: value}`` grouped by value."""
    groups: dict = {}
    for name, value in values.items():
        groups.setdefault(str(value), []).append(name)
    if len(groups) == 1:
        return next(iter(groups))
    return ", ".join(f"{'/'.join(names)} {value}" for value, names in groups.items())


def _add_train(sub, prof) -> None:
    """The ``train`` subcommand's parser: the common flags, then each registered model's
    option flags (:func:`_add_model_options`); each help says the effective default under
    ``prof``."""
    names = model_names()
    cfgs = _profile_configs(prof)
    at = f"{prof.name}: "
    p = sub.add_parser("train", help=f"train {', '.join(names)} on a folder of images",
                       description="Train one GAN with the shared engine, as the notebooks "
                                   "train it: its sizes, length, augmentation and options come "
                                   f"from the profile ({_PROFILE_SOURCE}); an explicit flag "
                                   "overrides one setting. Rerunning the same command (with "
                                   "the same or more --epochs/--kimg) resumes from the last "
                                   "checkpoint in --out; --restart starts it over. The "
                                   f"defaults below are the {prof.name} profile's (`--profile "
                                   "NAME --help` shows another's).")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="; ".join(f"{n}: {get_model(n).help}" for n in names))
    p.add_argument("--data", required=True, type=Path,
                   help="folder of images (a built set or your own; png/jpg/webp/bmp)")
    p.add_argument("--out", required=True, type=Path, help="run folder (created or resumed)")
    budget = _per_model({n: f"{engine.profile_sizes(prof, n)['kimg']:g} kimg" for n in names})
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, help="total epochs (this or --kimg; default: "
                                                   "the profile's budget, see --kimg)")
    length.add_argument("--kimg", type=_positive_float,
                        help="total thousands of images shown (this or --epochs), converted "
                             "to the epochs of --data that show at least that many (default: "
                             f"the profile's budget for the model, {at}{budget})")
    p.add_argument("--profile", default=None,
                   help=f"where every default comes from: one of {', '.join(config.PROFILES)} "
                        f"(default: $PAPERLIB_PROFILE, else cpu; here {prof.name})")
    p.add_argument("--restart", action="store_true",
                   help="start the run in --out over (deletes its checkpoints, samples and "
                        "log) instead of resuming it (default: resume)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    lrs = {n: "lr " + "/".join(dict.fromkeys(
        f"{get_model(n).optim(engine.make_config(**{**cfgs[n].to_dict(), 'config': c}))['lr']:g}"
        for c in ("paper", "conventional"))) for n in names}
    p.add_argument("--config", default="paper",
                   help="Adam settings: paper (default) or conventional; the lr each gives "
                        f"(paper/conventional, one value where both are the same), {at}"
                        f"{_per_model(lrs)}".replace("%", "%%"))
    p.add_argument("--res", type=int, default=None,
                   help="32, 64 or 128 (default: the profile's, "
                        f"{at}{_per_model({n: c.res for n, c in cfgs.items()})})")
    for flag, what in (("batch-size", "batch size"), ("nz", "latent size"),
                       ("ngf", "generator width"), ("ndf", "discriminator width")):
        key = flag.replace("-", "_")
        values = _per_model({n: getattr(c, key) for n, c in cfgs.items()})
        p.add_argument(f"--{flag}", type=_positive_int, default=None,
                       help=f"{what} (default: the profile's, {at}{values})")
    p.add_argument("--augment", default=None,
                   help="none, diffaugment, ada-diffaug (DiffAugment's ops with ADA's adaptive "
                        "p; old name ada) or ada-bgc (ADA's own bgc pipeline, NVlabs' adaptive "
                        "p) (default: the profile's, as the notebooks use it, "
                        f"{at}{_per_model({n: c.augment for n, c in cfgs.items()})})")
    for flag in ("sample-every", "ckpt-every"):
        key = flag.replace("-", "_")
        what = "sample grid" if flag == "sample-every" else "checkpoint"
        p.add_argument(f"--{flag}", type=_positive_int, default=None,
                       help=f"{what} every k epochs (default: the profile's, "
                            f"{at}{_per_model({n: getattr(c, key) for n, c in cfgs.items()})})")
    p.add_argument("--device", default=None, help="cuda, cpu or auto (default auto)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    cli_field.add_init_from(p)
    _add_model_options(p, prof, cfgs)


def _model_flags() -> list:
    """``train``'s model flags: :func:`paperlib.cli_field.option_flags`."""
    return cli_field.option_flags("flag")


def _bool_arg(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"must be true or false, got {text}")


def _flag_type(f) -> Callable:
    """The argparse type of option field ``f``: its metadata's ``type``, else its
    annotation's int / float / bool / str."""
    if "type" in f.metadata:
        return f.metadata["type"]
    words = str(getattr(f.type, "__name__", f.type)).replace("|", " ").split()
    for name, kind in (("int", int), ("float", float), ("bool", _bool_arg)):
        if name in words:
            return kind
    return str


def _add_model_options(p, prof, cfgs: dict) -> None:
    """One argument group per model with flagged options (:func:`paperlib.models.base.
    option`): each flag's help says its default under ``prof`` (``cfgs``: each model's
    config there); unset, the flag leaves the option to the profile."""
    groups = {}
    for name, f, flag in _model_flags():
        if name not in groups:
            groups[name] = p.add_argument_group(f"{name} options", get_model(name).help)
        value = getattr(cfgs[name].options, f.name)
        default = (f"default {f.metadata.get('default_text', f.default)}" if value == f.default
                   else f"default: the profile's, {prof.name}: {value}")
        alone = {"nargs": "?", "const": True} if _flag_type(f) is _bool_arg else {}  # --cond
        groups[name].add_argument(flag, dest=f.name, type=_flag_type(f), default=None, **alone,
                                  metavar=f.metadata.get("metavar", "BOOL" if alone else None),
                                  help=f"{name}: {f.metadata['help']} ({default})"
                                  .replace("%", "%%"))


def _add_evaluate(sub) -> None:
    """The ``evaluate`` subcommand's parser."""
    p = sub.add_parser("evaluate", help="FID, KID, precision/recall, density/coverage and IS "
                                        "of a trained run",
                       description="Evaluate a run's latest checkpoint against a data folder "
                                   "(a built set or your own images).")
    p.add_argument("--run", required=True, type=Path, help="run folder written by train")
    p.add_argument("--data", required=True, type=Path, help="real images folder")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--profile", default=None, help=f"one of {', '.join(config.PROFILES)}, "
                   "whose Table-1 sizes are the defaults below (default $PAPERLIB_PROFILE or cpu)")
    p.add_argument("--n-fake", type=_positive_int, default=None,
                   help="generated images to score (default: the profile's n_fake, cpu 400)")
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default latest)")
    p.add_argument("--device", default=None, help="cuda, cpu or auto (default auto)")
    p.add_argument("--is", dest="is_source", default="auto",
                   choices=metrics.is_sources(),
                   help="Inception Score: emoji-parts (part classifier; needs the emoji set's "
                        "part labels), tf-inception (standard IS; needs --inception-logits or "
                        "$PAPERLIB_INCEPTION_LOGITS), none; auto (default): tf-inception when "
                        "that file is given, else emoji-parts when the data has the labels, "
                        "else none")
    p.add_argument("--inception-logits", type=Path, default=None, metavar="PATH",
                   help="TorchScript of the full TF Inception with logits, for --is "
                        "tf-inception (default $PAPERLIB_INCEPTION_LOGITS)")


def _add_generate(sub) -> None:
    """The ``generate`` subcommand's parser."""
    p = sub.add_parser("generate", help="write images from a trained run as PNG files",
                       description="Sample --n images from a run's checkpoint and write them "
                                   "to --out as 00000.png, 00001.png, ... (or, with --seeds, "
                                   "one seedNNNN.png per seed). A conditional model "
                                   "translates the maps of --maps.")
    p.add_argument("--run", required=True, type=Path, help="run folder written by train")
    p.add_argument("--n", type=_positive_int, default=None,
                   help="number of images (this or --seeds)")
    p.add_argument("--out", required=True, type=Path, help="folder for the PNG files")
    p.add_argument("--epoch", type=int, default=None, help="checkpoint epoch (default latest)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--maps", type=Path, default=None, metavar="DIR",
                   help="conditional models (required there): a folder of images (or pairs) "
                        "whose maps are translated, read as the run's --maps setting did "
                        "(cycled past the last); ignored by unconditional models")
    p.add_argument("--device", default=None, help="cuda, cpu or auto (default auto)")
    cli_field.add_generate_seeds(p)
    cli_field.add_sample_flags(p)


def _add_split(sub) -> None:
    """The ``split`` subcommand's parser."""
    p = sub.add_parser("split", help="split an image folder into training and held-out parts",
                       description="Copy a folder's images into <name>_train and "
                                   "<name>_heldout (disjoint; together every image once), to "
                                   "train on one and evaluate against the other. The same "
                                   "seed gives the same split.")
    p.add_argument("--data", required=True, type=Path, help="folder of images to split")
    p.add_argument("--held-out", type=_fraction, default=0.2, metavar="FRAC",
                   help="share of the images held out, in (0, 1) (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out-root", type=Path, default=None, metavar="DIR",
                   help="where the two parts go (default: beside --data)")


def _add_curate(sub, prof) -> None:
    """The ``curate`` subcommand's parser (help: ``prof``'s defaults)."""
    p = sub.add_parser("curate", help="paper B's 60/30/10 curation loop on your own images and "
                                      "a trained run",
                       description="Paper B's curation loop, as notebook 05 runs it: per round, "
                                   "generate --generate images from the current model, rate "
                                   "them (automatically, or by your saved selection), build a "
                                   "training set of --size images (60 % generated images "
                                   "similar to the top-rated, 30 % of your images similar to "
                                   "them, 10 % copies of the top-rated) and fine-tune the "
                                   "model on it. Writes to --out: round_<r>/batch/ (the rated "
                                   "images, numbered as a selections file counts them), "
                                   "round_<r>/trainset/ (the curated set and its "
                                   "provenance.json), runs/ (the retrained models) and "
                                   "curation_log.json. Details: paperlib/paper_b/curation.py.")
    p.add_argument("--run", required=True, type=Path,
                   help="run folder of an unconditional model written by train (the model "
                        "to curate)")
    p.add_argument("--data", required=True, type=Path,
                   help="folder of your images (the human-made training set; use the "
                        "training part of `split`, so a held-out part stays for `evaluate`)")
    p.add_argument("--out", required=True, type=Path,
                   help="folder for the loop's results (created; a rerun reuses its runs)")
    p.add_argument("--rounds", type=_positive_int, default=None,
                   help=f"curation rounds (default: the profile's curation_rounds, "
                        f"{prof.name}: {prof.curation_rounds})")
    p.add_argument("--size", type=_positive_int, default=None,
                   help="images in each curated training set (default: the profile's "
                        f"curation_size, {prof.name}: {prof.curation_size}; its 30 %% part "
                        "must fit in --data)")
    p.add_argument("--generate", type=_positive_int, default=None, metavar="M",
                   help="images generated and rated per round (default: the profile's "
                        f"curation_generate, {prof.name}: {prof.curation_generate})")
    p.add_argument("--top-k", type=_positive_int, default=None,
                   help="images the automatic rating keeps per round (default: 5 %% of "
                        "--generate, at least 1)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int, default=None,
                        help="fine-tuning epochs of the curated set per round (default: a "
                             "quarter of the images --run was trained on, as notebook 05)")
    length.add_argument("--kimg", type=_positive_float, default=None,
                        help="fine-tuning per round in thousands of images shown (instead "
                             "of --epochs)")
    p.add_argument("--selections", type=Path, default=None, metavar="FILE",
                   help="a selections JSON (the notebook's gallery writes one; or by hand: "
                        '{"version": 1, "rounds": {"0": {"selected": [3, 17], "n_shown": M}}} '
                        "with the numbers of the images of round_0/batch you like): its "
                        "rounds use your selection, the others the automatic rating "
                        "(default: automatic rating throughout)")
    p.add_argument("--profile", default=None,
                   help=f"where --rounds, --size and --generate come from: one of "
                        f"{', '.join(config.PROFILES)} (default: $PAPERLIB_PROFILE, else cpu; "
                        f"here {prof.name})")
    p.add_argument("--form", default="auto", choices=("auto", "face", "discs"),
                   help="the form measure of the automatic rating: face (circle fidelity of "
                        "one character), discs (the roundest flat colour region), auto (default: "
                        "from --data's manifest, else face)")
    p.add_argument("--seed", type=int, default=1000,
                   help="sampling seed of round 0 (round r: seed + r) (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _add_reproduce(sub) -> None:
    """The ``reproduce`` subcommand's parser."""
    p = sub.add_parser("reproduce", help="run every notebook in order with papermill",
                       description="Execute notebooks/NN_*.ipynb in order for a profile, "
                                   "regenerating figures/<profile>/ and the tables.")
    p.add_argument("--profile", default=None,
                   help=f"one of {', '.join(config.PROFILES)} (default $PAPERLIB_PROFILE or cpu)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="run only notebooks whose file name contains NAME")
    p.add_argument("--force", action="store_true", help="redo cached training runs")
    p.add_argument("--publish", action="store_true",
                   help="afterwards copy the executed notebooks (with outputs, widget state "
                        "stripped, each at most 2 MB) over notebooks/")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="where the notebooks' training runs execute: 'local' (a Dask cluster "
                        "on this machine, one single-threaded worker per core or GPU), "
                        "'serial', or a Dask scheduler address such as tcp://host:8786; sets "
                        "$PAPERLIB_SCHEDULER for the notebooks (default: $PAPERLIB_SCHEDULER, "
                        "else local)")


def _add_verify(sub) -> None:
    """The ``verify`` subcommand's parser."""
    p = sub.add_parser("verify", help="compare a rerun's tables with the committed reference",
                       description="Compare the CSV tables under figures/<profile>/ with the "
                                   "reference (git HEAD, or --reference DIR): each number is "
                                   "identical (to rounding), within seed noise (3 sd of the "
                                   "rerun-minus-reference difference) or differs; exits 1 on "
                                   "a difference. Details: paperlib/verify.py.")
    p.add_argument("--profile", default=None,
                   help=f"one of {', '.join(config.PROFILES)} (default $PAPERLIB_PROFILE or cpu)")
    p.add_argument("--reference", type=Path, default=None, metavar="DIR",
                   help="folder of reference tables (default: git show HEAD:figures/<profile>/)")
    p.add_argument("--rerun", type=Path, default=None, metavar="DIR",
                   help="folder of the rerun's tables (default figures/<profile>/)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 unless every number is identical to rounding (a rerun of "
                        "the same seeds on the reference machine; make release-check)")


def _add_selfcheck(sub) -> None:
    """The ``selfcheck`` subcommand's parser."""
    p = sub.add_parser("selfcheck", help="every model at a profile's sizes: build, train a few "
                                         "steps, resume, sample, score",
                       description="Build every registered model at the profile's sizes, "
                                   "train one epoch of a tiny synthetic set (--steps steps), "
                                   "resume for one more, sample and score a few images; print "
                                   "parameters, seconds per step and peak memory per model. "
                                   "Exits 1 naming the failing models. Details: "
                                   "paperlib/selfcheck.py.")
    p.add_argument("--profile", required=True,
                   help=f"one of {', '.join(config.PROFILES)}")
    p.add_argument("--steps", type=_positive_int, default=2,
                   help="training steps per epoch (default 2)")
    p.add_argument("--batch", type=_positive_int, default=None,
                   help="minibatch (default: the profile's, per model)")
    p.add_argument("--n-score", type=_positive_int, default=8,
                   help="images sampled and scored per model (default 8; at least 6)")
    p.add_argument("--model", nargs="+", default=None, metavar="MODEL",
                   help="only these models (default: every registered one)")
    p.add_argument("--device", default=None, help="cuda, cpu or auto (default auto)")


def _cmd_selfcheck(args) -> int:
    for name in args.model or ():
        get_model(name)
    if args.n_score < 6:
        raise ValueError(f"--n-score must be at least 6 (density/coverage's k=5), got "
                         f"{args.n_score}")
    rows = selfcheck_mod.run_selfcheck(args.profile, steps=args.steps, batch=args.batch,
                                       n_score=args.n_score, device=args.device,
                                       models=args.model)
    print(selfcheck_mod.format_table(args.profile, rows))
    return 0 if all(r["ok"] for r in rows) else 1


def _cmd_verify(args) -> int:
    report = verify_mod.verify(args.profile, reference=args.reference, rerun=args.rerun,
                               strict=args.strict)
    print(report.summary())
    return 0 if report.ok else 1


def _cmd_build_data(args) -> int:
    manifests = build_all(args.out, seed=args.seed, res=args.res,
                          n_shapes=args.n_shapes, n_artist=args.n_artist)
    for name, man in manifests.items():
        print(f"{name:20s} {man['count']:6d} images  {man['counts']}")
    return 0


def _image_folder(folder: Path) -> int:
    """The number of images in ``--data`` ``folder`` that decode; refused when missing or
    under :data:`MIN_IMAGES` (naming the files that do not decode)."""
    if not folder.exists():
        raise FileNotFoundError(f"--data: folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"--data: {folder} is not a folder")
    good, bad = readable_images(folder)
    if len(good) < MIN_IMAGES:
        unreadable = "".join(f"\n  {p.relative_to(folder).as_posix()}: {why}" for p, why in bad)
        raise _UsageError(f"--data {folder} has {len(good)} readable image(s); training "
                          f"needs at least {MIN_IMAGES}: the metrics (KID) need at least 2 "
                          "images per set" + (f". {len(bad)} file(s) cannot be read:"
                                              f"{unreadable}" if bad else ""))
    return len(good)


def _train_config(args) -> tuple:
    """``(TrainConfig, note)`` of ``train``'s arguments: what the notebooks train the model
    with on ``--data`` under the profile (:func:`paperlib.engine.stage_config`), explicit
    flags over it; length ``--epochs``, ``--kimg`` or the profile's budget."""
    get_model(args.model)
    if args.epochs is not None and args.epochs < 1:
        raise _UsageError(f"--epochs must be a positive integer, got {args.epochs}")
    _image_folder(args.data)
    given = dict(batch_size=args.batch_size, nz=args.nz, ngf=args.ngf, ndf=args.ndf,
                 sample_every=args.sample_every, ckpt_every=args.ckpt_every,
                 device=args.device, res=args.res, augment=args.augment,
                 **{f.name: getattr(args, f.name) for _, f, _ in _model_flags()})
    given = {k: v for k, v in given.items() if v is not None}
    return engine.stage_config(args.profile, args.model, args.data, epochs=args.epochs,
                               kimg=args.kimg, seed=args.seed, config=args.config, **given)


def _cmd_train(args) -> int:
    cfg, note = _train_config(args)
    cfg = cli_field.with_init_from(cfg, args)
    if note:
        print(f"note: {note}")
    try:
        with _working():
            result = engine.train(cfg, args.data, args.out, progress=not args.no_progress,
                                  resume=not args.restart)
    except engine.RunMismatch as err:
        raise _UsageError(f"{err}: use a new --out, or pass --restart to start {args.out} "
                          "over") from None
    print(f"{args.out}: {result.status} ({result.epochs_done} epochs)")
    if result.diverged:
        print(f"error: the run {result.status} (NaN/inf losses: {args.out / 'log.csv'}); "
              "try another --seed or --config, or a smaller learning rate", file=sys.stderr)
        return EXIT_DIVERGED
    print(f"samples:     {args.out / 'samples'}")
    print(f"checkpoints: {args.out / 'checkpoints'}")
    print("next:        python -m paperlib evaluate --run "
          f"{shlex.quote(str(args.out))} --data {shlex.quote(str(args.data))}"
          "   (better: --data a held-out folder, see `split`)")
    return 0


def _cmd_generate(args) -> int:
    try:
        spec = get_model(engine.read_config(args.run)["config"]["model"])
    except FileNotFoundError as err:
        raise FileNotFoundError(f"--run: {err}") from None
    conditional = spec.data_kind == "pairs"
    if conditional and args.maps is None:
        raise _UsageError(f"{args.run} is a conditional model ({spec.name}: it translates "
                          "maps into images); pass --maps DIR, a folder of maps / images to "
                          "translate")
    if conditional and not args.maps.is_dir():
        raise FileNotFoundError(f"--maps: folder {args.maps} does not exist")
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out: {args.out} is not a folder")
    cli_field.check_generate_flags(args, spec)
    options = cli_field.sample_options(args, spec)
    run = engine.load_run(args.run, epoch=args.epoch, device=args.device, options=options)
    if conditional:
        spec.bind_eval_data(run, args.maps)
    if args.seeds is not None:
        return cli_field.write_seeds(args, run)
    images = run.sample(args.n, seed=args.seed, psi=cli_field.psi(args))
    args.out.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        cli_field.save_png(img, args.out / f"{i:05d}.png")
    print(f"{args.out}: {len(images)} images from {args.run} (epoch {run.epoch}, "
          f"seed {args.seed})")
    return 0


#: ``curate``'s flag for each curation-job setting its errors name.
_CURATE_FLAGS = {"size": "--size", "n_generate": "--generate", "top_k": "--top-k",
                 "train_dir": "--data"}


def _curation_job(args) -> paper_b.CurationJob:
    """The validated :class:`paperlib.paper_b.CurationJob` of ``curate``'s arguments."""
    _check_curation_start(args.run)
    n_data = _image_folder(args.data)
    out = args.out.resolve()
    if out == args.data.resolve() or out.is_relative_to(args.data.resolve()):
        raise _UsageError(f"--out {args.out} is inside --data {args.data}: the curated sets "
                          "would be read as your images; pick a folder outside it")
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out: {args.out} is not a folder")
    try:
        job = paper_b.CurationJob.from_profile(
            config.get_profile(args.profile), args.run.resolve(),
            args.data.resolve(), out / "runs", out, rounds=args.rounds, size=args.size,
            n_generate=args.generate, top_k=args.top_k, epochs=args.epochs, kimg=args.kimg,
            n_data=n_data, selections=None if args.selections is None
            else args.selections.resolve(), names=_CURATE_FLAGS, gen_seed=args.seed,
            form=None if args.form == "auto" else args.form, progress=not args.no_progress)
    except paper_b.JobInfeasible as err:
        raise _UsageError(str(err)) from None
    if args.selections is not None:
        _check_selections(args.selections, job)
    return job


def _check_curation_start(run: Path) -> None:
    """Refuse a ``--run`` that is no run folder, a conditional model or has no checkpoint."""
    try:
        saved = engine.read_config(run)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"--run: {err}") from None
    spec = get_model(saved["config"]["model"])
    if spec.data_kind != "images":
        raise _UsageError(f"--run {run} is a conditional model ({spec.name}: it "
                          "translates maps); the curation loop needs one that generates "
                          "images from noise")
    if not engine.list_checkpoints(run):
        raise _UsageError(f"--run {run} has no checkpoint yet: train it first")


def _check_selections(path: Path, job: paper_b.CurationJob) -> None:
    """Refuse a missing or unreadable ``--selections`` file, or one whose selection for a
    round the job runs was made on another number of images than ``--generate``."""
    if not path.is_file():
        raise FileNotFoundError(f"--selections: file {path} does not exist")
    try:
        chosen = paper_b.load_selections(path)["rounds"]
    except ValueError as err:   # json.JSONDecodeError included
        raise _UsageError(f"--selections: {err}") from None
    for key, entry in chosen.items():
        if key.isdigit() and int(key) < job.rounds and int(entry["n_shown"]) != job.n_generate:
            raise _UsageError(f"--selections {path}: round {key}'s selection "
                              f"was made on {entry['n_shown']} images but --generate is "
                              f"{job.n_generate}; pass --generate {entry['n_shown']}")


def _cmd_curate(args) -> int:
    job = _curation_job(args)
    print(f"curating {args.run} with {args.data}: {job.rounds} round(s), "
          f"{job.n_generate} generated and a {job.size}-image set per round, "
          f"{job.epochs} fine-tuning epoch(s) per round, "
          + ("automatic rating" if job.selections is None
             else f"your selections from {args.selections} where they have the round"))
    try:
        with _working(paper_b.SelectionMismatchError):   # a failure while it trains: exit 1
            result = paper_b.curation_job(job)
    except paper_b.SelectionMismatchError as err:
        raise _UsageError(f"--selections: {err}") from None
    ratings = paper_b.check_curation(job, result)
    out = Path(job.loop_dir)
    for r, entry in enumerate(result["log"]["rounds"]):
        batch = paper_b.batch_for_round(paper_b.as_paths(result), r, job.n_generate)
        folder = out / f"round_{r}" / "batch"
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(batch):
            cli_field.save_png(img, folder / f"{i:05d}.png")
        print(f"round {r}: rated {ratings[r]} ({entry['n_top']} top-rated of {folder}), "
              f"mean automatic satisfaction {entry['mean_satisfaction']:.3f} (top-rated "
              f"{entry['top_mean_satisfaction']:.3f}); curated set {out / entry['trainset']}; "
              f"retrained {result['runs'][r]}")
    final = shlex.quote(result["models"][-1])
    print(f"log:           {out / paper_b.curation.CURATION_LOG}")
    print(f"curated model: {result['models'][-1]}")
    print(f"next:          python -m paperlib generate --run {final} --n 16 --out "
          f"{shlex.quote(str(out / 'samples'))}")
    held = args.data.with_name(args.data.name[:-len("_train")] + "_heldout")   # `split`'s
    held = shlex.quote(str(held)) if args.data.name.endswith("_train") and held.is_dir() \
        else "HELD_OUT_FOLDER"
    print(f"               python -m paperlib evaluate --run {final} --data {held}")
    print("your ratings:  list the numbers of the round_0/batch images you like in a "
          "selections file (see --help) and rerun with --selections FILE")
    return 0


def _cmd_split(args) -> int:
    split = split_held_out(args.data, held_out_frac=args.held_out, seed=args.seed,
                           out_root=args.out_root)
    print(f"train     {split.train}  {split.n_train} images")
    print(f"held-out  {split.held_out}  {split.n_held_out} images")
    return 0


def _cmd_evaluate(args) -> int:
    prof = config.get_profile(args.profile)   # the sizes notebook 06's Table 1 scores with
    res = metrics.evaluate_run(args.run, args.data, n_fake=args.n_fake or prof.n_fake,
                               epoch=args.epoch, device=args.device, is_source=args.is_source,
                               tf_inception_path=args.inception_logits, n_real=prof.n_real)
    for key, value in res.items():
        print(f"{key:10s} {value}")
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=1) + "\n")
    return 0


def _cmd_reproduce(args) -> int:
    reproduce.reproduce(args.profile, notebooks=args.only, force=args.force,
                        publish=args.publish, scheduler=args.scheduler)
    return 0


COMMANDS = {"build-data": _cmd_build_data, "train": _cmd_train, "generate": _cmd_generate,
            "evaluate": _cmd_evaluate, "fid": cli_field.cmd_fid, "split": _cmd_split, "curate": _cmd_curate,
            "reproduce": _cmd_reproduce, "plan": plan_mod.run_command,
            "verify": _cmd_verify, "selfcheck": _cmd_selfcheck}


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status
    (:data:`EXIT_CODES`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser(argv)
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", engine.CheckpointCorrupt)
        warnings.showwarning = _warning_printer(warnings.showwarning)
        try:
            if "profile" in vars(args):
                config.get_profile(args.profile)   # an unknown --profile or $PAPERLIB_PROFILE
            return COMMANDS[args.command](args)
        except engine.RunBusy as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BUSY
        except _WorkFailed as err:
            cause = err.__cause__
            if isinstance(cause, OSError):
                return _io_error(cause)
            traceback.print_exception(type(cause), cause, cause.__traceback__)
            print(f"error: {args.command} failed: {type(cause).__name__}: {cause}"
                  + ("; rerun the same command to resume" if args.command == "train" else ""),
                  file=sys.stderr)
            return EXIT_FAILED
        except (ValueError, FileNotFoundError, NotADirectoryError, FileExistsError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except OSError as err:
            return _io_error(err)
        except reproduce.NotebookFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("interrupted; rerun the same command to resume", file=sys.stderr)
            return EXIT_INTERRUPTED


#: What :func:`_io_error` advises per errno.
_IO_ADVICE = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some of your quota",
              errno.EACCES: "check the file's permissions",
              errno.EPERM: "check the file's permissions",
              errno.EROFS: "write somewhere writable"}


def _io_error(err: OSError) -> int:
    """Print an ``OSError`` as one line naming the file and what to do; :data:`EXIT_IO`."""
    what = err.strerror or str(err)
    where = f": {err.filename}" if err.filename else ""
    advice = _IO_ADVICE.get(err.errno, "fix it")
    print(f"error: {what}{where} -- {advice}, then rerun the same command (train resumes "
          "from its last checkpoint)", file=sys.stderr)
    return EXIT_IO


def _warning_printer(other: Callable) -> Callable:
    """A ``warnings.showwarning`` printing the engine's
    :class:`~paperlib.engine.CheckpointCorrupt` as ``warning: ...``, others with ``other``."""
    def show(message, category, *rest, **kw):
        if issubclass(category, engine.CheckpointCorrupt):
            print(f"warning: {message}", file=sys.stderr)
        else:
            other(message, category, *rest, **kw)
    return show
