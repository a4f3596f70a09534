"""paperlib: the helper library behind the notebooks.

Layers, lowest first; a module imports from its own layer and those below only
(``tests/test_architecture.py`` checks this, lazy imports included)::

    0  config.py, utils/   profiles, paths, device; atomic writes, threads, image helpers
    1  forms/              the form measure (main/inner forms, discs, circle fidelity)
    2  data/               stand-in sets, folders and manifests, held-out splits, pairs
    3  models/             the registry (base.py) and each model's module, self-registering
    4  engine/             run config, training loop, run folders, augmentation, Dask
    5  metrics/            features, statistics, IS sources, evaluation, gate and verdicts
    6  paper_a/, paper_b/  each paper's experiments (they do not import each other)
    7  plots.py, reproduce.py, publish.py, doc_tables.py, verify.py, selfcheck.py, cli.py
       (cli_field.py: its generate --seeds, fid, train --init-from); above them, the notebooks

The engine, the evaluation and the CLI build models by name from the registry and never
branch on one; adding a model is adding one module to ``models/``.
"""

__version__ = "0.1.0"
