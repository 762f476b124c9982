"""The level meter repaints only when what it shows changes (it is fed 10 times a second in a call)."""

from __future__ import annotations

from typing import Any

from ui.widgets.level_meter import LevelMeter


def test_the_meter_repaints_only_for_a_visible_change(qtbot: Any) -> None:
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.resize(120, 10)
    repaints: list[None] = []
    meter.update = lambda: repaints.append(None)  # type: ignore[method-assign]
    meter.set_level_db(-30.0)
    assert len(repaints) == 1
    meter.set_level_db(-30.2)  # 0.2 dB is a fraction of a pixel on 120 px for 60 dB
    assert len(repaints) == 1 and meter.level_db == -30.2
    meter.set_level_db(-20.0)
    assert len(repaints) == 2
    meter.set_level_db(-12.1)
    meter.set_level_db(-11.9)  # less than a pixel, but the colour band changes: repaint
    assert len(repaints) == 4
    assert meter.tool_tip() == "-12 dBFS"
    meter.set_level_db(-100.0)
    assert meter.tool_tip() == "silent"
