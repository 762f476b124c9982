"""Frozen entry point of `wzp` (the desktop app): the same as the `wzp` console script, ui.main:main."""

import sys

from ui.main import main

if __name__ == "__main__":
    sys.exit(main())
