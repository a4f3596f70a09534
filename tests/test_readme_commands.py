"""Every command in the README runs (issue 25, item 2): the command lines of the README's
```bash blocks, in order, at toy size, each exiting 0; a README that drifts from the code
fails here.

How a README line becomes a test run (:func:`as_run`): ``python -m paperlib ARGS`` runs as
``cli.main(ARGS)`` in a temporary folder (relative paths such as ``runs/mine`` and
``data/mine`` land there) with ``PAPERLIB_PROFILE=smoke``; ``/path/to/X`` is a folder
there (``images``: 40 small generated images, ``maps``: a label map for each,
``labelled``: the same images in two class sub-folders). Tiny sizes
are forced: ``--profile`` becomes smoke (``verify`` keeps its profile: it only compares
committed tables), ``--kimg`` 0.02, ``--epochs`` at most 2, ``--n`` at most 16, ``evaluate``
scores 16 fakes, ``build-data`` at 32 px with 20 shapes and 40 images per artist set. Lines not run are in :data:`SKIPPED` with the reason.
"""
import re
import shlex
import time
from pathlib import Path

import numpy as np
from PIL import Image

from paperlib import cli, config, metrics

README = config.ROOT / "README.md"

#: Commands of the README's bash blocks that are not run, and why.
SKIPPED = {
    "venv": "creates a virtual environment (the test already runs in one)",
    "pip": "installs packages from an index (network)",
    "make": "make reproduce / make test run every notebook and the test suite (19 min and "
            "more at smoke); `make test` runs the notebooks under nbval itself",
    "reproduce": "`paperlib reproduce` runs every notebook (19 min at smoke); `make test` "
                 "runs the notebooks under nbval",
    "papermill": "runs a whole notebook, which first trains the runs it reuses (minutes at "
                 "smoke); `make test` runs the notebooks under nbval; here only the notebook "
                 "and its -p parameters are checked",
}

#: Forced toy sizes: flag -> new value (a function of the README's value).
_TINY = {"--kimg": lambda v: "0.02", "--epochs": lambda v: str(min(int(v), 2)),
         "--n": lambda v: str(min(int(v), 16))}
_BUILD_DATA_TINY = {"--res": "32", "--n-shapes": "20", "--n-artist": "40"}


def bash_lines(text: str) -> list[str]:
    """The command lines of ``text``'s ```bash blocks, in order (continuations joined,
    blank and comment-only lines left out)."""
    lines = []
    for block in re.findall(r"^[ \t]*```bash\n(.*?)^[ \t]*```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def as_run(line: str, tmp: Path) -> tuple[str, list[str] | str]:
    """``(kind, argv)`` of a README line: kind ``"paperlib"`` (argv for ``cli.main``) or
    ``"papermill"`` (its argv); else ``("skip", reason)``. An unknown command fails."""
    argv = shlex.split(line, comments=True)
    prog = Path(argv[0]).name
    if prog.startswith("python") and argv[1:3] == ["-m", "venv"]:
        return "skip", SKIPPED["venv"]
    if prog in ("pip", "pip3", "make"):
        return "skip", SKIPPED["pip" if prog.startswith("pip") else "make"]
    argv = [str(tmp / a[len("/path/to/"):]) if a.startswith("/path/to/") else a for a in argv]
    if prog == "paperlib":   # the installed console script is `python -m paperlib`
        argv = ["python", "-m", "paperlib", *argv[1:]]
        prog = "python"
    if prog == "papermill":
        return "papermill", argv[1:]
    assert prog.startswith("python") and argv[1:3] == ["-m", "paperlib"], \
        f"README command the test does not know how to run: {line}"
    args = argv[3:]
    command = args[0] if args else ""
    if command == "reproduce":
        return "skip", SKIPPED["reproduce"]
    out = []
    for i, a in enumerate(args):
        flag = args[i - 1] if i else None
        if flag == "--profile" and command != "verify":
            a = "smoke"
        elif flag in _TINY:
            a = _TINY[flag](a)
        out.append(a)
    if command == "build-data":
        out += [x for f, v in _BUILD_DATA_TINY.items() if f not in out for x in (f, v)]
    if command == "train":
        out.append("--no-progress")
    if command == "evaluate":
        if "--is" not in out:
            out += ["--is", "none"]      # the IS sources are tested in test_metrics
        if "--n-fake" not in out:
            out += ["--n-fake", "16"]    # the profile's Table-1 size: test_cli.py
    if command == "selfcheck":
        out += ["--model", "dcgan", "--steps", "1"]   # every model: test_selfcheck
    return "paperlib", out


def _write_folders(tmp: Path) -> None:
    """``/path/to/images``: 40 small images; ``/path/to/maps``: a label map for each (a flat
    background and a flat disc, as a user would draw them); ``/path/to/labelled``: the
    images in class sub-folders ``cats`` and ``dogs`` (20 each)."""
    rng = np.random.default_rng(0)
    (tmp / "images").mkdir()
    (tmp / "maps").mkdir()
    for cls in ("cats", "dogs"):
        (tmp / "labelled" / cls).mkdir(parents=True)
    yy, xx = np.mgrid[:32, :32]
    for i in range(40):
        image = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        image.save(tmp / "images" / f"img_{i:02d}.png")
        image.save(tmp / "labelled" / ("cats" if i < 20 else "dogs") / f"img_{i:02d}.png")
        label = np.full((32, 32, 3), 255, np.uint8)
        cx, cy, r = rng.integers(10, 22), rng.integers(10, 22), rng.integers(5, 9)
        label[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = (200, 30, 30)
        Image.fromarray(label).save(tmp / "maps" / f"img_{i:02d}.png")


def _check_papermill(argv: list[str]) -> None:
    """The notebook exists and defines every ``-p`` parameter in its parameters cell."""
    import nbformat
    notebook = config.ROOT / argv[0]
    assert notebook.is_file(), f"no notebook {argv[0]}"
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for i, a in enumerate(argv):
        if a in ("-p", "--parameters"):
            assert re.search(rf"^{argv[i + 1]}\s*=", cell.source, re.M), \
                f"{argv[0]} has no parameter {argv[i + 1]}"


def test_the_extractor_finds_the_readme_commands(tmp_path):
    runs = [as_run(line, tmp_path) for line in bash_lines(README.read_text())]
    commands = {argv[0] for kind, argv in runs if kind == "paperlib" and argv}
    assert {"split", "train", "generate", "evaluate", "curate", "build-data"} <= commands
    assert any(kind == "skip" for kind, _ in runs)


def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    """Each README command in order, exit 0 (``--help`` included); the report names every
    command run and every one skipped."""
    _write_folders(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERLIB_PROFILE", "smoke")
    monkeypatch.delenv(metrics.is_scorers.INCEPTION_LOGITS_ENV, raising=False)
    monkeypatch.setattr(metrics.features, "DEFAULT_CACHE_DIR", tmp_path / "metric_cache")
    ran, skipped = [], []
    for line in bash_lines(README.read_text()):
        kind, argv = as_run(line, tmp_path)
        if kind == "skip":
            skipped.append((line, argv))
            continue
        if kind == "papermill":
            _check_papermill(argv)
            ran.append(f"checked  papermill {shlex.join(argv).replace(str(tmp_path), '<tmp>')}")
            continue
        start = time.perf_counter()
        try:
            code = cli.main(argv)
        except SystemExit as exit_:         # --help
            code = exit_.code
        out = capsys.readouterr()
        assert code == 0, f"README line failed (exit {code}): {line}\nran: {shlex.join(argv)}" \
                          f"\n{out.err[-2000:]}"
        ran.append(f"{time.perf_counter() - start:5.1f} s  python -m paperlib "
                   f"{shlex.join(argv).replace(str(tmp_path), '<tmp>')}")
    with capsys.disabled():
        print("\nREADME commands run:\n  " + "\n  ".join(ran))
        print("skipped:\n  " + "\n  ".join(f"{line}  -- {why}" for line, why in skipped))
    assert ran
