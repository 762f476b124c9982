"""Settings: name and privacy, relays, audio (with tests), NAT detection, who is blocked, and the log."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.media.audio_processing import ProcessingConfig
from app.nat.nat_type import NatReport
from app.storage import Settings
from ui.audio_test import MicTester, SpeakerTester
from ui.devices import fill_device_combo
from ui.fonts import fixed_font
from ui.log_buffer import LogBuffer
from ui.models.blocks import BlocksModel
from ui.relay_list import join_nodes, parse_relay_list, service_nodes
from ui.tasks import TaskRunner
from ui.widgets.error_label import ErrorLabel
from ui.widgets.identicon import identicon_icon
from ui.widgets.level_meter import LevelMeter

log = logging.getLogger(__name__)

BITRATES = (16_000, 24_000, 32_000, 48_000, 64_000)
translate = QCoreApplication.translate


def privacy_choices() -> tuple[tuple[str, str], ...]:
    return (
        (
            "ask",
            translate("SettingsDialog", "Ask each time (Accept shows them your IP address, Accept privately does not)"),
        ),
        ("private", translate("SettingsDialog", "Always keep my IP address private (calls go through the relay)")),
    )


def nat_report_text(report: NatReport) -> str:
    """The NAT check's result (the explanation and notes come from app.nat, in English)."""
    title = {
        "cone": translate("SettingsDialog", "Cone NAT (or no NAT)"),
        "symmetric": translate("SettingsDialog", "Symmetric NAT"),
        "multiple": translate("SettingsDialog", "Several public addresses"),
        "unknown": translate("SettingsDialog", "Unknown"),
    }.get(report.nat_type, report.nat_type)
    lines = [title, "", report.explanation, "", translate("SettingsDialog", "Probes:")]
    for probe in report.probes:
        if probe.error:
            text = translate("SettingsDialog", "{server}: failed — {error}")
            lines.append("  " + text.format(server=probe.server, error=probe.error))
        else:
            text = translate("SettingsDialog", "{server}: saw us as {address}")
            lines.append("  " + text.format(server=probe.server, address=probe.observed))
    if report.notes:
        lines += ["", translate("SettingsDialog", "Notes:"), *(f"  {n}" for n in report.notes)]
    return "\n".join(lines)


class SettingsDialog(QDialog):
    saved = Signal(object)  # Settings
    autostart_changed = Signal(bool)  # the "Start WZP when I log in" switch was flipped (and saved)
    save_log_requested = Signal()  # Log > Save…

    def __init__(
        self,
        settings: Settings,
        *,
        identity_alias: str,
        log_buffer: LogBuffer,
        tasks: TaskRunner,
        detect_nat: Callable[[], Coroutine[Any, Any, NatReport]] | None,
        hosted_relay_info: str,
        audio_enabled: bool,
        blocks: BlocksModel | None = None,
        autostart: bool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`autostart`: whether WZP starts at login now (None: this system has no way to, the switch is hidden)."""
        super().__init__(parent)
        self.autostart = autostart
        self.setWindowTitle(self.tr("Settings — WZP"))
        self.blocks = blocks
        self.setModal(False)
        self.settings = copy.deepcopy(settings)
        self.tasks = tasks
        self.detect_nat = detect_nat
        self.log_buffer = log_buffer
        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_tab(identity_alias), self.tr("General"))
        self.tabs.addTab(self._relays_tab(hosted_relay_info), self.tr("Relays"))
        self.tabs.addTab(self._audio_tab(audio_enabled), self.tr("Audio"))
        self.tabs.addTab(self._network_tab(), self.tr("Network"))
        if blocks is not None:
            self.tabs.addTab(self._blocked_tab(blocks), self.tr("Blocked"))
        self.tabs.addTab(self._log_tab(), self.tr("Log"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.buttons)
        self.resize(680, 480)
        self.finished.connect(lambda _r: self._stop_tests())

    # ----------------------------------------------------------------- general

    def _general_tab(self, identity_alias: str) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.alias_field = QLineEdit(self.settings.alias)
        self.alias_field.setPlaceholderText(identity_alias)
        self.alias_field.setMaxLength(64)
        form.addRow(self.tr("Your name"), self.alias_field)
        hint = QLabel(
            self.tr("Shown to people you call and to others on the relay. Leave empty to use your generated name.")
        )
        hint.setWordWrap(True)
        form.addRow("", hint)
        self.privacy_combo = QComboBox()
        for value, text in privacy_choices():
            self.privacy_combo.addItem(text, value)
        self.privacy_combo.setCurrentIndex(max(0, self.privacy_combo.findData(self.settings.privacy_default)))
        form.addRow(self.tr("Callers without\ndirect calls allowed"), self.privacy_combo)
        self.discoverable_check = QCheckBox(self.tr("Show me in the relay's “Online now” list"))
        self.discoverable_check.setChecked(self.settings.discoverable)
        self.discoverable_check.setToolTip(self.tr(
            "When this is off, people on the relay do not see you online; those who have your fingerprint "
            "can still call you."
        ))
        form.addRow(self.tr("Visibility"), self.discoverable_check)
        self.autostart_check = QCheckBox(self.tr("Start WZP when I log in (in the tray)"))
        self.autostart_check.setChecked(bool(self.autostart))
        self.autostart_check.setVisible(self.autostart is not None)
        if self.autostart is not None:
            form.addRow(self.tr("Start"), self.autostart_check)
        return tab

    # ------------------------------------------------------------------ relays

    def _relays_tab(self, hosted_relay_info: str) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.host_check = QCheckBox(self.tr("Host a relay on this computer and use it"))
        self.host_check.setChecked(self.settings.host_relay)
        self.host_check.toggled.connect(self._refresh_relays)
        self.host_info = QLabel(hosted_relay_info)
        self.host_info.setWordWrap(True)
        self.relay_list = QListWidget()
        self.relay_list.setAccessibleName(self.tr("Relays you use"))
        # One entry is one relay service: an address, or its nodes' addresses (tried in order when one fails).
        self.relay_field = QPlainTextEdit()
        self.relay_field.setAccessibleName(self.tr("Relay addresses to add"))
        self.relay_field.setPlaceholderText(self.tr(
            "e.g. relay.example.org or 192.168.1.20:4433\n"
            "A service with several nodes: one address per line, or separated by commas"
        ))
        self.relay_field.setTabChangesFocus(True)
        self.relay_field.setFixedHeight(self.relay_field.fontMetrics().lineSpacing() * 3 + 14)
        self.relay_field.textChanged.connect(self._validate_relay)
        self.relay_add = QPushButton(self.tr("Add"))
        self.relay_add.setToolTip(self.tr("Add these addresses as one relay (Ctrl+Enter)"))
        self.relay_add.clicked.connect(self._add_relay)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self.relay_field)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self._add_relay)
        self.relay_remove = QPushButton(self.tr("Remove"))
        self.relay_remove.clicked.connect(self._remove_relay)
        self.relay_use = QPushButton(self.tr("Use this relay"))
        self.relay_use.clicked.connect(self._use_relay)
        self.relay_error = ErrorLabel()
        add_row = QHBoxLayout()
        add_row.addWidget(self.relay_field, 1)
        add_row.addWidget(self.relay_add, 0, Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.relay_remove)
        row.addWidget(self.relay_use)
        layout.addWidget(self.host_check)
        layout.addWidget(self.host_info)
        layout.addWidget(QLabel(self.tr("Relays you use:")))
        layout.addWidget(self.relay_list, 1)
        layout.addLayout(row)
        layout.addLayout(add_row)
        layout.addWidget(self.relay_error)
        self._refresh_relays()
        self._validate_relay()
        return tab

    def _refresh_relays(self) -> None:
        self.relay_list.clear()
        hosting = self.host_check.isChecked()
        for relay in self.settings.relays:
            in_use = relay == self.settings.selected_relay and not hosting
            nodes = service_nodes(relay) or [relay]
            shown = ", ".join(nodes)
            item = QListWidgetItem(self.tr("{relay}   (in use)").format(relay=shown) if in_use else shown)
            item.setData(Qt.ItemDataRole.UserRole, relay)
            if len(nodes) > 1:
                item.setToolTip(self.tr("One relay service with {count} nodes, tried in this order").format(
                    count=len(nodes)
                ))
            if in_use:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.relay_list.addItem(item)
        self.relay_list.setEnabled(not hosting)
        self.relay_use.setEnabled(not hosting)
        self.host_info.setVisible(hosting and bool(self.host_info.text()))

    def _validate_relay(self) -> str:
        """One sentence per bad entry ("" when every entry is a relay address)."""
        text = self.relay_field.toPlainText()
        nodes, errors = parse_relay_list(text)
        lines = [
            self.tr("“{entry}” (entry {index}): {reason}.").format(entry=e.text, index=e.index, reason=e.reason)
            for e in errors
        ]
        error = "\n".join(lines)
        self.relay_error.set_error(error)
        self.relay_add.setEnabled(bool(nodes) and not error)
        return error

    def _add_relay(self) -> None:
        nodes, errors = parse_relay_list(self.relay_field.toPlainText())
        if not nodes or errors:
            self._validate_relay()
            return
        self.settings.add_relay(join_nodes(nodes))
        self.relay_field.clear()
        self._refresh_relays()

    def _current_relay(self) -> str:
        item = self.relay_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _remove_relay(self) -> None:
        relay = self._current_relay()
        if relay:
            self.settings.remove_relay(relay)
            self._refresh_relays()

    def _use_relay(self) -> None:
        relay = self._current_relay()
        if relay:
            self.settings.selected_relay = relay
            self._refresh_relays()

    # ------------------------------------------------------------------- audio

    def _audio_tab(self, audio_enabled: bool) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.input_combo = QComboBox()
        self.output_combo = QComboBox()
        problem = fill_device_combo(self.input_combo, "input", self.settings.input_device)
        problem = fill_device_combo(self.output_combo, "output", self.settings.output_device) or problem
        self.mic_meter = LevelMeter()
        self.mic_test = QPushButton("Test microphone")
        self.mic_test.setCheckable(True)
        self.mic_test.toggled.connect(self._toggle_mic_test)
        self.speaker_test = QPushButton("Play test tone")
        self.speaker_test.clicked.connect(self._play_tone)
        self.audio_status = QLabel(problem if audio_enabled else "Audio is turned off for this session.")
        self.audio_status.setWordWrap(True)
        self.mic_tester = MicTester(self)
        self.mic_tester.level.connect(self.mic_meter.set_level_db)
        self.mic_tester.problem.connect(self.audio_status.setText)
        self.speaker_tester = SpeakerTester(self)
        self.speaker_tester.problem.connect(self.audio_status.setText)
        self.speaker_tester.finished.connect(lambda: self.speaker_test.setEnabled(True))
        mic_row = QHBoxLayout()
        mic_row.addWidget(self.input_combo, 1)
        mic_row.addWidget(self.mic_test)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_combo, 1)
        out_row.addWidget(self.speaker_test)
        # The microphone's processing on the device path (the microphone test goes through it too).
        self.aec_check = QCheckBox(self.tr("Echo cancellation (not needed with a headset; harmless)"))
        self.ns_check = QCheckBox(self.tr("Noise suppression"))
        self.agc_check = QCheckBox(self.tr("Automatic gain control"))
        for check, on in (
            (self.aec_check, self.settings.echo_cancellation),
            (self.ns_check, self.settings.noise_suppression),
            (self.agc_check, self.settings.gain_control),
        ):
            check.setChecked(on)
        processing_box = QVBoxLayout()
        for check in (self.aec_check, self.ns_check, self.agc_check):
            processing_box.addWidget(check)
        self.bitrate_combo = QComboBox()
        for rate in BITRATES:
            self.bitrate_combo.addItem(f"{rate // 1000} kbit/s" + ("  (default)" if rate == 24_000 else ""), rate)
        index = self.bitrate_combo.findData(self.settings.bitrate)
        if index < 0:
            self.bitrate_combo.addItem(f"{self.settings.bitrate // 1000} kbit/s", self.settings.bitrate)
            index = self.bitrate_combo.count() - 1
        self.bitrate_combo.setCurrentIndex(index)
        form.addRow("Microphone", mic_row)
        form.addRow("Level", self.mic_meter)
        form.addRow("Speaker", out_row)
        form.addRow("Quality", self.bitrate_combo)
        form.addRow("Processing", processing_box)
        form.addRow("", self.audio_status)
        for w in (self.input_combo, self.output_combo, self.mic_test, self.speaker_test):
            w.setEnabled(audio_enabled)
        return tab

    def _toggle_mic_test(self, on: bool) -> None:
        if on:
            processing = ProcessingConfig(
                self.aec_check.isChecked(), self.ns_check.isChecked(), self.agc_check.isChecked()
            )
            device, speaker = str(self.input_combo.currentData() or ""), str(self.output_combo.currentData() or "")
            if not self.mic_tester.start(device, output_device=speaker, processing=processing):
                self.mic_test.setChecked(False)
            else:
                self.mic_test.setText("Stop test")
        else:
            self.mic_tester.stop()
            self.mic_test.setText("Test microphone")

    def _play_tone(self) -> None:
        if self.speaker_tester.start(str(self.output_combo.currentData() or "")):
            self.speaker_test.setEnabled(False)

    def _stop_tests(self) -> None:
        self.mic_tester.stop()
        self.speaker_tester.stop()

    # ----------------------------------------------------------------- network

    def _network_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        intro = QLabel(self.tr(
            "Checks how your router maps connections, from what two relay addresses see. "
            "Cone NAT: direct calls usually work. Symmetric NAT: calls usually go through the relay."
        ))
        intro.setWordWrap(True)
        self.nat_button = QPushButton(self.tr("Detect NAT type"))
        self.nat_button.clicked.connect(self._detect_nat)
        self.nat_button.setEnabled(self.detect_nat is not None)
        self.nat_result = QPlainTextEdit()
        self.nat_result.setReadOnly(True)
        self.nat_result.setPlaceholderText(
            self.tr("Not checked yet.") if self.detect_nat else self.tr("Connect to a relay first.")
        )
        row = QHBoxLayout()
        row.addWidget(self.nat_button)
        row.addStretch(1)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.nat_result, 1)
        return tab

    def _detect_nat(self) -> None:
        if self.detect_nat is None:
            return
        self.nat_button.setEnabled(False)
        self.nat_result.setPlainText(self.tr("Probing…"))
        detect = self.detect_nat

        async def run() -> None:
            try:
                report = await detect()
                self.nat_result.setPlainText(nat_report_text(report))
            except Exception as exc:
                log.warning("NAT detection failed: %s", exc)
                self.nat_result.setPlainText(self.tr("The check could not run: {error}").format(error=exc))
            finally:
                self.nat_button.setEnabled(True)

        self.tasks.run(run(), what="detect the NAT type")

    # ----------------------------------------------------------------- blocked

    def _blocked_tab(self, blocks: BlocksModel) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        intro = QLabel(self.tr(
            "Calls from these people are declined without ringing; they only see that you declined. "
            "Unblocking takes effect at once."
        ))
        intro.setWordWrap(True)
        self.blocked_list = QListWidget()
        self.blocked_list.setSpacing(2)
        self.blocked_list.setIconSize(QSize(28, 28))
        self.blocked_list.itemSelectionChanged.connect(self._blocked_selected)
        self.blocked_empty = QLabel(self.tr(
            "Nobody is blocked. To block someone, right-click them in your contacts, the online list or "
            "the history, or press Block… when they call."
        ))
        self.blocked_empty.setWordWrap(True)
        self.unblock_button = QPushButton(self.tr("Unblock"))
        self.unblock_button.clicked.connect(self._unblock)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.unblock_button)
        layout.addWidget(intro)
        layout.addWidget(self.blocked_empty)
        layout.addWidget(self.blocked_list, 1)
        layout.addLayout(row)
        blocks.changed.connect(self._refresh_blocked)
        self.finished.connect(lambda _r: self._disconnect_blocks())
        self._refresh_blocked()
        return tab

    def _refresh_blocked(self) -> None:
        if self.blocks is None:
            return
        current = self._current_blocked()
        self.blocked_list.clear()
        people = self.blocks.people()
        for person in people:
            note = "  ·  in your contacts" if person.contact else ""
            text = f"{person.name}\n{person.fingerprint}{note}"
            item = QListWidgetItem(identicon_icon(person.fingerprint, 32), text)
            item.setData(Qt.ItemDataRole.UserRole, person.fingerprint)
            item.setToolTip(person.fingerprint)
            self.blocked_list.addItem(item)
            if person.fingerprint == current:
                self.blocked_list.setCurrentItem(item)
        self.blocked_empty.setVisible(not people)
        self.blocked_list.setVisible(bool(people))
        self._blocked_selected()

    def _current_blocked(self) -> str:
        item = self.blocked_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _blocked_selected(self) -> None:
        self.unblock_button.setEnabled(bool(self._current_blocked()))

    def _unblock(self) -> None:
        fp = self._current_blocked()
        if fp and self.blocks is not None:
            self.blocks.unblock(fp)

    def _disconnect_blocks(self) -> None:
        if self.blocks is None:
            return
        try:
            self.blocks.changed.disconnect(self._refresh_blocked)
        except (RuntimeError, TypeError):
            pass

    # --------------------------------------------------------------------- log

    def _log_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setFont(fixed_font())
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlainText(self.log_buffer.text())
        self._show_last_log_line()
        self.log_buffer.emitter.line.connect(self._append_log)
        self.log_copy = QPushButton(self.tr("Copy"))
        self.log_copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.log_view.toPlainText()))
        self.log_save = QPushButton(self.tr("Save…"))
        self.log_save.setToolTip(self.tr("Save a copy of the whole log file, e.g. for a bug report"))
        self.log_save.clicked.connect(self.save_log_requested.emit)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.log_copy)
        row.addWidget(self.log_save)
        layout.addWidget(self.log_view, 1)
        layout.addLayout(row)
        self.finished.connect(lambda _r: self._disconnect_log())
        return tab

    def _append_log(self, line: str) -> None:
        self.log_view.appendPlainText(line)
        self.log_view.horizontalScrollBar().setValue(0)

    def _show_last_log_line(self) -> None:
        """Scrolled to the newest line, at its start (the end of a long line would hide every short one)."""
        self.log_view.moveCursor(QTextCursor.MoveOperation.End)
        self.log_view.moveCursor(QTextCursor.MoveOperation.StartOfBlock)
        self.log_view.horizontalScrollBar().setValue(0)

    def _disconnect_log(self) -> None:
        try:
            self.log_buffer.emitter.line.disconnect(self._append_log)
        except (RuntimeError, TypeError):
            pass

    # -------------------------------------------------------------------- save

    def _save(self) -> None:
        pending, errors = parse_relay_list(self.relay_field.toPlainText())
        if pending and not errors:
            self.settings.add_relay(join_nodes(pending))
        s = self.settings
        s.alias = " ".join(self.alias_field.text().split())
        s.privacy_default = str(self.privacy_combo.currentData())
        s.discoverable = self.discoverable_check.isChecked()
        s.host_relay = self.host_check.isChecked()
        s.input_device = str(self.input_combo.currentData() or "")
        s.output_device = str(self.output_combo.currentData() or "")
        s.bitrate = int(self.bitrate_combo.currentData())
        s.echo_cancellation = self.aec_check.isChecked()
        s.noise_suppression = self.ns_check.isChecked()
        s.gain_control = self.agc_check.isChecked()
        self.saved.emit(copy.deepcopy(s))
        if self.autostart is not None and self.autostart_check.isChecked() != self.autostart:
            self.autostart = self.autostart_check.isChecked()
            self.autostart_changed.emit(self.autostart)
        self.accept()
