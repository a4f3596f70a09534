"""pix2pixHD's instance-wise feature encoder (netE): the per-instance pooling, the per-class
clusters and the two test-time feature modes."""
import pytest
import torch

from paperlib import data, engine
from paperlib.data import paired
from paperlib.models import p2p_encoder, pix2pixhd


def test_instance_pool_gives_every_pixel_its_instances_mean_feature():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 8, 8, generator=g, requires_grad=True)
    inst = torch.zeros(2, 1, 8, 8)
    inst[0, 0, :4] = 1
    inst[0, 0, 6:, 6:] = 5                  # ids need not be consecutive
    inst[1, 0, :, 3:] = 2                   # ids repeat across images: pooled per image
    pooled = p2p_encoder.instance_pool(feats, inst)
    assert pooled.shape == feats.shape
    for b in range(2):
        for i in inst[b].unique():
            mask = inst[b, 0] == i
            want = feats[b][:, mask].mean(1)                          # (3,)
            got = pooled[b][:, mask]                                  # (3, n pixels)
            assert torch.allclose(got, want[:, None].expand_as(got), atol=1e-6), (b, i)
    # one value per instance, and the pooling is differentiable (a scatter-mean): the
    # gradient of the sum spreads evenly over each instance's pixels
    assert len(pooled[0, 0].unique()) == len(inst[0].unique())
    pooled.sum().backward()
    assert torch.allclose(feats.grad, torch.ones_like(feats), atol=1e-5)


def test_instance_table_and_kmeans():
    maps = torch.zeros(1, 3, 4, 4)
    maps[0, 0] = 1
    maps[0, :, :, 2:] = 0
    maps[0, 2, :, 2:] = 1
    inst = torch.zeros(1, 1, 4, 4)
    inst[0, 0, :, 2:] = 3
    b, ids, cls, area = p2p_encoder.instance_table(maps, inst, 3)
    assert b.tolist() == [0, 0] and ids.tolist() == [0, 3] and cls.tolist() == [0, 2]
    assert area.tolist() == [0.5, 0.5]
    x = torch.cat([torch.randn(20, 2) * 0.05, torch.randn(20, 2) * 0.05 + 3])
    c = p2p_encoder.kmeans(x, 2, seed=0)
    assert torch.equal(c, p2p_encoder.kmeans(x, 2, seed=0))             # deterministic
    assert sorted(round(v) for v in c[:, 0].tolist()) == [0, 3]
    assert len(p2p_encoder.kmeans(x[:3], 10)) == 3                      # at most one per point


TINY = dict(model="pix2pixhd", res=32, batch_size=5, ngf=4, ndf=4, p2p_blocks=1,
            sample_every=1, ckpt_every=1, seed=1, p2p_feat=3, p2p_clusters=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("p2pfeat")
    folder = root / "artist_geometric"
    data.build_artist_set(folder, "geometric", n=10, res=32, seed=0)
    res = engine.train(engine.make_config(**TINY, epochs=2), folder, root / "run", progress=False)
    assert res.status == "finished"
    return root / "run", paired.load_pairs(folder, 32)


def test_encoder_run_fits_per_class_clusters_and_samples_from_them(trained):
    run_dir, pairs = trained
    run = engine.load_run(run_dir)
    G = run.G
    assert isinstance(G, p2p_encoder.EncodedGenerator) and G.feat == 3
    assert run.config.map_channels == len(paired.MAP_CLASSES) + 1
    assert G.n_classes == len(paired.MAP_CLASSES)
    # the clusters were fitted on the training instances (loaded from the checkpoint):
    # every class with a large enough training instance has 1-2 centres, the others none
    _, _, cls, area = p2p_encoder.instance_table(pairs.maps, pairs.instances, G.n_classes)
    big = set(cls[area > p2p_encoder.MIN_AREA_FRAC].tolist())
    assert {c for c in range(G.n_classes) if G.n_centres[c] > 0} == big
    assert all(1 <= G.n_centres[c] <= 2 for c in big)
    # sampled features: constant over each instance, one of its class's centres
    cond = pix2pixhd.model_inputs(run.config, pairs)
    maps, inst, _ = G.split(cond)
    feats = G.sample_features(maps, inst)
    b_idx, ids, cls, _ = p2p_encoder.instance_table(maps, inst, G.n_classes)
    for b, i, c in zip(b_idx.tolist(), ids.tolist(), cls.tolist()):
        mask = inst[b, 0] == i
        vals = feats[b][:, mask]
        assert torch.equal(vals, vals[:, :1].expand_as(vals))
        if G.n_centres[c]:
            assert any(torch.allclose(vals[:, 0], G.centres[c, j])
                       for j in range(int(G.n_centres[c])))
        else:
            assert vals.eq(0).all()
    # translate: clusters (deterministic; a map's output does not depend on its batch) or
    # the images' own features ("gt", the upper bound), which differ
    a = pix2pixhd.translate(run, pairs)
    assert a.shape == (10, 3, 32, 32) and torch.equal(a, pix2pixhd.translate(run, pairs))
    assert torch.allclose(a[3:4], pix2pixhd.translate(run, pix2pixhd.model_inputs(
        run.config, pairs)[3:4]), atol=1e-6)
    gt = pix2pixhd.translate(run, pairs, features="gt")
    assert gt.shape == a.shape and not torch.allclose(gt, a)
    want = G.G(torch.cat([maps, G.encode(pairs.images, inst)], 1))
    assert torch.allclose(gt, want, atol=1e-5)
    with pytest.raises(ValueError, match="ground-truth"):
        pix2pixhd.translate(run, cond, features="gt")
    with pytest.raises(ValueError, match="10 or 13"):     # maps without the instance ids
        pix2pixhd.translate(run, cond[:, :-1])


def test_encoder_run_resumes_exactly(tmp_path, trained):
    run_dir, pairs = trained
    folder = pairs  # train from the Pairs object: joined the run's way (with instance ids)
    engine.train(engine.make_config(**TINY, epochs=1), folder, tmp_path / "r", progress=False)
    engine.train(engine.make_config(**TINY, epochs=2), folder, tmp_path / "r", progress=False)
    a = torch.load(engine.list_checkpoints(run_dir)[-1][1], weights_only=True)
    b = torch.load(engine.list_checkpoints(tmp_path / "r")[-1][1], weights_only=True)
    for name in a["G"]:
        assert torch.equal(a["G"][name], b["G"][name]), name
    assert a["extra"] == b["extra"] == {"steps": 4}


def test_encoder_needs_instance_ids():
    with pytest.raises(ValueError, match="instance ids"):
        engine.make_config(**TINY, epochs=1, map_source="identity")
    with pytest.raises(ValueError, match="p2p_feat"):
        engine.make_config(**{**TINY, "p2p_feat": -1}, epochs=1)
    a = engine.make_config(**TINY, epochs=1)
    b = engine.make_config(**{**TINY, "p2p_clusters": 3}, epochs=1)
    assert engine.run_name(a, "k") != engine.run_name(b, "k")
    d1 = engine.make_config(model="dcgan", epochs=1)
    assert engine.run_name(d1, "k") == engine.run_name(
        engine.make_config(model="dcgan", epochs=1, p2p_feat=3), "k")
