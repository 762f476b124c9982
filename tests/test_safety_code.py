"""The safety code: the same on both sides, different for every other pair, and stable across versions."""

from __future__ import annotations

import re

import pytest

from app.identity import FingerprintError, Identity
from app.identity.safety_code import safety_code

FP_A = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"
FP_B = "ffff:0000:1111:2222:3333:4444:5555:6666"


def test_both_sides_compute_the_same_code() -> None:
    a, b = Identity.generate().fingerprint, Identity.generate().fingerprint
    assert safety_code(a, b) == safety_code(b, a)
    assert re.fullmatch(r"\d{4}( \d{4}){5}", safety_code(a, b))


def test_any_other_key_gives_another_code() -> None:
    me = Identity.generate().fingerprint
    codes = {safety_code(me, Identity.generate().fingerprint) for _ in range(50)}
    assert len(codes) == 50


def test_typed_forms_of_a_fingerprint_give_the_same_code() -> None:
    assert safety_code(FP_A.upper().replace(":", "-"), FP_B) == safety_code(FP_A, FP_B)


def test_the_code_never_changes_for_the_same_pair() -> None:
    # A different code for the same two people after an update would tell everyone "someone is in between".
    assert safety_code(FP_A, FP_B) == "5428 8781 4198 0231 0281 2096"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        safety_code(FP_A, FP_A.upper())
    with pytest.raises(FingerprintError):
        safety_code(FP_A, "not a fingerprint")
