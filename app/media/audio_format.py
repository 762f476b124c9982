"""The device path's PCM format, shared by the echo canceller's modules: 48 kHz mono int16."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Int16Array = npt.NDArray[np.int16]
else:
    Int16Array = Any

SAMPLE_RATE = 48_000

__all__ = ["SAMPLE_RATE", "Int16Array"]
