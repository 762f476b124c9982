"""Address-range policy shared by candidate gathering and NAT classification.

``ipaddress``'s ``is_private``/``is_global`` are deliberately NOT used: they treat the
documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) as
private, but the WZP test lab uses exactly those ranges as "the internet". The ranges below
are the only ones WZP considers local.
"""

from __future__ import annotations

import ipaddress

from app.nat.addresses import IPAddress

__all__ = [
    "CGNAT_V4",
    "GLOBAL_UNICAST_V6",
    "LINK_LOCAL_V4",
    "LINK_LOCAL_V6",
    "LOOPBACK_V4",
    "RFC1918_V4",
    "ULA_V6",
    "host_candidate_skip_reason",
    "is_non_public",
    "unusable_reason",
]

RFC1918_V4: tuple[ipaddress.IPv4Network, ...] = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
)
CGNAT_V4 = ipaddress.IPv4Network("100.64.0.0/10")
LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
THIS_NETWORK_V4 = ipaddress.IPv4Network("0.0.0.0/8")
MULTICAST_V4 = ipaddress.IPv4Network("224.0.0.0/4")
RESERVED_V4 = ipaddress.IPv4Network("240.0.0.0/4")  # includes 255.255.255.255

GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")  # includes 2001:db8::/32 on purpose
ULA_V6 = ipaddress.IPv6Network("fc00::/7")
LINK_LOCAL_V6 = ipaddress.IPv6Network("fe80::/10")
MULTICAST_V6 = ipaddress.IPv6Network("ff00::/8")
LOOPBACK_V6 = ipaddress.IPv6Address("::1")
UNSPECIFIED_V6 = ipaddress.IPv6Address("::")


def unusable_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` can never be a unicast peer address (unspecified/multicast/reserved), or None."""
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in THIS_NETWORK_V4:
            return "unspecified IPv4 address" if int(ip) == 0 else "reserved IPv4 (0.0.0.0/8)"
        if ip in MULTICAST_V4:
            return "multicast IPv4 address"
        if ip in RESERVED_V4:
            return "reserved/broadcast IPv4 address"
        return None
    if ip == UNSPECIFIED_V6:
        return "unspecified IPv6 address"
    if ip in MULTICAST_V6:
        return "multicast IPv6 address"
    return None


def host_candidate_skip_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be offered/dialed as a LAN host candidate, or None if it is fine.

    Allowed: IPv4 RFC 1918 + CGNAT 100.64.0.0/10; IPv6 global unicast 2000::/3 + ULA fc00::/7.
    """
    reason = unusable_reason(ip)
    if reason is not None:
        return reason
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in LOOPBACK_V4:
            return "loopback IPv4 address"
        if ip in LINK_LOCAL_V4:
            return "link-local IPv4 address (169.254.0.0/16)"
        if any(ip in net for net in RFC1918_V4) or ip in CGNAT_V4:
            return None
        return "public IPv4 address (covered by the reflexive candidate)"
    if ip == LOOPBACK_V6:
        return "loopback IPv6 address"
    if ip in LINK_LOCAL_V6:
        return "link-local IPv6 address (fe80::/10)"
    if ip in GLOBAL_UNICAST_V6 or ip in ULA_V6:
        return None
    return "IPv6 address outside global unicast (2000::/3) and ULA (fc00::/7)"


def is_non_public(ip: IPAddress) -> bool:
    """True for RFC 1918, CGNAT, loopback, link-local and ULA addresses.

    Everything else (including the documentation ranges used by the test lab) counts as public.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in RFC1918_V4) or ip in CGNAT_V4 or ip in LOOPBACK_V4 or ip in LINK_LOCAL_V4
    return ip == LOOPBACK_V6 or ip in LINK_LOCAL_V6 or ip in ULA_V6
