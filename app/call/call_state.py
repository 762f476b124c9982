"""The state table of one call, seen from one side (sans-IO, h11-style).

Every transition is listed; anything else is a `CallStateError` with a clear
message, never a silent ignore.
"""

from __future__ import annotations

import enum


class CallState(enum.Enum):
    OFFERING = "offering"  # outgoing: offer sent, relay has not confirmed it rings
    RINGING = "ringing"  # outgoing: the callee's device rings
    INCOMING = "incoming"  # incoming: ringing here, waiting for the user
    ANSWERED = "answered"  # incoming: accepted, waiting for the relay's CallSetup
    SETUP = "setup"  # both sides know each other's candidates and keys
    RACING = "racing"  # the dual-path race is running
    IN_CALL = "in-call"  # media flows on the chosen path
    ENDED = "ended"


class CallEvent(enum.Enum):
    RINGING = "ringing"
    ACCEPT = "accept"
    SETUP = "setup"
    RACE_STARTED = "race-started"
    PATH_CHOSEN = "path-chosen"
    END = "end"


class CallStateError(Exception):
    """An event arrived in a state where it makes no sense."""


_TRANSITIONS: dict[tuple[CallState, CallEvent], CallState] = {
    (CallState.OFFERING, CallEvent.RINGING): CallState.RINGING,
    (CallState.RINGING, CallEvent.SETUP): CallState.SETUP,
    (CallState.OFFERING, CallEvent.SETUP): CallState.SETUP,
    (CallState.INCOMING, CallEvent.ACCEPT): CallState.ANSWERED,
    (CallState.ANSWERED, CallEvent.SETUP): CallState.SETUP,
    (CallState.SETUP, CallEvent.RACE_STARTED): CallState.RACING,
    (CallState.RACING, CallEvent.PATH_CHOSEN): CallState.IN_CALL,
    (CallState.IN_CALL, CallEvent.PATH_CHOSEN): CallState.IN_CALL,  # a later path change
}


class CallStateMachine:
    def __init__(self, outgoing: bool) -> None:
        self.outgoing = outgoing
        self.state = CallState.OFFERING if outgoing else CallState.INCOMING
        self.end_reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    def handle(self, event: CallEvent, reason: str | None = None) -> CallState:
        if event is CallEvent.END:
            if self.state is CallState.ENDED:
                raise CallStateError("the call has already ended")
            self.state = CallState.ENDED
            self.end_reason = reason or "Normal"
            return self.state
        new = _TRANSITIONS.get((self.state, event))
        if new is None:
            raise CallStateError(f"{event.value} is not valid while the call is {self.state.value}")
        self.state = new
        return new
