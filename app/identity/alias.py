"""Friendly, deterministic "Swift Wolf"-style aliases derived from an identity seed.

The alias is a label to make identities easier to tell apart at a glance; it is
NOT a security property (there are only 64 * 64 of them). Compare fingerprints
to verify who you are talking to.
"""

from __future__ import annotations

import hashlib

__all__ = ["ADJECTIVES", "ANIMALS", "alias_from_seed"]

_DOMAIN = b"wzp-alias-v1\x00"

ADJECTIVES: tuple[str, ...] = (
    "Agile", "Amber", "Ancient", "Arctic", "Azure", "Bold", "Brave", "Bright",
    "Calm", "Clever", "Cobalt", "Cosmic", "Crimson", "Curious", "Daring", "Dusky",
    "Eager", "Electric", "Emerald", "Fearless", "Fierce", "Gentle", "Gilded", "Golden",
    "Graceful", "Happy", "Hidden", "Humble", "Icy", "Indigo", "Jolly", "Keen",
    "Kind", "Lively", "Lucky", "Lunar", "Mellow", "Mighty", "Misty", "Nimble",
    "Noble", "Patient", "Plucky", "Polar", "Proud", "Quick", "Quiet", "Radiant",
    "Rapid", "Restless", "Royal", "Rustic", "Scarlet", "Serene", "Silent", "Silver",
    "Solar", "Steady", "Stormy", "Sunny", "Swift", "Velvet", "Vivid", "Wild",
)  # fmt: skip

ANIMALS: tuple[str, ...] = (
    "Albatross", "Antelope", "Badger", "Bear", "Beaver", "Bison", "Bobcat", "Buffalo",
    "Camel", "Caribou", "Cheetah", "Condor", "Cougar", "Coyote", "Crane", "Dolphin",
    "Dove", "Eagle", "Elk", "Falcon", "Ferret", "Finch", "Fox", "Gazelle",
    "Gecko", "Giraffe", "Hare", "Hawk", "Heron", "Ibis", "Jaguar", "Kestrel",
    "Koala", "Lemur", "Leopard", "Lion", "Lynx", "Marmot", "Marten", "Meerkat",
    "Mink", "Moose", "Narwhal", "Ocelot", "Orca", "Osprey", "Otter", "Owl",
    "Panda", "Panther", "Pelican", "Penguin", "Puffin", "Quail", "Raven", "Salmon",
    "Seal", "Sparrow", "Stork", "Swan", "Tiger", "Walrus", "Wolf", "Wren",
)  # fmt: skip


def _pick(words: tuple[str, ...], chunk: bytes) -> str:
    # 64-bit value modulo a small list length: bias is far below anything visible.
    return words[int.from_bytes(chunk, "big") % len(words)]


def alias_from_seed(seed: bytes) -> str:
    """Return a deterministic two-word alias such as ``"Swift Wolf"`` for ``seed``."""
    digest = hashlib.sha256(_DOMAIN + bytes(seed)).digest()
    return f"{_pick(ADJECTIVES, digest[:8])} {_pick(ANIMALS, digest[8:16])}"
