"""End-to-end audio: espeak-ng speech sent with `wzp-cli call --play`, received with `listen --record`,
scored with PESQ-WB against the offline libopus ceiling. Real relay and CLI processes, real QUIC on
loopback, a user-space impairment proxy for loss."""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from app.identity import Identity
from app.media.session import MediaSession
from app.relay.server import RelayServer
from tests.tools import processes as P
from tests.tools.audio_quality import make_speech, offline_ceiling, score_files
from tests.tools.impairment_proxy import ImpairmentProxy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech(tmp_path_factory.mktemp("speech") / "speech.wav")


@pytest.fixture(scope="module")
def ceilings(speech: Path) -> dict[float, float]:
    return {
        0.0: offline_ceiling(speech),
        0.05: offline_ceiling(speech, loss=0.05),
        0.10: offline_ceiling(speech, loss=0.10),
    }


def _duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


STARVED = re.compile(
    r"media stopped .*? stalls=(\d+) late=(\d+) .*?accelerated=(\d+) stretched=(\d+) forced_drops=(\d+)"
    r" .*?resyncs=(\d+)"
)


def _starved(*stderrs: str) -> bool:
    """Did a media loop fall behind (stalls), play out before on-time packets arrived (late), or have
    to adapt its jitter buffer (time-stretching, forced drops, resyncs)? The loopback and the proxy
    add no delay jitter, so each of these means the machine did not give the processes their CPU."""
    return any(any(int(n) for n in counts) for text in stderrs for counts in STARVED.findall(text))


async def _call(tmp: Path, speech: Path, *, answer: str, good: Callable[[float], bool]) -> tuple[dict, float]:
    path, score, _ = await _call_with_stats(tmp, speech, answer=answer, good=lambda s, _stats: good(s))
    return path, score


async def _call_with_stats(
    tmp: Path,
    speech: Path,
    *,
    answer: str,
    loss: float = 0.0,
    good: Callable[[float, list[dict]], bool] = lambda _s, _st: True,
) -> tuple[dict, float, list[dict]]:
    """One call, scored. A call whose score misses `good` is made once more only when the media loops
    show the machine starved them (stalls or late packets on loopback); both scores are printed. A real
    regression misses on an undisturbed machine, and fails."""
    path, score, stats, starved = await _one_call(tmp / "try1", speech, answer=answer, loss=loss)
    if good(score, stats) or not starved:
        return path, score, stats
    print(f"PESQ-WB {score:.2f} on a starved machine (stalls/late packets in the media loop): calling again")
    path, score, stats, starved = await _one_call(tmp / "try2", speech, answer=answer, loss=loss)
    print(f"second call PESQ-WB {score:.2f}{' (starved again)' if starved else ''}")
    return path, score, stats


async def _one_call(
    tmp: Path, speech: Path, *, answer: str, loss: float = 0.0
) -> tuple[dict, float, list[dict], bool]:
    """The caller's `path` event, the PESQ-WB score of what the callee recorded, the callee's `stats`,
    and whether either media loop was starved of CPU."""
    tmp.mkdir(parents=True, exist_ok=True)
    proxy = None
    advertise = None
    if loss:
        proxy = ImpairmentProxy(loss=loss, direction="up", seed=11)
        advertise = f"127.0.0.1:{await proxy.start()}"
    relay, port, _ = await P.start_relay(tmp / "relay", advertise=advertise)
    procs = [relay]
    try:
        relay_addr = f"127.0.0.1:{port}"
        caller_relay = relay_addr
        if proxy is not None:
            proxy.set_upstream("127.0.0.1", port)
            caller_relay = advertise
        callee_fp = P.identity(tmp / "b")
        out = tmp / "received.wav"
        callee = await P.spawn(
            "callee",
            tmp,
            "wzp-cli",
            *P.cli(
                tmp / "b",
                relay_addr,
                "listen",
                "--max-calls",
                "1",
                "--answer",
                answer,
                "--record",
                str(out),
                "--no-audio",
            ),
        )
        procs.append(callee)
        await callee.wait_event("registered")
        caller = await P.spawn(
            "caller",
            tmp,
            "wzp-cli",
            *P.cli(
                tmp / "a",
                caller_relay,
                "call",
                callee_fp,
                "--duration",
                f"{_duration(speech) + 2.0:.1f}",
                "--play",
                str(speech),
                "--no-audio",
            ),
        )
        procs.append(caller)
        assert await caller.finish(60) == 0, caller.stderr[-2000:]
        assert await callee.finish(60) == 0, callee.stderr[-2000:]
        path = caller.named("path")[-1]
        assert callee.named("path")[-1]["path"] == path["path"]
        starved = _starved(caller.stderr, callee.stderr)
        return path, score_files(speech, out), callee.named("stats"), starved
    finally:
        for proc in procs:
            await proc.stop()
        if proxy is not None:
            proxy.close()


async def test_clean_call_direct_path_scores_near_the_offline_ceiling(tmp_path, speech, ceilings) -> None:
    path, score = await _call(tmp_path, speech, answer="trusted", good=lambda s: s >= ceilings[0.0] - 0.15)
    assert path["path"] == "direct"
    print(f"direct clean PESQ-WB {score:.2f} (ceiling {ceilings[0.0]:.2f})")
    assert score >= ceilings[0.0] - 0.15


async def test_clean_call_relay_path_scores_near_the_offline_ceiling(tmp_path, speech, ceilings) -> None:
    path, score = await _call(tmp_path, speech, answer="generic", good=lambda s: s >= ceilings[0.0] - 0.15)
    assert path["path"] == "relay" and path["candidate"] == "relay"
    print(f"relay clean PESQ-WB {score:.2f} (ceiling {ceilings[0.0]:.2f})")
    assert score >= ceilings[0.0] - 0.15


# PESQ-WB floor at 10 % loss. Calibrated on this call (seed 11) with libopus 1.3.1: with the jitter
# buffer waiting one frame longer per repair depth (2737b73) it scores 3.3-3.5; without, 2.4-3.2 (2.61
# and 2.88 seen). The score alone is noisy, so the delay check below is what catches that regression
# every time. With libopus 1.6.1 + deep PLC/OSCE (wzp-opus-dnn) the call scores 3.63-3.68 and the
# offline ceilings rose with it (they are computed with the same library: clean 3.71 -> 3.87, FEC at
# 5 % 2.85 -> 3.01, at 10 % 2.40 -> 2.62), so the relative checks keep their margins; the floor stays.
LOSS_FLOOR = {0.10: 3.0}


@pytest.mark.parametrize("loss", [0.05, 0.10])
async def test_lossy_relay_call_beats_the_offline_fec_ceiling(tmp_path, speech, ceilings, loss) -> None:
    def good(score: float, stats: list[dict]) -> bool:
        delays = sorted(st["jitter_buffer_ms"] for st in stats[1:])
        floor = max(ceilings[loss], LOSS_FLOOR.get(loss, 0.0))
        return score > floor and len(delays) >= 5 and delays[len(delays) // 2] >= 40.0

    path, score, stats = await _call_with_stats(tmp_path, speech, answer="generic", loss=loss, good=good)
    assert path["path"] == "relay"
    delays = sorted(st["jitter_buffer_ms"] for st in stats[1:])  # the first second is before any report
    print(f"relay {loss:.0%} loss PESQ-WB {score:.2f} (offline FEC ceiling {ceilings[loss]:.2f}), delays {delays}")
    assert score >= ceilings[loss] - 0.2
    # Redundancy (RED) switches on from the measured loss, so the call beats in-band FEC alone.
    assert score > ceilings[loss]
    assert score >= LOSS_FLOOR.get(loss, 0.0), f"PESQ-WB {score:.2f} at {loss:.0%} loss"
    # RED copies arrive one packet after the frame they repair: the receiver must wait at least one
    # frame more than its 20 ms floor for most of the call, or the copies come too late to play.
    assert len(delays) >= 5 and delays[len(delays) // 2] >= 40.0, delays


async def test_relay_forwards_only_ciphertext(tmp_path, monkeypatch) -> None:
    """Every Opus payload the sender produced is absent from every datagram the relay forwarded."""
    from app.client.client import WzpClient
    from app.media.session_factory import make_media_factory
    from app.media.sources import ToneSource
    from app.relay import media_room

    forwarded: list[bytes] = []
    original = media_room.MediaRoom._forward

    def spy(self, to, data):  # observe, then forward for real
        forwarded.append(bytes(data))
        return original(self, to, data)

    monkeypatch.setattr(media_room.MediaRoom, "_forward", spy)
    relay = await RelayServer.start("127.0.0.1:0", identity=Identity.generate())
    sessions: list[MediaSession] = []
    both_sessions = asyncio.Event()

    def on_session(session: MediaSession) -> None:
        sessions.append(session)
        if len(sessions) == 2:
            both_sessions.set()

    clients = []
    try:
        addr = f"127.0.0.1:{relay.port}"
        for name in ("a", "b"):
            c = WzpClient(Identity.generate(), tmp_path / name, addr)
            c.media_factory = make_media_factory(no_audio=True, emit=c.emit, on_session=on_session)
            await c.start()
            await c.wait_registered(10)
            clients.append(c)
        a, b = clients
        from app import events as ev

        ended = asyncio.Event()
        stats_seen = asyncio.Event()
        b.add_listener(
            lambda e: asyncio.ensure_future(b.answer(e.call_id, "generic")) if isinstance(e, ev.Incoming) else None
        )
        b.add_listener(lambda e: stats_seen.set() if isinstance(e, ev.Stats) and e.packets_received > 50 else None)
        a.add_listener(lambda e: ended.set() if isinstance(e, ev.Ended) else None)
        opus_payloads: list[bytes] = []
        await a.place_call(b.identity.fingerprint)
        await asyncio.wait_for(both_sessions.wait(), 10)
        for s in sessions:
            s.source = ToneSource(440.0, 0.5)
            real_encode = s.encoder.encode
            s.encoder.encode = lambda pcm, f=real_encode: _keep(opus_payloads, f(pcm))  # type: ignore[method-assign]
        await asyncio.wait_for(stats_seen.wait(), 10)
    finally:
        for c in clients:
            await c.stop()
        await relay.stop()
    assert len(forwarded) > 50 and len(opus_payloads) > 50
    leaks = [p for p in opus_payloads if len(p) >= 8 and any(p in d for d in forwarded)]
    assert not leaks


def _keep(store: list[bytes], payload: bytes) -> bytes:
    store.append(payload)
    return payload
