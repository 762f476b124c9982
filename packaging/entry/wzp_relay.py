"""Frozen entry point of `wzp-relay`: the same as the `wzp-relay` console script, app.relay.main:main."""

import sys

from app.relay.main import main

if __name__ == "__main__":
    sys.exit(main())
