"""Connection quality at a glance: 0-4 bars from round trip, loss and jitter (pure functions).

The thresholds follow what a voice call feels like (the ITU-T G.114 / E-model
rule of thumb): a round trip under 300 ms is not noticed, loss under 1 % is
hidden by Opus FEC and concealment, jitter under 30 ms fits the jitter buffer.
The worst of the three decides: one bad number is enough to hear it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication

translate = QCoreApplication.translate

MAX_BARS = 4
POOR = 1  # this many bars or fewer: "poor connection"

# Upper bounds for 4, 3, 2, 1 bars; above the last one: 0 bars.
RTT_MS = (150.0, 300.0, 450.0, 700.0)
LOSS_PCT = (1.0, 3.0, 6.0, 12.0)
JITTER_MS = (20.0, 40.0, 70.0, 120.0)


def quality_words(bars: int) -> str:
    """The level in words (translated): "excellent" … "very poor"."""
    return {
        4: translate("Quality", "excellent"),
        3: translate("Quality", "good"),
        2: translate("Quality", "fair"),
        1: translate("Quality", "poor"),
    }.get(bars, translate("Quality", "very poor"))


@dataclass(frozen=True)
class Quality:
    bars: int  # 0..MAX_BARS
    cause: str  # "" or what pulled it down: "delay", "loss", "jitter"

    @property
    def poor(self) -> bool:
        return self.bars <= POOR

    @property
    def words(self) -> str:
        return quality_words(self.bars)


def _bars(value: float, bounds: tuple[float, ...]) -> int:
    for i, bound in enumerate(bounds):
        if value < bound:
            return MAX_BARS - i
    return 0


def connection_quality(rtt_ms: float | None, loss_pct: float, jitter_ms: float) -> Quality:
    """The bars for one stats report; an unknown round trip (not measured yet) does not count."""
    scores = {
        "delay": _bars(rtt_ms, RTT_MS) if rtt_ms is not None else MAX_BARS,
        "loss": _bars(max(0.0, loss_pct), LOSS_PCT),
        "jitter": _bars(max(0.0, jitter_ms), JITTER_MS),
    }
    cause = min(scores, key=lambda k: scores[k])
    bars = scores[cause]
    return Quality(bars, cause if bars < MAX_BARS else "")


def poor_note(quality: Quality) -> str:
    """The sentence under the bars when the connection is poor ("" when it is not)."""
    if not quality.poor:
        return ""
    return {
        "delay": translate("Quality", "Poor connection: long delay, you may talk over each other."),
        "loss": translate("Quality", "Poor connection: audio is getting lost, you may hear gaps."),
        "jitter": translate("Quality", "Poor connection: the network is uneven, you may hear gaps."),
    }.get(quality.cause, translate("Quality", "Poor connection."))
