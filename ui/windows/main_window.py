"""The main window: a menu, you, the relay line, then the home page or the call page; a status line at the bottom.

Closing the window does not quit by itself: it asks the app (`close_requested`),
which hides it to the tray where there is one. Quit is explicit (menu, Ctrl+Q, tray).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import app
from ui.models.blocks import BlocksModel
from ui.models.call import IN_CALL, INCOMING, CallModel
from ui.models.contacts import ContactsModel
from ui.models.dialer import DialerModel
from ui.models.history import HistoryModel
from ui.models.relay_status import RelayStatusModel
from ui.widgets.identity_card import IdentityCard
from ui.widgets.relay_bar import RelayBar
from ui.windows.call_page import CallPage
from ui.windows.home_page import HomePage

STATUS_MS = 8000


class MainWindow(QMainWindow):
    settings_requested = Signal()
    close_requested = Signal()  # the window's close button: the app hides or quits
    quit_requested = Signal()  # Quit in the menu, Ctrl+Q
    activated = Signal()  # the window became the active one
    save_log_requested = Signal()  # Help > Save log…

    def __init__(
        self,
        *,
        fingerprint: str,
        alias: str,
        relay: RelayStatusModel,
        dialer: DialerModel,
        contacts: ContactsModel,
        history: HistoryModel,
        call: CallModel,
        blocks: BlocksModel,
        audio_enabled: bool,
        icon: QIcon,
        title_suffix: str = "",
    ) -> None:
        super().__init__()
        self.call = call
        self.allow_close = False  # set by the app when it quits: then closing really closes
        self.setWindowTitle(self.tr("WZP") + (f" — {title_suffix}" if title_suffix else ""))
        self.setWindowIcon(icon)
        self.identity = IdentityCard(fingerprint, alias, icon_size=44)
        self.settings_button = QPushButton(self.tr("Settings"))
        self.settings_button.clicked.connect(self.settings_requested.emit)
        top = QHBoxLayout()
        top.addWidget(self.identity, 1)
        self.about_button = QPushButton(self.tr("About"))
        self.about_button.clicked.connect(self.show_about)
        top.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.about_button, 0, Qt.AlignmentFlag.AlignTop)
        self.relay_bar = RelayBar(relay)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        self.home = HomePage(dialer, contacts, history, call, blocks)
        self.call_page = CallPage(call, audio_enabled=audio_enabled)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.home)
        self.pages.addWidget(self.call_page)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.relay_bar)
        layout.addWidget(line)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.statusBar().setSizeGripEnabled(True)
        self.resize(760, 620)
        self._build_menu()

        call.changed.connect(self._on_call_changed)
        call.ended.connect(self.home.show_banner)
        call.message.connect(self.show_message)
        self.home.message.connect(self.show_message)
        self.home.copy_invite_requested.connect(self.copy_invite)
        self._on_call_changed()

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu(self.tr("&WZP"))
        self.new_call_action = QAction(self.tr("&New call"), self)
        self.new_call_action.setShortcut(QKeySequence("Ctrl+N"))
        self.new_call_action.triggered.connect(self.focus_dialer)
        self.settings_action = QAction(self.tr("&Settings…"), self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.settings_requested.emit)
        self.quit_action = QAction(self.tr("&Quit WZP"), self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.quit_requested.emit)
        self.add_contact_action = QAction(self.tr("&Add contact…"), self)
        self.add_contact_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.add_contact_action.triggered.connect(lambda: self.home.open_contact_dialog())
        menu.addAction(self.new_call_action)
        menu.addAction(self.add_contact_action)
        menu.addAction(self.settings_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.about_action = QAction(self.tr("&About WZP"), self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        self.save_log_action = QAction(self.tr("Save &log…"), self)
        self.save_log_action.setToolTip(self.tr("Save a copy of WZP's log, e.g. for a bug report"))
        self.save_log_action.triggered.connect(self.save_log_requested.emit)
        help_menu.addAction(self.save_log_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)
        for action in (self.new_call_action, self.add_contact_action, self.settings_action, self.quit_action):
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

    def focus_dialer(self) -> None:
        if self.call.active:
            self.show_message(self.tr("You are in a call. Hang up first."))
            return
        self.home.tabs.setCurrentIndex(0)
        self.home.dial_field.setFocus()
        self.home.dial_field.selectAll()

    def copy_invite(self) -> None:
        if self.identity.invite_provider is None:
            return
        self.identity.copy_invite()
        self.show_message(self.tr("Your invite link is copied. Send it to people who will call you."))

    def open_link(self, text: str) -> None:
        """Open a link handed to the app (a second launch, the command line, the OS URL handler): it goes into
        the dialer, which reads the `wzp:` invite (who, where, their name) and offers Call and Save as contact."""
        self.home.dial_field.setText(text.strip()[:1000])
        if not self.call.active:
            self.home.dial_field.setFocus()

    def about_text(self) -> str:
        return self.tr(
            "<b>WZP Desktop {version}</b><br>End-to-end encrypted voice calls, "
            "peer to peer over QUIC when possible, via a relay when not."
        ).format(version=app.__version__)

    def show_about(self) -> None:
        QMessageBox.about(self, self.tr("About WZP"), self.about_text())

    @property
    def on_call_page(self) -> bool:
        return self.pages.currentWidget() is self.call_page

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def show_problem(self, text: str) -> None:
        """A sentence about something that went wrong: in the banner while idle, else the status line."""
        if self.call.active:
            self.show_message(text)
        else:
            self.home.show_banner(text)

    def _on_call_changed(self) -> None:
        show_call = self.call.active and self.call.state != INCOMING
        page = self.call_page if show_call else self.home
        if self.pages.currentWidget() is not page:
            if show_call:
                self.home.show_banner("")
                self.call_page.reload_devices()
            self.pages.setCurrentWidget(page)
            if show_call:
                self.call_page.hangup_button.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if self.on_call_page:
            if key == Qt.Key.Key_M and not mods and self.call.state == IN_CALL:
                self.call.toggle_mute()
                return
            if key == Qt.Key.Key_Escape or (key == Qt.Key.Key_W and mods & Qt.KeyboardModifier.ControlModifier):
                self.call.hang_up()
                return
        super().keyPressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.activated.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            super().closeEvent(event)
            return
        event.ignore()
        self.close_requested.emit()
