"""Paper A's Inception Score on the emoji set: a small eyes/mouth part classifier trained on
the set's own labels (cached), registered as the ``emoji-parts`` IS source."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data.emoji import EMOJI_EYES, EMOJI_MOUTHS
from ..data.folders import load_folder, manifest_hash
from ..metrics import features as _features
from ..metrics.features import images_to_uint8
from ..metrics.is_scorers import register_is_source
from ..utils.io import atomic_torch_save
from ..utils.threads import pinned_threads


class PartClassifier(nn.Module):
    """Small CNN with two heads: eye style and mouth style of an emoji (input [-1, 1])."""

    def __init__(self, n_eyes: int, n_mouths: int, res: int, width: int = 32):
        super().__init__()
        layers, c_in, c, side = [], 3, width, int(res)
        while side > 4:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in, c, side = c, min(c * 2, 4 * width), side // 2
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.eyes = nn.Linear(c_in * 16, n_eyes)
        self.mouth = nn.Linear(c_in * 16, n_mouths)

    def forward(self, x):
        h = self.body(x)
        return self.eyes(h), self.mouth(h)


def _emoji_parts(data_dir) -> tuple[list[str], list[str], dict[str, tuple[str, str]]] | None:
    """(eye styles, mouth styles, {relative file: (eyes, mouth)}) of an emoji set, or None."""
    try:
        manifest = json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
        parts = {e["file"]: (e["recipe"]["eyes"], e["recipe"]["mouth"]) for e in manifest["images"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # only the emoji set's parts are style names; other sets' recipes (e.g. the donglein
    # stand-in's "eyes": a list of circles) are not part labels
    if not parts or not all(isinstance(a, str) and isinstance(b, str) for a, b in parts.values()):
        return None
    eyes = sorted({v[0] for v in parts.values()})
    mouths = sorted({v[1] for v in parts.values()})
    if set(eyes) <= set(EMOJI_EYES) and set(mouths) <= set(EMOJI_MOUTHS):  # canonical order
        eyes, mouths = list(EMOJI_EYES), list(EMOJI_MOUTHS)
    return eyes, mouths, parts


def _classifier_path(emoji_dir, res, epochs, seed, cache_dir, **train_opts) -> Path:
    blob = json.dumps({"manifest": manifest_hash(emoji_dir), "res": int(res),
                       "epochs": int(epochs), "seed": int(seed), "arch": "PartClassifier-v1",
                       **train_opts}, sort_keys=True)
    return Path(cache_dir) / f"partclf_{hashlib.sha256(blob.encode()).hexdigest()[:24]}.pt"


def train_part_classifier(emoji_dir, res: int, epochs: int = 30, seed: int = 0,
                          cache_dir=None, use_cache: bool = True, heldout: float = 0.2,
                          batch_size: int = 16, progress: bool = False
                          ) -> tuple[PartClassifier, float]:
    """Train (or load from the cache) the eyes/mouth classifier of an emoji set.

    Returns ``(model, heldout_accuracy)``: joint accuracy (eyes AND mouth) on a seeded
    ``heldout`` share never trained on. Deterministic from ``seed`` (global RNG untouched);
    cached as ``<cache_dir>/partclf_<key>.pt``. ``model.eyes_classes`` /
    ``model.mouth_classes`` name the outputs.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else _features.DEFAULT_CACHE_DIR
    info = _emoji_parts(emoji_dir)
    if info is None:
        raise ValueError(f"{emoji_dir} is not an emoji set: its manifest.json has no "
                         "images[].recipe.eyes / .mouth part labels")
    eyes, mouths, parts = info
    path = _classifier_path(emoji_dir, res, epochs, seed, cache_dir,
                            heldout=float(heldout), batch_size=int(batch_size))
    if use_cache and path.is_file():
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
            model = PartClassifier(len(ck["eyes"]), len(ck["mouths"]), ck["res"], ck["width"])
            model.load_state_dict(ck["state_dict"])
            model.eyes_classes, model.mouth_classes = list(ck["eyes"]), list(ck["mouths"])
            return model.eval(), float(ck["acc"])
        except (OSError, RuntimeError, KeyError, ValueError):
            pass   # stale or corrupt: retrain
    loaded = load_folder(emoji_dir, res)
    root = Path(emoji_dir)
    ye, ym, keep = [], [], []
    for i, p in enumerate(loaded.paths):
        try:
            rel = Path(p).relative_to(root).as_posix()
        except ValueError:
            rel = Path(p).name
        part = parts.get(rel) or parts.get(Path(p).name)
        if part is None:
            continue
        keep.append(i)
        ye.append(eyes.index(part[0]))
        ym.append(mouths.index(part[1]))
    if len(keep) < 10:
        raise ValueError(f"only {len(keep)} images of {emoji_dir} matched its manifest")
    x = loaded.images[keep].float()
    ye_t, ym_t = torch.tensor(ye), torch.tensor(ym)
    n = x.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=gen)
    n_test = max(1, int(round(n * heldout)))
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    width = 32
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = PartClassifier(len(eyes), len(mouths), res, width)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    pad = max(1, int(res) // 16)
    it = tqdm(range(int(epochs)), desc="part classifier", disable=not progress, leave=False)
    with pinned_threads(1):
        acc = _fit_part_classifier(model, x, ye_t, ym_t, train_idx, test_idx, gen, it,
                                   batch_size, pad, int(res), sched, opt)
    model.eyes_classes, model.mouth_classes = list(eyes), list(mouths)
    atomic_torch_save({"state_dict": model.state_dict(), "eyes": list(eyes),
                       "mouths": list(mouths), "res": int(res), "width": width, "acc": acc,
                       "epochs": int(epochs), "seed": int(seed)}, path)
    return model, acc


def _fit_part_classifier(model, x, ye, ym, train_idx, test_idx, gen, epochs_iter,
                         batch_size, pad, res, sched, opt) -> float:
    """Training loop of :func:`train_part_classifier`; returns the held-out joint accuracy."""
    for _ in epochs_iter:
        model.train()
        order = train_idx[torch.randperm(train_idx.numel(), generator=gen)]
        for j in range(0, order.numel(), batch_size):
            idx = order[j:j + batch_size]
            # random shifts of up to `pad` px (edge-replicated), seeded
            xb = F.pad(x[idx], (pad, pad, pad, pad), mode="replicate")
            dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
            xb = xb[:, :, dy:dy + res, dx:dx + res]
            le, lm = model(xb)
            loss = F.cross_entropy(le, ye[idx]) + F.cross_entropy(lm, ym[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with torch.inference_mode():
        le, lm = model(x[test_idx])
        hit = (le.argmax(1) == ye[test_idx]) & (lm.argmax(1) == ym[test_idx])
    return float(hit.float().mean())


def part_probs(model: PartClassifier, images, batch_size: int = 256) -> np.ndarray:
    """Joint (eyes x mouth) class probabilities (N, n_eyes * n_mouths) of images.

    p(e, m | x) = p_eyes(e | x) * p_mouth(m | x) (outer product of the two heads).
    """
    u8 = images_to_uint8(images)
    model.eval()
    out = []
    with torch.inference_mode(), pinned_threads(1):
        for i in range(0, u8.shape[0], batch_size):
            x = u8[i:i + batch_size].float() / 127.5 - 1.0
            le, lm = model(x)
            pe, pm = torch.softmax(le.double(), 1), torch.softmax(lm.double(), 1)
            out.append((pe[:, :, None] * pm[:, None, :]).reshape(x.shape[0], -1).numpy())
    return np.concatenate(out)


def _has_parts(data_dir) -> bool:
    return _emoji_parts(data_dir) is not None


def _part_scorer(data_dir, res, epochs, seed, cache_dir):
    model, acc = train_part_classifier(data_dir, res, epochs, seed, cache_dir=cache_dir)
    return (lambda imgs: part_probs(model, imgs)), f"emoji-parts(classifier acc={acc:.2f})"


register_is_source("emoji-parts", _has_parts, _part_scorer, labels="emoji part labels",
                   where="its manifest.json has no images[].recipe.eyes / .mouth")
