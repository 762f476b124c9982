"""Refresh ui/i18n/wzp_de.ts from the sources, fill in `german.GERMAN`, compile wzp_de.qm.

    python -m ui.i18n.build        (needs pyside6-lupdate and pyside6-lrelease, which PySide6 installs)

Prints the source texts that have no German yet (they show in English until they do).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ui.i18n import I18N_DIR
from ui.i18n.german import GERMAN

ROOT = I18N_DIR.parents[1]
TS = I18N_DIR / "wzp_de.ts"
QM = I18N_DIR / "wzp_de.qm"


def _tool(name: str) -> str:
    found = shutil.which(f"pyside6-{name}") or str(Path(sys.executable).with_name(f"pyside6-{name}"))
    return found


def main() -> int:
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "ui").rglob("*.py") if "i18n" not in p.parts)
    subprocess.run(
        [_tool("lupdate"), *sources, "-ts", str(TS), "-no-obsolete", "-locations", "none"], cwd=ROOT, check=True
    )
    tree = ET.parse(TS)
    tree.getroot().set("language", "de_DE")
    missing = []
    for message in tree.getroot().iter("message"):
        source = message.findtext("source") or ""
        translation = message.find("translation")
        assert translation is not None
        if source in GERMAN:
            translation.text = GERMAN[source]
            translation.attrib.pop("type", None)
        else:
            missing.append(source)
    tree.write(TS, encoding="utf-8", xml_declaration=True)
    subprocess.run([_tool("lrelease"), str(TS), "-qm", str(QM)], cwd=ROOT, check=True)
    for source in missing:
        print(f"no German yet: {source!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
