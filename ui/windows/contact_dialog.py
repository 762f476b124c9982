"""Add a contact (name, and a fingerprint or a `wzp:` invite link) or edit one (name, direct calls).

The link fills in the name (the one it carries, cleaned) and where to reach them (its relays). What is
typed is checked as it is typed: an inline sentence says what is wrong, and Save stays off until it is
right, so nothing invalid is ever saved. Opened with `open()`, never exec'd (the asyncio loop keeps going).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.identity.alias import display_alias
from app.invite import InviteError, looks_like_invite, parse_target
from app.storage import Contact
from ui.access import with_clear_button
from ui.fonts import fixed_font
from ui.widgets.error_label import ErrorLabel
from ui.widgets.identicon import IdenticonWidget


@dataclass(frozen=True)
class ContactEntry:
    """What the dialog saves."""

    fingerprint: str
    name: str
    allow_direct: bool
    relays: tuple[str, ...]  # from an invite link: where to reach them (empty when typed as a fingerprint)


class ContactDialog(QDialog):
    saved = Signal(object)  # ContactEntry

    def __init__(
        self,
        own_fingerprint: str,
        *,
        existing: Contact | None = None,
        find: Callable[[str], Contact | None] = lambda _fp: None,
        text: str = "",
        parent: QWidget | None = None,
    ) -> None:
        """`existing`: edit this contact (its fingerprint is fixed); else add one, `text` pre-filled.
        `find` says whether a fingerprint is a contact already (adding them twice is refused)."""
        super().__init__(parent)
        self.own_fingerprint = own_fingerprint
        self.existing = existing
        self.find = find
        self.fingerprint: str | None = existing.fingerprint if existing else None
        self.relays: tuple[str, ...] = existing.relays if existing else ()
        self._target_error = ""
        self._name_from_link = ""  # the name the last link filled in (replaced by the next link, unless edited)
        self.setWindowTitle(self.tr("Edit contact — WZP") if existing else self.tr("Add contact — WZP"))

        self.target_field = QLineEdit()
        self.target_field.setAccessibleName(self.tr("Fingerprint or invite link"))
        self.target_field.setPlaceholderText(self.tr("Paste their fingerprint or wzp: invite link"))
        with_clear_button(self.target_field)
        self.target_field.setFont(fixed_font())
        self.icon = IdenticonWidget("", 40)
        self.name_field = QLineEdit()
        self.name_field.setAccessibleName(self.tr("Contact name"))
        self.name_field.setPlaceholderText(self.tr("How you call them, e.g. Ada"))
        self.name_field.setMaxLength(64)
        self.relays_label = QLabel()
        self.relays_label.setWordWrap(True)
        self.relays_label.setTextFormat(Qt.TextFormat.PlainText)
        self.direct_check = QCheckBox(self.tr("Allow direct calls"))
        self.direct_check.setToolTip(self.tr(
            "Calls with this contact may go directly between your computers, which shows them your IP address."
        ))
        self.error_label = ErrorLabel()
        self.error_label.setObjectName("contactError")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        target_row = QHBoxLayout()
        target_row.addWidget(self.target_field, 1)
        target_row.addWidget(self.icon)
        target_label = QLabel(self.tr("&Fingerprint or link:"))
        target_label.setBuddy(self.target_field)
        form.addRow(target_label, target_row)
        name_label = QLabel(self.tr("&Name:"))
        name_label.setBuddy(self.name_field)
        form.addRow(name_label, self.name_field)
        form.addRow("", self.relays_label)
        form.addRow("", self.direct_check)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        if existing is not None:
            self.target_field.setText(existing.fingerprint)
            self.target_field.setReadOnly(True)
            self.target_field.setClearButtonEnabled(False)
            self.name_field.setText(existing.name)
            self.direct_check.setChecked(existing.allow_direct)
            self.icon.set_fingerprint(existing.fingerprint)
        else:
            self.target_field.textChanged.connect(self._target_changed)
            self.target_field.setText(text)
        self.name_field.textChanged.connect(lambda _t: self._validate())
        self.name_field.returnPressed.connect(self._save)
        self.target_field.returnPressed.connect(self._save)
        self._show_relays()
        self._validate()
        self.resize(560, self.sizeHint().height())
        (self.name_field if existing is not None else self.target_field).setFocus()

    # -------------------------------------------------------------- checking

    def _target_changed(self, text: str) -> None:
        self.fingerprint, self.relays = None, ()
        self._target_error = ""
        if text.strip():
            try:
                target = parse_target(text)
            except InviteError as exc:
                reason = str(exc)  # from app.invite, in English
                if looks_like_invite(text):
                    self._target_error = f"{reason[:1].upper()}{reason[1:]}."
                else:
                    self._target_error = self.tr("This is not a fingerprint: {error}.").format(error=reason)
                if self._name_from_link and self.name_field.text() == self._name_from_link:
                    self.name_field.clear()  # the name came with a link that is gone
                    self._name_from_link = ""
            else:
                self.fingerprint, self.relays = target.fingerprint, target.relays
                name = display_alias(target.name)
                current = self.name_field.text()
                if name and (not current or current == self._name_from_link):
                    self.name_field.setText(name)
                    self._name_from_link = name
        self.icon.set_fingerprint(self.fingerprint or "")
        self._show_relays()
        self._validate()

    def _show_relays(self) -> None:
        text = self.tr("Reached at: {relays}").format(relays=", ".join(self.relays)) if self.relays else ""
        self.relays_label.setText(text)
        self.relays_label.setVisible(bool(text))

    def error(self) -> str:
        """Why Save is off, as a sentence ("" when it is on)."""
        if self.existing is None:
            if self._target_error:
                return self._target_error
            if self.fingerprint is None:
                return ""  # nothing typed yet: nothing to complain about
            if self.fingerprint == self.own_fingerprint:
                return self.tr("That is your own fingerprint; enter the other person's.")
            known = self.find(self.fingerprint)
            if known is not None:
                return self.tr("{name} is already in your contacts.").format(name=known.name or self.fingerprint[:9])
        if not " ".join(self.name_field.text().split()):
            return self.tr("Enter a name for this contact.") if self.fingerprint else ""
        return ""

    def _validate(self) -> bool:
        error = self.error()
        ok = self.fingerprint is not None and not error
        # Nothing typed is not an error to show (yet); anything else wrong is said under the fields.
        self.error_label.set_error(error)
        self.save_button.setEnabled(ok)
        return ok

    def _save(self) -> None:
        if not self._validate():
            return
        assert self.fingerprint is not None
        name = " ".join(self.name_field.text().split())
        self.saved.emit(ContactEntry(self.fingerprint, name, self.direct_check.isChecked(), self.relays))
        self.accept()
