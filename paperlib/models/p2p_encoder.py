"""pix2pixHD's instance-wise feature encoder (netE, Wang et al. 2018 section 3.4) for
:mod:`paperlib.models.pix2pixhd`.

``E(image)`` (``feat`` channels, tanh), average-pooled per instance (:func:`instance_pool`),
is fed to G with the map; E trains with G. Per class, the training instances' features are
clustered (k-means); at test time each instance draws a centre of its class
(:meth:`EncodedGenerator.sample_features`), or uses the real image's own (``"gt"``: the upper
bound). Ours: E is G's width and depth; clusters are refitted every epoch, deterministically;
a draw is seeded by its image's map, so it does not depend on the batch."""
from __future__ import annotations

import zlib

import numpy as np
import torch
from torch import nn

#: pix2pixHD's ``--n_clusters`` and its area threshold (an instance enters the clustering
#: when it covers more than ``0.5 * (h * w / 32)`` pixels: 1/64 of the image).
N_CLUSTERS = 10
MIN_AREA_FRAC = 1 / 64


def instance_pool(feats: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
    """Instance-wise average pooling: ``feats`` (B, F, H, W), ``inst`` (B, 1, H, W) integer
    ids (as floats or ints, >= 0); every pixel gets the mean of ``feats`` over the pixels of
    its image with the same id. Differentiable (a scatter-mean)."""
    B, F, H, W = feats.shape
    ids = inst.reshape(B, H * W).long()
    if ids.numel() and int(ids.min()) < 0:
        raise ValueError("instance ids must be >= 0")
    n = int(ids.max()) + 1 if ids.numel() else 1
    gid = (ids + torch.arange(B, device=feats.device)[:, None] * n).reshape(-1)
    flat = feats.permute(0, 2, 3, 1).reshape(B * H * W, F)
    sums = flat.new_zeros(B * n, F).index_add(0, gid, flat)
    counts = flat.new_zeros(B * n).index_add(0, gid, torch.ones_like(gid, dtype=flat.dtype))
    means = sums / counts.clamp(min=1)[:, None]
    return means[gid].reshape(B, H, W, F).permute(0, 3, 1, 2)


def instance_table(maps: torch.Tensor, inst: torch.Tensor, n_classes: int):
    """Per (image, instance) present: ``(image index, instance id, class, area fraction)``
    as long/float tensors; the class is the class channel (the first ``n_classes`` of
    ``maps``) with the largest sum over the instance's pixels."""
    B, _, H, W = maps.shape
    ids = inst.reshape(B, H * W).long()
    n = int(ids.max()) + 1 if ids.numel() else 1
    gid = (ids + torch.arange(B, device=maps.device)[:, None] * n).reshape(-1)
    cls_flat = maps[:, :n_classes].permute(0, 2, 3, 1).reshape(B * H * W, n_classes).float()
    sums = cls_flat.new_zeros(B * n, n_classes).index_add(0, gid, cls_flat)
    area = cls_flat.new_zeros(B * n).index_add(0, gid, torch.ones_like(gid, dtype=torch.float))
    present = torch.nonzero(area > 0).squeeze(1)
    return (present // n, present % n, sums[present].argmax(1), area[present] / (H * W))


def kmeans(x: torch.Tensor, k: int, seed: int = 0, iters: int = 30) -> torch.Tensor:
    """``min(k, len(x))`` centres of the rows of ``x`` (N, F): k-means++ seeding from a
    seeded generator, then Lloyd iterations (an emptied cluster keeps its centre)."""
    x = x.detach().float().cpu()
    k = min(int(k), len(x))
    g = torch.Generator().manual_seed(int(seed))
    centres = x[torch.randint(len(x), (1,), generator=g)]
    for _ in range(1, k):
        d = torch.cdist(x, centres).min(1).values ** 2
        p = d / d.sum() if d.sum() > 0 else torch.full_like(d, 1 / len(d))
        centres = torch.cat([centres, x[torch.multinomial(p, 1, generator=g)]])
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)
        new = centres.clone()
        for j in range(k):
            members = x[assign == j]
            if len(members):
                new[j] = members.mean(0)
        if torch.equal(new, centres):
            break
        centres = new
    return centres


class Encoder(nn.Module):
    """pix2pixHD's netE: image (B, 3, H, W) in [-1, 1] -> features (B, feat, H, W) in
    (-1, 1), before the instance pooling."""

    def __init__(self, feat: int = 3, nef: int = 16, n_down: int = 2, in_c: int = 3):
        super().__init__()
        norm = lambda c: nn.InstanceNorm2d(c, affine=False)   # noqa: E731
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_c, nef, 7), norm(nef), nn.ReLU(True)]
        c = nef
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm(2 * c), nn.ReLU(True)]
            c *= 2
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       norm(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, feat, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image)


class EncodedGenerator(nn.Module):
    """G with the instance-wise feature encoder: what a Pix2pixHD run with ``p2p_feat > 0``
    checkpoints as its ``G`` (``G.G`` the generator, ``G.E`` the encoder, the cluster
    centres in buffers).

    ``forward(cond)``: ``cond`` is ``map_c`` map channels, then the instance ids (1
    channel), then optionally the real image (3 channels). Without the image each instance
    draws features from its class's clusters (:meth:`sample_features`); with it the
    features are the image's own (``"gt"`` features, :meth:`encode`)."""

    def __init__(self, G: nn.Module, E: Encoder, map_c: int, n_classes: int, feat: int,
                 n_clusters: int = N_CLUSTERS):
        super().__init__()
        self.G, self.E = G, E
        self.map_c, self.n_classes, self.feat = int(map_c), int(n_classes), int(feat)
        self.n_clusters = int(n_clusters)
        self.register_buffer("centres", torch.zeros(self.n_classes, self.n_clusters, self.feat))
        self.register_buffer("n_centres", torch.zeros(self.n_classes, dtype=torch.long))
        self.sample_seed = 0

    def split(self, cond: torch.Tensor):
        """``(maps, instance ids, image or None)`` of a conditioning tensor."""
        m = self.map_c
        if cond.shape[1] not in (m + 1, m + 4):
            raise ValueError(f"this generator takes {m} map channels + 1 instance channel "
                             f"(+ 3 image channels for ground-truth features); got "
                             f"{cond.shape[1]} channels")
        return cond[:, :m], cond[:, m:m + 1], (cond[:, m + 1:] if cond.shape[1] == m + 4 else None)

    def encode(self, image: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
        """The image's own instance-pooled features (B, feat, H, W)."""
        return instance_pool(self.E(image), inst)

    def sample_features(self, maps: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
        """Each instance's features drawn from its class's cluster centres (zeros for a
        class without clusters); the draw is seeded per image by a hash of its map and
        instance ids and :attr:`sample_seed`."""
        B, _, H, W = maps.shape
        out = maps.new_zeros(B, self.feat, H, W)
        b_idx, ids, cls, _ = instance_table(maps, inst, self.n_classes)
        ids_long = inst.long()[:, 0]
        for b in range(B):
            key = np.ascontiguousarray(torch.cat([maps[b], inst[b]]).detach().cpu().numpy())
            g = torch.Generator().manual_seed(zlib.crc32(key.tobytes()) + 7919 * self.sample_seed)
            rows = torch.nonzero(b_idx == b).squeeze(1)
            for i, c in zip(ids[rows].tolist(), cls[rows].tolist()):
                n = int(self.n_centres[c])
                if n == 0:
                    continue
                j = int(torch.randint(n, (1,), generator=g))
                mask = (ids_long[b] == i)
                out[b][:, mask] = self.centres[c, j][:, None].to(out.dtype)
        return out

    def forward(self, cond: torch.Tensor, noise_gen: torch.Generator | None = None
                ) -> torch.Tensor:
        """``noise_gen`` is ignored, as by the generator it wraps (the step interface)."""
        maps, inst, image = self.split(cond)
        feats = self.encode(image, inst) if image is not None else self.sample_features(maps, inst)
        return self.G(torch.cat([maps, feats], 1))

    @torch.no_grad()
    def fit_clusters(self, images: torch.Tensor, cond: torch.Tensor, seed: int = 0,
                     batch_size: int = 64) -> None:
        """Refit the per-class cluster centres from the training pairs (``images`` and
        their conditioning ``cond``): every instance covering more than
        :data:`MIN_AREA_FRAC` of its image contributes its pooled feature; each class gets
        ``min(n_clusters, its instances)`` k-means centres."""
        was = self.E.training
        self.E.eval()
        feats, classes = [], []
        for i in range(0, len(images), batch_size):
            maps, inst, _ = self.split(cond[i:i + batch_size])
            pooled = self.encode(images[i:i + batch_size], inst)
            b_idx, ids, cls, area = instance_table(maps, inst, self.n_classes)
            keep = area > MIN_AREA_FRAC
            for b, inst_id, c in zip(b_idx[keep].tolist(), ids[keep].tolist(), cls[keep].tolist()):
                where = torch.nonzero(inst[b, 0].long() == inst_id)[0]
                feats.append(pooled[b, :, where[0], where[1]].float().cpu())
                classes.append(c)
        self.E.train(was)
        self.centres.zero_()
        self.n_centres.zero_()
        if not feats:
            return
        feats, classes = torch.stack(feats), torch.tensor(classes)
        for c in range(self.n_classes):
            x = feats[classes == c]
            if len(x):
                cen = kmeans(x, self.n_clusters, seed=seed + c)
                self.centres[c, :len(cen)] = cen.to(self.centres)
                self.n_centres[c] = len(cen)
