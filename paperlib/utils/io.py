"""Atomic file writes: one implementation (:func:`atomic_write`) behind every file paperlib
writes (tables, figures, notebooks, docs, data sets, CLI outputs, checkpoints), one helper
per kind built on it. A reader never sees half a file; a kill or an error leaves the old
file (or none) plus at most a ``.<name>.<random>.tmp`` later writes ignore."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of a new file, as ``open()`` would give it (mkstemp's are 0600).
_NEW_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path, write: Callable[[Any], None], binary: bool = True,
                 fsync: bool = False) -> Path:
    """Write ``path`` atomically: ``write(fileobj)`` fills a temporary file in the same
    folder, which then replaces ``path`` (``fsync``: flushed to disk first). The folder is
    created; the file keeps ``path``'s permissions, or gets a new file's. On any error the
    temporary file is removed and ``path`` is left as it was (an ``OSError`` naming no file,
    e.g. a full disk's, is raised again naming ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            os.fchmod(f.fileno(), mode)
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


def atomic_write_text(path, text: str) -> Path:
    """``text`` as UTF-8, atomically."""
    return atomic_write(path, lambda f: f.write(text), binary=False)


def atomic_write_bytes(path, data: bytes) -> Path:
    """``data`` atomically."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_copy(src, path) -> Path:
    """A byte-for-byte copy of file ``src`` at ``path``, atomically."""
    def copy(f) -> None:
        with open(src, "rb") as s:
            shutil.copyfileobj(s, f)
    return atomic_write(path, copy)


def atomic_save_image(path, image, **save_kw) -> Path:
    """``PIL.Image.save`` atomically; the format is ``save_kw['format']`` or ``path``'s
    suffix's."""
    fmt = save_kw.pop("format", None) or Image.registered_extensions()[Path(path).suffix.lower()]
    return atomic_write(path, lambda f: image.save(f, format=fmt, **save_kw))


def atomic_savefig(path, fig, **savefig_kw) -> Path:
    """A matplotlib figure's ``savefig`` atomically; the format is ``savefig_kw['format']``
    or ``path``'s suffix."""
    fmt = savefig_kw.pop("format", None) or Path(path).suffix.lstrip(".").lower()
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, **savefig_kw))
