"""Errors the client API raises to its callers (the CLI, the GUI)."""

from __future__ import annotations


class ClientError(Exception):
    """A request the client cannot carry out; the message is a sentence for the user."""
