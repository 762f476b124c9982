"""What the user reads: call end reasons, path badges and durations as sentences (pure functions, translated).

Every sentence goes through Qt's translator (context "Sentences"); names are
filled in after translation, with `str.format`, so a translation can move them.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from app.nat.addresses import AddressError, parse_addr, parse_ip
from app.nat.ranges import is_non_public

translate = QCoreApplication.translate


def format_duration(seconds: float) -> str:
    """1:05, 12:30 or 1:02:03."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def path_badge(path: str, remote: str, candidate: str) -> str:
    """The in-call badge's key (English; `badge_text` shows it in the user's language): how the audio travels."""
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


def badge_text(badge: str) -> str:
    return {
        "Via relay": translate("Sentences", "Via relay"),
        "Direct": translate("Sentences", "Direct"),
        "Direct IPv6": translate("Sentences", "Direct IPv6"),
        "Direct over LAN": translate("Sentences", "Direct over LAN"),
        "Direct over internet": translate("Sentences", "Direct over internet"),
    }.get(badge, badge)


def path_explanation(badge: str) -> str:
    return {
        "Via relay": translate(
            "Sentences", "The audio goes through the relay, still end-to-end encrypted: the relay cannot listen."
        ),
        "Direct IPv6": translate("Sentences", "The audio goes straight to the other computer over IPv6."),
        "Direct over LAN": translate(
            "Sentences", "The audio goes straight to the other computer on your local network."
        ),
        "Direct over internet": translate(
            "Sentences", "The audio goes straight to the other computer across the internet."
        ),
    }.get(badge, translate("Sentences", "The audio goes straight to the other computer."))


def outgoing_end_sentence(reason: str, name: str, *, connected: bool, duration_s: float) -> str:
    """Why a call we placed ended, as one sentence."""
    duration = format_duration(duration_s)
    if connected:
        if reason == "Error":
            text = translate("Sentences", "The call with {name} dropped after {duration}: the connection was lost.")
        else:
            text = translate("Sentences", "Call with {name} ended after {duration}.")
        return text.format(name=name, duration=duration)
    texts = {
        "Offline": translate("Sentences", "{name} is offline. Try again when they have WZP open."),
        "Busy": translate("Sentences", "{name} is busy in another call. Try again later."),
        "Declined": translate("Sentences", "{name} declined the call."),
        "Timeout": translate("Sentences", "{name} did not answer."),
        "Cancelled": translate("Sentences", "You cancelled the call to {name}."),
        "Unavailable": translate("Sentences", "{name} cannot be called right now."),
        "Unreachable": translate(
            "Sentences", "{name}'s relay could not be reached. Check your network, or ask them for a new invite link."
        ),
        "LimitExceeded": translate(
            "Sentences", "The relay is handling too many calls right now. Try again in a moment."
        ),
        "Replaced": translate("Sentences", "This identity signed in from another place, so this call was stopped."),
        "Error": translate(
            "Sentences", "The call to {name} could not be connected. The log in Settings has the details."
        ),
        "Normal": translate("Sentences", "{name} hung up before the call connected."),
    }
    text = texts.get(reason) or translate("Sentences", "The call to {name} ended ({reason}).")
    return text.format(name=name, reason=reason)


def incoming_end_sentence(reason: str, name: str, *, connected: bool, declined: bool, duration_s: float) -> str:
    duration = format_duration(duration_s)
    if connected:
        if reason == "Error":
            text = translate("Sentences", "The call with {name} dropped after {duration}: the connection was lost.")
        else:
            text = translate("Sentences", "Call with {name} ended after {duration}.")
    elif declined:
        text = translate("Sentences", "You declined the call from {name}.")
    elif reason == "Error":
        text = translate(
            "Sentences", "The call from {name} could not be connected. The log in Settings has the details."
        )
    else:
        text = translate("Sentences", "Missed call from {name}.")
    return text.format(name=name, duration=duration)


def blocked_sentence(name: str) -> str:
    """After declining a call with "Block"."""
    return translate(
        "Sentences",
        "You declined the call from {name} and blocked them: their calls will no longer ring. Unblock in Settings.",
    ).format(name=name)


def history_label(direction: str) -> str:
    return {
        "outgoing": translate("Sentences", "Outgoing"),
        "incoming": translate("Sentences", "Incoming"),
        "missed": translate("Sentences", "Missed"),
        "declined": translate("Sentences", "Declined"),
    }.get(direction, direction)


def reason_label(reason: str) -> str:
    """A short word for why a call did not happen ("" for a normal end)."""
    return {
        "Normal": "",
        "Offline": translate("Sentences", "offline"),
        "Busy": translate("Sentences", "busy"),
        "Declined": translate("Sentences", "declined"),
        "Timeout": translate("Sentences", "no answer"),
        "Cancelled": translate("Sentences", "cancelled"),
        "Error": translate("Sentences", "failed"),
        "Unavailable": translate("Sentences", "unavailable"),
        "Unreachable": translate("Sentences", "relay unreachable"),
    }.get(reason, reason.lower())
