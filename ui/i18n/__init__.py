"""Translations: Qt's `QTranslator`, loaded for the system's locale from the .qm files next to this file.

`wzp_de.qm` (German) is built from `wzp_de.ts` by `python -m ui.i18n.build`, which refreshes the .ts from
the sources (pyside6-lupdate), fills it from `german.py` and compiles it (pyside6-lrelease). English is the
source language: without a matching translation Qt shows the source text.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

log = logging.getLogger(__name__)

I18N_DIR = Path(__file__).resolve().parent
LANGUAGES = ("de",)


def install_translators(app: QCoreApplication, locale: QLocale | None = None) -> list[QTranslator]:
    """Install WZP's translation (and Qt's own, for standard buttons) for `locale` (default: the system's).

    Returns the installed translators (empty for English or a language without a translation); keep them
    alive, and pass them to `remove_translators` to switch back."""
    locale = locale or QLocale.system()
    installed: list[QTranslator] = []
    ours = QTranslator(app)
    if ours.load(locale, "wzp", "_", str(I18N_DIR)):
        app.installTranslator(ours)
        installed.append(ours)
        log.info("translation loaded: %s (%s)", ours.language(), locale.name())
        qt = QTranslator(app)
        if qt.load(locale, "qtbase", "_", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)):
            app.installTranslator(qt)
            installed.append(qt)
    return installed


def remove_translators(app: QCoreApplication, translators: list[QTranslator]) -> None:
    for translator in translators:
        app.removeTranslator(translator)
