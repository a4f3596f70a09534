"""The committed `cpu` results are one cold run's (issue 19): the manifest's top level lists
every notebook of one invocation at a clean commit, within the time limit, and the README names
that commit; the explorer's shipped generators open without any run.

These hold for any commit. Whether the reference run's `paperlib/` is still this checkout's is
a release check (marker ``release``, ``make release-check``), run when the reference results
are regenerated: between reference runs `paperlib/` may change without a 90-minute cold run
(``make test`` deselects it with ``-m "not release"``)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import torch

from paperlib import config, engine, reproduce
from paperlib.paper_a import shipped_generators

FIG = config.FIGURES_DIR / "cpu"
MANIFEST = json.loads((FIG / "results_manifest.json").read_text())


def test_manifest_is_one_finished_invocation():
    names = [n["name"] for n in MANIFEST["notebooks"]]
    assert names == sorted(names) and "01b_conditional_route.ipynb" in names
    assert MANIFEST["status"] == "finished" and MANIFEST["profile"] == "cpu"
    assert sum(n["seconds"] for n in MANIFEST["notebooks"]) <= 9000
    assert MANIFEST["published"] == names
    assert MANIFEST["runs"], "the manifest lists the invocation's training runs"
    commit = MANIFEST["git_commit"]
    assert commit and not commit.endswith("-dirty"), commit


def test_readme_names_the_commit_the_results_come_from():
    short = MANIFEST["git_commit"][:7]
    text = (config.ROOT / "README.md").read_text()
    assert f"The committed results come from commit {short}" in text, short


@pytest.mark.release
def test_manifest_ran_every_notebook_of_this_checkout():
    """Release check: the reference run ran every notebook there is now (a notebook added
    since is run by the next reference run)."""
    names = [n["name"] for n in MANIFEST["notebooks"]]
    assert names == [p.name for p in reproduce.notebook_paths()]


@pytest.mark.release
def test_manifest_paperlib_is_this_checkouts():
    """Release check: the reference run's commit has this checkout's `paperlib/` (fails, never
    skips, when that cannot be checked: no git, or a shallow clone without the commit)."""
    commit = MANIFEST["git_commit"]
    git = shutil.which("git")
    root = config.FIGURES_DIR.parent
    assert git is not None and (root / ".git").exists(), "not a git checkout: cannot check"
    known = subprocess.run([git, "-C", str(root), "cat-file", "-e", f"{commit}^{{commit}}"])
    assert known.returncode == 0, f"{commit} is not in this clone's history (shallow clone?)"
    same = subprocess.run([git, "-C", str(root), "diff", "--quiet", commit, "HEAD", "--",
                           "paperlib"])
    assert same.returncode == 0, f"paperlib/ changed since the reference run at {commit}"


def test_shipped_explorer_generators_load_with_weights_only():
    shipped = shipped_generators(FIG / "generators")
    assert len(shipped) == 3 and list(shipped)[:2] == ["DCGAN", "DeLiGAN"]
    for label, folder in shipped.items():
        (ckpt,) = (folder / "checkpoints").glob("epoch_*.pt")
        assert ckpt.stat().st_size < 5_000_000, label
        assert set(torch.load(ckpt, weights_only=True)) == {"epoch", "latent", "G"}, label
        gan = engine.load_run(folder, device="cpu")
        img = gan.sample(2, seed=0)
        assert gan.D is None and img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
        assert img.std() > 0.05, label                       # a trained G, not a constant
