"""Friendly, deterministic "Swift Wolf"-style aliases derived from an identity seed.

The alias is a label to make identities easier to tell apart at a glance; it is
NOT a security property (there are only 64 * 64 of them). Compare fingerprints
to verify who you are talking to.
"""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = [
    "ADJECTIVES",
    "ANIMALS",
    "MAX_DISPLAY_ALIAS",
    "alias_from_seed",
    "display_alias",
    "self_chosen_name",
]

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


# --- showing an alias someone else chose ------------------------------------------------

MAX_DISPLAY_ALIAS = 64  # characters shown at most (a longer alias ends in "…")
_MAX_INPUT = 4096  # never look at more than this much of whatever a peer sent
_MAX_MARKS = 2  # combining marks kept per base character ("Zalgo" text stacks dozens)
# Dropped outright: controls, format characters (bidi embeddings/overrides/isolates U+202A-202E,
# U+2066-2069, LRM/RLM, zero-width space/joiners, BOM, soft hyphen, tag characters), surrogates,
# private use and unassigned code points.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Letters that render as nothing: a name made of them looks empty or like padding.
_BLANK_LETTERS = frozenset("\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")
# Quote marks inside an alias would let it fake the closing quote of the marking around it.
_QUOTES = dict.fromkeys(map(ord, '"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02'), "'")


def display_alias(alias: object) -> str:
    """``alias`` (chosen by someone else, sent over the network) made safe to show as one line.

    Removes control and format characters (bidi overrides and isolates, zero-width characters),
    surrogates, private-use and unassigned code points and letters that render as blank; turns
    every kind of whitespace into one space and trims the ends; keeps at most two combining marks
    per character; turns double quotes into ``'``; caps the result at :data:`MAX_DISPLAY_ALIAS`
    characters (ending in "…"). May return ``""``.
    """
    if not isinstance(alias, str):
        return ""
    text = unicodedata.normalize("NFC", alias[:_MAX_INPUT])
    out: list[str] = []
    marks = 0
    for char in text:
        if char.isspace():
            out.append(" ")
            marks = 0
            continue
        category = unicodedata.category(char)
        if category in _DROP_CATEGORIES or char in _BLANK_LETTERS:
            continue
        if category in ("Mn", "Me"):
            if marks >= _MAX_MARKS or not out or out[-1] == " ":
                continue
            marks += 1
        else:
            marks = 0
        out.append(char)
    cleaned = " ".join("".join(out).split()).translate(_QUOTES)
    if len(cleaned) > MAX_DISPLAY_ALIAS:
        cleaned = cleaned[: MAX_DISPLAY_ALIAS - 1].rstrip() + "…"
    return cleaned


def self_chosen_name(alias: object) -> str:
    """How to show a name a person gave themselves: ``“Swift Wolf” (their name)``.

    Saved contacts are shown by the name the user gave them, plainly; anyone else only by the
    alias they chose, which anybody can copy, so it is marked as theirs. ``""`` if nothing
    printable is left of ``alias``.
    """
    cleaned = display_alias(alias)
    return f"\u201c{cleaned}\u201d (their name)" if cleaned else ""
