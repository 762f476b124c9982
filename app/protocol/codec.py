"""JSON encoding and decoding of single message payloads (no framing)."""

from __future__ import annotations

from typing import Final

import msgspec

from .errors import MalformedMessage, ProtocolError, UnknownMessageType
from .messages import MAX_STR_LEN, MESSAGE_TYPES, Error, Message

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Message)


class _Envelope(msgspec.Struct, forbid_unknown_fields=False):
    """Only the ``type`` of an object; used to explain why a payload was rejected."""

    type: str | msgspec.UnsetType = msgspec.UNSET


_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)


def encode_message(msg: Message) -> bytes:
    """Encode a message as a compact JSON object (bytes fields as base64).

    Field bounds are not checked here (msgspec only enforces them on decode).
    """
    return _encoder.encode(msg)


def decode_message(payload: bytes) -> Message:
    """Decode and validate one JSON payload.

    Raises only :class:`ProtocolError` subclasses, whatever the input:

    * :class:`UnknownMessageType` when the payload is a JSON object whose ``type``
      is a string that names no known message (the connection can be kept);
    * :class:`MalformedMessage` for everything else: empty payload, invalid
      UTF-8 or JSON, a non-object, a missing or non-string ``type``, or a known
      type whose fields fail validation (the text names the offending field).
    """
    if not payload:
        raise MalformedMessage("empty payload")
    try:
        return _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise _classify(payload, exc) from None
    except msgspec.DecodeError as exc:
        raise MalformedMessage(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise MalformedMessage("JSON nested too deeply") from None
    except Exception as exc:  # untrusted input must never escape as anything else
        raise MalformedMessage(f"undecodable payload ({type(exc).__name__})") from exc


def _classify(payload: bytes, exc: msgspec.ValidationError) -> ProtocolError:
    """Turn a validation failure into UnknownMessageType or a precise MalformedMessage."""
    try:
        envelope = _envelope_decoder.decode(payload)
    except msgspec.ValidationError as env_exc:
        # Not an object, or ``type`` is not a string.
        return MalformedMessage(f"invalid message: {env_exc}")
    except (msgspec.DecodeError, RecursionError):
        # The tagged decoder may stop at the tag before reaching deep nesting that
        # the envelope decoder then has to skip: report the original failure.
        return MalformedMessage(f"invalid message: {exc}")
    type_name = envelope.type
    if type_name is msgspec.UNSET:
        return MalformedMessage("message has no `type` field")
    if type_name not in MESSAGE_TYPES:
        return UnknownMessageType(type_name)
    return MalformedMessage(f"invalid {type_name}: {exc}", type_name=type_name)


def error_reply(exc: ProtocolError) -> Error:
    """Build the ``Error`` message that answers a payload which raised ``exc``.

    ``ref_type`` is the offending message type when known; the text is clipped to
    the protocol's string bound so the reply always decodes on the other side.
    """
    ref_type: str | None = getattr(exc, "type_name", None)
    return Error(code=exc.code[:MAX_STR_LEN], message=exc.message[:MAX_STR_LEN], ref_type=ref_type)


__all__ = ["decode_message", "encode_message", "error_reply"]
