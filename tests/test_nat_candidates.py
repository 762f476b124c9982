"""Tests for app.nat.candidates (host candidate gathering and dial order)."""

from __future__ import annotations

import logging

import ifaddr
import pytest

from app.nat.addresses import AddressError
from app.nat.candidates import (
    MAX_DIAL_CANDIDATES,
    MAX_MAPPED,
    MAX_PEER_HOST_INPUT,
    Candidate,
    dial_order,
    has_mapped,
    local_host_candidates,
)


def v4(addr: str, prefix: int = 24) -> ifaddr.IP:
    return ifaddr.IP(addr, prefix, "fake")


def v6(addr: str, scope: int = 0, prefix: int = 64) -> ifaddr.IP:
    return ifaddr.IP((addr, 0, scope), prefix, "fake")


def adapter(name: str, *ips: ifaddr.IP) -> ifaddr.Adapter:
    return ifaddr.Adapter(name, name, list(ips))


# --- local_host_candidates: filter rules ------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "10.255.255.254",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.20",
        "100.64.0.1",
        "100.127.255.254",
    ],
)
def test_keeps_private_and_cgnat_ipv4(ip: str) -> None:
    assert local_host_candidates(4433, adapters=[adapter("eth0", v4(ip))]) == [f"{ip}:4433"]


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.5.5.5", "loopback"),
        ("169.254.10.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("8.8.8.8", "public"),
        ("203.0.113.5", "public"),
        ("198.51.100.7", "public"),
        ("192.0.2.2", "public"),
        ("172.32.0.1", "public"),
        ("172.15.255.255", "public"),
        ("100.128.0.1", "public"),
        ("100.63.255.255", "public"),
        ("11.0.0.1", "public"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_skips_ipv4(ip: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.nat.candidates"):
        assert local_host_candidates(4433, adapters=[adapter("eth0", v4(ip))]) == []
    assert any(ip in r.getMessage() and reason in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("2001:db8::1", "[2001:db8::1]:4433"),
        ("2001:db8:0:0::5", "[2001:db8::5]:4433"),
        ("2a00:1450:4001::1", "[2a00:1450:4001::1]:4433"),
        ("3fff::1", "[3fff::1]:4433"),
        ("fd00::2", "[fd00::2]:4433"),
        ("fc00::1", "[fc00::1]:4433"),
        ("2001:db8::1%eth0", "[2001:db8::1]:4433"),
    ],
)
def test_keeps_global_unicast_and_ula_ipv6(ip: str, expected: str) -> None:
    assert local_host_candidates(4433, adapters=[adapter("eth0", v6(ip))]) == [expected]


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("::", "unspecified"),
        ("ff02::1", "multicast"),
        ("fec0::1", "outside global unicast"),
        ("4000::1", "outside global unicast"),
        ("64:ff9b::1", "outside global unicast"),
    ],
)
def test_skips_ipv6(ip: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.nat.candidates"):
        assert local_host_candidates(4433, adapters=[adapter("eth0", v6(ip, scope=4))]) == []
    assert any(reason in r.getMessage() for r in caplog.records)


def test_ipv4_mapped_ipv6_follows_ipv4_rules() -> None:
    ads = [adapter("eth0", v6("::ffff:192.168.1.5"), v6("::ffff:8.8.8.8"))]
    assert local_host_candidates(5, adapters=ads) == ["192.168.1.5:5"]


def test_unparseable_adapter_address_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    ads = [adapter("weird", v4("not-an-ip"), v6(""), v4("10.0.0.1"))]
    with caplog.at_level(logging.DEBUG, logger="app.nat.candidates"):
        assert local_host_candidates(5, adapters=ads) == ["10.0.0.1:5"]
    assert any("unparseable" in r.getMessage() for r in caplog.records)


# --- local_host_candidates: ordering, de-dup, cap ---------------------------------------


def test_ipv4_first_then_ipv6_preserving_interface_order() -> None:
    ads = [
        adapter("lo", v4("127.0.0.1"), v6("::1")),
        adapter("wlan0", v6("2001:db8::a"), v4("192.168.1.10"), v6("fe80::1", scope=3)),
        adapter("eth0", v6("fd00::b"), v4("10.0.0.5")),
        adapter("tailscale0", v4("100.100.1.1")),
    ]
    assert local_host_candidates(4433, adapters=ads) == [
        "192.168.1.10:4433",
        "10.0.0.5:4433",
        "100.100.1.1:4433",
        "[2001:db8::a]:4433",
        "[fd00::b]:4433",
    ]


def test_deduplicates_preserving_first_occurrence() -> None:
    ads = [
        adapter("eth0", v4("10.0.0.5"), v6("2001:db8::1")),
        adapter("eth0:1", v4("10.0.0.5"), v6("2001:DB8:0::1"), v6("2001:db8::1%eth0")),
        adapter("br0", v6("::ffff:10.0.0.5"), v4("10.0.0.6")),
    ]
    assert local_host_candidates(7, adapters=ads) == [
        "10.0.0.5:7",
        "10.0.0.6:7",
        "[2001:db8::1]:7",
    ]


def test_cap_applies_after_ordering(caplog: pytest.LogCaptureFixture) -> None:
    ips = [v6(f"2001:db8::{i}") for i in range(1, 4)] + [v4(f"10.0.0.{i}") for i in range(1, 8)]
    with caplog.at_level(logging.DEBUG, logger="app.nat.candidates"):
        result = local_host_candidates(9, adapters=[adapter("eth0", *ips)])
    assert result == [f"10.0.0.{i}:9" for i in range(1, 8)] + ["[2001:db8::1]:9"]
    assert any("over the limit" in r.getMessage() for r in caplog.records)


def test_custom_limit_and_zero_limit() -> None:
    ads = [adapter("eth0", v4("10.0.0.1"), v4("10.0.0.2"), v6("fd00::1"))]
    assert local_host_candidates(5, limit=2, adapters=ads) == ["10.0.0.1:5", "10.0.0.2:5"]
    assert local_host_candidates(5, limit=0, adapters=ads) == []
    assert len(local_host_candidates(5, limit=100, adapters=ads)) == 3


def test_default_limit_is_eight() -> None:
    ads = [adapter("eth0", *[v4(f"10.0.1.{i}") for i in range(1, 20)])]
    assert len(local_host_candidates(5, adapters=ads)) == 8


@pytest.mark.parametrize("limit", [-1, 1.5, True, "3"])
def test_invalid_limit(limit: object) -> None:
    with pytest.raises(ValueError):
        local_host_candidates(5, limit=limit, adapters=[])  # type: ignore[arg-type]


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_invalid_port(port: int) -> None:
    with pytest.raises(AddressError):
        local_host_candidates(port, adapters=[])


def test_logs_final_list_at_info(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="app.nat.candidates"):
        local_host_candidates(5, adapters=[adapter("eth0", v4("10.0.0.1"))])
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert infos and "10.0.0.1:5" in infos[-1].getMessage()


def test_empty_adapters() -> None:
    assert local_host_candidates(5, adapters=[]) == []
    assert local_host_candidates(5, adapters=[adapter("eth0")]) == []


def test_uses_ifaddr_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ifaddr, "get_adapters", lambda: [adapter("eth0", v4("192.168.0.9"), v6("fd00::9"))]
    )
    assert local_host_candidates(1) == ["192.168.0.9:1", "[fd00::9]:1"]


def test_ifaddr_failure_returns_empty(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> list[ifaddr.Adapter]:
        raise OSError("netlink unavailable")

    monkeypatch.setattr(ifaddr, "get_adapters", boom)
    with caplog.at_level(logging.WARNING, logger="app.nat.candidates"):
        assert local_host_candidates(1) == []
    assert any("could not enumerate" in r.getMessage() for r in caplog.records)


def test_real_interfaces_smoke() -> None:
    result = local_host_candidates(4433)
    assert isinstance(result, list)
    assert len(result) <= 8
    assert all(isinstance(a, str) and a.endswith(":4433") for a in result)


# --- Candidate --------------------------------------------------------------------------


def test_candidate_dataclass() -> None:
    c = Candidate("10.0.0.1:5", "host")
    assert c.addr == "10.0.0.1:5"
    assert c.kind == "host"
    assert Candidate("relay.example:4433", "relay").kind == "relay"
    with pytest.raises(ValueError):
        Candidate("10.0.0.1:5", "bogus")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        c.kind = "relay"  # type: ignore[misc]


# --- dial_order -------------------------------------------------------------------------


def test_dial_order_hosts_v4_then_v6_then_reflexive() -> None:
    order = dial_order(
        ["[2001:db8::1]:5", "192.168.1.2:5", "[fd00::1]:5", "10.0.0.1:5"], "203.0.113.5:4433"
    )
    assert order == [
        Candidate("192.168.1.2:5", "host"),
        Candidate("10.0.0.1:5", "host"),
        Candidate("[2001:db8::1]:5", "host"),
        Candidate("[fd00::1]:5", "host"),
        Candidate("203.0.113.5:4433", "reflexive"),
    ]


def test_dial_order_without_reflexive() -> None:
    assert dial_order(["10.0.0.1:5"], None) == [Candidate("10.0.0.1:5", "host")]


def test_dial_order_only_reflexive() -> None:
    assert dial_order([], "198.51.100.7:1") == [Candidate("198.51.100.7:1", "reflexive")]
    assert dial_order(None, "198.51.100.7:1") == [Candidate("198.51.100.7:1", "reflexive")]


def test_dial_order_empty() -> None:
    assert dial_order([], None) == []


def test_dial_order_reflexive_skipped_if_already_present() -> None:
    # A peer on a LAN whose relay is also on the LAN can see the same address twice.
    order = dial_order(["10.0.0.1:5", "10.0.0.2:5"], "10.0.0.2:5")
    assert order == [Candidate("10.0.0.1:5", "host"), Candidate("10.0.0.2:5", "host")]


def test_dial_order_reflexive_compared_canonically() -> None:
    order = dial_order(["[2001:db8::1]:5"], "[2001:DB8:0::1]:5")
    assert order == [Candidate("[2001:db8::1]:5", "host")]


def test_dial_order_deduplicates_canonical_forms() -> None:
    order = dial_order(
        ["10.0.0.1:5", " 10.0.0.1:5 ", "[::ffff:10.0.0.1]:5", "[2001:db8::1]:5",
         "[2001:DB8::1]:5", "10.0.0.1:6"],
        None,
    )
    assert [c.addr for c in order] == ["10.0.0.1:5", "10.0.0.1:6", "[2001:db8::1]:5"]


def test_dial_order_drops_invalid_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    bad: list[object] = [
        "junk",
        "",
        "10.0.0.1",
        "10.0.0.1:0",
        "2001:db8::1:5",
        "example.com:443",
        None,
        42,
        b"10.0.0.1:5",
        "x" * 10_000,
    ]
    with caplog.at_level(logging.INFO, logger="app.nat.candidates"):
        order = dial_order([*bad, "10.0.0.9:5"], "not an address")  # type: ignore[list-item]
    assert order == [Candidate("10.0.0.9:5", "host")]
    dropped = [r for r in caplog.records if "dropping invalid" in r.getMessage()]
    assert len(dropped) == len(bad) + 1
    # Untrusted input is truncated in logs.
    assert all(len(r.getMessage()) < 400 for r in caplog.records)


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1:5",
        "[::1]:5",
        "169.254.1.1:5",
        "[fe80::1]:5",
        "0.0.0.0:5",
        "[::]:5",
        "224.0.0.1:5",
        "[ff02::1]:5",
        "255.255.255.255:5",
        "240.0.0.1:5",
    ],
)
def test_dial_order_host_candidates_use_lan_filter(addr: str) -> None:
    assert dial_order([addr], None) == []


def test_public_ipv4_in_the_address_list_is_a_mapped_candidate() -> None:
    """A peer lists the public address its router mapped for it; it is dialed after the LAN
    candidates and before the reflexive address, which it replaces when they are equal."""
    order = dial_order(["192.168.1.10:5", "11.0.13.2:47001"], "11.0.13.2:3333")
    assert order == [
        Candidate("192.168.1.10:5", "host"),
        Candidate("11.0.13.2:47001", "mapped"),
        Candidate("11.0.13.2:3333", "reflexive"),
    ]
    assert dial_order(["11.0.13.2:47001"], "11.0.13.2:47001") == [Candidate("11.0.13.2:47001", "mapped")]
    assert has_mapped(["192.168.1.10:5", "11.0.13.2:47001"])
    assert not has_mapped(["192.168.1.10:5", "[2001:db8::1]:5"])
    assert not has_mapped(None)


def test_mapped_candidates_are_capped_and_keep_their_slots() -> None:
    many_hosts = [f"10.0.0.{i}:5" for i in range(1, 20)]
    mapped = [f"11.0.0.{i}:5" for i in range(1, 5)]
    order = dial_order([*many_hosts, *mapped], "198.51.100.2:7")
    kinds = [c.kind for c in order]
    assert len(order) == MAX_DIAL_CANDIDATES
    assert kinds.count("mapped") == MAX_MAPPED
    assert kinds[-1] == "reflexive"


@pytest.mark.parametrize("addr", ["0.0.0.0:5", "[::]:5", "239.1.1.1:5", "255.255.255.255:5"])
def test_dial_order_drops_undialable_reflexive(addr: str) -> None:
    assert dial_order(["10.0.0.1:5"], addr) == [Candidate("10.0.0.1:5", "host")]


@pytest.mark.parametrize("addr", ["127.0.0.1:4433", "192.168.1.1:4433", "100.64.0.1:4433"])
def test_dial_order_keeps_non_public_reflexive(addr: str) -> None:
    # A relay on the same machine/LAN/carrier NAT reports such addresses; they are dialable.
    assert dial_order([], addr) == [Candidate(addr, "reflexive")]


def test_dial_order_cap_keeps_a_slot_for_reflexive() -> None:
    hosts = [f"10.0.0.{i}:5" for i in range(1, 21)]
    order = dial_order(hosts, "203.0.113.5:4433")
    assert len(order) == MAX_DIAL_CANDIDATES == 9
    assert [c.kind for c in order] == ["host"] * 8 + ["reflexive"]
    assert order[-1].addr == "203.0.113.5:4433"


def test_dial_order_cap_without_reflexive() -> None:
    hosts = [f"[fd00::{i}]:5" for i in range(1, 6)] + [f"10.0.0.{i}:5" for i in range(1, 10)]
    order = dial_order(hosts, None)
    assert [c.addr for c in order] == [f"10.0.0.{i}:5" for i in range(1, 10)]


def test_dial_order_cap_with_invalid_reflexive_uses_all_slots() -> None:
    hosts = [f"10.0.0.{i}:5" for i in range(1, 21)]
    assert len(dial_order(hosts, "garbage")) == 9


def test_dial_order_reflexive_beyond_cap_is_still_added() -> None:
    hosts = [f"10.0.0.{i}:5" for i in range(1, 12)]
    order = dial_order(hosts, "10.0.0.11:5")
    assert len(order) == 9
    assert order[-1] == Candidate("10.0.0.11:5", "reflexive")


def test_dial_order_bounds_untrusted_input(caplog: pytest.LogCaptureFixture) -> None:
    hosts = ["junk"] * MAX_PEER_HOST_INPUT + ["10.0.0.1:5"]
    with caplog.at_level(logging.INFO, logger="app.nat.candidates"):
        assert dial_order(hosts, None) == []
    assert any("only the first" in r.getMessage() for r in caplog.records)


def test_dial_order_accepts_generators_and_tuples() -> None:
    assert dial_order((a for a in ["10.0.0.1:5"]), None) == [Candidate("10.0.0.1:5", "host")]
    assert dial_order(("10.0.0.1:5",), None) == [Candidate("10.0.0.1:5", "host")]


@pytest.mark.parametrize("local", ["10.0.0.1:5", b"10.0.0.1:5", 42, {"a": 1}.values()])
def test_dial_order_rejects_non_list_local(local: object) -> None:
    result = dial_order(local, "203.0.113.5:1")  # type: ignore[arg-type]
    assert result[-1] == Candidate("203.0.113.5:1", "reflexive")
    assert all(c.kind == "reflexive" for c in result)


def test_dial_order_round_trip_with_local_candidates() -> None:
    ads = [adapter("eth0", v4("192.168.1.4"), v6("2001:db8::4"), v4("127.0.0.1"))]
    mine = local_host_candidates(4433, adapters=ads)
    order = dial_order(mine, "203.0.113.9:4433")
    assert [c.addr for c in order] == [*mine, "203.0.113.9:4433"]
