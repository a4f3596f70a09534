"""Utilities every layer may use: atomic file writes (:mod:`.io`), the torch thread pinner
(:mod:`.threads`), image conversions and the resolution check (:mod:`.images`) and the form
finder (:mod:`.forms`, pure numpy/scipy image analysis behind circle fidelity and form maps).
Nothing here imports another part of paperlib."""
