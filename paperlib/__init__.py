"""paperlib: the helper library behind the notebooks.

Layers, lowest first; a module imports from its own layer and the ones below it only
(``tests/test_architecture.py`` checks this on the source, lazy imports included)::

    0  config.py, utils/   profiles, paths, device; atomic writes, the thread pinner, image
                           conversions and the resolution check
    1  forms/              the form measure: a character's main form and inner forms, a
                           composition's discs, circle fidelity, each artist set's measure
    2  data/               stand-in sets (emoji, shapes, artists), folders and manifests,
                           held-out splits, paired (map, image) data
    3  models/             the registry (base.py: name -> ModelSpec, the step interface);
                           dcgan.py (DCGAN, DeLiGAN, proposed), stylegan2.py, pix2pixhd.py,
                           each registering itself
    4  engine/             the run config, the training loop, run folders and checkpoints,
                           cached runs, augmentation, runs side by side on Dask
    5  metrics/            features (Inception, cached), statistics (FID/KID/PR/DC/IS), IS
                           sources, the cached evaluation of a run, gate and verdict
                           statistics
    6  paper_a/, paper_b/  each paper's experiments (they do not import each other)
    7  plots.py, reproduce.py (runs the notebooks), publish.py (executed notebooks into the
       repository), doc_tables.py (the docs' result tables), verify.py (a rerun's tables vs
       the committed ones), selfcheck.py (every model at a profile's sizes), cli.py; above
       them, the notebooks

The engine, the evaluation and the CLI build models by name from the registry and never
branch on one; adding a model is adding one module to ``models/``.
"""

__version__ = "0.1.0"
