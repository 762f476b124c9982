"""`WzpApp`: builds everything for one data directory (storage, client, view-models, windows) and runs it.

Several can live in one process (the UI tests run two against one relay);
each has its own data directory, client, socket and windows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app import events as ev
from app.identity import IdentityFileError, default_data_dir, load_or_create_identity
from app.identity.store import IDENTITY_FILENAME
from app.invite import MAX_RELAYS, Invite, format_invite
from app.lan.nearby import Nearby
from app.media.sources import AudioSource
from app.nat.addresses import parse_ip
from app.nat.relay_address import is_literal, parse_relay_address, split_relay_address
from app.relay.hosted import RelayHost, RelayHostError
from app.storage import BlockList, CallHistory, ContactBook, DatabaseError, Settings, SettingsStore, open_database
from ui import autostart, file_log
from ui.client_host import ClientHost, MediaOptions, processing_of
from ui.icons import RESOURCES, app_icon
from ui.log_buffer import log_buffer
from ui.models.blocks import BlocksModel
from ui.models.call import INCOMING, RINGING, CallModel
from ui.models.contacts import ContactsModel
from ui.models.dialer import DialerModel
from ui.models.history import HistoryModel
from ui.models.relay_status import RelayStatusModel
from ui.notifications import ACCEPT, ACCEPT_PRIVATELY, Notifications
from ui.relay_list import service_nodes
from ui.sounds import RINGBACK, RINGTONE, SinkFactory, Sounds, end_cue
from ui.tasks import TaskRunner
from ui.tray import Tray
from ui.windows.home_page import HISTORY_TAB
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
        sound_sink: SinkFactory | None = None,
        notifications: bool = True,
        lan: bool = True,
        lan_interfaces: list[str] | None = None,
    ) -> None:
        """`relay` overrides (and is saved as) the selected relay; `no_audio` uses no devices at all;
        `audio_source_factory` replaces the microphone in calls (a tone, for demos and tests); `sound_sink`
        replaces the speaker the ringtone, ringback and cues play on (tests record them); `notifications=False`
        shows messages in the tray only (no native desktop notifications); `lan=False` neither announces nor
        looks for people on the local network (Nearby), `lan_interfaces` limits it to those IPv4 addresses."""
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
            processing=processing_of(self.settings),
        )
        self.block_list = BlockList(self.db)
        self.host = ClientHost(
            self.identity, self.data_dir, media, audio_source_factory=audio_source_factory, blocked=self.block_list
        )
        self.relay_host = RelayHost(self.data_dir)
        self.lan, self.lan_interfaces = lan, lan_interfaces
        self.nearby: Nearby | None = None
        self.relay_status = RelayStatusModel(self.host, self)
        self.contacts = ContactsModel(ContactBook(self.db), self.host, self.tasks, self)
        self.history = HistoryModel(CallHistory(self.db), self)
        self.blocks = BlocksModel(self.block_list, self.contacts, self.history, self)
        self.dialer = DialerModel(self.identity.fingerprint, self)
        self.call = CallModel(
            self.host, self.contacts, self.history, self.tasks,
            privacy_default=lambda: self.settings.privacy_default, blocks=self.blocks, parent=self,
        )
        self.call.route_for = self.relays_of
        self.sounds = Sounds(enabled=not no_audio or sound_sink is not None, sink_factory=sound_sink, parent=self)
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
        self.window.identity.set_invite_provider(self.invite_link)
        self.tray = Tray(self.icon, self.relay_status, self.call, self) if tray else None
        self.notifications = Notifications(
            app_name="WZP", icon_path=RESOURCES / "icon-256.png", fallback=self._tray_message,
            enabled=notifications, parent=self,
        )
        self._ringing_call = ""  # the call id the incoming notification is for
        self.welcome: WelcomeDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.key_dialog: QMessageBox | None = None
        self.save_log_dialog: QFileDialog | None = None
        self.closed = asyncio.Event()
        self._shut_down = False
        self.close_question: QMessageBox | None = None  # "hang up and close/quit?" while in a call

        self.window.settings_requested.connect(self.open_settings)
        self.window.close_requested.connect(self.request_close)
        self.window.quit_requested.connect(self.request_quit)
        self.window.save_log_requested.connect(self.ask_save_log)
        self.tasks.failed.connect(self.window.show_problem)
        self.contacts.message.connect(self.window.show_message)
        self.blocks.message.connect(self.window.show_message)
        self.call.incoming.connect(self._on_incoming)
        self.call.changed.connect(self._on_call_changed)
        self.call.finished.connect(self._on_call_finished)
        self.call.notify.connect(self.notify)
        self.call.device_switched.connect(self._on_device_switched)
        self.relay_status.key_changed.connect(self._on_key_changed)
        self.host.event.connect(self._on_event)
        self.history.changed.connect(self._refresh_missed)
        self.window.home.history_viewed.connect(self.mark_missed_seen)
        self.window.activated.connect(self._on_window_activated)
        self._refresh_missed()
        if self.tray is not None:
            self.tray.show_requested.connect(self.show_window)
            self.tray.settings_requested.connect(self.open_settings)
            self.tray.quit_requested.connect(self.request_quit)

    @property
    def alias(self) -> str:
        return self.settings.alias or self.identity.alias

    # --------------------------------------------------------------- lifecycle

    async def start(self, *, minimized: bool = False) -> None:
        """Show the window (and the welcome on first run) and connect when a relay is known.

        `minimized` (start at login) leaves the window hidden in the tray, where there is one."""
        if self.settings.window_geometry:
            self.window.restoreGeometry(QByteArray.fromBase64(self.settings.window_geometry.encode()))
        if not (minimized and self.keeps_running_in_tray and self.settings.welcomed):
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
        self.relay_status.hosted_addresses = self.invite_relays if self.relay_host.running else None
        await self.host.connect_to(address, self.settings.alias, discoverable=self.settings.discoverable)
        await self._update_nearby()

    # ------------------------------------------------------------- reaching people

    def invite_relays(self) -> list[str]:
        """Where others reach us: the hosted relay's public (mapped) and LAN addresses, or our relay.
        Never a loopback or wildcard address: those mean nothing on another computer."""
        usable: list[str] = []
        for relay in self._reach_relays():
            try:
                host, _ = split_relay_address(relay)
                if host != "localhost" and not (is_literal(relay) and parse_ip(host).is_loopback):
                    usable.append(parse_relay_address(relay))
            except ValueError:
                continue
        return list(dict.fromkeys(usable))[:MAX_RELAYS]

    def _reach_relays(self) -> list[str]:
        if self.relay_host.running:
            public = self.relay_host.public_address
            return [*([public] if public else []), *self.relay_host.lan_addresses()]
        relay = self.settings.relay_or_none()  # one service: its nodes, in order
        return service_nodes(relay) if relay else []

    def invite_link(self) -> str:
        return format_invite(Invite(self.identity.fingerprint, tuple(self.invite_relays()), self.alias))

    def relays_of(self, fingerprint: str) -> list[str]:
        """Where to look for someone besides our relay: where we reached them before, and Nearby."""
        contact = self.contacts.get(fingerprint)
        relays = list(contact.relays) if contact is not None else []
        peer = self.nearby.find(fingerprint) if self.nearby is not None else None
        if peer is not None:
            relays += [r for r in peer.relays if r not in relays]
        return relays

    async def _update_nearby(self) -> None:
        """Announce (when the user is discoverable) and look for people on the local network."""
        if not self.lan:
            return
        relays = self._reach_relays()  # Nearby itself leaves out loopback unless it runs on loopback only
        if self.nearby is None:
            self.nearby = Nearby(
                self.identity.fingerprint,
                self.alias,
                relays,
                announce=self.settings.discoverable,
                on_change=self.window.home.set_nearby,
                interfaces=self.lan_interfaces,
            )
            try:
                await self.nearby.start()
            except OSError as exc:  # no multicast here: Nearby is a convenience, say so and go on
                log.warning("nearby unavailable: %s", exc)
                self.nearby = None
            return
        self.nearby.announce = self.settings.discoverable
        await self.nearby.update(alias=self.alias, relays=relays)

    @property
    def keeps_running_in_tray(self) -> bool:
        """Closing the window hides it (calls still ring) rather than quitting: only where a tray icon shows."""
        return self.tray is not None and self.tray.available

    def request_close(self) -> None:
        """The window's close button: hide to the tray (or quit without one); in a call, ask first."""
        hide = self.keeps_running_in_tray
        if self.call.active:
            self._ask_before_ending("close" if hide else "quit")
        elif hide:
            self.hide_to_tray()
        else:
            self.quit_now()

    def request_quit(self) -> None:
        """Quit (menu, Ctrl+Q, tray); in a call, ask first."""
        if self.call.active:
            self._ask_before_ending("quit")
        else:
            self.quit_now()

    def quit_now(self) -> None:
        self.closed.set()

    def hide_to_tray(self) -> None:
        self.window.hide()
        if not self.settings.tray_hint_shown and self.tray is not None:
            self.settings.tray_hint_shown = True
            self.store.save(self.settings)
            self.tray.notify(
                self.tr("WZP is still running"),
                self.tr(
                    "Calls can still reach you. Click the tray icon to open WZP; quit from its menu or with Ctrl+Q."
                ),
            )

    def _ask_before_ending(self, then: str) -> None:
        if self.close_question is not None and self.close_question.isVisible():
            self.close_question.raise_()
            return
        name = self.call.peer_name
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(self.tr("End the call? — WZP"))
        text = self.tr("You are in a call with {name}.") if self.call.state != INCOMING else self.tr(
            "{name} is calling you."
        )
        box.setText(text.format(name=name))
        box.setTextFormat(Qt.TextFormat.PlainText)  # a peer's alias is never markup
        box.setInformativeText(
            self.tr("Quitting ends the call.") if then == "quit" else self.tr("Closing the window ends the call.")
        )
        end_text = self.tr("Hang up and quit") if then == "quit" else self.tr("Hang up and close")
        end = box.addButton(end_text, QMessageBox.ButtonRole.AcceptRole)
        stay = box.addButton(self.tr("Stay in the call"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(stay)
        box.setEscapeButton(stay)
        self.close_question_end = end

        def answered(button: object) -> None:
            if button is not end:
                return
            self.call.hang_up()
            if then == "quit":
                self.quit_now()
            else:
                self.hide_to_tray()

        box.buttonClicked.connect(answered)
        self.close_question = box
        box.open()

    def handle_second_launch(self, args: list[str]) -> None:
        """Another `wzp` was started for this data directory: come forward, and open the link it was given."""
        self.show_window()
        QApplication.alert(self.window)
        if args:
            self.window.open_link(args[0])

    def save_settings(self) -> None:
        """Write the settings (and the window's place) now: at quit, and when the session ends."""
        self.settings.window_geometry = bytes(self.window.saveGeometry().toBase64().data()).decode()
        self.store.save(self.settings)

    async def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        self.save_settings()
        self.window.allow_close = True
        self.sounds.stop()
        for dialog in (
            self.welcome, self.settings_dialog, self.key_dialog, self.incoming_dialog, self.close_question,
            self.save_log_dialog,
        ):
            if dialog is not None:
                dialog.hide()
        await self.tasks.cancel_all()
        await self.notifications.close()
        await self.host.disconnect()
        if self.nearby is not None:
            await self.nearby.stop()
            self.nearby = None
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
            lan = ", ".join(self.relay_host.lan_addresses()) or self.tr("no network address found")
            hosted = self.tr(
                "This computer's relay is running. Others can use it at {addresses}. Its key fingerprint is {key}."
            ).format(addresses=lan, key=self.relay_host.server.fingerprint)
        self.settings_dialog = SettingsDialog(
            self.settings,
            identity_alias=self.identity.alias,
            log_buffer=self.log_buffer,
            tasks=self.tasks,
            detect_nat=detect,
            hosted_relay_info=hosted,
            audio_enabled=not self.no_audio,
            blocks=self.blocks,
            autostart=autostart.is_enabled(),
            parent=self.window,
        )
        self.settings_dialog.saved.connect(self.apply_settings)
        self.settings_dialog.autostart_changed.connect(self.set_autostart)
        self.settings_dialog.save_log_requested.connect(self.ask_save_log)
        self.settings_dialog.show()

    # --------------------------------------------------------------------- log

    def ask_save_log(self) -> None:
        """Help > Save log… (and Settings > Log > Save…): where to put a copy of the log."""
        if self.save_log_dialog is not None and self.save_log_dialog.isVisible():
            self.save_log_dialog.raise_()
            return
        parent = self.settings_dialog if self.settings_dialog is not None and self.settings_dialog.isVisible() else None
        dialog = QFileDialog(parent or self.window, self.tr("Save log — WZP"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilter(self.tr("Text files (*.txt *.log)"))
        dialog.setDefaultSuffix("txt")
        dialog.setDirectory(str(Path.home()))
        dialog.selectFile(time.strftime("wzp-log-%Y%m%d-%H%M.txt"))
        dialog.fileSelected.connect(lambda path: self.save_log_to(Path(path)))
        self.save_log_dialog = dialog
        dialog.open()

    def save_log_to(self, target: Path) -> bool:
        """Write the log files (or, with no log file, the lines kept in memory) into `target`."""
        try:
            log_file = file_log.current()
            if log_file is not None:
                size = log_file.save_copy(target)
            else:
                data = (self.log_buffer.text() + "\n").encode("utf-8")
                target.write_bytes(data)
                size = len(data)
        except OSError as exc:
            self.window.show_problem(
                self.tr("The log could not be saved to {path}: {error}.").format(path=target, error=exc.strerror or exc)
            )
            return False
        log.info("log saved to %s (%d bytes)", target, size)
        self.window.show_message(self.tr("Log saved to {path}.").format(path=target))
        return True

    def apply_settings(self, new: Settings) -> None:
        old = self.settings
        new.window_geometry = old.window_geometry
        new.welcomed = old.welcomed
        new.tray_hint_shown, new.missed_seen_at = old.tray_hint_shown, old.missed_seen_at
        self.settings = new
        self.store.save(new)
        media = self.host.media
        media.input_device, media.output_device, media.bitrate = new.input_device, new.output_device, new.bitrate
        media.processing = processing_of(new)
        self.host.apply_media_options()
        self.window.identity.set_alias(self.alias)
        reconnect = (
            old.alias != new.alias
            or old.discoverable != new.discoverable
            or old.host_relay != new.host_relay
            or (not new.host_relay and old.relay_or_none() != new.relay_or_none())
        )
        log.info("settings saved (reconnect=%s)", reconnect)
        if reconnect:
            if self.call.active:
                self.window.show_message(self.tr("The new relay settings apply after this call."))
                self.call.ended.connect(self._reconnect_after_call)
            else:
                self.tasks.run(self.connect(), what="connect to the relay")
        self.window.show_message(self.tr("Settings saved."))

    def set_autostart(self, enabled: bool) -> None:
        try:
            autostart.set_enabled(enabled, self.data_dir if self.data_dir != default_data_dir() else None)
        except autostart.AutostartError as exc:
            self.window.show_problem(str(exc))

    def _reconnect_after_call(self, _sentence: str) -> None:
        self.call.ended.disconnect(self._reconnect_after_call)
        self.tasks.run(self.connect(), what="connect to the relay")

    # ----------------------------------------------------------- missed calls

    @property
    def missed_count(self) -> int:
        return self.history.missed_since(self.settings.missed_seen_at)

    def mark_missed_seen(self) -> None:
        if self.window.isVisible() and self.missed_count:
            self.settings.missed_seen_at = time.time()
            self.store.save(self.settings)
            self._refresh_missed()

    def _on_window_activated(self) -> None:
        if self.window.home.tabs.currentIndex() == HISTORY_TAB and not self.window.on_call_page:
            self.mark_missed_seen()

    def _refresh_missed(self) -> None:
        count = self.missed_count
        self.window.home.set_missed_count(count)
        if self.tray is not None:
            self.tray.set_missed_count(count)

    def _on_key_changed(self, relay: str, pinned: str, presented: str) -> None:
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(self.tr("The relay's key changed — WZP"))
        box.setText(self.tr("The relay {relay} presented a different key than last time.").format(relay=relay))
        box.setInformativeText(
            self.tr(
                "Someone may be intercepting your connection. Only trust the new key if the relay's owner "
                "told you they changed it, and the fingerprints below match what they told you."
            )
            + "\n\n"
            + self.tr("Key you trusted before:\n{pinned}\n\nKey presented now:\n{presented}").format(
                pinned=pinned, presented=presented
            )
        )
        self.key_trust_button = box.addButton(self.tr("Trust the new key"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Don't connect"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(box.buttons()[-1])  # type: ignore[arg-type]
        box.buttonClicked.connect(self._on_key_answer)
        self.key_dialog = box
        box.open()

    def _on_key_answer(self, button: object) -> None:
        if button is self.key_trust_button:
            self.relay_status.trust_new_key()
        else:
            self.window.show_problem(self.tr(
                "Not connected: the relay's key does not match. Ask the relay's owner, or choose another relay "
                "in Settings."
            ))

    # ------------------------------------------------------------------ events

    def notify(self, title: str, text: str) -> None:
        self.notifications.message(title, text)

    def _tray_message(self, title: str, text: str) -> None:
        if self.tray is not None:
            self.tray.notify(title, text)
        else:
            log.info("notification: %s: %s", title, text)

    def _on_incoming(self) -> None:
        c = self.call
        self.incoming_dialog.present()
        self.sounds.play(RINGTONE, self.host.media.output_device)
        QApplication.alert(self.window)  # flash the taskbar entry
        assert c.call_id is not None
        self._ringing_call = c.call_id
        self.notifications.incoming_call(
            c.call_id, c.peer_name, private=not c.peer_trusted,
            on_answer=self.answer_from_notification, on_show=self.show_incoming,
        )

    def show_incoming(self) -> None:
        """The incoming notification's body was clicked: bring the window and the incoming dialog forward."""
        self.show_window()
        if self.call.state == INCOMING:
            self.incoming_dialog.present()

    def answer_from_notification(self, call_id: str, action: str) -> None:
        """A button on an incoming-call notification: answers only the call it was made for, still ringing."""
        c = self.call
        if c.state != INCOMING or c.call_id != call_id:
            log.info("a notification's %s for call_id=%s came after that call stopped ringing", action, call_id)
            return
        log.info("answered from the notification: %s call_id=%s", action, call_id)
        self.incoming_dialog.hide()
        if action == ACCEPT:
            c.accept()
        elif action == ACCEPT_PRIVATELY:
            c.accept_privately()
        else:
            c.decline()
            return
        self.show_window()

    def _on_call_changed(self) -> None:
        state = self.call.state
        if state != INCOMING:
            self.sounds.stop(RINGTONE)
        if self._ringing_call and (state != INCOMING or self.call.call_id != self._ringing_call):
            self.notifications.call_over(self._ringing_call)
            self._ringing_call = ""
        if state == RINGING and self.call.outgoing:
            self.sounds.play(RINGBACK, self.host.media.output_device)
        else:
            self.sounds.stop(RINGBACK)

    def _on_call_finished(self, reason: str, outgoing: bool, connected: bool, declined_here: bool) -> None:
        cue = end_cue(reason, outgoing=outgoing, connected=connected, declined_here=declined_here)
        if cue:
            self.sounds.play(cue, self.host.media.output_device)

    def _on_device_switched(self, kind: str, device: str) -> None:
        if kind == "input":
            self.settings.input_device = device
        else:
            self.settings.output_device = device
        self.store.save(self.settings)

    def _on_event(self, event: ev.ClientEvent) -> None:
        if isinstance(event, ev.Setup) and self.host.client is not None:
            placed = self.host.client.calls.get(event.call_id)
            if placed is not None and placed.outgoing and placed.via:  # reached on their relay: remember it
                self.contacts.remember_relays(placed.peer_fingerprint, [placed.via])
        if isinstance(event, ev.Notice):
            if event.level in ("error", "warning") and not isinstance(event, ev.RelayKeyChanged):
                self.window.show_message(event.message)
            log.info("notice (%s): %s", event.level, event.message)
