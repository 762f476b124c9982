"""Tests for app.protocol messages and codec (framing lives in test_protocol_framing.py)."""

from __future__ import annotations

import base64
import json
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.protocol import (
    HANGUP_REASONS,
    MAX_ALIAS_LEN,
    MAX_PRESENCE_PAGE,
    MAX_U63,
    MESSAGE_TYPES,
    CallSetup,
    DirectCallAnswer,
    DirectCallOffer,
    Error,
    FrameDecoder,
    Hangup,
    MalformedMessage,
    Message,
    Ping,
    PresenceEntry,
    PresenceList,
    ProtocolError,
    Register,
    UnknownMessageType,
    decode_message,
    encode_message,
    error_reply,
    frame_message,
)

FP = "0123:4567:89ab:cdef:0123:4567:89ab:cdef"
CALL_ID = "0123456789abcdef0123456789abcdef"

# Cap generated collection sizes so examples stay small; bounds themselves are
# exercised by the explicit boundary tests below.
_MAX_GENERATED_ITEMS = 5

# --------------------------------------------------------------------- strategies


def strategy_for(t: mi.Type) -> st.SearchStrategy[Any]:
    """A strategy of valid values for a msgspec type, respecting its Meta bounds."""
    if isinstance(t, mi.StrType):
        if t.pattern is not None:
            return st.from_regex(t.pattern, fullmatch=True)
        return st.text(min_size=t.min_length or 0, max_size=t.max_length or 64)
    if isinstance(t, mi.BytesType):
        return st.binary(min_size=t.min_length or 0, max_size=t.max_length or 64)
    if isinstance(t, mi.IntType):
        return st.integers(min_value=t.ge, max_value=t.le)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.UnionType):
        return st.one_of([strategy_for(member) for member in t.types])
    if isinstance(t, mi.ListType):
        limit = min(t.max_length if t.max_length is not None else 10**9, _MAX_GENERATED_ITEMS)
        return st.lists(strategy_for(t.item_type), min_size=t.min_length or 0, max_size=limit)
    if isinstance(t, mi.StructType):
        return struct_strategy(t.cls)
    raise NotImplementedError(f"no strategy for {t!r}; extend strategy_for")


def struct_strategy(cls: type[msgspec.Struct]) -> st.SearchStrategy[Any]:
    """Instances of ``cls``; optional fields are sometimes left at their default."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    required = {f.name: strategy_for(f.type) for f in info.fields if f.required}
    optional = {f.name: strategy_for(f.type) for f in info.fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional).map(lambda kw: cls(**kw))


ANY_MESSAGE = st.one_of([struct_strategy(cls) for cls in MESSAGE_TYPES.values()])

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


def _field_names(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    return cls.__struct_fields__


# ----------------------------------------------------------------- registry shape


def test_message_types_registry_matches_union() -> None:
    classes = get_args(Message)
    assert len(classes) == len(MESSAGE_TYPES) == 24
    assert set(MESSAGE_TYPES.values()) == set(classes)
    for name, cls in MESSAGE_TYPES.items():
        assert cls.__name__ == name
        assert cls.__struct_config__.tag == name
        assert cls.__struct_config__.tag_field == "type"
        assert cls.__struct_config__.forbid_unknown_fields is False


def test_presence_entry_is_not_a_message() -> None:
    assert "PresenceEntry" not in MESSAGE_TYPES
    assert PresenceEntry.__struct_config__.tag is None


def test_hangup_reasons() -> None:
    assert HANGUP_REASONS == (
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
    assert Hangup(call_id=CALL_ID).reason == "Normal"


def test_wire_shape_and_base64_bytes() -> None:
    msg = Register(public_key=b"\x00\x01\xff", alias="al", nonce=b"n", signature=b"")
    obj = json.loads(encode_message(msg))
    assert obj["type"] == "Register"
    assert obj["public_key"] == base64.b64encode(b"\x00\x01\xff").decode()
    assert obj["discoverable"] is True
    assert encode_message(Ping(nonce=7)) == b'{"type":"Ping","nonce":7}'


def test_defaults() -> None:
    offer = DirectCallOffer(
        call_id=CALL_ID,
        caller_fingerprint=FP,
        target_fingerprint=FP,
        ephemeral_key=b"e",
        key_signature=b"s",
    )
    assert offer.caller_alias == ""
    assert offer.caller_reflexive_addr is None
    assert offer.caller_local_addrs == []
    answer = DirectCallAnswer(call_id=CALL_ID, accept_mode="Reject")
    assert answer.ephemeral_key == b"" and answer.key_signature == b""
    assert answer.callee_local_addrs == []
    # default_factory: each instance gets its own list
    assert PresenceList().users is not PresenceList().users


# --------------------------------------------------------------------- round trip


@pytest.mark.parametrize("type_name", sorted(MESSAGE_TYPES))
@given(data=st.data())
def test_round_trip_every_type(type_name: str, data: st.DataObject) -> None:
    msg = data.draw(struct_strategy(MESSAGE_TYPES[type_name]))
    payload = encode_message(msg)
    decoded = decode_message(payload)
    assert type(decoded) is type(msg)
    assert decoded == msg
    assert json.loads(payload)["type"] == type_name


@given(msgs=st.lists(ANY_MESSAGE, max_size=5))
def test_round_trip_through_framing(msgs: list[Message]) -> None:
    stream = b"".join(frame_message(m) for m in msgs)
    decoder = FrameDecoder()
    assert [decode_message(p) for p in decoder.feed(stream)] == msgs
    assert decoder.buffered == 0


# ----------------------------------------------------------- forward compatibility


@given(
    msg=ANY_MESSAGE,
    extra=st.dictionaries(st.text(min_size=1, max_size=12), JSON_VALUES, max_size=4),
)
def test_unknown_fields_are_ignored(msg: Message, extra: dict[str, Any]) -> None:
    obj = msgspec.to_builtins(msg)
    known = set(_field_names(type(msg))) | {"type"}
    for key, value in extra.items():
        if key not in known:
            obj[key] = value
    assert decode_message(json.dumps(obj).encode()) == msg


@pytest.mark.parametrize(
    ("type_name", "list_field"),
    [
        ("PresenceList", "users"),
        ("PresenceDelta", "changes"),
        ("DirectCallOffer", "caller_local_addrs"),
        ("DirectCallAnswer", "callee_local_addrs"),
        ("CallSetup", "peer_local_addrs"),
    ],
)
@given(data=st.data())
def test_missing_list_field_decodes_as_empty(type_name: str, list_field: str, data: st.DataObject) -> None:
    msg = data.draw(struct_strategy(MESSAGE_TYPES[type_name]))
    obj = msgspec.to_builtins(msg)
    del obj[list_field]
    decoded = decode_message(json.dumps(obj).encode())
    assert getattr(decoded, list_field) == []


def test_every_list_field_is_covered_by_missing_list_test() -> None:
    list_fields = {
        (name, f.name)
        for name, cls in MESSAGE_TYPES.items()
        for f in mi.type_info(cls).fields  # type: ignore[attr-defined]
        if isinstance(f.type, mi.ListType)
    }
    assert list_fields == {
        ("PresenceList", "users"),
        ("PresenceDelta", "changes"),
        ("DirectCallOffer", "caller_local_addrs"),
        ("DirectCallAnswer", "callee_local_addrs"),
        ("CallSetup", "peer_local_addrs"),
    }
    for name, field in list_fields:
        info = mi.type_info(MESSAGE_TYPES[name])
        (f,) = [f for f in info.fields if f.name == field]  # type: ignore[attr-defined]
        assert not f.required and f.default_factory is list


def test_old_style_direct_call_offer_still_decodes() -> None:
    old = {
        "type": "DirectCallOffer",
        "call_id": CALL_ID,
        "caller_fingerprint": FP,
        "target_fingerprint": FP,
        "caller_reflexive_addr": "203.0.113.7:4433",
        "ephemeral_key": base64.b64encode(b"k" * 32).decode(),
        "key_signature": base64.b64encode(b"s" * 64).decode(),
    }
    msg = decode_message(json.dumps(old).encode())
    assert isinstance(msg, DirectCallOffer)
    assert msg.caller_local_addrs == []
    assert msg.caller_alias == ""
    assert msg.caller_reflexive_addr == "203.0.113.7:4433"
    assert msg.ephemeral_key == b"k" * 32


def test_type_tag_need_not_come_first() -> None:
    assert decode_message(b'{"nonce": 5, "junk": {"a": [1]}, "type": "Pong"}') == (MESSAGE_TYPES["Pong"](nonce=5))


def test_new_hangup_reason_is_accepted() -> None:
    payload = encode_message(Hangup(call_id=CALL_ID, reason="SomeFutureReason"))
    assert decode_message(payload) == Hangup(call_id=CALL_ID, reason="SomeFutureReason")


# ------------------------------------------------------------------ unknown types


@given(type_name=st.text(max_size=40).filter(lambda s: s not in MESSAGE_TYPES))
def test_unknown_type_raises_with_name(type_name: str) -> None:
    payload = json.dumps({"type": type_name, "nonce": 1}).encode()
    with pytest.raises(UnknownMessageType) as info:
        decode_message(payload)
    assert info.value.type_name == type_name
    assert info.value.code == "UnknownMessageType"
    assert isinstance(info.value, ProtocolError)


def test_unknown_type_error_reply() -> None:
    with pytest.raises(UnknownMessageType) as info:
        decode_message(b'{"type": "CallTransfer", "call_id": "x"}')
    reply = error_reply(info.value)
    assert reply == Error(
        code="UnknownMessageType",
        message="unknown message type 'CallTransfer'",
        ref_type="CallTransfer",
    )
    assert decode_message(encode_message(reply)) == reply


def test_huge_unknown_type_name_is_clipped_so_the_reply_decodes() -> None:
    name = "X" * 10_000
    with pytest.raises(UnknownMessageType) as info:
        decode_message(json.dumps({"type": name}).encode())
    assert info.value.type_name == name[:256]
    assert len(str(info.value)) < 100
    reply = error_reply(info.value)
    assert decode_message(encode_message(reply)) == reply


# ----------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00", "JSON"),
        (b"{", "JSON"),
        (b'{"type":"Ping","nonce":1}{}', "JSON"),
        (b"[]", "object"),
        (b'"Ping"', "object"),
        (b"null", "object"),
        (b"42", "object"),
        (b"{}", "type"),
        (b'{"nonce": 1}', "type"),
        (b'{"type": 5}', "$.type"),
        (b'{"type": null}', "$.type"),
        (b'{"type": ["Ping"]}', "$.type"),
        (b'{"type": "Ping"}', "nonce"),
        (b'{"type": "Ping", "nonce": "1"}', "$.nonce"),
        (b'{"type": "Ping", "nonce": -1}', "$.nonce"),
        (b'{"type": "Ping", "nonce": 9223372036854775808}', "$.nonce"),
        (b'{"type": "Ping", "nonce": 1' + b"0" * 5000 + b"}", "$.nonce"),
        (b'{"type": "Ping", "nonce": 1e999999}', "$.nonce"),
        (b'{"type": "Ping", "nonce": 1.5}', "$.nonce"),
        (b"[" * 100_000 + b"]" * 100_000, "object"),
        (b'{"type": "Ping", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b', "nonce": 1}', "deeply"),
        (b'{"x": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b', "type": "Ping"}', "deeply"),
        (b'{"type": "Nope", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ""),
        (b'{"type": "PresenceList", "users": [{"fingerprint": "x", "alias": ""}]}', "users[0]"),
    ],
)
def test_malformed_payloads(payload: bytes, fragment: str) -> None:
    with pytest.raises(MalformedMessage) as info:
        decode_message(payload)
    assert fragment in str(info.value)
    assert info.value.code == "MalformedMessage"
    reply = error_reply(info.value)
    assert decode_message(encode_message(reply)) == reply


def test_validation_error_names_type_and_field() -> None:
    with pytest.raises(MalformedMessage) as info:
        decode_message(b'{"type": "Ping", "nonce": -3}')
    assert info.value.type_name == "Ping"
    assert "Ping" in str(info.value) and "$.nonce" in str(info.value)
    assert error_reply(info.value).ref_type == "Ping"


def _setup_obj(**overrides: Any) -> dict[str, Any]:
    msg = CallSetup(
        call_id=CALL_ID,
        room="room-1",
        relay_addr="198.51.100.1:4433",
        role="caller",
        accept_mode="AcceptTrusted",
        peer_fingerprint=FP,
        peer_public_key=b"p" * 32,
        peer_ephemeral_key=b"e" * 32,
        peer_key_signature=b"s" * 64,
        peer_local_addrs=["10.0.0.2:5000"],
    )
    obj = msgspec.to_builtins(msg)
    obj.update(overrides)
    return obj


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "overrides",
    [
        {"call_id": CALL_ID.upper()},
        {"call_id": CALL_ID + "0"},
        {"call_id": CALL_ID[:-1]},
        {"call_id": CALL_ID + "\n"},
        {"peer_fingerprint": FP.upper()},
        {"peer_fingerprint": FP + "\n"},
        {"peer_fingerprint": FP.replace(":", "-")},
        {"peer_fingerprint": FP + ":0000"},
        {"room": "r" * 257},
        {"peer_alias": "é" * 257},
        {"relay_addr": "a" * 65},
        {"peer_direct_addr": "a" * 65},
        {"peer_local_addrs": ["a"] * 17},
        {"peer_local_addrs": ["a" * 65]},
        {"peer_local_addrs": [1]},
        {"peer_public_key": _b64(b"x" * 257)},
        {"peer_public_key": "not base64!"},
        {"role": "observer"},
        {"accept_mode": "Reject"},
        {"accept_mode": "accepttrusted"},
    ],
)
def test_bounds_are_enforced(overrides: dict[str, Any]) -> None:
    assert decode_message(json.dumps(_setup_obj()).encode())  # baseline is valid
    with pytest.raises(MalformedMessage) as info:
        decode_message(json.dumps(_setup_obj(**overrides)).encode())
    (field,) = overrides
    assert field in str(info.value)


def test_bounds_are_inclusive() -> None:
    obj = _setup_obj(
        room="r" * 256,
        peer_alias="é" * 64,
        relay_addr="a" * 64,
        peer_direct_addr="b" * 64,
        peer_local_addrs=["c" * 64] * 16,
        peer_public_key=_b64(b"x" * 256),
    )
    msg = decode_message(json.dumps(obj).encode())
    assert isinstance(msg, CallSetup)
    assert len(msg.peer_local_addrs) == 16
    assert decode_message(encode_message(Ping(nonce=MAX_U63))) == Ping(nonce=MAX_U63)
    assert decode_message(encode_message(Ping(nonce=0))) == Ping(nonce=0)


def test_presence_list_size_bound() -> None:
    entry = {"fingerprint": FP, "alias": ""}
    ok = {"type": "PresenceList", "users": [entry] * MAX_PRESENCE_PAGE}
    msg = decode_message(json.dumps(ok).encode())
    assert isinstance(msg, PresenceList) and len(msg.users) == MAX_PRESENCE_PAGE
    too_many = {"type": "PresenceList", "users": [entry] * (MAX_PRESENCE_PAGE + 1)}
    with pytest.raises(MalformedMessage, match="users"):
        decode_message(json.dumps(too_many).encode())
    with pytest.raises(MalformedMessage, match="limit"):
        decode_message(json.dumps({"type": "PresenceQuery", "limit": MAX_PRESENCE_PAGE + 1}).encode())


@pytest.mark.parametrize(
    "alias",
    [
        "a" * (MAX_ALIAS_LEN + 1),
        "Bob\nAlice",  # a second line
        "Bob\x00",
        "\u202eecilA",  # right-to-left override: shows as "Alice"
        "Al\u200bice",  # zero-width space
        "Bob\x85",  # C1 control (next line)
        "\u2066Bob\u2069",  # bidi isolates
    ],
)
def test_aliases_must_be_printable_and_short(alias: str) -> None:
    obj = {"type": "Register", "public_key": "", "alias": alias, "nonce": "", "signature": ""}
    with pytest.raises(MalformedMessage, match="alias"):
        decode_message(json.dumps(obj).encode())
    fine = {**obj, "alias": "Zoë 🦊 O'Brien-Łukasz"}
    assert decode_message(json.dumps(fine).encode()).alias == "Zoë 🦊 O'Brien-Łukasz"


def test_answer_may_reject() -> None:
    answer = DirectCallAnswer(call_id=CALL_ID, accept_mode="Reject")
    assert decode_message(encode_message(answer)) == answer


# ------------------------------------------------------------------------- fuzzing


@given(payload=st.binary(max_size=512))
def test_random_bytes_only_raise_protocol_errors(payload: bytes) -> None:
    try:
        decode_message(payload)
    except ProtocolError:
        pass


@given(value=JSON_VALUES)
def test_random_json_only_raises_protocol_errors(value: Any) -> None:
    try:
        decode_message(json.dumps(value).encode())
    except ProtocolError:
        pass


@given(
    type_name=st.sampled_from(sorted(MESSAGE_TYPES)),
    fields=st.dictionaries(
        st.sampled_from(sorted({f for cls in MESSAGE_TYPES.values() for f in _field_names(cls)})),
        JSON_VALUES,
        max_size=8,
    ),
)
def test_random_fields_on_known_types_only_raise_protocol_errors(type_name: str, fields: dict[str, Any]) -> None:
    payload = json.dumps({"type": type_name, **fields}).encode()
    try:
        msg = decode_message(payload)
    except UnknownMessageType:
        pytest.fail("a known type must never be reported as unknown")
    except MalformedMessage as exc:
        assert exc.type_name == type_name
    else:
        assert type(msg).__name__ == type_name


@given(msg=ANY_MESSAGE, data=st.data())
def test_mutated_valid_payloads_only_raise_protocol_errors(msg: Message, data: st.DataObject) -> None:
    payload = bytearray(encode_message(msg))
    index = data.draw(st.integers(0, len(payload) - 1))
    payload[index] = data.draw(st.integers(0, 255))
    try:
        decode_message(bytes(payload))
    except ProtocolError:
        pass
