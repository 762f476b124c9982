"""Make the installers' icon set in resources/icons/ from ONE drawing.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py [--check]

The drawing is resources/icon.svg (packaging/icon.svg is used only if that file is missing).
It is rendered with QtSvg's QSvgRenderer into:

    resources/icons/wzp-<N>.png   N = 16 24 32 48 64 128 256 512  (Linux hicolor theme, .tar.gz/.deb)
    resources/icons/wzp.svg       a copy of the drawing             (hicolor "scalable")
    resources/icons/wzp.ico       Windows: PNG-compressed entries 16..256 (the .exe and the installer)
    resources/icons/wzp.icns      macOS: ic/icp PNG entries 16..1024 (the .app)

.ico and .icns are plain containers of PNG images, written here by hand (no Pillow needed).
--check renders everything in memory and exits 1 if a file on disk differs or is missing.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (ICNS type, pixel size): the retina "@2x" types reuse the bigger renders.
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic13", 256),
    (b"ic14", 512),
)


def source_svg() -> Path:
    for candidate in (ROOT / "resources" / "icon.svg", ROOT / "packaging" / "icon.svg"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("no icon drawing: resources/icon.svg or packaging/icon.svg")


def render_png(svg: Path, size: int) -> bytes:
    """The drawing at size x size pixels, as PNG bytes (QSvgRenderer, antialiased, transparent background)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # painting needs one
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode the {size} px icon as PNG")
    buffer.close()
    return bytes(data.data())


def make_ico(pngs: dict[int, bytes]) -> bytes:
    """ICONDIR + ICONDIRENTRY per size + the PNG images (PNG entries: Windows Vista and later)."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, images = b"", b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + entries + images


def make_icns(pngs: dict[int, bytes]) -> bytes:
    """'icns' + total length, then (type, length incl. 8-byte header, PNG) per entry; big-endian."""
    body = b""
    for kind, size in ICNS_TYPES:
        data = pngs[size]
        body += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def build(svg: Path) -> dict[str, bytes]:
    """File name -> bytes for everything in resources/icons/."""
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    pngs = {size: render_png(svg, size) for size in sizes}
    files = {f"wzp-{size}.png": pngs[size] for size in PNG_SIZES}
    files["wzp.svg"] = svg.read_bytes()
    files["wzp.ico"] = make_ico(pngs)
    files["wzp.icns"] = make_icns(pngs)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the files on disk")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    svg = source_svg()
    files = build(svg)
    if args.check:
        stale = [
            name
            for name, data in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_bytes() != data
        ]
        for name in stale:
            print(f"out of date: {args.out / name} (run packaging/make_icons.py)", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    print(f"{svg.relative_to(ROOT) if svg.is_relative_to(ROOT) else svg} -> {args.out}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
