"""Invite links: who someone is and where to find them, in one short `wzp:` URI.

Grammar (RFC 3986 URI, scheme ``wzp``)::

    invite  = "wzp:" [ "//" ] fp [ "?" param *( "&" param ) ]
    fp      = 32 HEXDIG                 ; the fingerprint without separators (any case;
                                        ; the 8 colon-separated groups are accepted too)
    param   = "relay=" relay            ; repeatable, in the order to try, at most 8
            / "name=" pct-text          ; the person's chosen name, UTF-8, percent-encoded
            / other "=" value           ; unknown parameters are ignored (newer versions)
    relay   = host [ ":" port ]         ; a relay address as app.nat.relay_address reads it
                                        ; (host name, IPv4, or IPv6 in brackets; default port
                                        ; 4433), percent-encoded

Example: ``wzp:3f2a9c1e0b7d4a66c5e8f9013b2d7c4e?relay=relay.example.org&relay=192.168.1.20&name=Ada``

An invite is a *hint*: the fingerprint is what the call authenticates (the callee proves its key),
so a link that names the wrong relays can make a call fail, never reach the wrong person. The
name is shown as the other person's chosen name, cleaned like any alias from the network.
`parse_invite` raises :class:`InviteError` (a ValueError with a sentence) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from app.identity import parse_fingerprint
from app.identity.alias import display_alias
from app.nat.relay_address import RelayAddressError, parse_relay_address

SCHEME = "wzp:"
MAX_LINK = 2048
MAX_RELAYS = 8


class InviteError(ValueError):
    """Text that is not a usable invite link; the message is a sentence for the user."""


@dataclass(frozen=True)
class Invite:
    fingerprint: str  # canonical xxxx:xxxx:... form
    relays: tuple[str, ...] = ()  # canonical relay addresses, in the order to try
    name: str = ""  # as cleaned for display; may be ""

    def to_link(self) -> str:
        return format_invite(self)


def format_invite(invite: Invite) -> str:
    """The shortest link for `invite` (fingerprint without colons, only the parameters that are set)."""
    params = [f"relay={quote(relay, safe=':')}" for relay in invite.relays[:MAX_RELAYS]]
    name = display_alias(invite.name)
    if name:
        params.append(f"name={quote(name, safe='')}")
    link = SCHEME + parse_fingerprint(invite.fingerprint).replace(":", "")
    return link + ("?" + "&".join(params) if params else "")


def looks_like_invite(text: str) -> bool:
    return isinstance(text, str) and text.strip()[: len(SCHEME)].lower() == SCHEME


def parse_invite(text: str) -> Invite:
    if not isinstance(text, str):
        raise InviteError("an invite link must be text")
    text = text.strip()
    if len(text) > MAX_LINK:
        raise InviteError(f"the invite link is too long ({len(text)} characters, at most {MAX_LINK})")
    if not looks_like_invite(text):
        raise InviteError("an invite link starts with wzp:")
    rest = text[len(SCHEME) :]
    if rest.startswith("//"):
        rest = rest[2:]
    rest, _, _fragment = rest.partition("#")
    head, _, query = rest.partition("?")
    head = head.rstrip("/")
    try:
        fingerprint = parse_fingerprint(unquote(head, errors="strict"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InviteError(f"the invite link does not carry a valid fingerprint: {exc}") from None
    relays: list[str] = []
    name = ""
    for part in query.split("&") if query else []:
        key, sep, raw = part.partition("=")
        if not sep:
            continue
        try:
            value = unquote(raw.replace("+", " "), errors="strict")
        except UnicodeDecodeError:
            raise InviteError(f"the invite link's {key[:16]!r} is not valid text") from None
        key = key.lower()
        if key == "relay":
            if len(relays) >= MAX_RELAYS:
                raise InviteError(f"the invite link names more than {MAX_RELAYS} relays")
            try:
                relay = parse_relay_address(value)
            except RelayAddressError as exc:
                raise InviteError(f"the invite link names a relay that is not valid ({exc})") from None
            if relay not in relays:
                relays.append(relay)
        elif key == "name":
            name = display_alias(value)
    return Invite(fingerprint=fingerprint, relays=tuple(relays), name=name)


def parse_target(text: str) -> Invite:
    """What a person pasted into "call": a fingerprint or an invite link."""
    if looks_like_invite(text):
        return parse_invite(text)
    try:
        return Invite(fingerprint=parse_fingerprint(text))
    except ValueError as exc:
        raise InviteError(str(exc)) from None
