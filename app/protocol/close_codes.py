"""QUIC application error codes WZP closes connections with."""

#: The call ended on purpose (hangup, cancel, relay closed the room): not a lost path.
CALL_ENDED = 0x1
