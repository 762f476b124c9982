"""Tests for app.nat.roles."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.nat.roles import decide_role, normalize_fingerprint

HEX = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)


def test_smaller_fingerprint_dials() -> None:
    assert decide_role("aaaa", "bbbb") == "dialer"
    assert decide_role("bbbb", "aaaa") == "acceptor"


def test_lexicographic_not_numeric() -> None:
    assert decide_role("10", "9") == "dialer"
    assert decide_role("ab", "abc") == "dialer"


@given(HEX, HEX)
def test_symmetric_and_deterministic(a: str, b: str) -> None:
    assume(a != b)
    mine = decide_role(a, b)
    theirs = decide_role(b, a)
    assert {mine, theirs} == {"dialer", "acceptor"}
    assert decide_role(a, b) == mine


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_any_text_either_decides_or_raises_value_error(a: str, b: str) -> None:
    try:
        mine = decide_role(a, b)
    except ValueError:
        with pytest.raises(ValueError):
            decide_role(b, a)
        return
    assert {mine, decide_role(b, a)} == {"dialer", "acceptor"}


def test_equal_fingerprints_raise() -> None:
    with pytest.raises(ValueError, match="equal"):
        decide_role("abcd", "abcd")


def test_equal_after_normalization_raise() -> None:
    with pytest.raises(ValueError, match="equal"):
        decide_role("AB:CD:EF", "abcdef")


@pytest.mark.parametrize(("own", "peer"), [("", "ab"), ("ab", ""), (" : ", "ab")])
def test_empty_fingerprints_raise(own: str, peer: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        decide_role(own, peer)


def test_formatting_differences_do_not_break_symmetry() -> None:
    # Side A renders fingerprints in upper case with colons, side B in plain lower-case hex.
    a_view = decide_role("0F:AA", "e1:00")
    b_view = decide_role("e100", "0faa")
    assert {a_view, b_view} == {"dialer", "acceptor"}
    assert a_view == "dialer"


def test_normalize_fingerprint() -> None:
    assert normalize_fingerprint(" AB:cd-EF 01 ") == "abcdef01"


def test_non_string_rejected() -> None:
    with pytest.raises(TypeError):
        decide_role(b"ab", "cd")  # type: ignore[arg-type]


def test_the_side_with_a_port_mapping_accepts() -> None:
    """Dialing follows the candidates: only a dial towards a mapping gets through, so the side
    that holds one accepts, whatever the fingerprints say."""
    assert decide_role("aaaa", "bbbb", own_mapped=True) == "acceptor"
    assert decide_role("bbbb", "aaaa", peer_mapped=True) == "dialer"
    assert decide_role("bbbb", "aaaa", own_mapped=True) == "acceptor"
    assert decide_role("aaaa", "bbbb", peer_mapped=True) == "dialer"
    # both or neither mapped: the fingerprints decide
    assert decide_role("aaaa", "bbbb", own_mapped=True, peer_mapped=True) == "dialer"
    assert decide_role("bbbb", "aaaa", own_mapped=True, peer_mapped=True) == "acceptor"


@given(HEX, HEX, st.booleans(), st.booleans())
def test_symmetric_with_mappings(a: str, b: str, a_mapped: bool, b_mapped: bool) -> None:
    assume(a != b)
    mine = decide_role(a, b, own_mapped=a_mapped, peer_mapped=b_mapped)
    theirs = decide_role(b, a, own_mapped=b_mapped, peer_mapped=a_mapped)
    assert {mine, theirs} == {"dialer", "acceptor"}
