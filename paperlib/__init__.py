"""paperlib: the helper library behind the notebooks.

One module per concern: ``config`` (profiles, device), ``data`` (data sets and the
folder loader), ``models`` (DCGAN, DeLiGAN, proposed latent adjustment), ``train``
(the shared training engine), ``metrics`` (FID/KID/PR/IS), ``fidelity`` (circle
fidelity), ``curation`` (paper B's 60/30/10 loop), ``augment`` (DiffAugment/ADA),
``plots``, ``widgets``, ``reproduce`` (papermill runner) and ``cli``.
"""

__version__ = "0.1.0"
