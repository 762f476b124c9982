"""Shared helpers for the relay / client / CLI tests (real sockets, no mocks)."""
