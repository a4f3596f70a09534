"""Utilities every layer may use: atomic file writes (:mod:`.io`), the torch thread pinner
(:mod:`.threads`) and image conversions and the resolution check (:mod:`.images`). Nothing
here imports another part of paperlib."""
