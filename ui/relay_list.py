"""A relay service as people type it: one address, or the addresses of its nodes, one per line or
separated by commas or semicolons (spaces are not separators: "relay example" is one bad entry).
This is the GUI's form of the CLI's ``--relay a,b,c``: the client is given the nodes joined by commas
and tries them in order (app.client.client.WzpClient splits them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.nat.relay_address import RelayAddressError, parse_relay_address

#: How many nodes one relay service entry may name (a longer list is a typing accident, not a service).
MAX_NODES = 16
_SEPARATORS = re.compile(r"[,;\r\n]+")


@dataclass(frozen=True)
class RelayListError:
    """One entry that is not a relay address: which (1-based, as typed), its text and why."""

    index: int
    text: str
    reason: str


def split_entries(text: str) -> list[str]:
    """The entries of `text`, in order: separated by commas, semicolons or line breaks."""
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def parse_relay_list(text: str) -> tuple[list[str], list[RelayListError]]:
    """Canonical ``host:port`` of every valid entry (duplicates dropped, order kept) and the bad ones."""
    nodes: list[str] = []
    errors: list[RelayListError] = []
    entries = split_entries(text)
    if len(entries) > MAX_NODES:
        errors.append(RelayListError(MAX_NODES + 1, entries[MAX_NODES][:80], f"at most {MAX_NODES} addresses"))
        entries = entries[:MAX_NODES]
    for index, entry in enumerate(entries, start=1):
        try:
            node = parse_relay_address(entry)
        except RelayAddressError as exc:
            errors.append(RelayListError(index, entry[:80], str(exc)))
            continue
        if node not in nodes:
            nodes.append(node)
    return nodes, errors


def join_nodes(nodes: list[str]) -> str:
    """How one relay service is stored in Settings and handed to the client: ``a:4433,b:4433``."""
    return ",".join(nodes)


def service_nodes(service: str) -> list[str]:
    """The nodes of a stored relay service (each re-validated: the settings file is input too)."""
    nodes, _errors = parse_relay_list(service)
    return nodes
