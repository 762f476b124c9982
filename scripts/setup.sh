#!/usr/bin/env bash
# Install everything WZP Desktop needs on Debian/Ubuntu: system libraries (PortAudio, the
# Qt xcb runtime, PulseAudio and tools the tests use), a virtualenv in .venv, the project
# with its test extras (libopus 1.6 comes in the opuslib-next-bundled wheel), and the
# wzp-opus-dnn wheel: libopus 1.6.1 with deep PLC + OSCE, built here from the release
# tarball by packaging/build_opus_wheel.sh (about 40 s, once). Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-dev gcc make debian-archive-keyring
  libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils
  espeak-ng xvfb xauth iproute2 iptables nftables procps binutils miniupnpd-nftables
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 dbus-daemon libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 libx11-xcb1
)

missing=()
if command -v dpkg >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
stamp=.venv/.wzp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q -e '.[test,package]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import app, aioquic, opuslib_next, sounddevice, PySide6, qasync, msgspec, PyInstaller, pywebrtc_audio" \
    || { echo "setup: Python packages failed to install" >&2; exit 1; }
  touch "$stamp"
fi
# The deep-PLC libopus: the app prefers it to the default build in opuslib-next-bundled.
if ! .venv/bin/python -c "import wzp_opus_dnn, sys; sys.exit(wzp_opus_dnn.library_path() is None)" 2>/dev/null; then
  wheel=$(ls dist/opus/wzp_opus_dnn-1.6.1-*.whl 2>/dev/null | head -n1 || true)
  if [ -n "$wheel" ]; then
    .venv/bin/python -m pip install -q --no-deps "$wheel" 2>&1 | grep -v "^WARNING: Location" || true
  else
    PYTHON=.venv/bin/python packaging/build_opus_wheel.sh --install
  fi
  .venv/bin/python -c "import wzp_opus_dnn, sys; sys.exit(wzp_opus_dnn.library_path() is None)" \
    || { echo "setup: the wzp-opus-dnn wheel (libopus with deep PLC) failed to install" >&2; exit 1; }
fi
.venv/bin/python -c "from app.media.opus_probe import app_opus; print('setup: opus', app_opus().describe())"
echo "setup: done"
