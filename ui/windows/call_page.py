"""The call page: who, how long, which path, mute / volume / levels / devices, live stats, hang up."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ui.devices import fill_device_combo
from ui.fonts import fixed_font
from ui.models.call import CALLING, CONNECTING, IN_CALL, INCOMING, RINGING, CallModel
from ui.quality import connection_quality, poor_note
from ui.sentences import badge_text, path_explanation
from ui.widgets.identicon import IdenticonWidget
from ui.widgets.level_meter import LevelMeter
from ui.widgets.signal_bars import SignalBars
from ui.widgets.verify_box import VerifyBox

BADGE_STYLE = (
    "QLabel {{ background: {bg}; color: white; border-radius: 9px; padding: 3px 10px; font-weight: bold; }}"
)


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


class CallPage(QWidget):
    def __init__(self, call: CallModel, *, audio_enabled: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.audio_enabled = audio_enabled

        self.icon = IdenticonWidget("", 96)
        self.name_label = QLabel()
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)  # a peer's alias is never markup
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setFont(fixed_font())
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel()
        self.status_label.setObjectName("callStatus")
        sfont = self.status_label.font()
        sfont.setPointSizeF(sfont.pointSizeF() * 1.2)
        self.status_label.setFont(sfont)
        self.timer_label = QLabel()
        self.timer_label.setFont(sfont)
        self.badge = QLabel()
        self.badge.setObjectName("pathBadge")
        header = QGridLayout()
        header.setHorizontalSpacing(16)
        header.addWidget(self.icon, 0, 0, 4, 1, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.name_label, 0, 1, 1, 3)
        header.addWidget(self.fingerprint_label, 1, 1, 1, 3)
        status_row = QHBoxLayout()
        status_row.setSpacing(12)
        status_row.addWidget(self.status_label)
        status_row.addWidget(self.timer_label)
        status_row.addStretch(1)
        header.addLayout(status_row, 2, 1, 1, 3)
        # -- quality at a glance: bars, in words when it is poor, numbers behind "Details"
        self.signal_bars = SignalBars()
        self.quality_label = QLabel()
        self.quality_label.setObjectName("quality")
        self.details_button = QPushButton(self.tr("Details"))
        self.details_button.setCheckable(True)
        self.details_button.setFlat(True)
        self.details_button.setToolTip(self.tr("Show the connection's numbers: round trip, loss, jitter, bitrate."))
        self.details_button.toggled.connect(self._details_toggled)
        path_row = QHBoxLayout()
        path_row.setSpacing(10)
        path_row.addWidget(self.badge)
        path_row.addWidget(self.signal_bars)
        path_row.addWidget(self.quality_label)
        path_row.addWidget(self.details_button)
        path_row.addStretch(1)
        header.addLayout(path_row, 3, 1, 1, 3)
        self.poor_label = QLabel()
        self.poor_label.setObjectName("poorConnection")
        self.poor_label.setWordWrap(True)
        self.poor_label.hide()
        header.setColumnStretch(3, 1)

        # -- verification: the safety code both people compare, and the deliberate "they match"
        self.verify_dialog: VerifyBox | None = None
        self.safety_title = QLabel(self.tr("Safety code"))
        self.safety_label = QLabel()
        self.safety_label.setObjectName("safetyCode")
        self.safety_label.setFont(fixed_font())
        self.safety_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.safety_label.setToolTip(self.tr(
            "Both of you see the same code if nobody is in between. Compare it aloud."
        ))
        self.safety_title.setBuddy(self.safety_label)
        self.verify_button = QPushButton(self.tr("Verify…"))
        self.verify_button.setToolTip(self.tr(
            "Compare the safety code with the other person, then mark them verified."
        ))
        self.verify_button.clicked.connect(self.ask_verify)
        self.verified_label = QLabel(self.tr("✓ Verified"))
        self.verified_label.setObjectName("verified")
        self.verified_label.setToolTip(self.tr("You compared the safety code with this person and it matched."))
        verify_row = QHBoxLayout()
        verify_row.setSpacing(10)
        verify_row.addWidget(self.safety_title)
        verify_row.addWidget(self.safety_label)
        verify_row.addWidget(self.verified_label)
        verify_row.addWidget(self.verify_button)
        verify_row.addStretch(1)
        header.addLayout(verify_row, 4, 1, 1, 3)
        header.addWidget(self.poor_label, 5, 1, 1, 3)

        # -- audio controls
        self.mute_button = QPushButton(self.tr("Mute (M)"))
        self.mute_button.setCheckable(True)
        self.mute_button.toggled.connect(call.set_muted)
        self.volume_slider = QSlider(Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, 200)
        self.volume_slider.setValue(call.volume_percent)
        self.volume_slider.setToolTip(self.tr("Speaker volume for this call"))
        self.volume_slider.valueChanged.connect(self._volume_changed)
        self.volume_label = QLabel()
        self.input_meter = LevelMeter()
        self.output_meter = LevelMeter()
        self.input_combo = QComboBox()
        self.output_combo = QComboBox()
        for widget, name in (
            (self.input_meter, self.tr("Microphone level")),
            (self.output_meter, self.tr("Speaker level")),
            (self.input_combo, self.tr("Microphone")),
            (self.output_combo, self.tr("Speaker")),
            (self.volume_slider, self.tr("Speaker volume")),
        ):
            widget.setAccessibleName(name)
        self.input_combo.activated.connect(lambda _i: self._device_chosen("input", self.input_combo))
        self.output_combo.activated.connect(lambda _i: self._device_chosen("output", self.output_combo))
        audio = QGroupBox(self.tr("Audio"))
        form = QGridLayout(audio)
        form.addWidget(QLabel(self.tr("Microphone")), 0, 0)
        form.addWidget(self.input_combo, 0, 1)
        form.addWidget(self.input_meter, 0, 2)
        form.addWidget(self.mute_button, 0, 3)
        form.addWidget(QLabel(self.tr("Speaker")), 1, 0)
        form.addWidget(self.output_combo, 1, 1)
        form.addWidget(self.output_meter, 1, 2)
        vol = QHBoxLayout()
        vol.addWidget(self.volume_slider, 1)
        vol.addWidget(self.volume_label)
        form.addWidget(QLabel(self.tr("Volume")), 2, 0)
        form.addLayout(vol, 2, 1, 1, 3)
        form.setColumnStretch(2, 1)
        self.audio_box = audio

        # -- stats
        self.stat_labels: dict[str, QLabel] = {}
        stats = QGroupBox(self.tr("Connection"))
        sform = QFormLayout(stats)
        for key, title in (
            ("rtt", self.tr("Round trip")),
            ("loss", self.tr("Packet loss")),
            ("jitter", self.tr("Jitter")),
            ("buffer", self.tr("Jitter buffer")),
            ("bitrate", self.tr("Bitrate sent")),
        ):
            label = QLabel("—")
            self.stat_labels[key] = label
            sform.addRow(title, label)
        self.stats_box = stats

        # -- buttons
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(call.cancel)
        self.hangup_button = QPushButton(self.tr("Hang up (Esc)"))
        self.hangup_button.setStyleSheet(
            "QPushButton { background: #d33; color: white; padding: 6px 18px; border-radius: 4px; }"
            "QPushButton:pressed { background: #a22; }"
        )
        self.hangup_button.clicked.connect(call.hang_up)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.hangup_button)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addSpacing(8)
        layout.addWidget(audio)
        layout.addWidget(stats)
        layout.addStretch(1)
        layout.addLayout(buttons)

        call.changed.connect(self.refresh)
        call.tick.connect(self._refresh_timer)
        call.levels.connect(self._levels)
        call.levels_visible = self.meters_visible
        call.stats_changed.connect(self._refresh_stats)
        self._volume_changed(self.volume_slider.value())
        self.refresh()

    def meters_visible(self) -> bool:
        """Whether the level meters are on screen: not while the window is hidden or minimized."""
        return self.input_meter.isVisible() and not self.window().isMinimized()

    def reload_devices(self) -> None:
        media = self.call.host.media
        problem_in = fill_device_combo(self.input_combo, "input", media.input_device)
        problem_out = fill_device_combo(self.output_combo, "output", media.output_device)
        for combo, problem in ((self.input_combo, problem_in), (self.output_combo, problem_out)):
            combo.setEnabled(self.audio_enabled and not problem)
            combo.setToolTip(problem if problem else ("" if self.audio_enabled else self.tr("Audio is turned off.")))

    def refresh(self) -> None:
        c = self.call
        self.icon.set_fingerprint(c.peer_fingerprint)
        self.name_label.setText(c.peer_name)
        self.fingerprint_label.setText(c.peer_fingerprint)
        self.status_label.setText(c.status_text)
        ringing = c.state in (CALLING, RINGING)
        in_call = c.state == IN_CALL
        self.cancel_button.setVisible(ringing)
        self.hangup_button.setVisible(c.state in (IN_CALL, CONNECTING, INCOMING))
        self.audio_box.setVisible(in_call or c.state == CONNECTING)
        self.stats_box.setVisible(in_call and self.details_button.isChecked())
        self.signal_bars.setVisible(in_call)
        self.details_button.setVisible(in_call)
        self.quality_label.setVisible(in_call)
        if not in_call:
            self.signal_bars.set_quality(None)
            self.quality_label.setText("")
            self.poor_label.hide()
        code = c.safety_code if in_call else ""
        verified = bool(code) and c.peer_verified
        self.safety_title.setVisible(bool(code))
        self.safety_label.setVisible(bool(code))
        self.safety_label.setText(code)
        self.verified_label.setVisible(verified)
        self.verify_button.setVisible(bool(code) and not verified)
        if self.verify_dialog is not None and self.verify_dialog.isVisible() and not code:
            self.verify_dialog.reject()  # the call ended while the question was open
        self.mute_button.blockSignals(True)
        self.mute_button.setChecked(c.muted)
        self.mute_button.setText(self.tr("Unmute (M)") if c.muted else "Mute (M)")
        self.mute_button.blockSignals(False)
        if c.badge:
            color = "#6b7280" if c.badge == "Via relay" else "#16a34a"
            self.badge.setStyleSheet(BADGE_STYLE.format(bg=color))
            self.badge.setText(badge_text(c.badge))
            self.badge.setToolTip(path_explanation(c.badge))
            self.badge.show()
        else:
            self.badge.hide()
            self.badge.setText("")
        if not c.active:
            for label in self.stat_labels.values():
                label.setText("—")
        self._refresh_timer()

    def ask_verify(self) -> None:
        """Ask whether the codes matched; only "The codes match" marks the peer verified."""
        c = self.call
        code, name = c.safety_code, c.peer_name
        if not code:
            return
        how = self.tr(
            "Read it aloud, or listen to them read theirs. Mark them verified only if every digit is the same: "
            "then this is their real key and nobody is in between."
        )
        box = VerifyBox(name, code, how, c.mark_verified, self)
        if self.verify_dialog is not None:
            self.verify_dialog.deleteLater()
        self.verify_dialog = box
        box.open()

    def _refresh_timer(self) -> None:
        self.timer_label.setText(self.call.elapsed_text)

    def _levels(self, input_db: float, output_db: float) -> None:
        self.input_meter.set_level_db(input_db)
        self.output_meter.set_level_db(output_db)

    def _refresh_stats(self) -> None:
        s = self.call.stats
        if s is None:
            return
        self.stat_labels["rtt"].setText(_fmt(s.rtt_ms, "ms"))
        self.stat_labels["loss"].setText(f"{s.loss_pct:.1f} %")
        self.stat_labels["jitter"].setText(_fmt(s.jitter_ms, "ms", 1))
        self.stat_labels["buffer"].setText(_fmt(s.jitter_buffer_ms, "ms"))
        self.stat_labels["bitrate"].setText(_fmt(s.bitrate_kbps, "kbit/s", 1))
        quality = connection_quality(s.rtt_ms, s.loss_pct, s.jitter_ms)
        self.signal_bars.set_quality(quality)
        self.quality_label.setText(quality.words.capitalize())
        note = poor_note(quality)
        self.poor_label.setText(note)
        self.poor_label.setVisible(bool(note))

    def _details_toggled(self, on: bool) -> None:
        self.details_button.setText(self.tr("Hide details") if on else "Details")
        self.stats_box.setVisible(on and self.call.state == IN_CALL)

    def _volume_changed(self, value: int) -> None:
        self.volume_label.setText(f"{value} %")
        self.call.set_volume_percent(value)

    def _device_chosen(self, kind: str, combo: QComboBox) -> None:
        self.call.switch_device(kind, str(combo.currentData() or ""))
