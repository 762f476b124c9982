#!/usr/bin/env bash
# Set up everything (see setup.sh) and start the WZP desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "No display found: starting the app on a virtual screen (Xvfb). Use a desktop session to see it." >&2
  exec xvfb-run -a .venv/bin/wzp "$@"
fi
exec .venv/bin/wzp "$@"
