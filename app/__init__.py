"""WZP core: everything that is not Qt (identity, protocol, QUIC endpoint, relay, media, CLI)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wzp-desktop")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
