"""Signal bars from round trip, loss and jitter: the worst of the three decides, and it says which."""

from __future__ import annotations

from ui.quality import connection_quality, poor_note


def test_a_clean_call_is_four_bars() -> None:
    q = connection_quality(12.0, 0.0, 1.5)
    assert q.bars == 4 and q.cause == "" and not q.poor and poor_note(q) == ""


def test_the_worst_measure_decides() -> None:
    assert connection_quality(40.0, 4.0, 5.0).bars == 2  # loss alone
    assert connection_quality(500.0, 0.0, 5.0).bars == 1  # delay alone
    q = connection_quality(40.0, 0.5, 150.0)
    assert q.bars == 0 and q.cause == "jitter" and q.poor and "uneven" in poor_note(q)


def test_thresholds_are_upper_bounds() -> None:
    assert connection_quality(149.9, 0.0, 0.0).bars == 4
    assert connection_quality(150.0, 0.0, 0.0).bars == 3
    assert connection_quality(None, 12.0, 0.0).bars == 0  # no RTT yet: loss still counts
    assert connection_quality(None, 0.0, 0.0).bars == 4


def test_poor_notes_name_the_cause() -> None:
    assert "gaps" in poor_note(connection_quality(20.0, 15.0, 0.0))
    assert "delay" in poor_note(connection_quality(900.0, 0.0, 0.0))
    assert connection_quality(20.0, -5.0, -1.0).bars == 4  # nonsense negatives are no worse than zero
