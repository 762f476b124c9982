#!/usr/bin/env bash
# Set up everything (see setup.sh) and run the whole test suite: lint, then pytest.
# Tests that need root (network namespaces) run when this runs as root, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
