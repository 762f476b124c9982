"""What the user reads: call end reasons, path badges and durations as sentences (pure functions)."""

from __future__ import annotations

from app.nat.addresses import AddressError, parse_addr, parse_ip
from app.nat.ranges import is_non_public


def format_duration(seconds: float) -> str:
    """1:05, 12:30 or 1:02:03."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def path_badge(path: str, remote: str, candidate: str) -> str:
    """The in-call badge: how the audio travels."""
    if path != "direct":
        return "Via relay"
    try:
        ip = parse_ip(parse_addr(remote)[0])
    except AddressError:
        return "Direct"
    if ip.version == 6:
        return "Direct IPv6"
    if candidate == "host" or is_non_public(ip):
        return "Direct over LAN"
    return "Direct over internet"


def path_explanation(badge: str) -> str:
    return {
        "Via relay": "The audio goes through the relay, still end-to-end encrypted: the relay cannot listen.",
        "Direct IPv6": "The audio goes straight to the other computer over IPv6.",
        "Direct over LAN": "The audio goes straight to the other computer on your local network.",
        "Direct over internet": "The audio goes straight to the other computer across the internet.",
    }.get(badge, "The audio goes straight to the other computer.")


def outgoing_end_sentence(reason: str, name: str, *, connected: bool, duration_s: float) -> str:
    """Why a call we placed ended, as one sentence."""
    if connected:
        return {
            "Normal": f"Call with {name} ended after {format_duration(duration_s)}.",
            "Error": f"The call with {name} dropped after {format_duration(duration_s)}: the connection was lost.",
        }.get(reason, f"Call with {name} ended after {format_duration(duration_s)}.")
    return {
        "Offline": f"{name} is offline. Try again when they have WZP open.",
        "Busy": f"{name} is busy in another call. Try again later.",
        "Declined": f"{name} declined the call.",
        "Timeout": f"{name} did not answer.",
        "Cancelled": f"You cancelled the call to {name}.",
        "Unavailable": f"{name} cannot be called right now.",
        "LimitExceeded": "The relay is handling too many calls right now. Try again in a moment.",
        "Replaced": "This identity signed in from another place, so this call was stopped.",
        "Error": f"The call to {name} could not be connected. The log in Settings has the details.",
        "Normal": f"{name} hung up before the call connected.",
    }.get(reason, f"The call to {name} ended ({reason}).")


def incoming_end_sentence(reason: str, name: str, *, connected: bool, declined: bool, duration_s: float) -> str:
    if connected:
        if reason == "Error":
            return f"The call with {name} dropped after {format_duration(duration_s)}: the connection was lost."
        return f"Call with {name} ended after {format_duration(duration_s)}."
    if declined:
        return f"You declined the call from {name}."
    if reason == "Error":
        return f"The call from {name} could not be connected. The log in Settings has the details."
    return f"Missed call from {name}."


def blocked_sentence(name: str) -> str:
    """After declining a call with "Block"."""
    return f"You declined the call from {name} and blocked them: their calls will no longer ring. Unblock in Settings."


HISTORY_LABELS = {"outgoing": "Outgoing", "incoming": "Incoming", "missed": "Missed", "declined": "Declined"}

REASON_LABELS = {
    "Normal": "",
    "Offline": "offline",
    "Busy": "busy",
    "Declined": "declined",
    "Timeout": "no answer",
    "Cancelled": "cancelled",
    "Error": "failed",
    "Unavailable": "unavailable",
}
