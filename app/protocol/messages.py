"""Signal protocol messages.

Every message is a :class:`msgspec.Struct` tagged by a ``"type"`` field whose
value is the class name, e.g. ``{"type": "Ping", "nonce": 1}``. Unknown fields
are ignored (forward compatibility); list fields default to ``[]`` and optional
fields to ``None`` so older peers that omit them still decode. ``bytes`` fields
travel as base64 strings in JSON.

Bounds (string lengths, patterns, list sizes, integer ranges) are declared with
:class:`msgspec.Meta` and are enforced when *decoding*; msgspec does not check
them when a Struct is constructed or encoded.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

import msgspec

# --------------------------------------------------------------------------- bounds

MAX_STR_LEN: Final = 256
MAX_ADDR_LEN: Final = 64
MAX_ADDRS: Final = 16
MAX_BYTES_LEN: Final = 256
#: One page of a presence listing, and of a batched presence delta: 100 entries of at most
#: 39 + 4 * 64 bytes plus JSON overhead stay well under the 64 KiB frame cap.
MAX_PRESENCE_PAGE: Final = 100
MAX_ALIAS_LEN: Final = 64
MAX_U63: Final = 2**63 - 1

FINGERPRINT_PATTERN: Final = r"^[0-9a-f]{4}(:[0-9a-f]{4}){7}$"
CALL_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
#: A self-chosen name: printable text only. No C0/C1 controls, no line or paragraph separators,
#: no zero-width or bidirectional-override characters (they let a name pose as another).
ALIAS_PATTERN: Final = r"^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]*$"

# ``$`` in a Python regex also matches before a trailing newline, so the exact
# length is pinned as well: "abcd:...:abcd\n" must not pass as a fingerprint.
Fingerprint = Annotated[str, msgspec.Meta(pattern=FINGERPRINT_PATTERN, min_length=39, max_length=39)]
CallId = Annotated[str, msgspec.Meta(pattern=CALL_ID_PATTERN, min_length=32, max_length=32)]
ShortStr = Annotated[str, msgspec.Meta(max_length=MAX_STR_LEN)]
Address = Annotated[str, msgspec.Meta(max_length=MAX_ADDR_LEN)]
AddressList = Annotated[list[Address], msgspec.Meta(max_length=MAX_ADDRS)]
Alias = Annotated[str, msgspec.Meta(max_length=MAX_ALIAS_LEN, pattern=ALIAS_PATTERN)]
SmallBytes = Annotated[bytes, msgspec.Meta(max_length=MAX_BYTES_LEN)]
U63 = Annotated[int, msgspec.Meta(ge=0, le=MAX_U63)]

AcceptMode = Literal["Reject", "AcceptTrusted", "AcceptGeneric"]
AcceptedMode = Literal["AcceptTrusted", "AcceptGeneric"]
CallRole = Literal["caller", "callee"]
RaceWinner = Literal["direct", "relay"]

HANGUP_REASONS: Final = (
    "Normal",
    "Busy",
    "Declined",
    "Timeout",
    "Error",
    "Offline",
    "Unavailable",
    "Cancelled",
    "Replaced",
    "LimitExceeded",
)


class _Msg(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=False):
    """Common configuration of every message (not itself a message).

    ``tag_field`` and ``forbid_unknown_fields`` are inherited; ``kw_only`` only
    applies to the fields a class defines itself, so every subclass repeats it.
    """


# --------------------------------------------------------------------- registration


class RegisterChallenge(_Msg, tag="RegisterChallenge", kw_only=True):
    """relay -> client, first message on a new connection."""

    nonce: SmallBytes
    relay_fingerprint: Fingerprint
    relay_alias: Alias = ""


class Register(_Msg, tag="Register", kw_only=True):
    """client -> relay: identity key plus a signature over the challenge nonce."""

    public_key: SmallBytes
    alias: Alias
    nonce: SmallBytes
    signature: SmallBytes
    discoverable: bool = True


class Registered(_Msg, tag="Registered", kw_only=True):
    """relay -> client: registration accepted."""

    fingerprint: Fingerprint
    observed_addr: Address


class Replaced(_Msg, tag="Replaced", kw_only=True):
    """relay -> older connection of a user that just registered again; then closed."""

    reason: ShortStr = ""


# ------------------------------------------------------------------------- presence


class PresenceEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """One user in a :class:`PresenceList` (a plain Struct, not a message)."""

    fingerprint: Fingerprint
    alias: Alias


class PresenceQuery(_Msg, tag="PresenceQuery", kw_only=True):
    """client -> relay: one page of the discoverable users, in fingerprint order.

    ``after`` is the last fingerprint of the previous page (none: from the start).
    The answer carries the same ``request_id``.
    """

    request_id: U63 = 0
    after: Fingerprint | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PRESENCE_PAGE)] = MAX_PRESENCE_PAGE


class PresenceList(_Msg, tag="PresenceList", kw_only=True):
    """relay -> client: one page; ``more`` when users after the last one remain."""

    request_id: U63 = 0
    users: Annotated[list[PresenceEntry], msgspec.Meta(max_length=MAX_PRESENCE_PAGE)] = msgspec.field(
        default_factory=list
    )
    more: bool = False


class PresenceChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """One user who came online or went offline (a plain Struct, not a message)."""

    fingerprint: Fingerprint
    alias: Alias = ""
    online: bool


class PresenceDelta(_Msg, tag="PresenceDelta", kw_only=True):
    """relay -> every registered user: the presence changes of the last batching interval.

    ``resync``: too many changed at once (a relay restart): fetch the list again (``PresenceQuery``).
    """

    changes: Annotated[list[PresenceChange], msgspec.Meta(max_length=MAX_PRESENCE_PAGE)] = msgspec.field(
        default_factory=list
    )
    resync: bool = False


# -------------------------------------------------------------------------- reflect


class Reflect(_Msg, tag="Reflect", kw_only=True):
    """client -> relay: "what address do you see me from?"."""

    request_id: U63


class ReflectResponse(_Msg, tag="ReflectResponse", kw_only=True):
    request_id: U63
    observed_addr: Address


# ---------------------------------------------------------------------------- calls


class DirectCallOffer(_Msg, tag="DirectCallOffer", kw_only=True):
    """caller -> relay."""

    call_id: CallId
    caller_fingerprint: Fingerprint
    target_fingerprint: Fingerprint
    caller_alias: Alias = ""
    caller_reflexive_addr: Address | None = None
    caller_local_addrs: AddressList = msgspec.field(default_factory=list)
    ephemeral_key: SmallBytes
    key_signature: SmallBytes


class CallIncoming(_Msg, tag="CallIncoming", kw_only=True):
    """relay -> callee: just enough to ring (no addresses)."""

    call_id: CallId
    caller_fingerprint: Fingerprint
    caller_alias: Alias = ""
    caller_public_key: SmallBytes
    ephemeral_key: SmallBytes
    key_signature: SmallBytes


class CallRinging(_Msg, tag="CallRinging", kw_only=True):
    call_id: CallId


class DirectCallAnswer(_Msg, tag="DirectCallAnswer", kw_only=True):
    """callee -> relay."""

    call_id: CallId
    accept_mode: AcceptMode
    callee_reflexive_addr: Address | None = None
    callee_local_addrs: AddressList = msgspec.field(default_factory=list)
    ephemeral_key: SmallBytes = b""
    key_signature: SmallBytes = b""


class CallSetup(_Msg, tag="CallSetup", kw_only=True):
    """relay -> both sides once the callee accepted."""

    call_id: CallId
    room: ShortStr
    relay_addr: Address
    role: CallRole
    accept_mode: AcceptedMode
    peer_fingerprint: Fingerprint
    peer_alias: Alias = ""
    peer_public_key: SmallBytes
    peer_ephemeral_key: SmallBytes
    peer_key_signature: SmallBytes
    peer_direct_addr: Address | None = None
    peer_local_addrs: AddressList = msgspec.field(default_factory=list)


class CallCancel(_Msg, tag="CallCancel", kw_only=True):
    call_id: CallId


class Hangup(_Msg, tag="Hangup", kw_only=True):
    """``reason`` is a plain string (see ``HANGUP_REASONS``) so new reasons stay decodable."""

    call_id: CallId
    reason: ShortStr = "Normal"


class PunchReady(_Msg, tag="PunchReady", kw_only=True):
    """A side tells the other, via the relay, that it has punched its NAT."""

    call_id: CallId


class MediaPathReport(_Msg, tag="MediaPathReport", kw_only=True):
    call_id: CallId
    direct_ok: bool
    race_winner: RaceWinner
    remote: Address | None = None
    candidate: Address | None = None


class PeerProof(_Msg, tag="PeerProof", kw_only=True):
    """First message on a direct peer connection, both ways: proof of the identity key
    the relay named for this call (see ``app.protocol.proofs.direct_peer_transcript``)."""

    call_id: CallId
    fingerprint: Fingerprint
    signature: SmallBytes


# ----------------------------------------------------------------------- media room


class MediaJoin(_Msg, tag="MediaJoin", kw_only=True):
    call_id: CallId
    fingerprint: Fingerprint
    signature: SmallBytes


class MediaJoined(_Msg, tag="MediaJoined", kw_only=True):
    call_id: CallId


# ------------------------------------------------------------------------ keepalive


class Ping(_Msg, tag="Ping", kw_only=True):
    nonce: U63


class Pong(_Msg, tag="Pong", kw_only=True):
    nonce: U63


# --------------------------------------------------------------------------- errors


class Error(_Msg, tag="Error", kw_only=True):
    """Generic error reply; ``ref_type`` names the message type it refers to."""

    code: ShortStr
    message: ShortStr
    ref_type: ShortStr | None = None


# ------------------------------------------------------------------------ registry

Message = (
    RegisterChallenge
    | Register
    | Registered
    | Replaced
    | PresenceQuery
    | PresenceList
    | PresenceDelta
    | Reflect
    | ReflectResponse
    | DirectCallOffer
    | CallIncoming
    | CallRinging
    | DirectCallAnswer
    | CallSetup
    | CallCancel
    | Hangup
    | PunchReady
    | MediaPathReport
    | PeerProof
    | MediaJoin
    | MediaJoined
    | Ping
    | Pong
    | Error
)

MESSAGE_TYPES: Final[dict[str, type[Message]]] = {str(cls.__struct_config__.tag): cls for cls in get_args(Message)}
"""Wire tag (``"type"`` value) -> message class."""

__all__ = [
    "ALIAS_PATTERN",
    "CALL_ID_PATTERN",
    "FINGERPRINT_PATTERN",
    "HANGUP_REASONS",
    "MAX_ADDRS",
    "MAX_ADDR_LEN",
    "MAX_ALIAS_LEN",
    "MAX_BYTES_LEN",
    "MAX_PRESENCE_PAGE",
    "MAX_STR_LEN",
    "MAX_U63",
    "MESSAGE_TYPES",
    "U63",
    "AcceptMode",
    "AcceptedMode",
    "Address",
    "AddressList",
    "Alias",
    "CallCancel",
    "CallId",
    "CallIncoming",
    "CallRinging",
    "CallRole",
    "CallSetup",
    "DirectCallAnswer",
    "DirectCallOffer",
    "Error",
    "Fingerprint",
    "Hangup",
    "MediaJoin",
    "MediaJoined",
    "MediaPathReport",
    "Message",
    "PeerProof",
    "Ping",
    "Pong",
    "PresenceChange",
    "PresenceDelta",
    "PresenceEntry",
    "PresenceList",
    "PresenceQuery",
    "PunchReady",
    "RaceWinner",
    "Reflect",
    "ReflectResponse",
    "Register",
    "RegisterChallenge",
    "Registered",
    "Replaced",
    "ShortStr",
    "SmallBytes",
]
