"""The sans-IO pieces wired together the way the network layer will use them."""

from __future__ import annotations

import random

import numpy as np

from app.media.codec import FRAME_SAMPLES, OpusDecoder, OpusEncoder
from app.media.jitter_buffer import JitterBuffer, PlayoutKind
from app.media.loss import RedundancyPolicy
from app.media.media_keys import EphemeralKey, derive_media_keys
from app.media.packet import FLAG_DTX, FLAG_RED, MediaOpener, MediaSealer
from app.media.red import RedPacketizer, expand_red
from app.media.sinks import MemorySink
from app.media.sources import ToneSource, level_dbfs, pcm_to_float


def test_tone_survives_10_percent_loss_with_red_end_to_end() -> None:
    caller, callee = EphemeralKey.generate(), EphemeralKey.generate()
    tx = derive_media_keys(caller, callee.public_bytes, "c1", "fp-a", "fp-b", True)
    rx = derive_media_keys(callee, caller.public_bytes, "c1", "fp-a", "fp-b", False)

    loss = 0.10
    policy = RedundancyPolicy()
    policy.update(loss)
    settings = policy.codec_settings(loss)
    encoder = OpusEncoder(fec=settings.fec)
    encoder.set_expected_loss(settings.expected_loss_percent)
    packetizer = RedPacketizer()
    sealer, opener = MediaSealer(tx.send_key), MediaOpener(rx.recv_key)
    jb, decoder, sink = JitterBuffer(), OpusDecoder(), MemorySink()

    rng = random.Random(5)
    source = ToneSource(440, amplitude=0.3, duration_s=4.0)
    seq, now, kinds = 0, 0.0, []
    while (pcm := source.read_frame()) is not None:
        red = packetizer.build(seq, encoder.encode(pcm), settings.red_depth)
        flags = FLAG_RED | (FLAG_DTX if level_dbfs(pcm) < -60 else 0)
        datagram = sealer.seal(flags, seq, seq * FRAME_SAMPLES, red)
        if rng.random() >= loss:
            packet = opener.open(datagram)
            for f_seq, f_ts, payload, redundant in expand_red(
                packet.seq, packet.timestamp, packet.payload
            ):
                jb.put(f_seq, f_ts, payload, now + 0.001, silent=packet.is_dtx,
                       redundant=redundant)
        frame = jb.pop(now + 0.01)
        kinds.append(frame.kind)
        if frame.kind is PlayoutKind.DECODE:
            assert frame.payload is not None
            sink.write_frame(decoder.decode(frame.payload))
        elif frame.kind is PlayoutKind.FEC:
            assert frame.payload is not None
            sink.write_frame(decoder.decode_fec(frame.payload))
        elif frame.kind is PlayoutKind.CONCEAL:
            sink.write_frame(decoder.conceal())
        seq += 1
        now += 0.02

    stats = jb.stats()
    assert stats.red_recovered >= 10
    assert stats.concealed <= 8  # only where two packets in a row were lost
    out = pcm_to_float(sink.pcm)
    assert len(out) >= 190 * FRAME_SAMPLES
    # The tone comes out at its level (no big holes); about -13.5 dBFS.
    levels = [level_dbfs(sink.pcm[i : i + 1920]) for i in range(1920 * 10, len(sink.pcm), 1920)]
    assert float(np.median(levels)) > -16.0
    assert min(levels) > -30.0
