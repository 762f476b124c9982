#!/usr/bin/env bash
# Build WZP for Linux: the PyInstaller bundle, then a .tar.gz and a .deb of it.
#
#     packaging/build-linux.sh
#
# Writes to $WZP_DIST_DIR (default dist/):
#     wzp/                                  the one-folder bundle: wzp, wzp-relay, wzp-cli and their _internal/
#     wzp-<version>-linux-<arch>.tar.gz     wzp-<version>-linux-<arch>/ = the bundle + share/ (wzp.desktop and
#                                           hicolor icons) + install.sh (symlinks into ~/.local/bin, menu entry)
#     wzp_<version>_<debarch>.deb           /opt/wzp/ (the bundle), /usr/bin/{wzp,wzp-relay,wzp-cli} -> /opt/wzp/...,
#                                           /usr/share/applications/wzp.desktop, /usr/share/icons/hicolor/*/apps/wzp.*
# Needs: the project installed with its package extra (pip install -e '.[package]'; libopus comes from its wheels,
# and from wzp-opus-dnn, the deep-PLC build, if packaging/build_opus_wheel.sh --install made it); libportaudio2
# (bundled from this machine); binutils (strip, readelf); dpkg-deb for the .deb.
# Environment: PYTHON (default .venv/bin/python), WZP_DIST_DIR, WZP_BUILD_DIR (default build/pyinstaller),
# WZP_NO_DEB=1 (no .deb), WZP_DEB_COMPRESSION (xz; gzip is faster), WZP_DEB_MAINTAINER.
# The bundle runs on Linux systems with the same or a newer glibc than the build machine's: build on the oldest
# distribution you support (CI uses ubuntu-22.04, glibc 2.35).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
DIST=$(realpath -m "${WZP_DIST_DIR:-$ROOT/dist}")
BUILD=$(realpath -m "${WZP_BUILD_DIR:-$ROOT/build/pyinstaller}")

"$PY" -c "import PyInstaller" 2>/dev/null \
  || { echo "build-linux: PyInstaller is missing: $PY -m pip install -e '.[package]'" >&2; exit 1; }
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
DESCRIPTION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["description"])')
ARCH=$(uname -m)

start=$(date +%s)
if [ ! -f resources/icons/wzp-512.png ] || [ ! -f resources/icons/wzp.svg ]; then
  QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py
fi
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$BUILD" packaging/wzp.spec
BUNDLE=$DIST/wzp
echo "build-linux: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)) in $(($(date +%s) - start)) s"

stage_share() { # $1: a share/ folder; gets the menu entry and the icon theme files
  install -D -m 644 packaging/linux/wzp.desktop "$1/applications/wzp.desktop"
  local png n
  for png in resources/icons/wzp-*.png; do
    n=$(basename "$png" .png)
    n=${n#wzp-}
    install -D -m 644 "$png" "$1/icons/hicolor/${n}x${n}/apps/wzp.png"
  done
  install -D -m 644 resources/icons/wzp.svg "$1/icons/hicolor/scalable/apps/wzp.svg"
}

STAGE=$BUILD/stage
rm -rf "$STAGE"
mkdir -p "$STAGE"

# --- .tar.gz ----------------------------------------------------------------------------------------------------------
NAME=wzp-$VERSION-linux-$ARCH
mkdir "$STAGE/$NAME"
cp -a "$BUNDLE"/. "$STAGE/$NAME/"
stage_share "$STAGE/$NAME/share"
install -m 755 packaging/linux/install.sh "$STAGE/$NAME/install.sh"
rm -f "$DIST/$NAME.tar.gz"
tar -C "$STAGE" --owner=0 --group=0 --numeric-owner --sort=name -czf "$DIST/$NAME.tar.gz" "$NAME"
echo "build-linux: $DIST/$NAME.tar.gz"

# --- .deb -------------------------------------------------------------------------------------------------------------
[ "${WZP_NO_DEB:-0}" = 1 ] && exit 0
command -v dpkg-deb >/dev/null || { echo "build-linux: no dpkg-deb: skipping the .deb" >&2; exit 0; }
DEBARCH=$(dpkg --print-architecture)
case $ARCH in x86_64) LDARCH=x86-64 ;; aarch64) LDARCH=AArch64 ;; *) LDARCH= ;; esac

deb_package_of() { # $1: a library file; prints the Debian package that owns it (usrmerge: try /lib and /usr/lib)
  local p
  for p in "$1" "$(realpath "$1")" "${1#/usr}" "/usr$1"; do
    dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  return 1
}

deb_depends() { # $1: the bundle; prints the Depends: line's packages, for the libraries it needs but does not carry
  local have needed so path pkg glibc
  have=$(find "$1" -name '*.so*' -printf '%f\n' | sort -u)
  needed=$(find "$1" -type f \( -name '*.so*' -o -perm -u+x \) -print0 | xargs -0 readelf -d 2>/dev/null |
    sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort -u)
  for so in $needed; do
    grep -qxF "$so" <<<"$have" && continue
    path=$(ldconfig -p | awk -v so="$so" -v arch="$LDARCH" '$1 == so && index($0, arch) {print $NF; exit}')
    if [ -z "$path" ]; then
      echo "build-linux: $so (needed by a Qt plugin) is not on this machine: not in Depends" >&2
      continue
    fi
    pkg=$(deb_package_of "$path") || { echo "build-linux: no package owns $path: not in Depends" >&2; continue; }
    echo "$pkg"
  done | sort -u | while read -r pkg; do
    if [ "$pkg" = libc6 ]; then
      glibc=$(find "$1" -type f \( -name '*.so*' -o -perm -u+x \) -print0 | xargs -0 readelf --dyn-syms -W 2>/dev/null |
        grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
      echo "libc6 (>= ${glibc:-2.35})"
    else
      echo "$pkg"
    fi
  done | paste -sd, - | sed 's/,/, /g'
}

DEBVERSION=$(sed -E 's/^([0-9.]+)(a|b|rc|\.dev)/\1~\2/' <<<"$VERSION") # 1.0rc1 -> 1.0~rc1 sorts before 1.0
DEB=$STAGE/deb
mkdir -p "$DEB/DEBIAN" "$DEB/opt" "$DEB/usr/bin"
cp -a "$BUNDLE" "$DEB/opt/wzp"
for exe in wzp wzp-relay wzp-cli; do
  ln -s "/opt/wzp/$exe" "$DEB/usr/bin/$exe"
done
stage_share "$DEB/usr/share"
DEPENDS=$(deb_depends "$DEB/opt/wzp")
cat >"$DEB/DEBIAN/control" <<EOF
Package: wzp
Version: $DEBVERSION
Architecture: $DEBARCH
Maintainer: ${WZP_DEB_MAINTAINER:-WZP Desktop <wzp@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$DEB" | cut -f1)
Depends: $DEPENDS
Recommends: pulseaudio | pipewire-pulse, libwayland-cursor0, libwayland-egl1
Section: net
Priority: optional
Description: $DESCRIPTION
 WZP Desktop (wzp), its relay (wzp-relay) and command-line client (wzp-cli),
 as one self-contained folder in /opt/wzp.
EOF
DEBFILE=$DIST/wzp_${DEBVERSION}_$DEBARCH.deb
dpkg-deb --root-owner-group "-Z${WZP_DEB_COMPRESSION:-xz}" --build "$DEB" "$DEBFILE" >/dev/null
echo "build-linux: $DEBFILE (Depends: $DEPENDS)"
echo "build-linux: done in $(($(date +%s) - start)) s"
