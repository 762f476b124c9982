"""Tests for app.nat.nat_type."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.nat.nat_type import NatProbe, NatReport, classify_nat

S1 = "203.0.113.1:3478"
S2 = "198.51.100.1:3478"
S3 = "203.0.113.2:3478"


def ok(server: str, observed: str) -> NatProbe:
    return NatProbe(server=server, observed=observed, error=None)


def test_cone() -> None:
    probes = [ok(S1, "203.0.113.5:4433"), ok(S2, "203.0.113.5:4433")]
    report = classify_nat(probes)
    assert report.nat_type == "cone"
    assert report.public_addr == "203.0.113.5:4433"
    assert report.public_ip == "203.0.113.5"
    assert report.probes == tuple(probes)
    assert report.behind_nat_unknown is False
    assert report.explanation == (
        "Cone NAT: the same public address 203.0.113.5:4433 was seen by both probes; "
        "direct calls should work."
    )


def test_cone_three_probes_wording() -> None:
    report = classify_nat([ok(s, "198.51.100.9:1000") for s in (S1, S2, S3)])
    assert report.nat_type == "cone"
    assert "all 3 probes" in report.explanation


def test_cone_ipv6_and_canonicalization() -> None:
    report = classify_nat(
        [ok("[2001:db8::53]:3478", "[2001:DB8::5]:4433"), ok(S2, "[2001:db8:0::5]:4433")]
    )
    assert report.nat_type == "cone"
    assert report.public_addr == "[2001:db8::5]:4433"


def test_ipv4_mapped_observation_counts_as_ipv4() -> None:
    report = classify_nat([ok(S1, "[::ffff:203.0.113.5]:1"), ok(S2, "203.0.113.5:1")])
    assert report.nat_type == "cone"
    assert report.public_addr == "203.0.113.5:1"


def test_symmetric() -> None:
    report = classify_nat([ok(S1, "203.0.113.5:40001"), ok(S2, "203.0.113.5:40002")])
    assert report.nat_type == "symmetric"
    assert report.public_addr is None
    assert report.public_ip == "203.0.113.5"
    assert "Symmetric NAT" in report.explanation
    assert "40001, 40002" in report.explanation


def test_symmetric_when_any_port_differs() -> None:
    report = classify_nat(
        [ok(S1, "203.0.113.5:1"), ok(S2, "203.0.113.5:1"), ok(S3, "203.0.113.5:2")]
    )
    assert report.nat_type == "symmetric"


def test_multiple() -> None:
    report = classify_nat([ok(S1, "203.0.113.5:1"), ok(S2, "198.51.100.5:1")])
    assert report.nat_type == "multiple"
    assert report.public_addr is None
    assert report.public_ip is None
    assert "203.0.113.5, 198.51.100.5" in report.explanation


def test_multiple_wins_over_port_differences() -> None:
    report = classify_nat([ok(S1, "203.0.113.5:1"), ok(S2, "198.51.100.5:2")])
    assert report.nat_type == "multiple"


@pytest.mark.parametrize(
    "probes",
    [
        [],
        [ok(S1, "203.0.113.5:1")],
        [ok(S1, "203.0.113.5:1"), NatProbe(S2, None, "timeout")],
        [ok(S1, "203.0.113.5:1"), NatProbe(S2, None, None)],
        [NatProbe(S1, None, "timeout"), NatProbe(S2, None, "refused")],
    ],
)
def test_unknown_with_too_few_usable(probes: list[NatProbe]) -> None:
    report = classify_nat(probes)
    assert report.nat_type == "unknown"
    assert report.public_addr is None
    assert report.behind_nat_unknown is False
    assert "Unknown" in report.explanation
    assert "at least two" in report.explanation


def test_error_wins_over_observed() -> None:
    report = classify_nat(
        [ok(S1, "203.0.113.5:1"), NatProbe(S2, "203.0.113.5:1", "late reply after timeout")]
    )
    assert report.nat_type == "unknown"
    assert any("probe failed" in n for n in report.notes)


def test_empty_error_string_means_success() -> None:
    report = classify_nat([NatProbe(S1, "203.0.113.5:1", ""), ok(S2, "203.0.113.5:1")])
    assert report.nat_type == "cone"


def test_failed_probes_are_ignored_not_fatal() -> None:
    report = classify_nat(
        [ok(S1, "203.0.113.5:1"), NatProbe(S2, None, "timeout"), ok(S3, "203.0.113.5:1")]
    )
    assert report.nat_type == "cone"
    assert any("timeout" in n for n in report.notes)


@pytest.mark.parametrize(
    "observed",
    [
        "10.0.0.5:1",
        "172.16.0.5:1",
        "192.168.1.5:1",
        "100.64.0.5:1",
        "127.0.0.1:1",
        "169.254.0.5:1",
        "[::1]:1",
        "[fe80::1]:1",
        "[fd00::5]:1",
    ],
)
def test_non_public_observations_are_not_counted(observed: str) -> None:
    report = classify_nat(
        [ok(S1, "203.0.113.5:1"), ok(S2, observed), ok(S3, "203.0.113.5:1")]
    )
    assert report.nat_type == "cone"
    assert any("not counted" in n and observed in n for n in report.notes)


def test_all_private_is_unknown_with_flag() -> None:
    report = classify_nat([ok(S1, "192.168.1.5:1"), ok(S2, "192.168.1.5:1")])
    assert report.nat_type == "unknown"
    assert report.behind_nat_unknown is True
    assert report.public_addr is None
    assert "private" in report.explanation
    assert "192.168.1.5:1" in report.explanation


def test_all_loopback_is_unknown_with_flag() -> None:
    report = classify_nat([ok(S1, "127.0.0.1:5"), ok(S2, "[::1]:5")])
    assert report.nat_type == "unknown"
    assert report.behind_nat_unknown is True


def test_one_public_one_private_is_unknown_without_flag() -> None:
    report = classify_nat([ok(S1, "203.0.113.5:1"), ok(S2, "10.0.0.1:1")])
    assert report.nat_type == "unknown"
    assert report.behind_nat_unknown is False


@pytest.mark.parametrize(
    "observed", ["192.0.2.1:1", "198.51.100.1:1", "203.0.113.1:1", "[2001:db8::1]:1", "8.8.8.8:1"]
)
def test_documentation_and_global_ranges_count_as_public(observed: str) -> None:
    report = classify_nat([ok(S1, observed), ok(S2, observed)])
    assert report.nat_type == "cone"
    assert report.public_addr == observed


@pytest.mark.parametrize(
    "observed", ["garbage", "", "203.0.113.5", "203.0.113.5:0", "0.0.0.0:1", "224.0.0.1:1"]
)
def test_invalid_observations_are_ignored(observed: str) -> None:
    report = classify_nat(
        [ok(S1, "203.0.113.5:1"), ok(S2, observed), ok(S3, "203.0.113.5:1")]
    )
    assert report.nat_type == "cone"
    assert any("invalid observed address" in n for n in report.notes)


def test_same_server_twice_is_not_enough() -> None:
    # Two answers from one server cannot reveal a symmetric NAT.
    report = classify_nat([ok(S1, "203.0.113.5:1"), ok(" 203.0.113.1:3478", "203.0.113.5:2")])
    assert report.nat_type == "unknown"
    assert any("duplicate probe" in n for n in report.notes)


def test_hostname_servers_are_distinct_by_name() -> None:
    report = classify_nat(
        [ok("relay-a.example:3478", "203.0.113.5:1"), ok("relay-b.example:3478", "203.0.113.5:1")]
    )
    assert report.nat_type == "cone"


def test_mixed_families_one_each_is_unknown() -> None:
    report = classify_nat([ok(S1, "203.0.113.5:1"), ok("[2001:db8::53]:3478", "[2001:db8::5]:1")])
    assert report.nat_type == "unknown"
    assert "IPv4 and one IPv6" in report.explanation


def test_mixed_families_compares_within_family() -> None:
    report = classify_nat(
        [
            ok(S1, "203.0.113.5:1"),
            ok("[2001:db8::53]:3478", "[2001:db8::5]:9"),
            ok(S2, "203.0.113.5:1"),
        ]
    )
    assert report.nat_type == "cone"
    assert report.public_addr == "203.0.113.5:1"
    assert any("IPv6 observations were not compared" in n for n in report.notes)


def test_mixed_families_uses_ipv6_when_only_it_has_two() -> None:
    report = classify_nat(
        [
            ok(S1, "203.0.113.5:1"),
            ok("[2001:db8::53]:3478", "[2001:db8::5]:9"),
            ok("[2001:db8::54]:3478", "[2001:db8::5]:10"),
        ]
    )
    assert report.nat_type == "symmetric"
    assert report.public_ip == "2001:db8::5"


def test_accepts_tuple_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="app.nat.nat_type"):
        report = classify_nat((ok(S1, "203.0.113.5:1"), ok(S2, "203.0.113.5:1")))
    assert isinstance(report, NatReport)
    assert any("cone" in r.getMessage() for r in caplog.records)


_servers = st.sampled_from([S1, S2, S3, "[2001:db8::53]:3478", "garbage"])
_observed = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(
        ["203.0.113.5:1", "203.0.113.5:2", "198.51.100.5:1", "10.0.0.1:1", "[2001:db8::5]:1"]
    ),
)
_errors = st.one_of(st.none(), st.just(""), st.text(max_size=10))


@given(st.lists(st.builds(NatProbe, _servers, _observed, _errors), max_size=6))
def test_never_crashes_on_arbitrary_probes(probes: list[NatProbe]) -> None:
    report = classify_nat(probes)
    assert report.nat_type in {"cone", "symmetric", "multiple", "unknown"}
    assert report.explanation
    assert (report.public_addr is not None) == (report.nat_type == "cone")
    if report.behind_nat_unknown:
        assert report.nat_type == "unknown"
