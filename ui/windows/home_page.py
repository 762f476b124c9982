"""The idle page: the dialer, contacts, who is online, and the call history.

Contacts are added with the Add-contact dialog (a fingerprint or an invite link), edited there or in
the row under the list, and removed at once with an Undo note (no question first); a call in the
history is deleted the same way. "Clear history" asks first (it cannot be undone). The search field
(Ctrl+F) filters all three lists by name or fingerprint. Every row has a right-click menu.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, QEvent, QLocale, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
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
from app.identity.safety_code import safety_code
from app.lan.nearby import NearbyPeer
from app.storage import CallRecord, Contact
from ui.access import with_clear_button
from ui.models.blocks import BlocksModel
from ui.models.call import CallModel
from ui.models.contacts import ContactsModel
from ui.models.dialer import DialerModel
from ui.models.history import HistoryModel
from ui.sentences import format_duration, history_label, reason_label
from ui.theme import error_color
from ui.widgets.block_confirm import BlockConfirm
from ui.widgets.error_label import ErrorLabel
from ui.widgets.identicon import IdenticonWidget, identicon_icon
from ui.widgets.undo_bar import UndoBar
from ui.widgets.verify_box import VerifyBox
from ui.windows.contact_dialog import ContactDialog, ContactEntry

FP_ROLE = Qt.ItemDataRole.UserRole
ALIAS_ROLE = Qt.ItemDataRole.UserRole + 1
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2  # a history row's CallRecord.id


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


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in ": -")


def matches(query: str, *texts: str) -> bool:
    """Does a row with these texts (a name, a fingerprint...) match the search? Case and the separators
    people put in fingerprints (colons, spaces, dashes) do not count."""
    words = query.lower().split()
    if not words:
        return True
    haystack = " ".join(t.lower() for t in texts)
    compact = _compact(" ".join(texts))
    return all(w in haystack or (_compact(w) and _compact(w) in compact) for w in words)


class HomePage(QWidget):
    history_viewed = Signal()  # the History tab was brought up: its missed calls are seen
    copy_invite_requested = Signal()  # "Copy my invite link" on the empty contact list
    message = Signal(str)  # a sentence for the status line

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
        self.contact_dialog: ContactDialog | None = None
        self.verify_dialog: VerifyBox | None = None

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
        with_clear_button(self.dial_field)
        self.dial_field.setAccessibleName(self.tr("Fingerprint to call"))
        self.dial_field.textChanged.connect(dialer.set_text)
        self.dial_field.returnPressed.connect(self._call_dialed)
        self.dial_icon = IdenticonWidget("", 28)
        self.call_button = QPushButton(self.tr("Call"))
        self.call_button.setDefault(True)
        self.call_button.clicked.connect(self._call_dialed)
        self.save_dialed_button = QPushButton(self.tr("Add to contacts"))
        self.save_dialed_button.clicked.connect(self._save_dialed)
        self.dial_error = ErrorLabel()
        self.dial_error.setObjectName("dialError")
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
        self.contact_remove.setToolTip(self.tr("Remove from your contacts (you can undo it for a few seconds)"))
        self.contact_remove.clicked.connect(self._remove_contact)
        self.add_contact_button = QPushButton(self.tr("Add contact…"))
        self.add_contact_button.setToolTip(self.tr("Add someone by their fingerprint or invite link"))
        self.add_contact_button.clicked.connect(lambda: self.open_contact_dialog())
        self.contact_editor = QWidget()
        editor = QHBoxLayout(self.contact_editor)
        editor.setContentsMargins(0, 0, 0, 0)
        editor.addWidget(self.add_contact_button)
        editor.addSpacing(12)
        editor.addWidget(self.contact_name, 1)
        editor.addWidget(self.contact_trusted)
        editor.addWidget(self.contact_save)
        editor.addWidget(self.contact_call)
        editor.addWidget(self.contact_remove)
        self.contacts_empty = self._empty_contacts()
        self.contacts_no_match = QLabel()
        self.contacts_no_match.setTextFormat(Qt.TextFormat.PlainText)
        self.contacts_no_match.setWordWrap(True)
        contacts_tab = QWidget()
        cl = QVBoxLayout(contacts_tab)
        cl.addWidget(self.contacts_empty, 1)
        cl.addWidget(self.contacts_no_match)
        cl.addWidget(self.contact_list, 1)
        cl.addWidget(self.contact_editor)

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
        self.history_clear = QPushButton(self.tr("Clear history…"))
        self.history_clear.clicked.connect(self.ask_clear_history)
        self.clear_question: QMessageBox | None = None
        self.history_empty = QLabel()
        self.history_empty.setTextFormat(Qt.TextFormat.PlainText)
        self.history_empty.setWordWrap(True)
        history_tab = QWidget()
        hl = QVBoxLayout(history_tab)
        hl.addWidget(self.history_empty)
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

        # -- search over all three lists, in the tab row's corner
        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText(self.tr("Search (Ctrl+F)"))
        self.search_field.setAccessibleName(self.tr("Search contacts, people online and history"))
        self.search_field.setToolTip(self.tr("Filter the lists by name or fingerprint"))
        with_clear_button(self.search_field)
        self.search_field.setMinimumWidth(200)
        self.search_field.textChanged.connect(self._search_changed)
        corner = QWidget()  # margins keep the field inside the tab row (a bare corner widget is clipped)
        corner_layout = QHBoxLayout(corner)
        corner_layout.setContentsMargins(0, 0, 2, 3)
        corner_layout.addWidget(self.search_field)
        self.tabs.setCornerWidget(corner, Qt.Corner.TopRightCorner)
        self.search_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.search_shortcut.activated.connect(self.focus_search)

        self.undo_bar = UndoBar()

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
        layout.addWidget(self.undo_bar)

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

    def focus_search(self) -> None:
        self.search_field.setFocus()
        self.search_field.selectAll()

    @property
    def query(self) -> str:
        return self.search_field.text().strip()

    def _search_changed(self) -> None:
        self._refresh_contacts()
        self._refresh_online()
        self._refresh_history()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "undo_bar"):  # (not while building)
            # Rows coloured from the palette (missed calls, blocked people) take the new scheme's colours.
            self._refresh_online()
            self._refresh_history()

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    # ------------------------------------------------------------------ dialer

    def _refresh_dialer(self) -> None:
        d = self.dialer
        self.dial_error.set_error(d.error)
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

    def _empty_contacts(self) -> QFrame:
        """What an empty contact list says: how people find you, and how you add them."""
        box = QFrame()
        box.setObjectName("contactsEmpty")
        title = QLabel(self.tr("No contacts yet"))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        title.setFont(font)
        text = QLabel(self.tr(
            "Share your invite link so people can call you and add you, see who is on this network under "
            "Online now, or add someone whose fingerprint or invite link you have."
        ))
        text.setWordWrap(True)
        self.empty_invite_button = QPushButton(self.tr("Copy my invite link"))
        self.empty_invite_button.clicked.connect(self.copy_invite_requested.emit)
        self.empty_nearby_button = QPushButton(self.tr("Who is online or nearby"))
        self.empty_nearby_button.clicked.connect(lambda: self.tabs.setCurrentIndex(1))
        self.empty_add_button = QPushButton(self.tr("Add contact…"))
        self.empty_add_button.clicked.connect(lambda: self.open_contact_dialog())
        buttons = QHBoxLayout()
        for button in (self.empty_invite_button, self.empty_nearby_button, self.empty_add_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addLayout(buttons)
        layout.addStretch(2)
        return box

    def _item(self, fingerprint: str, text: str, alias: str = "") -> QListWidgetItem:
        item = QListWidgetItem(identicon_icon(fingerprint, 32), text)
        item.setData(FP_ROLE, fingerprint)
        item.setData(ALIAS_ROLE, alias)
        item.setToolTip(fingerprint)
        return item

    def _refresh_contacts(self) -> None:
        current = self.selected_contact()
        self.contact_list.blockSignals(True)
        self.contact_list.clear()
        query = self.query
        for c in self.contacts.contacts:
            name = self.contacts.display_name(c.fingerprint)
            if not matches(query, name, c.fingerprint):
                continue
            state = self.tr("online") if self.contacts.is_online(c.fingerprint) else self.tr("offline")
            tags = [state, self.tr("verified") if c.verified else self.tr("not verified")]
            if c.allow_direct:
                tags.append(self.tr("direct calls"))
            if self.blocks.is_blocked(c.fingerprint):
                tags.append(self.tr("blocked"))
            text = f"{name}\n{c.fingerprint}  ·  {', '.join(tags)}"
            self.contact_list.addItem(self._item(c.fingerprint, text))
        self.contact_list.blockSignals(False)
        empty = not self.contacts.contacts
        no_match = not empty and self.contact_list.count() == 0
        self.contacts_empty.setVisible(empty)
        self.contact_list.setVisible(not empty and not no_match)
        self.contact_editor.setVisible(not empty)
        self.contacts_no_match.setText(
            self.tr("No contact matches “{query}”.").format(query=query) if no_match else ""
        )
        self.contacts_no_match.setVisible(no_match)
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
            self.remove_contact(fp)

    def remove_contact(self, fingerprint: str) -> None:
        """Remove at once; the note under the lists offers Undo for a few seconds."""
        name = self.contacts.display_name(fingerprint)
        removed = self.contacts.remove(fingerprint)
        if removed is not None:
            self.undo_bar.show_undo(
                self.tr("Removed {name} from your contacts.").format(name=name), lambda: self._undo_remove(removed)
            )

    def _undo_remove(self, contact: Contact) -> None:
        self.contacts.restore(contact)
        self.tabs.setCurrentIndex(0)
        self._select_contact(contact.fingerprint)
        name = self.contacts.display_name(contact.fingerprint)
        self.message.emit(self.tr("{name} is back in your contacts.").format(name=name))

    def open_contact_dialog(self, fingerprint: str = "", text: str = "") -> None:
        """Add a contact (`text` pre-filled: a fingerprint or link), or edit `fingerprint`'s if they are one."""
        if self.contact_dialog is not None:
            self.contact_dialog.deleteLater()
        existing = self.contacts.get(fingerprint) if fingerprint else None
        self.contact_dialog = ContactDialog(
            self.dialer.own_fingerprint, existing=existing, find=self.contacts.get,
            text=text or (fingerprint if existing is None else ""), parent=self,
        )
        self.contact_dialog.saved.connect(self._contact_entered)
        self.contact_dialog.open()

    def _contact_entered(self, entry: ContactEntry) -> None:
        new = self.contacts.get(entry.fingerprint) is None
        if self.contacts.save(entry.fingerprint, entry.name, entry.allow_direct) is None:
            return
        if entry.relays:
            self.contacts.remember_relays(entry.fingerprint, entry.relays)
        self.search_field.clear()
        self.tabs.setCurrentIndex(0)
        self._select_contact(entry.fingerprint)
        self._refresh_dialer()
        text = self.tr("Added {name} to your contacts.") if new else self.tr("Saved {name}.")
        self.message.emit(text.format(name=entry.name))

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
        query = self.query
        for peer in nearby:
            contact = self.contacts.get(peer.fingerprint)
            name = self.contacts.display_name(peer.fingerprint, peer.alias) if (contact or peer.alias) else "(no name)"
            if not matches(query, name, peer.fingerprint):
                continue
            tags = [self.tr("nearby, on this network")] + ([self.tr("in your contacts")] if contact else [])
            text = f"{name}\n{peer.fingerprint}" + "".join(f"  ·  {t}" for t in tags)
            self.online_list.addItem(self._item(peer.fingerprint, text, peer.alias))
        for u in users:
            contact = self.contacts.get(u.fingerprint)
            known = contact is not None or display_alias(u.alias)
            name = self.contacts.display_name(u.fingerprint, u.alias) if known else "(no name)"
            if not matches(query, name, u.fingerprint):
                continue
            blocked = self.blocks.is_blocked(u.fingerprint)
            tags = ([self.tr("in your contacts")] if contact else []) + ([self.tr("blocked")] if blocked else [])
            text = f"{name}\n{u.fingerprint}" + "".join(f"  ·  {t}" for t in tags)
            item = self._item(u.fingerprint, text, u.alias)
            if blocked:  # shown (so they can be unblocked here), greyed out
                item.setForeground(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            self.online_list.addItem(item)
        count = len(users) + len(nearby)
        self.online_empty.setText(
            self.tr("Nobody online matches “{query}”.").format(query=query) if count and not self.online_list.count()
            else self.tr("Nobody else is online on this relay right now.")
        )
        self.online_empty.setVisible(not self.online_list.count())
        self.tabs.setTabText(
            1, self.tr("Online now ({count})").format(count=count) if count else self.tr("Online now")
        )

    # ----------------------------------------------------------------- history

    def _refresh_history(self) -> None:
        self.history_list.clear()
        query = self.query
        missed = error_color(self.palette())
        for r in self.history.records:
            name = self.contacts.display_name(r.peer_fingerprint, r.peer_alias)
            if not matches(query, name, r.peer_fingerprint):
                continue
            item = self._item(r.peer_fingerprint, history_text(r, name), r.peer_alias)
            item.setData(RECORD_ROLE, r.id)
            if r.direction == "missed":  # the row also starts with "Missed": not said by colour alone
                item.setForeground(missed)
            self.history_list.addItem(item)
        empty = self.history_list.count() == 0
        self.history_empty.setText(
            (self.tr("No call matches “{query}”.").format(query=query) if query else self.tr("No calls yet."))
            if empty else ""
        )
        self.history_empty.setVisible(empty)
        self.history_list.setVisible(not empty)
        self.history_clear.setEnabled(bool(self.history.records))

    def record_of(self, item: QListWidgetItem) -> CallRecord | None:
        record_id = item.data(RECORD_ROLE)
        return next((r for r in self.history.records if r.id == record_id), None)

    def delete_history_row(self, record: CallRecord) -> None:
        """Delete one call from the history at once; Undo puts it back."""
        name = self.contacts.display_name(record.peer_fingerprint, record.peer_alias)
        self.history.delete(record)
        self.undo_bar.show_undo(
            self.tr("Deleted the call with {name} from the history.").format(name=name),
            lambda: self.history.restore(record),
        )

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
        """The right-click menu of a row.

        Contacts: Call, Edit…, Verify…, Allow direct calls, Block…, Remove.
        History: Call back, Add to contacts (or Edit…), Block…, Delete.
        Online: Call, Add to contacts (or Edit…), Block…."""
        fp, alias = str(item.data(FP_ROLE)), str(item.data(ALIAS_ROLE) or "")  # the item may go on a refresh
        in_history = item.listWidget() is self.history_list
        in_contacts = item.listWidget() is self.contact_list
        record = self.record_of(item) if in_history else None
        menu = QMenu(self)
        call = menu.addAction(self.tr("Call back") if in_history else self.tr("Call"))
        call.setEnabled(not self.call.active)
        call.triggered.connect(lambda _checked=False: self.call.place_call(fp, alias))
        contact = self.contacts.get(fp)
        if contact is None:
            add = menu.addAction(self.tr("Add to contacts"))
            add.triggered.connect(lambda _checked=False: self._add(fp, alias))
        else:
            edit = menu.addAction(self.tr("Edit…"))
            edit.triggered.connect(lambda _checked=False: self.open_contact_dialog(fp))
            if in_contacts and not contact.verified:
                verify = menu.addAction(self.tr("Verify…"))
                verify.setToolTip(self.tr("Compare the safety code with them, then mark them verified."))
                verify.triggered.connect(lambda _checked=False: self.ask_verify(fp))
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
        if in_contacts:
            remove = menu.addAction(self.tr("Remove"))
            remove.triggered.connect(lambda _checked=False: self.remove_contact(fp))
        if record is not None:
            delete = menu.addAction(self.tr("Delete"))
            delete.setToolTip(self.tr("Delete this call from the history"))
            delete.triggered.connect(lambda _checked=False: self.delete_history_row(record))
        return menu

    def ask_verify(self, fingerprint: str) -> None:
        """Verify a contact outside a call: compare the safety code (in person, or on another channel you
        trust); only "The codes match" marks them verified."""
        contact = self.contacts.get(fingerprint)
        if contact is None:
            return
        code = safety_code(self.dialer.own_fingerprint, fingerprint)
        name = self.contacts.display_name(fingerprint)
        how = self.tr(
            "They see the same code under Verify… on their side, or on the call screen when you talk. "
            "Mark them verified only if every digit is the same."
        )
        box = VerifyBox(name, code, how, lambda: self.contacts.set_verified(fingerprint, True), self)
        if self.verify_dialog is not None:
            self.verify_dialog.deleteLater()
        self.verify_dialog = box
        box.open()

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
