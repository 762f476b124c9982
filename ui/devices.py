"""Audio device names for the combo boxes (the system default is the empty string)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QComboBox

log = logging.getLogger(__name__)

translate = QCoreApplication.translate


def device_names(kind: str) -> tuple[list[str], str]:
    """(names of usable "input"/"output" devices, a problem sentence or "")."""
    try:
        from app.media.audio_devices import AudioDeviceError, list_devices

        try:
            devices = list_devices()
        except AudioDeviceError as exc:
            return [], str(exc)
    except Exception as exc:  # PortAudio missing or broken
        log.info("audio devices unavailable: %s", exc)
        return [], translate("Devices", "The audio system is not available ({error}).").format(error=exc)
    names = [d.name for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    return list(dict.fromkeys(names)), ""


def fill_device_combo(combo: QComboBox, kind: str, current: str) -> str:
    """Fill `combo` with the default entry and the devices; select `current`. Returns a problem sentence or ""."""
    names, problem = device_names(kind)
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(translate("Devices", "System default"), "")
    for name in names:
        combo.addItem(name, name)
    if current and current not in names:
        combo.addItem(translate("Devices", "{device} (not found)").format(device=current), current)
    index = combo.findData(current)
    combo.setCurrentIndex(max(0, index))
    combo.blockSignals(False)
    return problem
