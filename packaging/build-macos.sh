#!/usr/bin/env bash
# Build WZP for macOS: dist/WZP.app (PyInstaller: wzp, wzp-relay and wzp-cli in Contents/MacOS), then
# dist/WZP-<version>-macos-<arch>.dmg (hdiutil: the app and an Applications link to drag it to).
#
#     packaging/build-macos.sh
#
# Needs: the project installed with its package extra (pip install -e '.[package]': libopus 1.6 comes in the
# opuslib-next-bundled wheel, deep PLC + OSCE in the wzp-opus-dnn wheel from CI if installed; PortAudio comes with
# the sounddevice wheel). Build on the oldest macOS and with the architecture you ship
# (the app runs on that architecture only: an arm64 build does not run on an Intel Mac).
# Signing and notarization (docs/PACKAGING.md), all optional:
#     WZP_CODESIGN_IDENTITY="Developer ID Application: Name (TEAMID)"  signs the app (hardened runtime,
#                                                                       packaging/macos/entitlements.plist) and the dmg
#     WZP_NOTARY_PROFILE=wzp-notary   notarizes the dmg with that `xcrun notarytool store-credentials` profile, staples it
# Without an identity the app is ad-hoc signed: it runs where it was built; elsewhere Gatekeeper refuses it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
DIST=${WZP_DIST_DIR:-$ROOT/dist}
BUILD=${WZP_BUILD_DIR:-$ROOT/build/pyinstaller}

"$PY" -c "import PyInstaller" 2>/dev/null \
  || { echo "build-macos: PyInstaller is missing: $PY -m pip install -e '.[package]'" >&2; exit 1; }
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(uname -m)

start=$(date +%s)
if [ ! -f resources/icons/wzp.icns ]; then
  QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py
fi
export WZP_CODESIGN_IDENTITY=${WZP_CODESIGN_IDENTITY:-}
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$BUILD" packaging/wzp.spec
APP=$DIST/WZP.app
"$APP/Contents/MacOS/wzp-relay" --help >/dev/null
plutil -lint "$APP/Contents/Info.plist"
codesign --verify --deep --strict "$APP"
echo "build-macos: $APP ($(du -sh "$APP" | cut -f1)) in $(($(date +%s) - start)) s"

STAGE=$BUILD/dmg
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG=$DIST/WZP-$VERSION-macos-$ARCH.dmg
rm -f "$DMG"
hdiutil create -volname "WZP $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG" >/dev/null
if [ -n "$WZP_CODESIGN_IDENTITY" ]; then
  codesign --sign "$WZP_CODESIGN_IDENTITY" --timestamp "$DMG"
fi
if [ -n "${WZP_NOTARY_PROFILE:-}" ]; then
  [ -n "$WZP_CODESIGN_IDENTITY" ] || { echo "build-macos: notarization needs WZP_CODESIGN_IDENTITY" >&2; exit 1; }
  xcrun notarytool submit "$DMG" --keychain-profile "$WZP_NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
echo "build-macos: $DMG in $(($(date +%s) - start)) s"
