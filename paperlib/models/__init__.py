"""Models, each registered by name (:mod:`paperlib.models.base`): paper A's DCGAN family
(:mod:`~paperlib.models.dcgan`: ``dcgan``, ``deligan``, ``proposed``) and paper B's
StyleGAN2-ADA (:mod:`~paperlib.models.stylegan2`) and Pix2pixHD
(:mod:`~paperlib.models.pix2pixhd`). Importing this package registers every module in it;
a new model is one new module that calls :func:`~paperlib.models.base.register`."""

import importlib
import pkgutil

# registration order is the CLI's and error messages' model order
from . import dcgan  # isort: skip
from . import stylegan2  # isort: skip
from . import pix2pixhd  # isort: skip
from . import base
from .base import ModelSpec, get_model, model_fields, model_names, register
from .dcgan import (
    DeLiGANLatent,
    Discriminator,
    GaussianLatent,
    Generator,
    ProposedLatent,
    build_models,
)

for _m in pkgutil.iter_modules(__path__):  # a model module added later registers itself too
    importlib.import_module(f"{__name__}.{_m.name}")

__all__ = [
    "base",
    "dcgan",
    "pix2pixhd",
    "stylegan2",
    "DeLiGANLatent",
    "Discriminator",
    "GaussianLatent",
    "Generator",
    "ModelSpec",
    "ProposedLatent",
    "build_models",
    "get_model",
    "model_fields",
    "model_names",
    "register",
]
