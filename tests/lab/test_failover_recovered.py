"""Through real NATs: a direct call whose direct path is cut in the core fails over to the relay,
and moves back to direct ("recovered") once the cut is lifted and a probe round gets through.

Two LANs behind port-preserving filtering NATs (topology b), a real wzp-relay and two real
wzp-cli processes (silence source, real Opus, real QUIC). The cut drops every packet between the
two NATs' public addresses in the core (the relay's traffic still flows): a link that loses the
peer's traffic for a while. The NATs keep their mappings meanwhile (the lab has no way to flush
conntrack), so the probe's punches are sent but not needed to reopen them; the probe's re-dial,
QUIC handshake and identity proof are.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from .netlab import Lab, LabError, Proc
from .topologies import PUB_A, PUB_B, RELAY, WZP_CLI, _identities, build_two_lans

CUT_TABLE = "labcut"
CALL_S = 20.0  # long enough for a first probe round that still meets the cut, and the next one
LISTEN = ["--answer", "trusted", "--max-calls", "1", "--no-audio"]
CALL = ["--duration", f"{CALL_S:g}", "--no-audio"]


def _wait_after(proc: Proc, mark: int, event: str, timeout: float, **fields: Any) -> dict[str, Any]:
    """The first `event` matching `fields` among the lines `proc` printed after its first `mark`."""
    seen = itertools.count()

    def match(line: str) -> bool:
        if next(seen) < mark or not line.startswith("{"):
            return False
        data = json.loads(line)
        return data.get("event") == event and all(data.get(k) == v for k, v in fields.items())

    return json.loads(proc.wait_line(match, timeout, f"a {event!r} event {fields} after line {mark}"))


def _frames_on(proc: Proc, path: str, timeout: float = 6.0) -> int:
    """Frames received on `path` between the next two `stats` events (one second apart)."""
    mark = len(proc.lines)
    first = _wait_after(proc, mark, "stats", timeout, path=path)
    second = _wait_after(proc, len(proc.lines), "stats", timeout, path=path)
    return int(second["packets_received"]) - int(first["packets_received"])


def test_b_cone_direct_cut_then_restored_recovers_to_direct(lab: Lab) -> None:
    topo = build_two_lans(lab, "r-recover", description="b, with the direct path cut and restored mid-call")
    topo.start_relay()
    caller_dir, _, callee_dir, callee_fp, role = _identities(lab.workdir, 1, "acceptor")
    callee = lab.run(
        topo.callee_ns,
        [WZP_CLI, "--data-dir", str(callee_dir), "--relay", RELAY, "--json", "listen", *LISTEN],
        name="callee",
    )
    caller = None
    try:
        callee.wait_event("registered", 15.0)
        caller = lab.run(
            topo.caller_ns,
            [WZP_CLI, "--data-dir", str(caller_dir), "--relay", RELAY, "--json", "call", callee_fp, *CALL],
            name="caller",
        )
        sides = {"caller": caller, "callee": callee}
        for proc in sides.values():
            proc.wait_event("path", 15.0, path="direct")
        for name, proc in sides.items():
            assert _frames_on(proc, "direct") >= 25, f"{name}: no audio on direct"

        def cut(on: bool) -> None:
            pairs = f"ip saddr {PUB_A} ip daddr {PUB_B} drop\nip saddr {PUB_B} ip daddr {PUB_A} drop" if on else ""
            body = f"chain forward {{\n type filter hook forward priority filter - 10; policy accept;\n{pairs}\n}}"
            lab.nft_table(topo.core, "inet", CUT_TABLE, body)

        cut(True)
        for proc in sides.values():
            proc.wait_event("path", 5.0, path="relay", reason="failover")
        for name, proc in sides.items():
            assert _frames_on(proc, "relay") >= 25, f"{name}: no audio through the relay after the failover"
        cut(False)
        restored = time.monotonic()
        for proc in sides.values():
            proc.wait_event("path", 25.0, path="direct", reason="recovered")
        took = time.monotonic() - restored
        print(f"recovered to direct {took:.2f} s after the restore (the caller is the {role})")
        for name, proc in sides.items():
            assert _frames_on(proc, "direct") >= 25, f"{name}: no audio on the recovered direct path"
            moves = [(e["path"], e["reason"]) for e in proc.events() if e.get("event") == "path"]
            assert moves[-3:] == [("direct", moves[-3][1]), ("relay", "failover"), ("direct", "recovered")], (
                f"{name}: {moves}"
            )
            assert moves[-3][1] in ("first", "upgrade"), f"{name}: {moves}"
        assert caller.wait(CALL_S + 10.0) == 0
        assert callee.wait(10.0) == 0
        for name, proc in sides.items():
            ended = [e for e in proc.events() if e.get("event") == "ended"]
            assert ended and ended[-1]["reason"] == "Normal", f"{name}: {ended}\n{proc.tail()}"
    except LabError as exc:
        tails = "\n".join(p.tail(40) for p in (caller, callee, topo.relay) if p is not None)
        raise AssertionError(f"{exc}\n{tails}") from None
    finally:
        for proc in (caller, callee):
            if proc is not None:
                proc.stop()
