"""Atomic file writes: one implementation (:func:`atomic_write`) behind every file paperlib
writes that a reader or a resumed run may see. A reader never sees half a file; a kill
leaves the old file (or none) plus at most a ``.<name>.<random>.tmp`` later writes ignore."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch


def atomic_write(path, write: Callable[[Any], None], binary: bool = True,
                 fsync: bool = False) -> Path:
    """Write ``path`` atomically: ``write(fileobj)`` fills a temporary file in the same
    folder, which then replaces ``path`` (``fsync``: flushed to disk first). The folder is
    created; on any error the temporary file is removed and ``path`` is left as it was (an
    ``OSError`` naming no file, e.g. a full disk's, is raised again naming ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            write(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    return path


def json_default(o: Any):
    """JSON for numpy scalars and arrays and paths."""
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path, obj: Any, indent: int = 2) -> Path:
    """``obj`` as JSON (numpy values converted) plus a newline, atomically."""
    return atomic_write(path, lambda f: f.write(json.dumps(obj, indent=indent,
                                                           default=json_default) + "\n"),
                        binary=False)


def atomic_torch_save(obj: Any, path) -> Path:
    """``torch.save(obj)`` atomically, flushed to disk (checkpoints)."""
    return atomic_write(path, lambda f: torch.save(obj, f), fsync=True)


def atomic_save_npz(path, **arrays) -> Path:
    """``np.savez(**arrays)`` atomically (feature caches)."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))
