"""The call setup's cryptography, as pure functions: build an offer or answer, check what the relay
carries, derive the media keys.

Everything here arrives through (or goes out via) the relay, which must never learn the media keys:
an offer and an answer carry each side's ephemeral X25519 key signed by its identity key over a
transcript that binds the call id, both fingerprints and the role (`app.media.media_keys`). A relay
that swaps a key, names another peer or forges a signature gets a refusal with a sentence that says
what was wrong. No sockets, no clocks, no state: the client (`app.client.client`) calls these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.identity import fingerprint_of
from app.media.errors import MediaKeyError
from app.media.media_keys import (
    ROLE_CALLEE,
    ROLE_CALLER,
    EphemeralKey,
    MediaKeys,
    derive_media_keys,
    sign_ephemeral,
    verify_ephemeral,
)
from app.protocol import messages as m

#: How the callee answers: reveal its addresses (direct path allowed) or stay behind the relay.
ACCEPT_MODES = {"trusted": "AcceptTrusted", "generic": "AcceptGeneric"}


class SetupRefused(Exception):
    """What the relay carried cannot be trusted; the message completes "The call was ended: ..."."""


@dataclass(frozen=True)
class Parties:
    """Who is who in a call: the roles bind both fingerprints into every signature."""

    call_id: str
    caller_fingerprint: str
    callee_fingerprint: str

    @classmethod
    def of(cls, call_id: str, own: str, peer: str, *, outgoing: bool) -> Parties:
        return cls(call_id, own, peer) if outgoing else cls(call_id, peer, own)

    def sign(self, sign: Callable[[bytes], bytes], role: str, ephemeral: EphemeralKey) -> bytes:
        """`role`'s signature over its call key, bound to this call and both fingerprints."""
        return sign_ephemeral(
            sign, self.call_id, self.caller_fingerprint, self.callee_fingerprint, role, ephemeral.public_bytes
        )


def build_offer(
    sign: Callable[[bytes], bytes],
    parties: Parties,
    ephemeral: EphemeralKey,
    *,
    alias: str,
    reflexive: str | None,
    local_addrs: Sequence[str],
) -> m.DirectCallOffer:
    """The caller's offer: its addresses and its signed call key."""
    return m.DirectCallOffer(
        call_id=parties.call_id,
        caller_fingerprint=parties.caller_fingerprint,
        target_fingerprint=parties.callee_fingerprint,
        caller_alias=alias,
        caller_reflexive_addr=reflexive,
        caller_local_addrs=list(local_addrs),
        ephemeral_key=ephemeral.public_bytes,
        key_signature=parties.sign(sign, ROLE_CALLER, ephemeral),
    )


def build_answer(
    sign: Callable[[bytes], bytes],
    parties: Parties,
    ephemeral: EphemeralKey,
    *,
    accept_mode: str,
    reflexive: str | None,
    local_addrs: Sequence[str],
) -> m.DirectCallAnswer:
    """The callee's acceptance (`accept_mode` one of `ACCEPT_MODES`' values) with its signed call key."""
    return m.DirectCallAnswer(
        call_id=parties.call_id,
        accept_mode=accept_mode,
        callee_reflexive_addr=reflexive,
        callee_local_addrs=list(local_addrs),
        ephemeral_key=ephemeral.public_bytes,
        key_signature=parties.sign(sign, ROLE_CALLEE, ephemeral),
    )


def rejection(call_id: str) -> m.DirectCallAnswer:
    return m.DirectCallAnswer(call_id=call_id, accept_mode="Reject")


def check_incoming(msg: m.CallIncoming, own_fingerprint: str) -> str:
    """What is wrong with an incoming call's identity key or call key ("" when both are the caller's).

    The relay carries both: a relay that swaps either must not get a call whose media keys it knows."""
    if fingerprint_of(msg.caller_public_key) != msg.caller_fingerprint:
        return "the identity key it carries does not match the caller's fingerprint"
    if not verify_ephemeral(
        msg.caller_public_key,
        msg.key_signature,
        msg.call_id,
        msg.caller_fingerprint,
        own_fingerprint,
        ROLE_CALLER,
        msg.ephemeral_key,
    ):
        return "its call key is not signed by the caller"
    return ""


def verify_setup(
    setup: m.CallSetup,
    parties: Parties,
    ephemeral: EphemeralKey,
    *,
    outgoing: bool,
) -> MediaKeys:
    """Check the relay's `CallSetup` names the peer we called (or who called us), with that peer's
    identity key and a call key it signed; derive this side's media keys. `SetupRefused` otherwise."""
    expected_peer = parties.callee_fingerprint if outgoing else parties.caller_fingerprint
    if setup.peer_fingerprint != expected_peer:
        raise SetupRefused("the relay connected it to someone else")
    if fingerprint_of(setup.peer_public_key) != setup.peer_fingerprint:
        raise SetupRefused("the relay sent an identity key that does not match the other side's fingerprint")
    if not verify_ephemeral(
        setup.peer_public_key,
        setup.peer_key_signature,
        parties.call_id,
        parties.caller_fingerprint,
        parties.callee_fingerprint,
        ROLE_CALLEE if outgoing else ROLE_CALLER,
        setup.peer_ephemeral_key,
    ):
        raise SetupRefused("the other side's call key is not signed by them")
    try:
        return derive_media_keys(
            ephemeral,
            setup.peer_ephemeral_key,
            parties.call_id,
            parties.caller_fingerprint,
            parties.callee_fingerprint,
            outgoing,
        )
    except MediaKeyError as exc:
        raise SetupRefused("the call keys could not be agreed") from exc
