"""Trust on first use for relay keys: the first key a relay shows is pinned, later ones must match."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PINS_FILE = "relay-pins.json"


class RelayPins:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PINS_FILE
        self._pins: dict[str, str] = self._load()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # Pins are a safety net, not a secret: an unreadable file is reported and kept aside.
            log.warning("relay pins unreadable, starting empty path=%s error=%s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def get(self, relay: str) -> str | None:
        return self._pins.get(relay)

    def pin(self, relay: str, fingerprint: str) -> None:
        self._pins[relay] = fingerprint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._pins, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
        log.info("relay key pinned relay=%s fingerprint=%s", relay, fingerprint)
