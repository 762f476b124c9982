"""NAT traversal helpers: address strings, host candidates, dial roles and NAT classification."""

from app.nat.addresses import (
    AddressError,
    format_addr,
    is_ipv6,
    normalize_host,
    normalize_sockaddr,
    parse_addr,
    parse_ip,
    to_socket_addr,
)
from app.nat.candidates import (
    MAX_DIAL_CANDIDATES,
    Candidate,
    CandidateKind,
    dial_order,
    local_host_candidates,
)
from app.nat.nat_type import NatProbe, NatReport, NatType, classify_nat
from app.nat.ranges import host_candidate_skip_reason, is_non_public
from app.nat.roles import Role, decide_role, normalize_fingerprint

__all__ = [
    "MAX_DIAL_CANDIDATES",
    "AddressError",
    "Candidate",
    "CandidateKind",
    "NatProbe",
    "NatReport",
    "NatType",
    "Role",
    "classify_nat",
    "decide_role",
    "dial_order",
    "format_addr",
    "host_candidate_skip_reason",
    "is_ipv6",
    "is_non_public",
    "local_host_candidates",
    "normalize_fingerprint",
    "normalize_host",
    "normalize_sockaddr",
    "parse_addr",
    "parse_ip",
    "to_socket_addr",
]
