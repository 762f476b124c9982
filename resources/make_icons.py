"""Render resources/icon.svg to resources/icon-<size>.png (run after changing the SVG).

    QT_QPA_PLATFORM=offscreen .venv/bin/python resources/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtGui import QGuiApplication

from ui.icons import PNG_SIZES, RESOURCES, render_svg


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841 - QImage painting needs it
    for size in PNG_SIZES:
        path = RESOURCES / f"icon-{size}.png"
        if not render_svg(size).save(str(path)):
            print(f"could not write {path}", file=sys.stderr)
            return 1
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
