"""The emoji stand-in's held-out images (paper A's r_v): fresh recipes, disjoint from the
training set's part combinations."""
import pytest

from paperlib import data


def _keys(manifest):
    return {data.emoji_key(e["recipe"]) for e in manifest["images"]}


def test_heldout_recipes_are_never_in_the_training_set(tmp_path):
    train = data.build_emoji_set(tmp_path / "train", seed=0, res=32, n_per_class=60)
    # the same seed redraws the training recipes first: every one must be skipped
    assert data.emoji_recipes(0, 60) == [e["recipe"] for e in train["images"]]
    held = data.build_emoji_heldout(tmp_path / "held", tmp_path / "train", seed=0, res=32)
    assert held["count"] == 120 and held["counts"] == {"negative": 60, "positive": 60}
    assert not _keys(held) & _keys(train)
    assert len(_keys(held)) == 120 and len(list((tmp_path / "held").glob("*.png"))) == 120
    for e in held["images"]:
        assert e["label"] == data.emoji_label(e["recipe"])
    # the default seed (1), a smaller n; the manifest names the excluded set
    other = data.build_emoji_heldout(tmp_path / "held1", train, n=20, res=32)
    assert other["seed"] == 1 and other["count"] == 20 and not _keys(other) & _keys(train)
    assert other["params"]["exclude_manifest_sha256"] == \
        held["params"]["exclude_manifest_sha256"] == \
        data.file_sha256(tmp_path / "train" / "manifest.json")


def test_heldout_is_deterministic_and_cached(tmp_path):
    data.build_emoji_set(tmp_path / "train", seed=0, res=32, n_per_class=10)
    a = data.build_emoji_heldout(tmp_path / "a", tmp_path / "train", n=10, res=32)
    b = data.build_emoji_heldout(tmp_path / "b", tmp_path / "train", n=10, res=32)
    assert [e["sha256"] for e in a["images"]] == [e["sha256"] for e in b["images"]]
    mtime = (tmp_path / "a" / "manifest.json").stat().st_mtime_ns
    assert data.build_emoji_heldout(tmp_path / "a", tmp_path / "train", n=10, res=32) == a
    assert (tmp_path / "a" / "manifest.json").stat().st_mtime_ns == mtime


def test_heldout_refuses_a_set_without_emoji_recipes_and_odd_n(tmp_path):
    with pytest.raises(ValueError, match="not an emoji stand-in set"):
        data.build_emoji_heldout(tmp_path / "h", {"images": [{"file": "a.png",
                                                              "recipe": {"kind": "disc"}}]})
    data.build_emoji_set(tmp_path / "train", seed=0, res=32, n_per_class=3)
    with pytest.raises(ValueError, match="even"):
        data.build_emoji_heldout(tmp_path / "h", tmp_path / "train", n=5, res=32)
