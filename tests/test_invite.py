"""Invite links (`app.invite`) and relay addresses as people type them (`app.nat.relay_address`)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.identity import Identity
from app.invite import Invite, InviteError, format_invite, parse_invite, parse_target
from app.nat.relay_address import (
    RelayAddressError,
    connect_any,
    parse_relay_address,
    resolve_relay,
    split_relay_address,
)

FP = Identity.generate().fingerprint


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("relay.example.org", "relay.example.org:4433"),
        (" Relay.Example.ORG:5000 ", "relay.example.org:5000"),
        ("relay.example.org.", "relay.example.org:4433"),
        ("192.0.2.7", "192.0.2.7:4433"),
        ("192.0.2.7:9", "192.0.2.7:9"),
        ("2001:db8::7", "[2001:db8::7]:4433"),
        ("[2001:DB8::7]", "[2001:db8::7]:4433"),
        ("[2001:db8::7]:7", "[2001:db8::7]:7"),
        ("::ffff:192.0.2.7", "192.0.2.7:4433"),
        ("localhost", "localhost:4433"),
        ("bücher.example", "xn--bcher-kva.example:4433"),
    ],
)
def test_relay_addresses_people_type_are_accepted(text: str, canonical: str) -> None:
    assert parse_relay_address(text) == canonical
    assert parse_relay_address(canonical) == canonical  # canonical text is a fixed point


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a..b",
        "-a.example",
        "a-.example",
        "a.example:0",
        "a.example:65536",
        "a.example:x",
        "1.2.3.4:+5",
        "[1.2.3.4]:5",
        "a b",
        "1.2.3",
        "[::1",
        "a_b.example",
        "x" * 300,
        "a." + "b" * 64 + ".c",
    ],
)
def test_bad_relay_addresses_are_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(RelayAddressError) as info:
        parse_relay_address(text)
    assert str(info.value)


@given(st.text(max_size=80))
@settings(max_examples=400, deadline=None)
def test_relay_address_parser_raises_only_its_error(text: str) -> None:
    try:
        canonical = parse_relay_address(text)
    except RelayAddressError:
        return
    assert parse_relay_address(canonical) == canonical
    host, port = split_relay_address(canonical)
    assert 1 <= port <= 65535 and host


async def test_a_literal_resolves_to_itself_and_a_name_to_every_address() -> None:
    assert await resolve_relay("192.0.2.7") == ["192.0.2.7:4433"]
    assert await resolve_relay("[2001:db8::7]:9") == ["[2001:db8::7]:9"]
    addresses = await resolve_relay("localhost:4500")  # from /etc/hosts: no network needed
    assert "127.0.0.1:4500" in addresses
    assert all(a.endswith(":4500") for a in addresses)


async def test_a_name_that_does_not_resolve_is_a_sentence_not_a_crash() -> None:
    with pytest.raises(RelayAddressError, match=r"could not be found|took too long|no address"):
        await resolve_relay("no-such-relay.invalid", timeout=3.0)


async def test_connect_any_takes_the_first_address_that_answers_and_closes_a_late_one() -> None:
    closed: list[str] = []

    async def dial(addr: str) -> str:
        if addr == "dead":
            await asyncio.sleep(30)  # never answers (cancelled when another wins)
        if addr == "refused":
            raise ConnectionError("refused")
        return addr

    assert await connect_any(["refused", "dead", "ok"], dial, stagger=0.01, discard=closed.append) == "ok"
    with pytest.raises(ConnectionError):
        await connect_any(["refused", "refused"], dial, stagger=0.01)
    assert closed == []
    # Two that succeed in the same instant: one wins, the other is handed to `discard`.
    gate, started = asyncio.Event(), asyncio.Event()
    dialled: list[str] = []

    async def gated(addr: str) -> str:
        dialled.append(addr)
        if len(dialled) == 2:
            started.set()
        await gate.wait()
        return addr

    race = asyncio.ensure_future(connect_any(["a", "b"], gated, stagger=0.0, discard=closed.append))
    await started.wait()
    gate.set()
    winner = await race
    assert sorted([winner, *closed]) == ["a", "b"]


# ----------------------------------------------------------------------------- invites


def test_an_invite_round_trips_and_stays_short() -> None:
    invite = Invite(FP, ("relay.example.org:4433", "192.168.1.20:4434", "[2001:db8::7]:4433"), "Ada Lovelace")
    link = format_invite(invite)
    assert link.startswith("wzp:" + FP.replace(":", "") + "?relay=relay.example.org:4433&")
    assert "%5B2001:db8::7%5D" in link and "name=Ada%20Lovelace" in link
    assert parse_invite(link) == invite
    assert format_invite(Invite(FP)) == "wzp:" + FP.replace(":", "")


@pytest.mark.parametrize(
    "text",
    [
        f"wzp:{FP}",
        f"WZP://{FP.replace(':', '').upper()}/",
        f"  wzp:{FP.replace(':', '')}?relay=relay.example.org&unknown=1#frag ",
    ],
)
def test_invite_forms_people_paste(text: str) -> None:
    invite = parse_invite(text)
    assert invite.fingerprint == FP


def test_invite_relays_get_the_default_port_and_names_are_cleaned() -> None:
    invite = parse_invite(f"wzp:{FP}?relay=relay.example.org&relay=10.0.0.2&name=%E2%80%AEevil%0Aname")
    assert invite.relays == ("relay.example.org:4433", "10.0.0.2:4433")
    assert invite.name == "evil name"  # bidi override and newline gone


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("wzp:", "fingerprint"),
        ("wzp:1234", "fingerprint"),
        (f"wzp:{FP}?relay=bad host", "relay"),
        (f"wzp:{FP}?relay=a.example:99999", "relay"),
        (f"wzp:{FP}?name=%FF", "not valid text"),
        (
            "wzp:" + FP + "?" + "&".join(["relay=a.example"] * 2 + [f"relay=r{i}.example" for i in range(8)]),
            "more than",
        ),
        ("wzp:" + "a" * 3000, "too long"),
        ("https://example.org", "starts with wzp:"),
    ],
)
def test_bad_invites_are_refused_with_a_sentence(text: str, problem: str) -> None:
    with pytest.raises(InviteError, match=problem):
        parse_invite(text)


def test_a_call_target_is_a_fingerprint_or_a_link() -> None:
    assert parse_target(FP.replace(":", "-")) == Invite(FP)
    assert parse_target(f"wzp:{FP}?relay=r.example").relays == ("r.example:4433",)
    with pytest.raises(InviteError):
        parse_target("not a fingerprint")


@given(st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_invite_parser_raises_only_its_error(tail: str) -> None:
    for text in (tail, "wzp:" + tail, f"wzp:{FP}?" + tail):
        try:
            invite = parse_invite(text)
        except InviteError:
            continue
        assert parse_invite(format_invite(invite)) == invite


@given(
    st.lists(st.sampled_from(["r.example", "10.0.0.1:5", "[fd00::1]:7", "relay-2.example:4434"]), max_size=8),
    st.text(max_size=80),
)
@settings(max_examples=200, deadline=None)
def test_any_invite_we_format_parses_back(relays: list[str], name: str) -> None:
    canonical = tuple(dict.fromkeys(parse_relay_address(r) for r in relays))
    invite = parse_invite(format_invite(Invite(FP, canonical, name)))
    assert invite.fingerprint == FP and invite.relays == canonical
