"""Fingerprint formatting and the forgiving-but-precise fingerprint parser."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.identity import FingerprintError, fingerprint_of, is_fingerprint, parse_fingerprint

CANONICAL_RE = re.compile(r"[0-9a-f]{4}(:[0-9a-f]{4}){7}")
CANONICAL = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"


def test_fingerprint_of_format_and_value() -> None:
    key = bytes(range(32))
    fp = fingerprint_of(key)
    assert CANONICAL_RE.fullmatch(fp)
    assert fp.replace(":", "") == hashlib.sha256(key).hexdigest()[:32]


def test_fingerprint_of_differs_per_key() -> None:
    assert fingerprint_of(b"\x00" * 32) != fingerprint_of(b"\x01" + b"\x00" * 31)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_fingerprint_of_rejects_wrong_key_length(bad: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint_of(bad)


@pytest.mark.parametrize(
    "text",
    [
        CANONICAL,
        CANONICAL.upper(),
        f"  {CANONICAL}\n",
        "\t" + CANONICAL.upper() + "  ",
        CANONICAL.replace(":", " "),
        CANONICAL.replace(":", "-"),
        CANONICAL.replace(":", ""),
        CANONICAL.replace(":", "").upper(),
        CANONICAL.replace(":", " : "),
        CANONICAL.replace(":", "\n"),
        CANONICAL.replace(":", "\u00a0"),  # no-break space from a web page
        "1a2b:3c4d-5e6f 7a8b:9c0d:1e2f:3a4b:5c6d",
        "1A2b:3C4d:5E6f:7A8b:9C0d:1E2f:3A4b:5C6d",
    ],
)
def test_parse_accepts_paste_variants(text: str) -> None:
    assert parse_fingerprint(text) == CANONICAL
    assert is_fingerprint(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        (CANONICAL[:-2], "32 hex digits, this has 30"),
        (CANONICAL + "ab", "32 hex digits, this has 34"),
        (CANONICAL.replace(":", "")[:-1], "32 hex digits, this has 31"),
        ("1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6g", "'g' .* is not a hex digit"),
        ("0x1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", "'x' .* is not a hex digit"),
        (CANONICAL.replace(":", "."), r"'\.' .* is not a hex digit"),
        (CANONICAL.replace(":", "_"), "'_' .* is not a hex digit"),
        ("1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6\uff44", "is not a hex digit"),  # fullwidth d
        ("1a2b3:c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d", "8 groups of 4"),
        ("1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d", "8 groups of 4"),
        (":1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", "8 groups of 4"),
    ],
)
def test_parse_rejects_with_clear_message(text: str, message: str) -> None:
    with pytest.raises(FingerprintError, match=message):
        parse_fingerprint(text)
    assert not is_fingerprint(text)


def test_bad_character_message_names_the_character_and_position() -> None:
    with pytest.raises(FingerprintError) as info:
        parse_fingerprint("1a2g")
    assert str(info.value).startswith("'g' (character 4) is not a hex digit")


def test_fingerprint_error_is_a_value_error() -> None:
    assert issubclass(FingerprintError, ValueError)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(FingerprintError, match="must be text"):
        parse_fingerprint(b"1a2b" * 8)  # type: ignore[arg-type]


SEPARATORS = st.sampled_from([":", "-", " ", "\t", " : ", " - ", "  ", "\n"])


@st.composite
def pasted_variants(draw: st.DrawFn) -> tuple[str, str]:
    """A random fingerprint in canonical form, and a plausible pasted spelling of it."""
    raw = draw(st.binary(min_size=16, max_size=16)).hex()
    canonical = ":".join(raw[i : i + 4] for i in range(0, 32, 4))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in raw)
    groups = [cased[i : i + 4] for i in range(0, 32, 4)]
    if draw(st.booleans()):
        text = "".join(groups)
    else:
        text = groups[0]
        for group in groups[1:]:
            text += draw(SEPARATORS) + group
    padding = st.text(alphabet=" \t\n\r", max_size=3)
    return canonical, draw(padding) + text + draw(padding)


@given(pasted_variants())
def test_parse_normalises_any_pasted_variant(case: tuple[str, str]) -> None:
    canonical, text = case
    assert parse_fingerprint(text) == canonical
    assert parse_fingerprint(canonical) == canonical


@given(st.binary(min_size=32, max_size=32))
def test_fingerprint_of_output_round_trips(key: bytes) -> None:
    fp = fingerprint_of(key)
    assert CANONICAL_RE.fullmatch(fp)
    assert parse_fingerprint(fp) == fp
    assert parse_fingerprint(fp.upper().replace(":", "")) == fp


def _parse_or_reject(text: str) -> None:
    try:
        result = parse_fingerprint(text)
    except FingerprintError as exc:
        assert str(exc)  # always a human-readable message
    else:
        assert CANONICAL_RE.fullmatch(result)


@given(st.text())
def test_arbitrary_text_only_ever_raises_fingerprint_error(text: str) -> None:
    _parse_or_reject(text)


@given(st.text(alphabet="0123456789abcdefABCDEF:- \t\n\u00a0xg", max_size=60))
def test_near_miss_text_only_ever_raises_fingerprint_error(text: str) -> None:
    _parse_or_reject(text)
