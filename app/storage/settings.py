"""The user's settings: one JSON file (`settings.json`) in the data directory.

Writes are atomic (temp file + `os.replace`). A file that cannot be read is
moved aside to `settings.json.bad` and the defaults are used, so a broken file
never stops the app from starting; unknown keys are ignored and wrong types
fall back to the default for that key alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTINGS_FILENAME = "settings.json"
SETTINGS_VERSION = 1
PRIVACY_CHOICES = ("ask", "private")
MIN_BITRATE = 16_000
MAX_BITRATE = 64_000
DEFAULT_BITRATE = 24_000


@dataclass
class Settings:
    """Everything the user can choose. `relays` are "host:port" strings; `selected_relay` is one of them."""

    alias: str = ""
    relays: list[str] = field(default_factory=list)
    selected_relay: str = ""
    host_relay: bool = False  # run a relay inside the app and use it
    hosted_relay_port: int = 4433
    input_device: str = ""  # "" = the system default
    output_device: str = ""
    bitrate: int = DEFAULT_BITRATE
    # microphone processing on the device path (app/media/audio_processing.py)
    echo_cancellation: bool = True
    noise_suppression: bool = True
    gain_control: bool = True
    privacy_default: str = "ask"  # for callers who are not trusted contacts: "ask" | "private"
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    welcomed: bool = False  # the first-run welcome was shown
    discoverable: bool = True  # listed in the relay's "Online now" list for everyone on it
    tray_hint_shown: bool = False  # "WZP keeps running in the tray" was said once
    missed_seen_at: float = 0.0  # missed calls up to this time (epoch s) were seen in the History tab

    def relay_or_none(self) -> str | None:
        if self.selected_relay and self.selected_relay in self.relays:
            return self.selected_relay
        return self.relays[0] if self.relays else None

    def add_relay(self, relay: str, *, select: bool = False) -> None:
        if relay not in self.relays:
            self.relays.append(relay)
        if select or not self.selected_relay:
            self.selected_relay = relay

    def remove_relay(self, relay: str) -> None:
        if relay in self.relays:
            self.relays.remove(relay)
        if self.selected_relay == relay:
            self.selected_relay = self.relays[0] if self.relays else ""


def _coerce(name: str, value: Any, default: Any) -> Any:
    """`value` if it has the default's type (lists of str for lists), else the default."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        log.warning("settings: %s has the wrong type (%s); using the default", name, type(value).__name__)
        return default
    return value


def _validate(settings: Settings) -> Settings:
    if settings.privacy_default not in PRIVACY_CHOICES:
        settings.privacy_default = "ask"
    settings.bitrate = max(MIN_BITRATE, min(MAX_BITRATE, settings.bitrate))
    if not math.isfinite(settings.missed_seen_at) or settings.missed_seen_at < 0:
        settings.missed_seen_at = 0.0
    if not 0 < settings.hosted_relay_port < 65536:
        settings.hosted_relay_port = 4433
    settings.relays = list(dict.fromkeys(r.strip() for r in settings.relays if r.strip()))
    if settings.selected_relay and settings.selected_relay not in settings.relays:
        settings.selected_relay = settings.relays[0] if settings.relays else ""
    return settings


class SettingsStore:
    """Loads and saves `Settings` in `data_dir/settings.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / SETTINGS_FILENAME

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Settings:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        except OSError as exc:
            log.warning("settings file %s could not be read (%s); using defaults", self.path, exc)
            return Settings()
        try:
            document = json.loads(raw)
            if not isinstance(document, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            bad = self.path.with_name(SETTINGS_FILENAME + ".bad")
            log.warning("settings file %s is corrupt (%s); moved to %s, using defaults", self.path, exc, bad)
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            return Settings()
        defaults = Settings()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(Settings):
            if f.name in document:
                values[f.name] = _coerce(f.name, document[f.name], getattr(defaults, f.name))
        return _validate(Settings(**values))

    def save(self, settings: Settings) -> None:
        document = {"version": SETTINGS_VERSION, **dataclasses.asdict(_validate(settings))}
        data = json.dumps(document, indent=2, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{SETTINGS_FILENAME}.{secrets.token_hex(4)}.tmp")
        try:
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
