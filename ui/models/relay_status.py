"""The relay connection as the user sees it: state, a sentence, RTT, and the relay key's status."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app import events as ev
from ui.client_host import ClientHost

log = logging.getLogger(__name__)


class RelayStatusModel(QObject):
    changed = Signal()
    key_changed = Signal(str, str, str)  # relay, pinned fingerprint, presented fingerprint
    registered = Signal()

    def __init__(self, host: ClientHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: Set by the app while it hosts the relay: the addresses other computers reach it at.
        self.hosted_addresses: Callable[[], list[str]] | None = None
        self.host = host
        self.state = "offline"  # offline | connecting | connected | reconnecting | key-changed | replaced | no-relay
        self.relay = ""
        self.key_status = ""  # new | verified | changed
        self.relay_fingerprint = ""
        self.presented_key = ""
        self.pinned_key = ""
        self.rtt_ms: float | None = None
        self.last_reason = ""
        self._retry_at = 0.0
        host.event.connect(self._on_event)
        host.client_changed.connect(self._on_client_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # ------------------------------------------------------------ what is shown

    @property
    def seconds_to_retry(self) -> int:
        return max(0, round(self._retry_at - time.monotonic()))

    @property
    def text(self) -> str:
        if self.state == "no-relay":
            return self.tr("No relay chosen. Open Settings to add one or host one on this computer.")
        if self.state == "connecting":
            return self.tr("Connecting to the relay {relay}…").format(relay=self.relay)
        if self.state == "connected":
            hosted = self.hosted_addresses() if self.hosted_addresses is not None else None
            if hosted is not None:  # our own relay: say how others reach it, not a loopback address
                if not hosted:
                    return self.tr("Hosting a relay on this computer (no network address others can reach)")
                return self.tr("Hosting a relay on this computer, reached by others at {addresses}").format(
                    addresses=", ".join(hosted[:2])
                )
            return self.tr("Connected to the relay {relay}").format(relay=self.relay)
        if self.state == "reconnecting":
            secs = self.seconds_to_retry
            if secs > 0:
                text = self.tr("Relay {relay} unreachable. Reconnecting in {secs} s…")
                return text.format(relay=self.relay, secs=secs)
            return self.tr("Relay {relay} unreachable. Reconnecting now…").format(relay=self.relay)
        if self.state == "key-changed":
            return self.tr("The relay {relay} presented a different key. Not connected.").format(relay=self.relay)
        if self.state == "replaced":
            return self.tr("You signed in from another place, so the relay closed this connection.")
        return self.tr("Offline")

    @property
    def action_text(self) -> str:
        """The relay line's button, if any."""
        return {
            "reconnecting": self.tr("Reconnect now"),
            "replaced": self.tr("Reconnect here"),
            "key-changed": self.tr("Review the new key…"),
        }.get(self.state, "")

    @property
    def action_enabled(self) -> bool:
        if self.state == "replaced":
            # The client only listens for "reconnect" once the replaced link is really down.
            client = self.host.client
            return client is not None and client.link is None
        return True

    def act(self) -> None:
        if self.state in ("reconnecting", "replaced"):
            self.reconnect_now()
        elif self.state == "key-changed" and self.presented_key:
            self.key_changed.emit(self.relay, self.pinned_key, self.presented_key)

    @property
    def rtt_text(self) -> str:
        if self.state != "connected" or self.rtt_ms is None:
            return ""
        return f"{self.rtt_ms:.0f} ms"

    @property
    def key_text(self) -> str:
        """What the header says about the relay's key: only a changed key, where it matters."""
        return self.tr("Relay key changed") if self.key_status == "changed" else ""

    @property
    def key_details(self) -> str:
        """The relay's key in a sentence, for the tooltip (no jargon in the header)."""
        if not self.relay_fingerprint:
            return ""
        text = {
            "new": self.tr("First connection to this relay: its key {key} is remembered from now on."),
            "verified": self.tr("The relay's key {key} is the one remembered from the first connection."),
            "changed": self.tr("The relay presented a different key ({key})."),
        }.get(self.key_status, self.tr("The relay's key is {key}."))
        key = self.presented_key if self.key_status == "changed" and self.presented_key else self.relay_fingerprint
        return text.format(key=key)

    # ------------------------------------------------------------------ actions

    def reconnect_now(self) -> None:
        if self.host.client is not None:
            if self.state == "replaced":
                self.state = "connecting"
                self.changed.emit()
            self.host.client.reconnect_now()

    def trust_new_key(self) -> None:
        client = self.host.client
        if client is None or not self.presented_key:
            return
        log.warning("user trusted the new relay key relay=%s key=%s", client.relay, self.presented_key)
        client.trust_relay_key(self.presented_key)
        self.state = "connecting"
        self.changed.emit()

    def set_no_relay(self) -> None:
        self.state = "no-relay"
        self.relay = ""
        self.key_status = ""
        self.changed.emit()

    # ------------------------------------------------------------------ events

    def _on_client_changed(self) -> None:
        client = self.host.client
        self.relay = client.relay if client is not None else ""
        self.state = "connecting" if client is not None else "offline"
        self.key_status = ""
        self.rtt_ms = None
        self.changed.emit()

    def _on_event(self, event: ev.ClientEvent) -> None:
        if isinstance(event, ev.Connecting):
            if self.state not in ("reconnecting", "key-changed"):
                self.state = "connecting"
            self.relay = event.relay
        elif isinstance(event, ev.Registered):
            self.state = "connected"
            self.relay = event.relay
            self.key_status = event.key_status
            self.relay_fingerprint = event.relay_fingerprint
            self.presented_key = ""
            self._poll_rtt()
            self.registered.emit()
        elif isinstance(event, ev.Reconnecting):
            if self.state != "key-changed":
                self.state = "reconnecting"
            self.last_reason = event.reason
            self._retry_at = time.monotonic() + event.delay
        elif isinstance(event, ev.RelayKeyChanged):
            first = self.state != "key-changed" or self.presented_key != event.presented
            self.state = "key-changed"
            self.key_status = "changed"
            self.presented_key = event.presented
            self.pinned_key = event.pinned
            self.changed.emit()
            if first:
                self.key_changed.emit(event.relay, event.pinned, event.presented)
            return
        elif isinstance(event, ev.Notice):
            client = self.host.client
            if client is None or client.status != "replaced" or self.state == "replaced":
                return
            self.state = "replaced"  # the client waits for the user (no event of its own for this)
        else:
            return
        self.changed.emit()

    def _poll_rtt(self) -> None:
        client = self.host.client
        link = client.link if client is not None else None
        rtt = link.rtt if link is not None else None
        self.rtt_ms = rtt * 1000 if rtt is not None else None

    def _tick(self) -> None:
        if self.state == "connected":
            before = self.rtt_ms
            self._poll_rtt()
            if before != self.rtt_ms:
                self.changed.emit()
        elif self.state in ("reconnecting", "replaced"):
            self.changed.emit()  # the countdown; the button once the replaced link is down
