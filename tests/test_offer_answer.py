"""The call setup's cryptography as pure functions: what the relay carries is checked, keys agree."""

from __future__ import annotations

import dataclasses

import pytest
from msgspec.structs import replace

from app.call.offer_answer import (
    Parties,
    SetupRefused,
    build_answer,
    build_offer,
    check_incoming,
    verify_setup,
)
from app.identity import Identity
from app.media.media_keys import EphemeralKey
from app.protocol import messages as m

CALL_ID = "ab" * 16


@dataclasses.dataclass
class Side:
    identity: Identity
    ephemeral: EphemeralKey


@pytest.fixture
def sides() -> tuple[Side, Side]:
    return Side(Identity.generate(), EphemeralKey.generate()), Side(Identity.generate(), EphemeralKey.generate())


def parties(caller: Side, callee: Side) -> Parties:
    return Parties(CALL_ID, caller.identity.fingerprint, callee.identity.fingerprint)


def relayed_incoming(offer: m.DirectCallOffer, caller: Side) -> m.CallIncoming:
    """What an honest relay forwards to the callee."""
    return m.CallIncoming(
        call_id=offer.call_id,
        caller_fingerprint=offer.caller_fingerprint,
        caller_alias=offer.caller_alias,
        caller_public_key=caller.identity.public_key,
        ephemeral_key=offer.ephemeral_key,
        key_signature=offer.key_signature,
    )


def setup_for(peer: Side, signature: bytes, **changes: object) -> m.CallSetup:
    setup = m.CallSetup(
        call_id=CALL_ID,
        room="r",
        relay_addr="127.0.0.1:4433",
        role="Caller",
        accept_mode="AcceptTrusted",
        peer_fingerprint=peer.identity.fingerprint,
        peer_public_key=peer.identity.public_key,
        peer_ephemeral_key=peer.ephemeral.public_bytes,
        peer_key_signature=signature,
    )
    return replace(setup, **changes) if changes else setup


def test_an_honest_relay_gives_both_sides_matching_keys(sides: tuple[Side, Side]) -> None:
    caller, callee = sides
    p = parties(caller, callee)
    offer = build_offer(
        caller.identity.sign, p, caller.ephemeral, alias="Ada", reflexive=None, local_addrs=["10.0.0.1:5"]
    )
    assert check_incoming(relayed_incoming(offer, caller), callee.identity.fingerprint) == ""
    answer = build_answer(
        callee.identity.sign, p, callee.ephemeral, accept_mode="AcceptGeneric", reflexive=None, local_addrs=[]
    )
    caller_keys = verify_setup(setup_for(callee, answer.key_signature), p, caller.ephemeral, outgoing=True)
    callee_keys = verify_setup(setup_for(caller, offer.key_signature), p, callee.ephemeral, outgoing=False)
    assert caller_keys.send_key == callee_keys.recv_key and caller_keys.recv_key == callee_keys.send_key


def test_an_incoming_call_with_a_swapped_identity_key_or_call_key_is_refused(sides: tuple[Side, Side]) -> None:
    caller, callee = sides
    offer = build_offer(
        caller.identity.sign, parties(caller, callee), caller.ephemeral, alias="", reflexive=None, local_addrs=[]
    )
    incoming = relayed_incoming(offer, caller)
    mallory = Identity.generate()
    swapped_identity = replace(incoming, caller_public_key=mallory.public_key)
    assert "does not match the caller's fingerprint" in check_incoming(swapped_identity, callee.identity.fingerprint)
    swapped_key = replace(incoming, ephemeral_key=EphemeralKey.generate().public_bytes)
    assert "not signed by the caller" in check_incoming(swapped_key, callee.identity.fingerprint)
    # A signature made for someone else (another callee) does not pass either.
    assert "not signed" in check_incoming(incoming, Identity.generate().fingerprint)


def test_a_setup_the_relay_tampered_with_is_refused_with_the_reason(sides: tuple[Side, Side]) -> None:
    caller, callee = sides
    p = parties(caller, callee)
    answer = build_answer(
        callee.identity.sign, p, callee.ephemeral, accept_mode="AcceptTrusted", reflexive=None, local_addrs=[]
    )
    good = setup_for(callee, answer.key_signature)
    mallory = Side(Identity.generate(), EphemeralKey.generate())
    cases = {
        "someone else": setup_for(mallory, answer.key_signature),
        "identity key that does not match": replace(good, peer_public_key=mallory.identity.public_key),
        "not signed by them": replace(good, peer_ephemeral_key=mallory.ephemeral.public_bytes),
        "could not be agreed": replace(  # our own call key reflected back (even with the peer's signature)
            good,
            peer_ephemeral_key=caller.ephemeral.public_bytes,
            peer_key_signature=build_answer(
                callee.identity.sign, p, caller.ephemeral, accept_mode="AcceptTrusted", reflexive=None, local_addrs=[]
            ).key_signature,
        ),
    }
    for expected, setup in cases.items():
        with pytest.raises(SetupRefused, match=expected):
            verify_setup(setup, p, caller.ephemeral, outgoing=True)
    verify_setup(good, p, caller.ephemeral, outgoing=True)  # and the untouched one passes
