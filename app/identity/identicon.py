"""Identicons as pure data: a 5x5 mirrored grid plus colours, derived from a fingerprint.

Nothing here knows about Qt; the UI paints an :class:`Identicon` however it likes
(cell ``grid[row][col]`` set -> fill with ``foreground``, else ``background``).

Byte usage of the 16 fingerprint bytes:

* bytes 0-1: hue (shared by both colours), byte 2: saturation and byte 3: lightness
  of the foreground; the background is a pale tint of the same hue;
* bytes 4-5: the 15 bits that switch on the left three columns (mirrored right).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

from app.identity.fingerprint import parse_fingerprint

__all__ = ["GRID_SIZE", "RGB", "Identicon", "identicon"]

GRID_SIZE = 5
_HALF = (GRID_SIZE + 1) // 2  # columns 0..2 are free, 3..4 mirror 1..0

RGB = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Identicon:
    """A 5x5 horizontally symmetric pattern and its colours (RGB, 0-255)."""

    grid: tuple[tuple[bool, ...], ...]
    foreground: RGB
    background: RGB

    @property
    def size(self) -> int:
        return len(self.grid)


def _to_rgb(hue: float, lightness: float, saturation: float) -> RGB:
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return (round(red * 255), round(green * 255), round(blue * 255))


def identicon(fingerprint: str) -> Identicon:
    """Return the identicon for ``fingerprint`` (any form :func:`parse_fingerprint` takes)."""
    data = bytes.fromhex(parse_fingerprint(fingerprint).replace(":", ""))

    hue = int.from_bytes(data[0:2], "big") / 65536
    saturation = 0.45 + (data[2] / 255) * 0.30  # 0.45 .. 0.75: colourful, not neon
    lightness = 0.35 + (data[3] / 255) * 0.20  # 0.35 .. 0.55: contrasts with the pale tint
    foreground = _to_rgb(hue, lightness, saturation)
    background = _to_rgb(hue, 0.94, 0.25)  # a pale tint of the same hue

    bits = int.from_bytes(data[4:6], "big")
    rows: list[tuple[bool, ...]] = []
    for row in range(GRID_SIZE):
        left = [bool((bits >> (row * _HALF + col)) & 1) for col in range(_HALF)]
        rows.append(tuple(left + left[GRID_SIZE - _HALF - 1 :: -1]))
    return Identicon(grid=tuple(rows), foreground=foreground, background=background)
