"""The idle page: the dialer, contacts, who is online, and the call history."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, QLocale, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.identity.alias import display_alias
from app.lan.nearby import NearbyPeer
from app.storage import CallRecord
from ui.models.blocks import BlocksModel
from ui.models.call import CallModel
from ui.models.contacts import ContactsModel
from ui.models.dialer import DialerModel
from ui.models.history import HistoryModel
from ui.sentences import format_duration, history_label, reason_label
from ui.widgets.block_confirm import BlockConfirm
from ui.widgets.identicon import IdenticonWidget, identicon_pixmap

FP_ROLE = Qt.ItemDataRole.UserRole
ALIAS_ROLE = Qt.ItemDataRole.UserRole + 1


def _when(ts: float) -> str:
    """When a call was, in the user's locale: "today 14:05", "yesterday 09:12", or a short date and time."""
    moment = QDateTime.fromSecsSinceEpoch(int(ts))
    locale = QLocale()
    time_text = locale.toString(moment.time(), QLocale.FormatType.ShortFormat)
    days = moment.date().daysTo(QDate.currentDate())
    if days == 0:
        return QCoreApplication.translate("HomePage", "today {time}").format(time=time_text)
    if days == 1:
        return QCoreApplication.translate("HomePage", "yesterday {time}").format(time=time_text)
    return locale.toString(moment, QLocale.FormatType.ShortFormat)


def history_text(record: CallRecord, name: str) -> str:
    parts = [history_label(record.direction), name, _when(record.started_at)]
    if record.duration_s > 0:
        parts.append(format_duration(record.duration_s))
    else:
        reason = reason_label(record.reason)
        if reason and record.direction == "outgoing":
            parts.append(reason)
    return " · ".join(parts)


HISTORY_TAB = 2


class HomePage(QWidget):
    history_viewed = Signal()  # the History tab was brought up: its missed calls are seen

    def __init__(
        self,
        dialer: DialerModel,
        contacts: ContactsModel,
        history: HistoryModel,
        call: CallModel,
        blocks: BlocksModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.dialer, self.contacts, self.history, self.call = dialer, contacts, history, call
        self.blocks = blocks
        self.item_menu: QMenu | None = None  # the right-click menu of a person in a list
        self.block_confirm: BlockConfirm | None = None

        # -- banner: how the last call ended, or what went wrong
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # sentences carry names other people chose
        self.banner.setStyleSheet(
            "QLabel#banner { background: palette(alternate-base); border: 1px solid palette(mid);"
            " border-radius: 6px; padding: 8px; }"
        )
        self.banner.hide()

        # -- dialer
        self.dial_field = QLineEdit()
        self.dial_field.setPlaceholderText(self.tr(
            "Paste a fingerprint or a wzp: invite link to call"
        ))
        self.dial_field.setClearButtonEnabled(True)
        self.dial_field.setAccessibleName(self.tr("Fingerprint to call"))
        self.dial_field.textChanged.connect(dialer.set_text)
        self.dial_field.returnPressed.connect(self._call_dialed)
        self.dial_icon = IdenticonWidget("", 28)
        self.call_button = QPushButton(self.tr("Call"))
        self.call_button.setDefault(True)
        self.call_button.clicked.connect(self._call_dialed)
        self.save_dialed_button = QPushButton(self.tr("Add to contacts"))
        self.save_dialed_button.clicked.connect(self._save_dialed)
        self.dial_error = QLabel()
        self.dial_error.setObjectName("dialError")
        self.dial_error.setStyleSheet("color: #d33;")
        self.dial_error.setWordWrap(True)
        dial_row = QHBoxLayout()
        dial_row.addWidget(self.dial_icon)
        dial_row.addWidget(self.dial_field, 1)
        dial_row.addWidget(self.call_button)
        dial_row.addWidget(self.save_dialed_button)

        # -- contacts tab
        self.contact_list = QListWidget()
        self.contact_list.setSpacing(2)
        self.contact_list.setIconSize(QSize(28, 28))
        self.contact_list.itemSelectionChanged.connect(self._contact_selected)
        self.contact_list.itemDoubleClicked.connect(lambda item: self._call_item(item))
        self.contact_name = QLineEdit()
        self.contact_name.setPlaceholderText(self.tr("Name"))
        self.contact_name.returnPressed.connect(self._save_contact)
        self.contact_name.setAccessibleName(self.tr("Contact name"))
        self.contact_trusted = QCheckBox(self.tr("Allow direct calls"))
        self.contact_trusted.setToolTip(self.tr(
            "Calls with this contact may go directly between your computers, which shows them your IP address. "
            "This is separate from Verified (comparing the safety code during a call)."
        ))
        self.contact_trusted.toggled.connect(self._trusted_toggled)
        self.contact_save = QPushButton(self.tr("Save name"))
        self.contact_save.clicked.connect(self._save_contact)
        self.contact_call = QPushButton(self.tr("Call"))
        self.contact_call.clicked.connect(lambda: self._call_item(self.contact_list.currentItem()))
        self.contact_remove = QPushButton(self.tr("Remove"))
        self.contact_remove.clicked.connect(self._remove_contact)
        editor = QHBoxLayout()
        editor.addWidget(self.contact_name, 1)
        editor.addWidget(self.contact_trusted)
        editor.addWidget(self.contact_save)
        editor.addWidget(self.contact_call)
        editor.addWidget(self.contact_remove)
        self.contacts_empty = QLabel(self.tr(
            "No contacts yet. Call someone or pick a person who is online, then add them."
        ))
        self.contacts_empty.setWordWrap(True)
        contacts_tab = QWidget()
        cl = QVBoxLayout(contacts_tab)
        cl.addWidget(self.contacts_empty)
        cl.addWidget(self.contact_list, 1)
        cl.addLayout(editor)

        # -- online tab
        self.online_list = QListWidget()
        self.online_list.setSpacing(2)
        self.online_list.setIconSize(QSize(28, 28))
        self.online_list.itemDoubleClicked.connect(lambda item: self._call_item(item))
        self.online_call = QPushButton(self.tr("Call"))
        self.online_call.clicked.connect(lambda: self._call_item(self.online_list.currentItem()))
        self.online_add = QPushButton(self.tr("Add to contacts"))
        self.online_add.clicked.connect(lambda: self._add_item(self.online_list.currentItem()))
        self.online_empty = QLabel(self.tr("Nobody else is online on this relay right now."))
        online_tab = QWidget()
        ol = QVBoxLayout(online_tab)
        ol.addWidget(self.online_empty)
        ol.addWidget(self.online_list, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.online_add)
        row.addWidget(self.online_call)
        ol.addLayout(row)

        # -- history tab
        self.history_list = QListWidget()
        self.history_list.setSpacing(2)
        self.history_list.setIconSize(QSize(28, 28))
        self.history_list.itemDoubleClicked.connect(lambda item: self._call_item(item))
        self.redial_button = QPushButton(self.tr("Call back"))
        self.redial_button.clicked.connect(lambda: self._call_item(self.history_list.currentItem()))
        self.history_add = QPushButton(self.tr("Add to contacts"))
        self.history_add.clicked.connect(lambda: self._add_item(self.history_list.currentItem()))
        self.history_clear = QPushButton(self.tr("Clear history"))
        self.history_clear.clicked.connect(self.ask_clear_history)
        self.clear_question: QMessageBox | None = None
        history_tab = QWidget()
        hl = QVBoxLayout(history_tab)
        hl.addWidget(self.history_list, 1)
        row = QHBoxLayout()
        row.addWidget(self.history_clear)
        row.addStretch(1)
        row.addWidget(self.history_add)
        row.addWidget(self.redial_button)
        hl.addLayout(row)

        self.tabs = QTabWidget()
        self.tabs.addTab(contacts_tab, self.tr("Contacts"))
        self.tabs.addTab(online_tab, self.tr("Online now"))
        self.tabs.addTab(history_tab, self.tr("History"))
        self.tabs.currentChanged.connect(lambda index: self.history_viewed.emit() if index == HISTORY_TAB else None)

        self.contact_list.setAccessibleName(self.tr("Contacts"))
        self.online_list.setAccessibleName(self.tr("People online"))
        self.history_list.setAccessibleName(self.tr("Call history"))
        for lst in (self.contact_list, self.online_list, self.history_list):
            lst.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            lst.customContextMenuRequested.connect(lambda pos, lst=lst: self._show_item_menu(lst, pos))

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(dial_row)
        layout.addWidget(self.dial_error)
        layout.addWidget(self.tabs, 1)

        dialer.changed.connect(self._refresh_dialer)
        contacts.changed.connect(self._refresh_contacts)
        contacts.changed.connect(self._refresh_online)
        contacts.changed.connect(self._refresh_history)
        history.changed.connect(self._refresh_history)
        blocks.changed.connect(self._refresh_contacts)
        blocks.changed.connect(self._refresh_online)
        call.changed.connect(self._refresh_dialer)
        self._refresh_dialer()
        self._refresh_contacts()
        self._refresh_online()
        self._refresh_history()

    # ------------------------------------------------------------------ banner

    def ask_clear_history(self) -> None:
        """"Clear history" asks first; Cancel is the default."""
        if not self.history.records:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("Clear history — WZP"))
        count = len(self.history.records)
        text = self.tr("Remove the one call in the history?") if count == 1 else self.tr(
            "Remove all {count} calls from the history?"
        )
        box.setText(text.format(count=count))
        box.setInformativeText(self.tr("Your contacts stay. This cannot be undone."))
        self.clear_confirm_button = box.addButton(self.tr("Clear history"), QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.buttonClicked.connect(lambda button: self.history.clear() if button is self.clear_confirm_button else None)
        self.clear_question = box
        box.open()

    def set_missed_count(self, count: int) -> None:
        """Missed calls not seen yet, on the History tab: "History (2 missed)"."""
        text = self.tr("History ({count} missed)").format(count=count) if count else self.tr("History")
        self.tabs.setTabText(HISTORY_TAB, text)
        self.tabs.setTabToolTip(
            HISTORY_TAB, self.tr("{count} missed calls you have not seen").format(count=count) if count else ""
        )

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    # ------------------------------------------------------------------ dialer

    def _refresh_dialer(self) -> None:
        d = self.dialer
        self.dial_error.setText(d.error)
        self.dial_error.setVisible(bool(d.error))
        self.dial_icon.set_fingerprint(d.fingerprint or "")
        self.dial_icon.setVisible(d.valid)
        self.call_button.setEnabled(d.valid and not self.call.active)
        self.save_dialed_button.setEnabled(d.valid and self.contacts.get(d.fingerprint or "") is None)

    def _call_dialed(self) -> None:
        if self.dialer.fingerprint and not self.call.active:
            self.call.place_call(self.dialer.fingerprint, self.dialer.name, self.dialer.relays)

    def _save_dialed(self) -> None:
        fp = self.dialer.fingerprint
        if fp:
            self.contacts.save(fp, self.dialer.name)
            if self.dialer.relays:
                self.contacts.remember_relays(fp, self.dialer.relays)
            self.tabs.setCurrentIndex(0)
            self._select_contact(fp)
            self.contact_name.setFocus()
            self._refresh_dialer()

    # ---------------------------------------------------------------- contacts

    def _item(self, fingerprint: str, text: str, alias: str = "") -> QListWidgetItem:
        item = QListWidgetItem(QIcon(identicon_pixmap(fingerprint, 32)), text)
        item.setData(FP_ROLE, fingerprint)
        item.setData(ALIAS_ROLE, alias)
        item.setToolTip(fingerprint)
        return item

    def _refresh_contacts(self) -> None:
        current = self.selected_contact()
        self.contact_list.blockSignals(True)
        self.contact_list.clear()
        for c in self.contacts.contacts:
            state = "online" if self.contacts.is_online(c.fingerprint) else "offline"
            tags = [state, "verified" if c.verified else "not verified"] + (["direct calls"] if c.allow_direct else [])
            if self.blocks.is_blocked(c.fingerprint):
                tags.append("blocked")
            text = f"{self.contacts.display_name(c.fingerprint)}\n{c.fingerprint}  ·  {', '.join(tags)}"
            self.contact_list.addItem(self._item(c.fingerprint, text))
        self.contact_list.blockSignals(False)
        self.contacts_empty.setVisible(not self.contacts.contacts)
        if current:
            self._select_contact(current)
        self._contact_selected()

    def _select_contact(self, fingerprint: str) -> None:
        for i in range(self.contact_list.count()):
            if self.contact_list.item(i).data(FP_ROLE) == fingerprint:
                self.contact_list.setCurrentRow(i)
                return

    def selected_contact(self) -> str:
        item = self.contact_list.currentItem()
        return str(item.data(FP_ROLE)) if item is not None else ""

    def _contact_selected(self) -> None:
        fp = self.selected_contact()
        contact = self.contacts.get(fp) if fp else None
        for w in (self.contact_name, self.contact_trusted, self.contact_save, self.contact_call, self.contact_remove):
            w.setEnabled(contact is not None)
        self.contact_name.setText(contact.name if contact else "")
        self.contact_trusted.blockSignals(True)
        self.contact_trusted.setChecked(bool(contact and contact.trusted))
        self.contact_trusted.blockSignals(False)

    def _save_contact(self) -> None:
        fp = self.selected_contact()
        if fp:
            self.contacts.save(fp, self.contact_name.text())

    def _trusted_toggled(self, checked: bool) -> None:
        fp = self.selected_contact()
        if fp:
            self.contacts.set_trusted(fp, checked)

    def _remove_contact(self) -> None:
        fp = self.selected_contact()
        if fp:
            self.contacts.remove(fp)

    # ------------------------------------------------------------------ online

    def set_nearby(self, peers: list[NearbyPeer]) -> None:
        """People announcing themselves on this network (Nearby): listed with the relay's online users."""
        self.nearby_peers = list(peers)
        self._refresh_online()

    def _refresh_online(self) -> None:
        self.online_list.clear()
        users = self.contacts.online_users()
        online = {u.fingerprint for u in users}
        nearby = [p for p in getattr(self, "nearby_peers", []) if p.fingerprint not in online]
        for peer in nearby:
            contact = self.contacts.get(peer.fingerprint)
            name = self.contacts.display_name(peer.fingerprint, peer.alias) if (contact or peer.alias) else "(no name)"
            tags = [self.tr("nearby, on this network")] + ([self.tr("in your contacts")] if contact else [])
            text = f"{name}\n{peer.fingerprint}" + "".join(f"  ·  {t}" for t in tags)
            self.online_list.addItem(self._item(peer.fingerprint, text, peer.alias))
        for u in users:
            contact = self.contacts.get(u.fingerprint)
            known = contact is not None or display_alias(u.alias)
            name = self.contacts.display_name(u.fingerprint, u.alias) if known else "(no name)"
            blocked = self.blocks.is_blocked(u.fingerprint)
            tags = (["in your contacts"] if contact else []) + (["blocked"] if blocked else [])
            text = f"{name}\n{u.fingerprint}" + "".join(f"  ·  {t}" for t in tags)
            item = self._item(u.fingerprint, text, u.alias)
            if blocked:  # shown (so they can be unblocked here), greyed out
                item.setForeground(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            self.online_list.addItem(item)
        count = len(users) + len(nearby)
        self.online_empty.setVisible(not count)
        self.tabs.setTabText(
            1, self.tr("Online now ({count})").format(count=count) if count else self.tr("Online now")
        )

    # ----------------------------------------------------------------- history

    def _refresh_history(self) -> None:
        self.history_list.clear()
        for r in self.history.records:
            name = self.contacts.display_name(r.peer_fingerprint, r.peer_alias)
            item = self._item(r.peer_fingerprint, history_text(r, name), r.peer_alias)
            if r.direction == "missed":
                item.setForeground(Qt.GlobalColor.red)
            self.history_list.addItem(item)

    # ---------------------------------------------------------------- shared

    def _call_item(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.call.place_call(str(item.data(FP_ROLE)), str(item.data(ALIAS_ROLE) or ""))

    def _add_item(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self._add(str(item.data(FP_ROLE)), str(item.data(ALIAS_ROLE) or ""))

    def _add(self, fp: str, alias: str) -> None:
        if self.contacts.get(fp) is None:
            # The alias only pre-fills the name field; the user keeps or edits it (cleaned first).
            self.contacts.save(fp, display_alias(alias))
        self.tabs.setCurrentIndex(0)
        self._select_contact(fp)

    # ------------------------------------------------------ right-click menus

    def item_menu_for(self, item: QListWidgetItem) -> QMenu:
        """The right-click menu of a person in any of the lists: Call, Add to contacts, Block… / Unblock."""
        fp, alias = str(item.data(FP_ROLE)), str(item.data(ALIAS_ROLE) or "")  # the item may go on a refresh
        menu = QMenu(self)
        call = menu.addAction(self.tr("Call"))
        call.setEnabled(not self.call.active)
        call.triggered.connect(lambda _checked=False: self.call.place_call(fp, alias))
        contact = self.contacts.get(fp)
        if contact is None:
            add = menu.addAction(self.tr("Add to contacts"))
            add.triggered.connect(lambda _checked=False: self._add(fp, alias))
        else:
            direct = menu.addAction(self.tr("Allow direct calls"))
            direct.setCheckable(True)
            direct.setChecked(contact.allow_direct)
            direct.setToolTip(self.tr("Direct calls show this contact your IP address."))
            direct.toggled.connect(lambda on: self.contacts.set_allow_direct(fp, on))
            if contact.verified:
                unverify = menu.addAction(self.tr("Mark as not verified"))
                unverify.triggered.connect(lambda _checked=False: self.contacts.set_verified(fp, False))
        menu.addSeparator()
        if self.blocks.is_blocked(fp):
            unblock = menu.addAction(self.tr("Unblock"))
            unblock.triggered.connect(lambda _checked=False: self.blocks.unblock(fp, alias))
        else:
            block = menu.addAction(self.tr("Block…"))
            block.triggered.connect(lambda _checked=False: self.ask_block(fp, alias))
        return menu

    def _show_item_menu(self, lst: QListWidget, pos: QPoint) -> None:
        item = lst.itemAt(pos)
        if item is None:
            return
        lst.setCurrentItem(item)
        if self.item_menu is not None:
            self.item_menu.deleteLater()
        self.item_menu = self.item_menu_for(item)
        self.item_menu.popup(lst.viewport().mapToGlobal(pos))

    def ask_block(self, fingerprint: str, alias: str = "") -> None:
        """Ask "Block X?"; blocks them if the user says so."""
        if self.block_confirm is not None:
            self.block_confirm.deleteLater()
        name = self.blocks.name(fingerprint, alias)
        self.block_confirm = BlockConfirm(fingerprint, name, self.blocks.confirmation(name), self)
        self.block_confirm.confirmed.connect(lambda fp: self.blocks.block(fp, alias))
        self.block_confirm.open()
