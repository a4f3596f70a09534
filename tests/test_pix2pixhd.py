"""The compact Pix2pixHD networks and losses (paper B's conditional model family)."""
import pytest
import torch

from paperlib import pix2pixhd as P


@pytest.mark.parametrize("res", [32, 64, 128])
def test_generator_and_discriminator_shapes(res):
    torch.manual_seed(0)
    G, D = P.build(res, in_c=4, ngf=8, ndf=8, n_blocks=2)
    maps = torch.rand(2, 4, res, res)
    img = G(maps)
    assert img.shape == (2, 3, res, res) and img.abs().max() <= 1
    outs = D(torch.cat([maps, img], 1))
    assert len(outs) == 2 and all(len(o) == 3 + 2 for o in outs)
    # the second scale sees the pair at half the resolution
    assert outs[1][0].shape[-1] < outs[0][0].shape[-1]
    assert outs[0][-1].shape[1] == 1


def test_discriminators_see_two_scales():
    D = P.MultiscaleDiscriminator(3, ndf=4)
    seen = []
    for d in D.ds:
        d.layers[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-1]))
    D(torch.rand(1, 3, 32, 32))
    assert seen == [32, 16]


def test_feature_matching_is_zero_for_identical_inputs_and_positive_otherwise():
    torch.manual_seed(0)
    D = P.MultiscaleDiscriminator(7, ndf=8)
    x = torch.rand(2, 7, 32, 32)
    same = P.feature_matching_loss(D(x), D(x), D.n_layers)
    assert same.item() == 0.0
    other = P.feature_matching_loss(D(x + 0.5), D(x), D.n_layers)
    assert other.item() > 0


def test_lsgan_loss():
    outs = [[torch.ones(1, 1, 3, 3)], [torch.ones(1, 1, 2, 2)]]
    assert P.lsgan_loss(outs, True).item() == 0.0
    assert P.lsgan_loss(outs, False).item() == 2.0


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="res must be one of"):
        P.build(48, in_c=3)
