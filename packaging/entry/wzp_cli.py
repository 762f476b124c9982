"""Frozen entry point of `wzp-cli`: the same as the `wzp-cli` console script, app.cli.main:main."""

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
