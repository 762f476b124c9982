#!/bin/sh
# Put this WZP folder on your desktop: symlinks in PREFIX/bin, the menu entry and icons in PREFIX/share.
#     ./install.sh [PREFIX]      PREFIX defaults to ~/.local (no root needed); ./install.sh --uninstall [PREFIX]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
UNINSTALL=0
if [ "${1:-}" = "--uninstall" ]; then UNINSTALL=1; shift; fi
PREFIX=${1:-$HOME/.local}
for exe in wzp wzp-relay wzp-cli; do
  rm -f "$PREFIX/bin/$exe"
  [ $UNINSTALL = 1 ] || { mkdir -p "$PREFIX/bin"; ln -s "$HERE/$exe" "$PREFIX/bin/$exe"; }
done
( cd "$HERE/share" && find . -type f ) | while read -r f; do
  rm -f "$PREFIX/share/$f"
  if [ $UNINSTALL = 0 ]; then
    mkdir -p "$(dirname "$PREFIX/share/$f")"
    cp "$HERE/share/$f" "$PREFIX/share/$f"
  fi
done
if [ $UNINSTALL = 0 ]; then
  sed -i "s|^Exec=wzp |Exec=$PREFIX/bin/wzp |" "$PREFIX/share/applications/wzp.desktop"
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/share/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" || true
if [ $UNINSTALL = 1 ]; then echo "WZP removed from $PREFIX"; else echo "WZP installed in $PREFIX (run: $PREFIX/bin/wzp)"; fi
