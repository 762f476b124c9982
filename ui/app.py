"""`WzpApp`: builds everything for one data directory (storage, client, view-models, windows) and runs it.

Several can live in one process (the UI tests run two against one relay);
each has its own data directory, client, socket and windows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject
from PySide6.QtWidgets import QMessageBox

from app import events as ev
from app.identity import IdentityFileError, load_or_create_identity
from app.identity.store import IDENTITY_FILENAME
from app.media.sources import AudioSource
from app.storage import BlockList, CallHistory, ContactBook, DatabaseError, Settings, SettingsStore, open_database
from ui.client_host import ClientHost, MediaOptions
from ui.icons import app_icon
from ui.log_buffer import log_buffer
from ui.models.blocks import BlocksModel
from ui.models.call import INCOMING, CallModel
from ui.models.contacts import ContactsModel
from ui.models.dialer import DialerModel
from ui.models.history import HistoryModel
from ui.models.relay_status import RelayStatusModel
from ui.relay_host import RelayHost, RelayHostError
from ui.ringtone import Ringtone
from ui.tasks import TaskRunner
from ui.tray import Tray
from ui.windows.incoming_dialog import IncomingDialog
from ui.windows.main_window import MainWindow
from ui.windows.settings_dialog import SettingsDialog
from ui.windows.welcome_dialog import WelcomeDialog

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The app cannot start with this data directory; the message is a sentence for the user."""


class WzpApp(QObject):
    def __init__(
        self,
        data_dir: Path,
        *,
        relay: str | None = None,
        no_audio: bool = False,
        audio_source_factory: Callable[[], AudioSource] | None = None,
        tray: bool = True,
        title_suffix: str = "",
    ) -> None:
        """`relay` overrides (and is saved as) the selected relay; `no_audio` uses no devices at all;
        `audio_source_factory` replaces the microphone in calls (a tone, for demos and tests)."""
        super().__init__()
        self.data_dir = Path(data_dir)
        self.no_audio = no_audio
        self.log_buffer = log_buffer()
        self.store = SettingsStore(self.data_dir)
        self.settings: Settings = self.store.load()
        self.first_run = not (self.data_dir / IDENTITY_FILENAME).exists()
        try:
            self.identity = load_or_create_identity(self.data_dir)
            self.db = open_database(self.data_dir)
        except (IdentityFileError, DatabaseError) as exc:
            raise StartupError(str(exc)) from exc
        except OSError as exc:
            raise StartupError(f"The data folder {self.data_dir} cannot be used: {exc.strerror or exc}.") from exc
        if relay:
            self.settings.add_relay(relay, select=True)
            self.settings.host_relay = False
        self.store.save(self.settings)

        self.tasks = TaskRunner(self)
        media = MediaOptions(
            input_device=self.settings.input_device,
            output_device=self.settings.output_device,
            bitrate=self.settings.bitrate,
            no_audio=no_audio,
        )
        self.block_list = BlockList(self.db)
        self.host = ClientHost(
            self.identity, self.data_dir, media, audio_source_factory=audio_source_factory, blocked=self.block_list
        )
        self.relay_host = RelayHost(self.data_dir)
        self.relay_status = RelayStatusModel(self.host, self)
        self.contacts = ContactsModel(ContactBook(self.db), self.host, self.tasks, self)
        self.history = HistoryModel(CallHistory(self.db), self)
        self.blocks = BlocksModel(self.block_list, self.contacts, self.history, self)
        self.dialer = DialerModel(self.identity.fingerprint, self)
        self.call = CallModel(
            self.host, self.contacts, self.history, self.tasks,
            privacy_default=lambda: self.settings.privacy_default, blocks=self.blocks, parent=self,
        )
        self.ringtone = Ringtone(enabled=not no_audio, parent=self)
        self.icon = app_icon()
        self.window = MainWindow(
            fingerprint=self.identity.fingerprint,
            alias=self.alias,
            relay=self.relay_status,
            dialer=self.dialer,
            contacts=self.contacts,
            history=self.history,
            call=self.call,
            blocks=self.blocks,
            audio_enabled=not no_audio,
            icon=self.icon,
            title_suffix=title_suffix,
        )
        self.incoming_dialog = IncomingDialog(self.call, self.blocks, self.window)
        self.tray = Tray(self.icon, self.relay_status, self.call, self) if tray else None
        self.welcome: WelcomeDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.key_dialog: QMessageBox | None = None
        self.closed = asyncio.Event()
        self._shut_down = False

        self.window.settings_requested.connect(self.open_settings)
        self.window.close_requested.connect(self.request_quit)
        self.tasks.failed.connect(self.window.show_problem)
        self.contacts.message.connect(self.window.show_message)
        self.blocks.message.connect(self.window.show_message)
        self.call.incoming.connect(self._on_incoming)
        self.call.changed.connect(self._on_call_changed)
        self.call.notify.connect(self.notify)
        self.call.device_switched.connect(self._on_device_switched)
        self.relay_status.key_changed.connect(self._on_key_changed)
        self.host.event.connect(self._on_event)
        if self.tray is not None:
            self.tray.show_requested.connect(self.show_window)
            self.tray.settings_requested.connect(self.open_settings)
            self.tray.quit_requested.connect(self.request_quit)

    @property
    def alias(self) -> str:
        return self.settings.alias or self.identity.alias

    # --------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Show the window (and the welcome on first run) and connect when a relay is known."""
        if self.settings.window_geometry:
            self.window.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        self.window.show()
        need_relay = not self.settings.host_relay and self.settings.relay_or_none() is None
        if self.first_run or need_relay or not self.settings.welcomed:
            self.show_welcome(need_relay=need_relay)
        if not need_relay:
            await self.connect()
        else:
            self.relay_status.set_no_relay()

    async def connect(self) -> None:
        """Connect to the chosen relay, starting the hosted one first if that is the choice."""
        if self.settings.host_relay:
            try:
                address = await self.relay_host.start(self.settings.hosted_relay_port)
            except RelayHostError as exc:
                log.error("hosted relay failed: %s", exc)
                self.window.show_problem(str(exc))
                self.relay_status.set_no_relay()
                return
        else:
            await self.relay_host.stop()
            relay = self.settings.relay_or_none()
            if relay is None:
                await self.host.disconnect()
                self.relay_status.set_no_relay()
                return
            address = relay
        await self.host.connect_to(address, self.settings.alias)

    def request_quit(self) -> None:
        self.closed.set()

    def save_settings(self) -> None:
        """Write the settings (and the window's place) now: at quit, and when the session ends."""
        self.settings.window_geometry = bytes(self.window.saveGeometry().toBase64().data()).decode()
        self.store.save(self.settings)

    async def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.save_settings()
        self.ringtone.stop()
        for dialog in (self.welcome, self.settings_dialog, self.key_dialog, self.incoming_dialog):
            if dialog is not None:
                dialog.hide()
        await self.tasks.cancel_all()
        await self.host.disconnect()
        await self.relay_host.stop()
        self.db.close()
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        log.info("WZP stopped (data dir %s)", self.data_dir)

    # ----------------------------------------------------------------- windows

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def show_welcome(self, *, need_relay: bool) -> None:
        self.welcome = WelcomeDialog(self.identity.fingerprint, self.alias, need_relay=need_relay, parent=self.window)
        self.welcome.chosen.connect(self._on_welcome_chosen)
        self.welcome.show()

    def _on_welcome_chosen(self, mode: str, relay: str) -> None:
        self.settings.welcomed = True
        if mode == "host":
            self.settings.host_relay = True
        elif mode == "relay":
            self.settings.add_relay(relay, select=True)
            self.settings.host_relay = False
        self.store.save(self.settings)
        if mode != "none":
            self.tasks.run(self.connect(), what="connect to the relay")

    def open_settings(self) -> None:
        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            return
        client = self.host.client
        detect = client.detect_nat if client is not None else None
        hosted = ""
        if self.relay_host.running:
            assert self.relay_host.server is not None
            lan = ", ".join(self.relay_host.lan_addresses()) or "no network address found"
            hosted = (
                f"This computer's relay is running. Others can use it at {lan}. "
                f"Its key fingerprint is {self.relay_host.server.fingerprint}."
            )
        self.settings_dialog = SettingsDialog(
            self.settings,
            identity_alias=self.identity.alias,
            log_buffer=self.log_buffer,
            tasks=self.tasks,
            detect_nat=detect,
            hosted_relay_info=hosted,
            audio_enabled=not self.no_audio,
            blocks=self.blocks,
            parent=self.window,
        )
        self.settings_dialog.saved.connect(self.apply_settings)
        self.settings_dialog.show()

    def apply_settings(self, new: Settings) -> None:
        old = self.settings
        new.window_geometry = old.window_geometry
        new.welcomed = old.welcomed
        self.settings = new
        self.store.save(new)
        media = self.host.media
        media.input_device, media.output_device, media.bitrate = new.input_device, new.output_device, new.bitrate
        self.host.apply_media_options()
        self.window.identity.set_alias(self.alias)
        reconnect = (
            old.alias != new.alias
            or old.host_relay != new.host_relay
            or (not new.host_relay and old.relay_or_none() != new.relay_or_none())
        )
        log.info("settings saved (reconnect=%s)", reconnect)
        if reconnect:
            if self.call.active:
                self.window.show_message("The new relay settings apply after this call.")
                self.call.ended.connect(self._reconnect_after_call)
            else:
                self.tasks.run(self.connect(), what="connect to the relay")
        self.window.show_message("Settings saved.")

    def _reconnect_after_call(self, _sentence: str) -> None:
        self.call.ended.disconnect(self._reconnect_after_call)
        self.tasks.run(self.connect(), what="connect to the relay")

    def _on_key_changed(self, relay: str, pinned: str, presented: str) -> None:
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("The relay's key changed — WZP")
        box.setText(f"The relay {relay} presented a different key than last time.")
        box.setInformativeText(
            "Someone may be intercepting your connection. Only trust the new key if the relay's owner "
            "told you they changed it, and the fingerprints below match what they told you.\n\n"
            f"Key you trusted before:\n{pinned}\n\nKey presented now:\n{presented}"
        )
        self.key_trust_button = box.addButton("Trust the new key", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Don't connect", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.buttons()[-1])  # type: ignore[arg-type]
        box.buttonClicked.connect(self._on_key_answer)
        self.key_dialog = box
        box.open()

    def _on_key_answer(self, button: object) -> None:
        if button is self.key_trust_button:
            self.relay_status.trust_new_key()
        else:
            self.window.show_problem(
                "Not connected: the relay's key does not match. Ask the relay's owner, or choose another relay "
                "in Settings."
            )

    # ------------------------------------------------------------------ events

    def notify(self, title: str, text: str) -> None:
        if self.tray is not None:
            self.tray.notify(title, text)
        else:
            log.info("notification: %s: %s", title, text)

    def _on_incoming(self) -> None:
        self.incoming_dialog.present()
        self.ringtone.start(self.host.media.output_device)

    def _on_call_changed(self) -> None:
        if self.call.state != INCOMING and self.ringtone.playing:
            self.ringtone.stop()

    def _on_device_switched(self, kind: str, device: str) -> None:
        if kind == "input":
            self.settings.input_device = device
        else:
            self.settings.output_device = device
        self.store.save(self.settings)

    def _on_event(self, event: ev.ClientEvent) -> None:
        if isinstance(event, ev.Notice):
            if event.level in ("error", "warning") and not isinstance(event, ev.RelayKeyChanged):
                self.window.show_message(event.message)
            log.info("notice (%s): %s", event.level, event.message)
