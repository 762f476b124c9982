"""The receiver's loss meter, the receiver report and the sender's redundancy policy, with the
product's thresholds (the defaults: RED from 3 % loss, two copies from 12 %)."""

from __future__ import annotations

import pytest

from app.media.errors import MediaPacketError
from app.media.loss import OFF_DEPTH1, OFF_DEPTH2, ON_DEPTH1, ON_DEPTH2, LossMeter, RedundancyPolicy
from app.media.report import REPORT_LEN, ReceiverReport


def test_product_thresholds_are_the_defaults() -> None:
    assert (ON_DEPTH1, ON_DEPTH2, OFF_DEPTH2, OFF_DEPTH1) == (0.03, 0.12, 0.07, 0.01)


def test_policy_turns_on_immediately_and_steps_up() -> None:
    policy = RedundancyPolicy()
    assert policy.update(0.0) == 0
    assert policy.update(0.029) == 0
    assert policy.update(0.03) == 1
    assert policy.update(0.119) == 1
    assert policy.update(0.12) == 2
    assert policy.update(0.50) == 2


def test_policy_turns_off_with_hysteresis() -> None:
    policy = RedundancyPolicy(hold_reports=3)
    policy.update(0.20)
    # Below the entry threshold but above the exit one: stays at depth 2.
    for _ in range(10):
        assert policy.update(0.10) == 2
    # Clearly lower, but it has to last.
    assert policy.update(0.05) == 2
    assert policy.update(0.05) == 2
    assert policy.update(0.05) == 1
    # Hovering between the off and on thresholds keeps depth 1.
    for loss in (0.02, 0.025, 0.015, 0.02):
        assert policy.update(loss) == 1
    # A lossy report interrupts the countdown.
    assert policy.update(0.005) == 1
    assert policy.update(0.005) == 1
    assert policy.update(0.05) == 1
    assert policy.update(0.005) == 1
    assert policy.update(0.005) == 1
    assert policy.update(0.005) == 0


def test_policy_from_depth_two_straight_to_off_when_loss_vanishes() -> None:
    policy = RedundancyPolicy(hold_reports=2)
    policy.update(0.3)
    assert policy.update(0.0) == 2
    assert policy.update(0.0) == 0


def test_policy_ignores_nonsense_reports() -> None:
    policy = RedundancyPolicy()
    policy.update(0.2)
    assert policy.update(float("nan")) == 2
    assert policy.update(-1.0) == 2


def test_policy_validates_thresholds() -> None:
    with pytest.raises(ValueError):
        RedundancyPolicy(on_depth1=0.05, off_depth1=0.06)
    with pytest.raises(ValueError):
        RedundancyPolicy(on_depth2=0.02)
    with pytest.raises(ValueError):
        RedundancyPolicy(hold_reports=0)


def test_codec_settings_hand_fec_over_to_red() -> None:
    policy = RedundancyPolicy()
    policy.update(0.02)
    below = policy.codec_settings(0.02)
    assert (below.red_depth, below.fec, below.expected_loss_percent) == (0, True, 2)
    policy.update(0.10)
    settings_1 = policy.codec_settings(0.10)
    assert settings_1.red_depth == 1
    assert settings_1.fec is False
    assert settings_1.expected_loss_percent == 1  # 10 % ** 2
    policy.update(0.20)
    settings_2 = policy.codec_settings(0.20)
    assert (settings_2.red_depth, settings_2.fec, settings_2.expected_loss_percent) == (2, False, 1)
    assert policy.codec_settings(0.5).expected_loss_percent == 13  # 0.5 ** 3
    assert RedundancyPolicy().codec_settings(0.0).expected_loss_percent == 0


def test_loss_meter_measures_each_interval_on_its_own() -> None:
    meter = LossMeter()
    assert meter.end_interval() == 0.0  # nothing yet
    for seq in range(100, 200):
        if seq % 10 != 5:
            meter.received(seq)
    assert meter.end_interval() == pytest.approx(0.10)
    for seq in range(200, 250):
        meter.received(seq)
    assert meter.end_interval() == 0.0
    assert meter.end_interval() == 0.0  # an empty interval keeps the last figure
    # Reordered arrivals count by the highest sequence number, not the last one.
    for seq in (252, 250):
        meter.received(seq)
    assert meter.end_interval() == pytest.approx(1 / 3)  # 250 .. 252 expected, 251 lost


def test_receiver_report_round_trip_and_bounds() -> None:
    report = ReceiverReport(0.1234, 12.3, 42)
    data = report.pack()
    assert len(data) == REPORT_LEN
    assert ReceiverReport.unpack(data) == ReceiverReport(0.1234, 12.3, 42)
    assert ReceiverReport.unpack(ReceiverReport(7.0, 1e9, 1 << 40).pack()) == ReceiverReport(1.0, 6553.5, 0)
    assert ReceiverReport.unpack(ReceiverReport(float("nan"), float("nan"), 1).pack()).loss == 0.0
    for bad in (b"", b"\x00" * 7, b"\x00" * 9, b"\xff\xff" + b"\x00" * 6):
        with pytest.raises(MediaPacketError):
            ReceiverReport.unpack(bad)
