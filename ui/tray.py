"""The system tray icon: status in the tooltip, quick actions, and notifications."""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ui.models.call import IN_CALL, CallModel
from ui.models.relay_status import RelayStatusModel

log = logging.getLogger(__name__)


class Tray(QObject):
    show_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self, icon: QIcon, relay: RelayStatusModel, call: CallModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.relay, self.call = relay, call
        self.base_icon = icon
        self.missed = 0
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.menu = QMenu()
        self.status_action = QAction("", self.menu)
        self.status_action.setEnabled(False)
        self.show_action = QAction(self.tr("Show WZP"), self.menu)
        self.show_action.triggered.connect(self.show_requested.emit)
        self.mute_action = QAction(self.tr("Mute"), self.menu)
        self.mute_action.setCheckable(True)
        self.mute_action.toggled.connect(lambda on: call.set_muted(on) if call.muted != on else None)
        self.hangup_action = QAction(self.tr("Hang up"), self.menu)
        self.hangup_action.triggered.connect(call.hang_up)
        self.settings_action = QAction(self.tr("Settings…"), self.menu)
        self.settings_action.triggered.connect(self.settings_requested.emit)
        self.quit_action = QAction(self.tr("Quit WZP"), self.menu)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        for action in (self.status_action, None, self.show_action, self.mute_action, self.hangup_action,
                       self.settings_action, None, self.quit_action):
            if action is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(action)
        self.icon = QSystemTrayIcon(icon)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        relay.changed.connect(self.refresh)
        call.changed.connect(self.refresh)
        self.refresh()
        if self.available:
            self.icon.show()
        else:
            log.info("no system tray on this desktop; notifications go to the status line only")

    def refresh(self) -> None:
        if self.call.active:
            status = f"{self.call.status_text} {self.call.peer_name}".strip()
        else:
            status = self.relay.text
        self.status_action.setText(status.replace("&", "&&"))  # a "&" in a peer's alias is no shortcut
        missed = ""
        if self.missed:
            text = self.tr("1 missed call") if self.missed == 1 else self.tr("{count} missed calls")
            missed = " · " + text.format(count=self.missed)
        self.icon.setToolTip(f"WZP — {status}{missed}")
        in_call = self.call.state == IN_CALL
        self.mute_action.setEnabled(in_call)
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(self.call.muted)
        self.mute_action.blockSignals(False)
        self.hangup_action.setEnabled(self.call.active)

    def set_missed_count(self, count: int) -> None:
        """Missed calls not seen yet: a number on the tray icon, and in its tooltip."""
        if count == self.missed:
            return
        self.missed = count
        self.icon.setIcon(badged_icon(self.base_icon, count) if count else self.base_icon)
        self.refresh()

    def notify(self, title: str, text: str) -> None:
        if self.available and QSystemTrayIcon.supportsMessages():
            # Notification servers may render a subset of HTML in the body; a peer's alias is text.
            body = html.escape(text, quote=False) if ("<" in text or "&" in text) else text
            self.icon.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 10_000)
        else:
            log.info("notification: %s: %s", title, text)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_requested.emit()

    def hide(self) -> None:
        self.icon.hide()


def badged_icon(icon: QIcon, count: int, size: int = 64) -> QIcon:
    """`icon` with a red disc holding `count` (9+ above nine) in its top-right corner."""
    pixmap = icon.pixmap(size, size)
    if pixmap.isNull():
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    disc = QRectF(size * 0.46, 0, size * 0.54, size * 0.54)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(220, 38, 38))
    painter.drawEllipse(disc)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.36))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, str(count) if count < 10 else "9+")
    painter.end()
    return QIcon(pixmap)
