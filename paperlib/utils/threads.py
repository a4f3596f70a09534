"""The torch CPU thread pinner: one implementation for training runs, metrics and widgets."""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def pinned_threads(n: int):
    """Run torch CPU ops on ``n`` threads inside the block (the previous count is restored).

    Training runs pin their ``threads`` (another count changes the losses in the last
    bits); metrics and widgets pin 1 (why: docs/DECISIONS.md, "Threads")."""
    old = torch.get_num_threads()
    if old != int(n):
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)
