"""What a call costs the user's machine: CPU and memory of real client processes, against the codec.

Everything runs as the user runs it, on loopback, 24 kbit/s, direct path unless said:

* a real `wzp-relay` process;
* a `wzp-cli listen` process (answers, sends speech from a WAV, records what it hears), and a
  second one that answers `--answer generic` (relay only: the call's media goes through the relay);
* a `wzp` GUI process, offscreen, with the test-only hooks of `ui/test_hooks.py`
  (WZP_TEST_AUTO_ANSWER, WZP_TEST_PLAY / WZP_TEST_RECORD instead of devices, WZP_TEST_EVENTS);
* a `wzp-cli call` process per measured call (speech in, recording out).

1. CPU: per process, from /proc/PID/stat (utime + stime, all threads) over a window that starts
   2 s after the first audio was played, as % of one core. Measured: CLI caller and CLI listener
   in a CLI <-> CLI call; the same on the relay path, with the relay process's CPU for that one
   relayed call; GUI (window shown, the call page on screen) and CLI in a CLI -> GUI call;
   optionally (`--gui-hidden`) the GUI again with its window hidden. `--no-gui` measures the CLI only.
2. The codec floor, in the same run: a process that does only Opus encode + decode of the same
   speech at the same bitrate, one frame every 20 ms (what a full-duplex client cannot avoid),
   measured in the same window as the clients (so under the same machine load); each client's
   figure is given as a ratio to it. A tight loop of the same work in this process is printed too.
   `--repeats N` takes the median of N measured calls per configuration.
   `--versus TREE` measures a change under the same load: every CLI call (direct and relay path)
   is placed at the same time with the app of another checkout TREE (its own relay, listeners and
   caller, PYTHONPATH=TREE), and both sides' processes are read in the same windows.
3. Memory: this process places N short calls (`--calls`, `--call-seconds` each) to the
   listener and to the GUI at the same time (two callers of its own); RSS (VmRSS) and open fds
   of both are read before the first call, in the middle of calls, and after each call.
   Reported: idle, after the first call (one-time growth), after the last, the largest value
   during a call, and the slope over calls 2..N (kB per call).

Usage: python bench/bench_call_cost.py [--seconds 20] [--repeats 1] [--calls 20] [--call-seconds 1]
       [--gui-hidden] [--no-gui] [--versus TREE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import events as ev  # noqa: E402
from app.client.client import RECLAIM_AFTER_S, WzpClient  # noqa: E402
from app.identity import load_or_create_identity  # noqa: E402
from app.media.codec import FRAME_SAMPLES, OpusDecoder, OpusEncoder  # noqa: E402
from app.media.session_factory import make_media_factory  # noqa: E402
from app.media.sources import WavFileSource  # noqa: E402
from tests.helpers.procs import RELAY_LINE  # noqa: E402
from tests.tools.audio_quality import make_speech  # noqa: E402
from tests.tools.processes import Proc, cli, identity, spawn  # noqa: E402

BITRATE = 24_000
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_S = 2.0


# --------------------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class CpuWindow:
    """CPU of some processes (and wall time) between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start_cpu: dict[str, float] = {}
        self.start_wall = 0.0
        self.percent: dict[str, float] = {}

    def start(self) -> None:
        self.start_wall = time.monotonic()
        self.start_cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.start_wall
        self.percent = {name: (cpu_seconds(pid) - self.start_cpu[name]) / wall * 100 for name, pid in self.pids.items()}
        return self.percent


# --------------------------------------------------------------------------- audio


def long_speech(out: Path, seconds: float, work: Path) -> Path:
    """espeak-ng speech (with its natural pauses) repeated to `seconds`, 48 kHz mono WAV."""
    one = make_speech(work / "speech-once.wav")
    source = WavFileSource(one)
    frames: list[bytes] = []
    while (frame := source.read_frame()) is not None:
        frames.append(frame)
    needed = int(seconds / 0.020) + 1
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(b"".join(frames[i % len(frames)] for i in range(needed)))
    return out


def codec_floor(speech: Path, seconds: float, repeats: int = 3) -> float:
    """% of a core for Opus encode + decode of `seconds` of the speech (one full-duplex client)."""
    source = WavFileSource(speech)
    frames = [f for f in iter(source.read_frame, None)][: int(seconds / 0.020)]
    results = []
    for _ in range(repeats):
        enc = OpusEncoder(bitrate=BITRATE, fec=True)
        dec = OpusDecoder()
        t0 = time.process_time()
        for pcm in frames:
            dec.decode(enc.encode(pcm))
        results.append((time.process_time() - t0) / (len(frames) * FRAME_SAMPLES / 48_000) * 100)
    return statistics.median(results)


# --------------------------------------------------------------------------- processes


@dataclass
class Lab:
    work: Path
    speech: Path
    relay: Proc | None = None
    relay_addr: str = ""
    listener: Proc | None = None
    listener_fp: str = ""
    relay_listener: Proc | None = None
    relay_listener_fp: str = ""
    gui: Proc | None = None
    gui_fp: str = ""
    procs: list[Proc] = field(default_factory=list)
    #: Added to every process's environment (`--versus`: PYTHONPATH of the other checkout).
    env: dict[str, str] = field(default_factory=dict)

    async def start_relay(self) -> None:
        log_dir = self.work / "relay"
        log_dir.mkdir(parents=True, exist_ok=True)
        args = ["--listen", "127.0.0.1:0", "--data-dir", str(log_dir / "relay-data")]
        self.relay = await spawn("relay", log_dir, "wzp-relay", *args, env=self.env or None)
        self.procs.append(self.relay)
        match = RELAY_LINE.match(await self.relay.readline())
        if not match:
            raise RuntimeError(f"unexpected relay banner: {self.relay.lines}")
        self.relay_addr = f"127.0.0.1:{match['port']}"

    async def start_listener(self, name: str = "listener", answer: str = "trusted") -> tuple[Proc, str]:
        """A `wzp-cli listen`; answer "generic" keeps its calls on the relay path."""
        data = self.work / name
        fp = identity(data)
        listener = await spawn(
            name,
            self.work,
            "wzp-cli",
            *cli(
                data,
                self.relay_addr,
                "listen",
                "--answer",
                answer,
                "--play",
                str(self.speech),
                "--record",
                str(self.work / f"{name}-heard.wav"),
            ),
            env=self.env or None,
        )
        self.procs.append(listener)
        await listener.wait_event("registered", 30)
        return listener, fp

    async def start_gui(self, name: str, *, hidden: bool = False) -> Proc:
        data = self.work / name
        fp = identity(data)
        env = {
            "QT_QPA_PLATFORM": "offscreen",
            "WZP_TEST_AUTO_ANSWER": "trusted",
            "WZP_TEST_PLAY": str(self.speech),
            "WZP_TEST_RECORD": str(self.work / f"{name}-heard.wav"),
            "WZP_TEST_EVENTS": "1",
        }
        if hidden:
            env["WZP_TEST_HIDE"] = "1"
        gui = await spawn(
            name, self.work, "wzp", "--data-dir", str(data), "--relay", self.relay_addr, "--no-audio", env=env
        )
        self.procs.append(gui)
        await gui.wait_event("registered", 60)
        self.gui, self.gui_fp = gui, fp
        return gui

    async def stop_gui(self) -> int:
        assert self.gui is not None
        gui, self.gui = self.gui, None
        gui.proc.terminate()
        code = await gui.finish(20)
        self.procs.remove(gui)
        return code

    async def call_from_cli(self, name: str, target_fp: str, seconds: float) -> Proc:
        data = self.work / name
        identity(data)
        caller = await spawn(
            name,
            self.work,
            "wzp-cli",
            *cli(
                data,
                self.relay_addr,
                "call",
                target_fp,
                "--duration",
                str(seconds),
                "--play",
                str(self.speech),
                "--record",
                str(self.work / f"{name}-heard.wav"),
            ),
            env=self.env or None,
        )
        self.procs.append(caller)
        return caller

    async def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                await proc.stop()


def floor_child(speech: Path, seconds: float) -> None:
    """The codec floor as a process: Opus encode + decode of the speech, one frame every 20 ms
    (on an absolute schedule, like the media loop), nothing else."""
    source = WavFileSource(speech)
    frames = list(iter(source.read_frame, None))
    enc = OpusEncoder(bitrate=BITRATE, fec=True)
    dec = OpusDecoder()
    next_at = time.monotonic()
    for i in range(int(seconds / 0.020)):
        dec.decode(enc.encode(frames[i % len(frames)]))
        next_at += 0.020
        time.sleep(max(0.0, next_at - time.monotonic()))


@dataclass
class Target:
    """Whom a measured call goes to: a lab, the callee's fingerprint and process."""

    lab: Lab
    fingerprint: str
    callee: Proc


async def measured_call(
    lab: Lab, caller_name: str, target_fp: str, callee: Proc, seconds: float, versus: Target | None = None
) -> dict[str, float]:
    """A CLI call of WARMUP + seconds + 3 s; CPU of the caller, `callee`, the relay and a codec-floor
    process running at the same time (same machine load) over `seconds`. With `versus`, the same
    call is placed at the same time in that lab (another checkout), its processes read in the same
    window ("vs ..." keys)."""
    floor = await spawn(
        f"floor-{caller_name}",
        lab.work,
        sys.executable,
        __file__,
        "--floor-child",
        str(lab.speech),
        str(WARMUP_S + seconds + 30),
    )
    lab.procs.append(floor)
    calls = [(lab, await lab.call_from_cli(caller_name, target_fp, WARMUP_S + seconds + 3))]
    if versus is not None:
        other = await versus.lab.call_from_cli(caller_name, versus.fingerprint, WARMUP_S + seconds + 3)
        calls.append((versus.lab, other))
    for _, caller in calls:
        await caller.wait_event("audio", 30)
    await asyncio.sleep(WARMUP_S)
    paths = [[e for e in caller.events if e["event"] == "path"][-1]["path"] for _, caller in calls]  # (last one)
    assert lab.relay is not None
    pids = {"caller": calls[0][1].pid, "callee": callee.pid, "floor": floor.pid, "relay": lab.relay.pid}
    if versus is not None:
        assert versus.lab.relay is not None
        pids |= {"vs caller": calls[1][1].pid, "vs callee": versus.callee.pid, "vs relay": versus.lab.relay.pid}
    window = CpuWindow(pids)
    window.start()
    await asyncio.sleep(seconds)
    result = window.stop()
    for owner, caller in calls:
        code = await caller.finish(30)
        owner.procs.remove(caller)
        if code != 0:
            raise RuntimeError(f"the measured call failed:\n{caller.describe()}")
    await floor.stop()
    lab.procs.remove(floor)
    result["direct"] = float(paths[0] == "direct")
    if versus is not None:
        result["vs direct"] = float(paths[1] == "direct")
    return result


async def measured(
    lab: Lab,
    caller_name: str,
    target_fp: str,
    callee: Proc,
    seconds: float,
    repeats: int,
    versus: Target | None = None,
) -> dict[str, float]:
    """Median of each figure over `repeats` measured calls (the machine's load varies)."""
    runs = [await measured_call(lab, f"{caller_name}{i}", target_fp, callee, seconds, versus) for i in range(repeats)]
    result = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    RUN_RATIOS[id(result)] = {
        key: sorted(r[key] / r["floor"] for r in runs) for key in runs[0] if key.endswith(("caller", "callee"))
    }
    for key in ("direct", "vs direct"):  # how many of the calls ended the window on the direct path
        if key in result:
            result[key] = sum(r[key] for r in runs)
    return result


# --------------------------------------------------------------------------- memory


@dataclass
class MemorySeries:
    name: str
    pid: int
    idle: int = 0
    idle_fds: int = 0
    during: list[int] = field(default_factory=list)
    after: list[int] = field(default_factory=list)
    after_fds: list[int] = field(default_factory=list)

    def sample_during(self) -> None:
        self.during.append(rss_kib(self.pid))

    def sample_after(self) -> None:
        self.after.append(rss_kib(self.pid))
        self.after_fds.append(fd_count(self.pid))

    def slope_kib(self) -> float:
        ys = self.after[1:]
        if len(ys) < 2:
            return 0.0
        xs = list(range(len(ys)))
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)

    def report(self) -> str:
        n = len(self.after)
        first_growth = self.after[0] - self.idle
        last = self.after[-1]
        return (
            f"  {self.name:9s} idle {self.idle / 1024:7.1f} MiB | after call 1 {self.after[0] / 1024:7.1f} MiB "
            f"(one-time {first_growth / 1024:+.1f} MiB) | after call {n} {last / 1024:7.1f} MiB "
            f"({(last - self.after[0]) / 1024:+.2f} MiB since call 1) | max during {max(self.during) / 1024:7.1f} MiB"
            f"\n  {'':9s} slope over calls 2..{n}: {self.slope_kib():+.1f} kB/call | fds idle {self.idle_fds}, "
            f"after call 1 {self.after_fds[0]}, after call {n} {self.after_fds[-1]}, max {max(self.after_fds)}"
        )


async def settle_rss(pid: int, wait: float = 0.5) -> int:
    await asyncio.sleep(wait)
    return rss_kib(pid)


class Caller:
    """A WzpClient in this process that places calls (no audio: silence out, nothing played)."""

    def __init__(self, lab: Lab, name: str) -> None:
        data = lab.work / name
        self.client = WzpClient(load_or_create_identity(data), data, lab.relay_addr)
        self.client.media_factory = make_media_factory(no_audio=True, emit=self.client.emit)
        self.events: asyncio.Queue[ev.ClientEvent] = asyncio.Queue()
        self.client.add_listener(self.events.put_nowait)

    async def start(self) -> None:
        await self.client.start()
        await self.client.wait_registered(30)

    async def next(self, kind: type[Any], call_id: str, timeout: float = 30) -> Any:
        async def wait() -> Any:
            while True:
                event = await self.events.get()
                if isinstance(event, kind) and getattr(event, "call_id", None) == call_id:
                    return event
                if isinstance(event, ev.Ended) and event.call_id == call_id:
                    raise RuntimeError(f"call ended early: {event.reason}")

        return await asyncio.wait_for(wait(), timeout)

    async def one_call(self, target: str, seconds: float, during: Callable[[], None]) -> None:
        call_id = await self.client.place_call(target)
        await self.next(ev.PathChosen, call_id)
        await asyncio.sleep(seconds / 2)
        during()
        await asyncio.sleep(seconds / 2)
        await self.client.hangup(call_id)


class Drain:
    """Reads a long-lived process's stdout all the time (a full pipe would block it), and counts `ended`."""

    def __init__(self, proc: Proc) -> None:
        self.proc = proc
        self.ended = sum(1 for e in proc.events if e["event"] == "ended")
        self.changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        assert self.proc.proc.stdout is not None
        while raw := await self.proc.proc.stdout.readline():
            if b'"event":"ended"' in raw:
                self.ended += 1
                self.changed.set()
        self.changed.set()

    async def wait_ended(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.ended < count:
            if self.task.done():
                raise RuntimeError(f"{self.proc.name} exited:\n{self.proc.describe()}")
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{self.proc.name} did not see call {count} end")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def memory_run(
    lab: Lab, series: MemorySeries, proc: Proc, target: str, caller: Caller, calls: int, seconds: float
) -> None:
    series.idle = await settle_rss(series.pid, 1.0)
    series.idle_fds = fd_count(series.pid)
    drain = Drain(proc)
    base = drain.ended
    try:
        await _memory_calls(series, drain, base, target, caller, calls, seconds)
    finally:
        await drain.stop()


async def _memory_calls(
    series: MemorySeries, drain: Drain, base: int, target: str, caller: Caller, calls: int, seconds: float
) -> None:
    for i in range(calls):
        await caller.one_call(target, seconds, series.sample_during)
        await drain.wait_ended(base + i + 1)
        # The client gives an ended call's memory back RECLAIM_AFTER_S after it (app/memory.py).
        series.after.append(await settle_rss(series.pid, RECLAIM_AFTER_S + 0.5))
        series.after_fds.append(fd_count(series.pid))
        if (i + 1) % 50 == 0:
            print(f"    {series.name}: {i + 1} calls, RSS {series.after[-1] / 1024:.1f} MiB", flush=True)


# --------------------------------------------------------------------------- main


#: Each measured configuration's per-call ratios to the floor, by figure (printed after the median).
RUN_RATIOS: dict[int, dict[str, list[float]]] = {}


def ratio_line(name: str, result: dict[str, float], key: str) -> str:
    """`result[key]` (% of a core) and its ratio to the floor measured with it; then each call's ratio."""
    percent, floor = result[key], result["floor"]
    line = f"  {name:28s} {percent:5.1f} % of a core   {percent / floor:4.1f}x the codec floor ({floor:.2f} %)"
    each = RUN_RATIOS.get(id(result), {}).get(key, [])
    if len(each) > 1:
        line += "   calls: " + " ".join(f"{r:.2f}" for r in each)
    return line


async def run(args: argparse.Namespace) -> None:
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wzp-callcost-"))
    work.mkdir(parents=True, exist_ok=True)
    speech = long_speech(work / "speech.wav", args.seconds + 30, work)
    lab = Lab(work, speech)
    versus_labs: list[Lab] = []
    try:
        await lab.start_relay()
        lab.listener, lab.listener_fp = await lab.start_listener()
        lab.relay_listener, lab.relay_listener_fp = await lab.start_listener("relay-listener", "generic")
        vs_direct = vs_relayed = None
        if args.versus:
            other = Lab(work / "versus", speech, env={"PYTHONPATH": str(Path(args.versus).resolve())})
            other.work.mkdir()
            versus_labs.append(other)
            await other.start_relay()
            listener, fp = await other.start_listener()
            vs_direct = Target(other, fp, listener)
            listener, fp = await other.start_listener("relay-listener", "generic")
            vs_relayed = Target(other, fp, listener)
        if not args.no_gui:
            await lab.start_gui("gui")
        floor_before = codec_floor(speech, args.seconds)
        n = args.repeats
        cli_cli = await measured(lab, "caller-a", lab.listener_fp, lab.listener, args.seconds, n, vs_direct)
        relayed = await measured(
            lab, "caller-r", lab.relay_listener_fp, lab.relay_listener, args.seconds, n, vs_relayed
        )
        paths = (
            f"direct path: {cli_cli['direct']:.0f} of {n} direct calls, {relayed['direct']:.0f} of {n} relay-path calls"
        )
        if args.versus:
            paths += f"; --versus: {cli_cli['vs direct']:.0f} and {relayed['vs direct']:.0f}"
        if relayed["direct"] or relayed.get("vs direct"):
            raise RuntimeError(f"a relay-path call went direct ({paths})")
        gui_call: dict[str, float] | None = None
        if lab.gui is not None:
            gui_call = await measured(lab, "caller-b", lab.gui_fp, lab.gui, args.seconds, n)
        hidden: dict[str, float] | None = None
        if args.gui_hidden and lab.gui is not None:
            await lab.stop_gui()
            hidden_gui = await lab.start_gui("gui-hidden", hidden=True)
            hidden = await measured(lab, "caller-c", lab.gui_fp, hidden_gui, args.seconds, n)
            await lab.stop_gui()
            await lab.start_gui("gui")
        floor_after = codec_floor(speech, args.seconds)
        print(f"\nCPU, {args.seconds:g} s windows (median of {n}), speech both ways, 24 kbit/s, on loopback")
        print(
            f"  codec floor, tight loop in this process: {floor_before:.2f} % of a core before, "
            f"{floor_after:.2f} after;\n  ratios below are to the floor process (the same codec work paced "
            f"at 20 ms) in the same window; {paths} (a call may fall back to the relay on a loaded machine)"
        )
        print(ratio_line("wzp-cli call (to a CLI)", cli_cli, "caller"))
        print(ratio_line("wzp-cli listen", cli_cli, "callee"))
        print(ratio_line("wzp-cli call, relay path", relayed, "caller"))
        print(ratio_line("wzp-cli listen, relay path", relayed, "callee"))
        print(
            f"  {'wzp-relay, one relayed call':28s} {relayed['relay']:5.1f} % of a core "
            f"(with no call through it: {cli_cli['relay']:.1f} %)"
        )
        if args.versus:
            print(f"  the same calls at the same time with {args.versus}:")
            print(ratio_line("  wzp-cli call (to a CLI)", cli_cli, "vs caller"))
            print(ratio_line("  wzp-cli listen", cli_cli, "vs callee"))
            print(ratio_line("  wzp-cli call, relay path", relayed, "vs caller"))
            print(ratio_line("  wzp-cli listen, relay path", relayed, "vs callee"))
            print(f"  {'  wzp-relay, one relayed call':28s} {relayed['vs relay']:5.1f} % of a core")
        if gui_call is not None:
            print(ratio_line("wzp-cli call (to the GUI)", gui_call, "caller"))
            print(ratio_line("wzp GUI in a call, shown", gui_call, "callee"))
        if hidden is not None:
            print(ratio_line("wzp GUI in a call, hidden", hidden, "callee"))

        if args.calls and lab.gui is not None:
            assert lab.listener is not None
            print(f"\nMemory: {args.calls} sequential calls of {args.call_seconds:g} s to each callee", flush=True)
            callers = [Caller(lab, "mem-caller-1"), Caller(lab, "mem-caller-2")]
            await asyncio.gather(*(c.start() for c in callers))
            cli_series = MemorySeries("wzp-cli", lab.listener.pid)
            gui_series = MemorySeries("wzp GUI", lab.gui.pid)
            runs: list[Awaitable[None]] = [
                memory_run(lab, cli_series, lab.listener, lab.listener_fp, callers[0], args.calls, args.call_seconds),
                memory_run(lab, gui_series, lab.gui, lab.gui_fp, callers[1], args.calls, args.call_seconds),
            ]
            try:
                await asyncio.gather(*runs)
            finally:
                for c in callers:
                    await c.client.stop()
            print(cli_series.report())
            print(gui_series.report())
        if lab.gui is not None:
            code = await lab.stop_gui()
            print(f"\nGUI stopped with SIGTERM: exit code {code}")
    finally:
        for other in versus_labs:
            await other.stop_all()
        await lab.stop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="CPU window per measured call")
    p.add_argument("--calls", type=int, default=20, help="sequential calls per callee for the memory figures")
    p.add_argument("--call-seconds", type=float, default=1.0, help="length of each memory-run call")
    p.add_argument("--gui-hidden", action="store_true", help="also measure the GUI with its window hidden")
    p.add_argument("--no-gui", action="store_true", help="measure the CLI only (direct and relay path; no memory run)")
    p.add_argument("--repeats", type=int, default=1, help="measured calls per configuration (median)")
    p.add_argument(
        "--versus", default=None, metavar="TREE", help="also run each CLI call with the app of this checkout, at once"
    )
    p.add_argument("--keep", default=None, help="work in this directory and keep it (logs, recordings)")
    p.add_argument("--floor-child", nargs=2, metavar=("SPEECH", "SECONDS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.floor_child:
        floor_child(Path(args.floor_child[0]), float(args.floor_child[1]))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
