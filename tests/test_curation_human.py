"""Notebook 05's human path end to end, at smoke size: the loop runs with the automatic rating,
a person likes images in the gallery that the automatic score ranks LOW and saves them, the
loop reruns the way the notebook does (``paper_b.run_b_jobs`` of a curation job), uses the
human selection, and the notebook's checks (``paper_b.check_curation``) pass. And the
gallery's like labels fit under 64-pixel thumbnails."""
import json

import numpy as np
import pytest

from paperlib import data, engine, forms, paper_b
from paperlib.paper_b.gallery import label_px, like_label

N_GENERATE = 16


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """The artist stand-in's training part and a StyleGAN2 trained on it for 2 smoke epochs
    (the notebook's model; after 2 epochs some images already score above 0)."""
    root = tmp_path_factory.mktemp("human_path")
    data.build_artist_set(root / "artist_donglein", "donglein", n=30, res=32, seed=0)
    split = data.split_held_out(root / "artist_donglein", 0.2, seed=0, out_root=root)
    cfg = engine.profile_config("smoke", "stylegan2", "paper", 0, epochs=2)
    start = engine.train_cached(cfg, split.train, root / "runs", progress=False)
    assert start.status == "finished"
    return root, split, start


def _job(root, split, start, selections):
    """A curation job as notebook 05 builds it (its cell "The curation loop")."""
    return {"kind": "curation", "name": "artist_donglein", "seed": 0,
            "train_dir": str(split.train), "res": 32, "selections": str(selections),
            "top_k": 2, "start_run": str(start.run_dir),
            "loop_dir": str(root / "curation" / f"{start.run_dir.name}-k2-e1"),
            "root": str(root / "runs"), "rounds": 1, "size": 10, "n_generate": N_GENERATE,
            "epochs": 1}


def _auto_scores(split, batch):
    """The automatic satisfaction (and realism, its tie-break) of a batch, as the rater of
    ``paper_b.curation_job`` computes it."""
    human = data.load_folder(split.train, 32).images
    features = paper_b.pixel_pca_features(human)
    parts = paper_b.auto_satisfaction_parts(batch, features(batch), features(human),
                                            form=forms.form_measure_of(split.train))
    return parts["satisfaction"], parts["realism"]


def test_a_low_scoring_human_selection_is_used_and_the_checks_pass(setting, capsys):
    root, split, start = setting
    selections = root / "selections" / "artist_donglein-s0.json"
    job = _job(root, split, start, selections)

    # first run: no selection saved -> the automatic rating
    (first,) = paper_b.run_b_jobs([job], "serial", progress=False)
    assert paper_b.check_curation(job, first) == ["auto"]

    # the gallery shows round 0's batch; the person likes the two the score ranks lowest
    batch = paper_b.batch_for_round(paper_b.as_paths(first), 0, N_GENERATE)
    sat, realism = _auto_scores(split, batch)
    assert sorted(first["log"]["rounds"][0]["top_idx"]) == \
        sorted(np.lexsort((np.arange(N_GENERATE), -realism, -sat))[:2].tolist())
    low = np.lexsort((np.arange(N_GENERATE), realism, sat))[:2].tolist()
    assert sat[low].mean() < sat.mean()          # they really are ranked low
    gallery = paper_b.selection_gallery(batch, selections, 0, n_cols=10, thumb_px=64)
    for i in low:
        gallery.toggles[i].value = True
    gallery.save_button.click()
    assert gallery.last_error is None
    assert json.loads(selections.read_text())["rounds"]["0"]["selected"] == sorted(low)

    # the rerun uses the human selection ...
    capsys.readouterr()
    (rerun,) = paper_b.run_b_jobs([job], "serial", progress=False)
    entry = rerun["log"]["rounds"][0]
    assert entry["rating"] == "human" and sorted(entry["top_idx"]) == sorted(low)
    assert "using the saved human selection (2 images)" in capsys.readouterr().out
    # ... whose automatic score is below the batch's: the notebook's old check
    # (top_mean_satisfaction >= mean_satisfaction) would fail here
    assert entry["top_mean_satisfaction"] < entry["mean_satisfaction"]
    assert entry["top_mean_satisfaction"] == pytest.approx(sat[low].mean())
    # ... and the notebook's checks pass
    assert paper_b.check_curation(job, rerun) == ["human"]
    # the curated set's top copies are the person's picks; the model retrained on it is
    # another run than the automatic round's
    prov = paper_b.read_provenance(root / "curation" / f"{start.run_dir.name}-k2-e1" /
                                   entry["trainset"])
    assert {f["index"] for f in prov["files"] if f["source"] == "top-copy"} <= set(low)
    assert rerun["runs"] != first["runs"]

    # the checks can fail: a human round logged as automatic, a selection not used
    tampered = json.loads(json.dumps(rerun))
    tampered["log"]["rounds"][0]["rating"] = "auto"
    with pytest.raises(paper_b.CurationCheckFailed, match="selection was saved"):
        paper_b.check_curation(job, tampered)
    tampered["log"]["rounds"][0].update(rating="human", top_idx=first["log"]["rounds"][0]
                                        ["top_idx"])
    with pytest.raises(paper_b.CurationCheckFailed, match="not the saved selection"):
        paper_b.check_curation(job, tampered)


def test_like_labels_fit_their_thumbnails():
    # the old label, "like #39", is wider than a 64-pixel thumbnail (it showed as "li...")
    assert label_px("like #39") > 64
    for px in (64, 96, 128):
        for i in (0, 7, 39, 399):
            text = like_label(i, px)
            assert str(i) in text and label_px(text) <= px, (px, text)
    assert like_label(39, 96) == "like 39" and like_label(39, 64) == "39"
    imgs = np.zeros((12, 32, 32, 3), dtype=np.uint8)
    imgs[:, 0, 0, 0] = np.arange(12)
    g = paper_b.selection_gallery(imgs, "/nonexistent/sel.json", 0, thumb_px=64)
    assert [t.description for t in g.toggles] == [str(i) for i in range(12)]
    assert all(t.icon == "heart" and f"like image {i}" in t.tooltip
               for i, t in enumerate(g.toggles))
