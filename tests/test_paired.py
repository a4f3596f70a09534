"""Paired data for the conditional route: maps rendered from recipes, user maps."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from paperlib import data
from paperlib.data import paired

DONGLEIN = {"main_circle": {"cx": 16.0, "cy": 16.0, "r": 12.0},
            "eyes": [{"cx": 11.0, "cy": 13.0, "r": 3.0}, {"cx": 21.0, "cy": 13.0, "r": 3.0}],
            "inner_circles": [{"cx": 11.0, "cy": 13.0, "r": 1.5, "role": "pupil"},
                              {"cx": 21.0, "cy": 13.0, "r": 1.5, "role": "pupil"},
                              {"cx": 9.0, "cy": 20.0, "r": 1.5, "role": "cheek"}]}
GEOMETRIC = {"main_circle": {"cx": 10.0, "cy": 10.0, "r": 6.0},
             "planes": [{"vertices": [[0, 24], [32, 24], [32, 32], [0, 32]]}],
             "circles": [{"cx": 10.0, "cy": 10.0, "r": 6.0, "kind": "disc", "width": 0.0},
                         {"cx": 22.0, "cy": 22.0, "r": 7.0, "kind": "ring", "width": 2.5}]}


def _label(recipe, res=32):
    return paired.render_map(recipe, res).argmax(0).numpy()


def _cls(name):
    return paired.MAP_CLASSES.index(name)


def _dist(cx, cy, res=32):
    c = np.arange(res) + 0.5
    gy, gx = np.meshgrid(c, c, indexing="ij")
    return np.hypot(gx - cx, gy - cy)


def test_maps_are_deterministic_and_sum_to_one():
    for recipe in (DONGLEIN, GEOMETRIC):
        a, b = paired.render_map(recipe, 32), paired.render_map(recipe, 32)
        assert torch.equal(a, b) and a.shape == (len(paired.MAP_CLASSES), 32, 32)
        assert torch.allclose(a.sum(0), torch.ones(32, 32))


def test_each_circle_pixels_are_in_its_class():
    lab = _label(DONGLEIN)
    face, eye_l = _dist(16, 16), _dist(11, 13)
    # pixels well inside each circle (and outside the forms drawn over it) carry its class
    assert (lab[(face < 11) & (_dist(11, 13) > 4) & (_dist(21, 13) > 4) & (_dist(9, 20) > 2.5)]
            == _cls("main form")).all()
    assert (lab[(eye_l < 2.5) & (eye_l > 2.3)] == _cls("eye")).all()
    assert (lab[_dist(11, 13) < 0.8] == _cls("pupil")).all()
    assert (lab[_dist(9, 20) < 0.8] == _cls("cheek")).all()
    assert (lab[face > 13] == _cls("background")).all()
    g = _label(GEOMETRIC)
    disc, ring = _dist(10, 10), _dist(22, 22)
    assert (g[disc < 5] == _cls("disc")).all()
    assert (g[(ring > 5.2) & (ring < 6.3)] == _cls("ring")).all()     # the ring's band
    hole = ring < 3.5
    assert not (g[hole] == _cls("ring")).any()                            # its hole is not ring
    assert (g[hole & (np.arange(32)[:, None] + 0.5 > 24.5)] == _cls("plane")).all()
    assert (g[(disc > 7) & (ring > 8) & (np.arange(32)[:, None] < 23)] == _cls("background")).all()


def test_maps_scale_with_the_recipe_resolution():
    small = paired.render_map(DONGLEIN, 32)
    big = paired.render_map(DONGLEIN, 64, recipe_res=32)
    # 2x2 average of the 64 px map equals the 32 px map (same sub-pixel grid density x 2)
    pooled = torch.nn.functional.avg_pool2d(big[None], 2)[0]
    assert (pooled - small).abs().max() < 0.2
    assert pooled.argmax(0).eq(small.argmax(0)).float().mean() > 0.97


def test_stand_in_sets_pair_each_image_with_its_recipe_map(tmp_path):
    folder = tmp_path / "artist_geometric"
    man = data.build_artist_set(folder, "geometric", n=6, res=32, seed=1)
    p = paired.load_pairs(folder, 32)
    assert p.map_source == "recipe" and len(p) == 6 and p.maps.shape == (6, 9, 32, 32)
    assert p.boundary and p.instances.shape == (6, 1, 32, 32)
    rec = {e["file"]: e["recipe"] for e in man["images"]}
    for f, m, inst in zip(p.files, p.maps, p.instances):
        assert torch.equal(m[:8], paired.render_map(rec[f], 32))
        assert torch.equal(inst[0], torch.from_numpy(paired.render_instances(rec[f], 32)).float())
        assert torch.equal(m[8], paired.instance_edges(inst[0]))
    plain = paired.load_pairs(folder, 32, boundary=False)
    assert plain.maps.shape == (6, 8, 32, 32) and torch.equal(plain.maps, p.maps[:, :8])


def test_held_out_maps_are_rendered_from_the_held_out_images_own_recipes(tmp_path):
    # a held-out split keeps the recipes: load_pairs on the held-out part gives, for each of
    # its images, the map rendered from that image's recipe -- the one the source set's
    # manifest holds for the image it was copied from
    folder = tmp_path / "artist_donglein"
    src_man = data.build_artist_set(folder, "donglein", n=8, res=32, seed=2)
    src_recipes = {e["file"]: e["recipe"] for e in src_man["images"]}
    assert len({json.dumps(r, sort_keys=True) for r in src_recipes.values()}) == 8
    split = data.split_held_out(folder, 0.5, seed=0, out_root=tmp_path / "split")
    held = paired.load_pairs(split.held_out, 32)
    assert held.map_source == "recipe" and len(held) == 4
    held_man = json.loads((split.held_out / data.folders.MANIFEST).read_text())
    entries = {e["file"]: e for e in held_man["images"]}
    assert sorted(held.files) == sorted(entries)
    source_images = data.load_folder(folder, 32).images
    source_files = [f.relative_to(folder).as_posix() for f in data.image_files(folder)]
    for f, m, img in zip(held.files, held.maps, held.images):
        recipe = entries[f]["recipe"]
        # rendered here from the held-out manifest's recipe, at its resolution
        assert torch.equal(m[:8], paired.render_map(recipe, 32, held_man["res"])), f
        # and from the source recipe of the image it came from: the same map, and that
        # image is the held-out image (pixels copied unchanged)
        source = recipe["source_file"]
        assert torch.equal(m[:8], paired.render_map(src_recipes[source], 32, src_man["res"])), f
        assert torch.equal(img, source_images[source_files.index(source)]), f
    # the maps are each image's own: no two held-out images share one
    assert len({m.numpy().tobytes() for m in held.maps}) == 4


def test_user_folders_get_edge_or_form_maps_and_own_maps(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        arr = np.full((40, 40, 3), 250, np.uint8)
        yy, xx = np.mgrid[:40, :40]
        arr[(yy - 20) ** 2 + (xx - 20) ** 2 < (10 + 3 * i) ** 2] = rng.integers(0, 200, 3)
        Image.fromarray(arr).save(folder / f"{i}.png")
    edges = paired.load_pairs(folder, 32)
    assert edges.map_source == "edges" and edges.maps.shape == (3, 1, 32, 32)
    assert edges.instances is None and not edges.boundary       # not a label map
    assert edges.maps.max() == 1 and edges.maps[:, :, 16, 16].max() == 0   # flat inside
    forms = paired.load_pairs(folder, 32, "forms")
    assert forms.maps.shape == (3, 4, 32, 32)        # 3 classes + the boundary channel
    assert forms.maps[:, 1, 16, 16].eq(1).all() and forms.maps[:, 0, 0, 0].eq(1).all()
    # connected components: background and the disc, the boundary along the disc's rim
    assert forms.instances.shape == (3, 1, 32, 32) and forms.instances.amax((1, 2, 3)).ge(1).all()
    assert forms.maps[:, 3, 16, 16].eq(0).all() and forms.maps[:, 3].sum((1, 2)).gt(0).all()
    with pytest.raises(ValueError, match="no stand-in recipe"):
        paired.load_pairs(folder, 32, "recipe")
    maps = tmp_path / "mine_maps"
    maps.mkdir()
    for i in range(2):
        Image.new("RGB", (64, 64), (255, 0, 0)).save(maps / f"{i}.png")
    with pytest.raises(ValueError, match="have no map"):
        paired.load_pairs(folder, 32, str(maps))
    Image.new("RGB", (64, 64), (0, 0, 255)).save(maps / "2.png")
    own = paired.load_pairs(folder, 32, str(maps))
    assert own.maps.shape == (3, 4, 32, 32) and own.maps[2, 2].eq(1).all()
    assert own.maps[:, 3].eq(0).all()      # one flat colour each: one instance, no boundary
    inside = folder / "maps"
    inside.mkdir()
    with pytest.raises(ValueError, match="inside the image folder"):
        paired.load_pairs(folder, 32, str(inside))
    with pytest.raises(ValueError, match="neither"):
        paired.load_pairs(folder, 32, "nosuch")


def test_map_to_rgb_shows_every_kind():
    m = paired.render_map(DONGLEIN, 32)[None]
    rgb = paired.map_to_rgb(m)
    assert rgb.shape == (1, 3, 32, 32) and rgb.min() >= -1 and rgb.max() <= 1
    assert paired.map_to_rgb(torch.rand(2, 1, 8, 8)).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError):
        paired.map_to_rgb(torch.rand(1, 5, 8, 8))
    # a boundary channel (recipe 8 + 1, RGB 3 + 1) is drawn black
    edge = torch.zeros(1, 1, 32, 32)
    edge[..., 5, :] = 1
    rgb9 = paired.map_to_rgb(torch.cat([m, edge], 1))
    assert torch.equal(rgb9[..., 6, :], rgb[..., 6, :]) and rgb9[..., 5, :].eq(-1).all()
    assert paired.map_to_rgb(torch.cat([torch.rand(1, 3, 32, 32), edge], 1))[..., 5, :].eq(-1).all()


def test_identity_maps_are_the_images_in_0_1(tmp_path):
    folder = tmp_path / "artist_geometric"
    data.build_artist_set(folder, "geometric", n=3, res=32, seed=0)
    p = paired.load_pairs(folder, 32, "identity")
    assert p.map_source == "identity" and p.maps.shape == (3, 3, 32, 32)
    assert torch.equal(p.maps, (p.images + 1) / 2)
    assert torch.equal(paired.map_to_rgb(p.maps), p.maps * 2 - 1)


def _two_discs(gap: float) -> dict:
    """Two discs of one class, centres 12 px apart, radius ``(12 + gap) / 2``: overlapping
    (gap > 0) or touching (gap = 0) -- one merged blob in the class channels."""
    r = (12 + gap) / 2
    return {"main_circle": {"cx": 10.0, "cy": 16.0, "r": r}, "planes": [],
            "circles": [{"cx": 10.0, "cy": 16.0, "r": r, "kind": "disc", "width": 0.0},
                        {"cx": 22.0, "cy": 16.0, "r": r, "kind": "disc", "width": 0.0}]}


@pytest.mark.parametrize("gap", [0.0, 2.0])
def test_touching_same_class_discs_get_a_boundary_along_their_contact(gap):
    recipe = _two_discs(gap)
    m = paired.render_map(recipe, 32)
    inst = paired.render_instances(recipe, 32)
    edge = paired.instance_edges(inst)
    disc = m[_cls("disc")] > 0.5
    # the class channels merge the discs: along the row through both centres every pixel
    # from one disc's left rim to the other's right rim is disc, no gap at the contact
    assert disc[16, 5:27].all()
    # the instances keep them apart: ids 1 and 2 (0 the background) on either side of x = 16
    assert set(np.unique(inst)) == {0, 1, 2}
    assert (inst[14:19, 8:14] == 1).all() and (inst[14:19, 18:24] == 2).all()
    # the boundary runs along the contact (x = 16, where the second disc covers the first):
    # the pixels on both sides of it are boundary, for every row the discs meet in
    rows = [y for y in range(32) if (inst[y] == 1).any() and (inst[y] == 2).any()
            and np.any((inst[y, :-1] == 1) & (inst[y, 1:] == 2))]
    assert len(rows) >= 3 and 16 in rows
    for y in rows:
        x = int(np.nonzero((inst[y, :-1] == 1) & (inst[y, 1:] == 2))[0][0])
        assert edge[y, x] == 1 and edge[y, x + 1] == 1
    # inside each disc, away from every border, there is none
    assert edge[16, 9:12].eq(0).all() and edge[16, 20:23].eq(0).all()
    # without instance ids (a user's map: connected components of one colour) the discs
    # are one instance, and no boundary separates them -- why recipe maps carry their ids
    comp = paired.map_components((m > 0.5).float())
    assert comp[16, 10] == comp[16, 22]
    assert paired.instance_edges(comp)[16, 14:19].eq(0).all()


def test_instance_edges_is_pix2pixhds_get_edges():
    t = torch.tensor([[0, 0, 1], [0, 0, 1], [2, 2, 1]])
    want = torch.tensor([[0, 1, 1], [1, 1, 1], [1, 1, 1]]).float()
    assert torch.equal(paired.instance_edges(t), want)
    assert paired.instance_edges(torch.zeros(2, 1, 4, 4)).eq(0).all()   # batched, one id


def test_map_components_number_regions_of_one_value_in_raster_order():
    m = torch.zeros(3, 4, 4)
    m[0] = 1
    m[0, :, 2] = 0
    m[1, :, 2] = 1                        # a vertical bar splits the first colour in two
    ids = paired.map_components(m)
    assert ids[0, 0] == 0 and ids[0, 2] == 1 and ids[0, 3] == 2
    assert (ids[:, :2] == 0).all() and (ids[:, 2] == 1).all() and (ids[:, 3] == 2).all()
