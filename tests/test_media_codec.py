"""Opus wrapper: configuration, round trip, that in-band FEC really is there, and the library check:
which libopus the app loads, that its settings take effect, and deep PLC / OSCE found by behaviour."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media import libopus
from app.media.codec import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    OpusDecoder,
    OpusEncoder,
    is_dtx_payload,
)
from app.media.errors import CodecError
from app.media.libopus import (
    BANDWIDTH_FULLBAND,
    BANDWIDTH_WIDEBAND,
    SET_BITRATE,
    SET_DTX,
    SET_INBAND_FEC,
    SET_MAX_BANDWIDTH,
    LibOpus,
    bundled_wheel_library,
    dnn_wheel_library,
    load_library,
)
from app.media.opus_probe import DEEP_PLC_COMPLEXITY, OSCE_COMPLEXITY, OpusCapabilities, app_opus, probe
from app.media.sources import float_to_pcm, pcm_to_float, read_wav, resample


def harmonic_speechlike(seconds: float) -> np.ndarray:
    """A voiced, vowel-like signal: gliding pitch, several harmonics, syllable envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    formant_gain = [1.0, 0.8, 0.6, 0.35, 0.5, 0.25, 0.15, 0.1]
    voiced = sum(g * np.sin((k + 1) * phase) for k, g in enumerate(formant_gain))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 2.3 * t) ** 2
    return 0.15 * voiced * envelope


def speech_48k(tmp_path: Path) -> np.ndarray:
    """espeak-ng speech at 48 kHz if espeak-ng is installed, else a harmonic signal."""
    if shutil.which("espeak-ng") is None:
        return harmonic_speechlike(4.0)
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "Packet loss should not hurt this voice call at all."],
        check=True,
        timeout=30,
    )
    samples, rate = read_wav(wav)
    return resample(samples, rate, SAMPLE_RATE)


def frames_of(signal: np.ndarray) -> list[bytes]:
    pcm = float_to_pcm(signal)
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def snr_db(decoded: np.ndarray, original: np.ndarray) -> float:
    noise = float(np.sum((decoded - original) ** 2))
    return 10 * np.log10(float(np.sum(original**2)) / max(noise, 1e-12))


def test_defaults_and_fec_is_really_on() -> None:
    enc = OpusEncoder()
    assert enc.bitrate == 24_000
    assert enc.fec is True
    assert enc.dtx is False
    assert enc.expected_loss == 0
    assert enc.max_bandwidth == BANDWIDTH_FULLBAND
    assert OpusEncoder(fec=False).fec is False


def test_set_fec_switches_and_reads_back() -> None:
    enc = OpusEncoder(fec=False)
    enc.set_fec(True)
    assert enc.fec is True
    enc.set_fec(False)
    assert enc.fec is False


@pytest.mark.parametrize("bitrate", [16_000, 24_000, 48_000, 64_000])
def test_bitrate_range_accepted(bitrate: int) -> None:
    assert OpusEncoder(bitrate=bitrate).bitrate == bitrate


@pytest.mark.parametrize("bitrate", [15_999, 64_001, 0, -1])
def test_bitrate_out_of_range_rejected(bitrate: int) -> None:
    with pytest.raises(ValueError):
        OpusEncoder(bitrate=bitrate)
    with pytest.raises(ValueError):
        OpusEncoder().set_bitrate(bitrate)


def test_expected_loss_caps_bandwidth_and_zero_lifts_the_cap() -> None:
    enc = OpusEncoder()
    enc.set_expected_loss(10)
    assert enc.expected_loss == 10
    assert enc.max_bandwidth == BANDWIDTH_WIDEBAND
    enc.set_expected_loss(0)
    assert enc.expected_loss == 0
    assert enc.max_bandwidth == BANDWIDTH_FULLBAND
    for bad in (-1, 101):
        with pytest.raises(ValueError):
            enc.set_expected_loss(bad)


def test_encode_rejects_wrong_frame_size() -> None:
    enc = OpusEncoder()
    with pytest.raises(ValueError):
        enc.encode(bytes(FRAME_BYTES - 2))
    with pytest.raises(TypeError):
        enc.encode("not bytes")  # type: ignore[arg-type]


def test_round_trip_of_a_tone_is_faithful() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    frames = frames_of(0.3 * np.sin(2 * np.pi * 440 * t))
    enc, dec = OpusEncoder(), OpusDecoder()
    out = [dec.decode(enc.encode(f)) for f in frames]
    assert all(len(o) == FRAME_BYTES for o in out)
    decoded = pcm_to_float(b"".join(out))[enc.lookahead :]
    original = pcm_to_float(b"".join(frames))[: len(decoded)]
    assert snr_db(decoded[4800:], original[4800:]) > 10.0


def test_conceal_and_decode_fec_return_full_frames() -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    packet = enc.encode(bytes(FRAME_BYTES))
    assert len(dec.decode(packet)) == FRAME_BYTES
    assert len(dec.conceal()) == FRAME_BYTES
    assert len(dec.decode_fec(packet)) == FRAME_BYTES
    dec.reset()
    assert len(dec.decode(packet)) == FRAME_BYTES


def test_dtx_emits_tiny_packets_for_silence() -> None:
    enc = OpusEncoder(dtx=True)
    sizes = [len(enc.encode(bytes(FRAME_BYTES))) for _ in range(50)]
    assert any(is_dtx_payload(b"x" * size) for size in sizes[10:])


def test_fec_recovers_a_lost_frame_better_than_plc(tmp_path: Path) -> None:
    """At 10 % expected loss with the wideband cap the next packet carries LBRR data:
    decoding it with decode_fec is much closer to the original than concealment."""
    frames = frames_of(speech_48k(tmp_path))
    enc = OpusEncoder(bitrate=24_000, fec=True)
    enc.set_expected_loss(10)
    packets = [enc.encode(f) for f in frames]
    original = pcm_to_float(b"".join(frames))
    delay = enc.lookahead

    dec_fec, dec_plc = OpusDecoder(), OpusDecoder()
    fec_snr, plc_snr, differing = [], [], 0
    for i, packet in enumerate(packets[:-1]):
        if i % 7 == 3 and i * FRAME_SAMPLES >= delay:  # frame i is "lost"
            via_fec = pcm_to_float(dec_fec.decode_fec(packets[i + 1]))
            via_plc = pcm_to_float(dec_plc.conceal())
            differing += not np.array_equal(via_fec, via_plc)
            start = i * FRAME_SAMPLES - delay  # decoder output lags the input
            ref = original[start : start + FRAME_SAMPLES]
            if float(np.mean(ref**2)) > 1e-4:  # voiced frames only
                fec_snr.append(snr_db(via_fec, ref))
                plc_snr.append(snr_db(via_plc, ref))
        else:
            dec_fec.decode(packet)
            dec_plc.decode(packet)
    assert len(fec_snr) >= 8
    assert differing >= len(fec_snr)  # FEC data was present, not a PLC fallback
    assert float(np.mean(fec_snr)) > float(np.mean(plc_snr)) + 1.5
    assert float(np.median(fec_snr)) > float(np.median(plc_snr))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=100))
def test_garbage_payloads_give_a_frame_or_codec_error(data: bytes) -> None:
    dec = OpusDecoder()
    for method in (dec.decode, dec.decode_fec):
        try:
            assert len(method(data)) == FRAME_BYTES
        except CodecError:
            pass
    assert len(dec.conceal()) == FRAME_BYTES


# -- the library: which one, and what it really does ----------------------------------------------


def plain_library() -> LibOpus:
    """opuslib-next-bundled's default libopus 1.6 build (no neural models)."""
    return load_library(bundled_wheel_library())


def dnn_library() -> LibOpus:
    """wzp-opus-dnn's libopus 1.6.1 with deep PLC + OSCE (scripts/setup.sh builds and installs it)."""
    path = dnn_wheel_library()
    assert path is not None, "wzp-opus-dnn is not installed: run scripts/setup.sh (packaging/build_opus_wheel.sh)"
    return load_library(path)


class IgnoringLib:
    """A real libopus whose encoder CTL drops one request, the way opuslib 3.0.1's inband_fec setter
    did (it never passed the value on). ``lie`` also makes the matching getter report the value as set."""

    def __init__(self, lib: LibOpus, request: int, lie: bool = False) -> None:
        self._lib, self._request, self._lie, self._claimed = lib, request, lie, None
        real = lib.encoder_ctl

        def encoder_ctl(state: int, request: int, *args: object) -> int:
            if request == self._request:
                value = args[0].value  # type: ignore[attr-defined]
                self._claimed = value
                return 0
            if self._lie and request == self._request + 1 and self._claimed is not None:
                args[0]._obj.value = self._claimed  # type: ignore[attr-defined]
                return 0
            return int(real(state, request, *args))

        lib.encoder_ctl = encoder_ctl  # type: ignore[method-assign]


def test_the_app_uses_the_deep_plc_build_and_it_passes_the_start_up_probe() -> None:
    app = app_opus()
    assert app.source == "wzp-opus-dnn"
    assert app.lib.api == "1.6" and app.lib.version == "libopus 1.6.1"
    assert app.capabilities == OpusCapabilities(fec_lbrr=True, deep_plc=True, osce=True)
    assert app.capabilities.decoder_complexity == OSCE_COMPLEXITY
    assert OpusDecoder().complexity == OSCE_COMPLEXITY
    assert OpusEncoder().library is app.lib


def test_the_pypi_build_is_1_6_without_neural_features_though_it_accepts_the_ctl() -> None:
    lib = plain_library()
    assert lib.api == "1.6"  # its version string says "libopus unknown": the symbols tell
    capabilities = probe(lib)
    assert capabilities == OpusCapabilities(fec_lbrr=True, deep_plc=False, osce=False)
    assert capabilities.decoder_complexity == 0
    # The CTL's return code proves nothing: complexity 10 is accepted and read back.
    assert OpusDecoder(lib=lib, complexity=10).complexity == 10


def test_without_the_dnn_wheel_the_app_falls_back_to_the_pypi_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WZP_OPUS_LIB", bundled_wheel_library())
    app_opus.cache_clear()
    try:
        app = app_opus()
        assert app.source == "WZP_OPUS_LIB" and app.capabilities.decoder_complexity == 0
        assert OpusDecoder().complexity == 0
    finally:
        app_opus.cache_clear()


def test_a_broken_dnn_build_falls_back_to_the_pypi_build_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "libopus.so.0"
    broken.write_bytes(b"\x7fELF truncated")
    monkeypatch.setattr(libopus, "dnn_wheel_library", lambda: str(broken))
    app_opus.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="app.media.opus_probe"):
            app = app_opus()
        assert app.source == "opuslib-next-bundled" and app.lib.path == bundled_wheel_library()
        assert f"cannot load libopus from {broken}" in caplog.text
    finally:
        app_opus.cache_clear()


def test_no_usable_library_is_one_sentence_about_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WZP_OPUS_LIB", "/nonexistent/libopus.so.0")
    app_opus.cache_clear()
    try:
        with pytest.raises(CodecError, match=r"^WZP_OPUS_LIB=/nonexistent/libopus.so.0 is not a file$"):
            app_opus()
    finally:
        app_opus.cache_clear()


def decode_with(lib: LibOpus, packets: list[bytes], complexity: int, lost: set[int]) -> list[bytes]:
    dec = OpusDecoder(lib=lib, complexity=complexity)
    return [dec.conceal() if i in lost else dec.decode(p) for i, p in enumerate(packets)]


def test_deep_plc_and_osce_change_the_output_only_in_the_dnn_build(tmp_path: Path) -> None:
    """Behaviour, not return codes: at complexity 5 the dnn build conceals lost frames with the
    neural PLC (different samples) and leaves received frames alone; at 7 OSCE also reshapes the
    received frames. The PyPI build gives the same samples at every complexity."""
    frames = frames_of(speech_48k(tmp_path))[:100]
    packets = [OpusEncoder(lib=plain_library()).encode(f) for f in frames]
    first_loss = 40
    lost = {first_loss, first_loss + 1, 70}
    for lib, neural in ((dnn_library(), True), (plain_library(), False)):
        base = decode_with(lib, packets, 0, lost)
        deep = decode_with(lib, packets, 5, lost)
        osce = decode_with(lib, packets, 7, lost)
        assert deep[:first_loss] == base[:first_loss]  # no OSCE below 6
        concealed_differently = [i for i in sorted(lost) if deep[i] != base[i]]
        enhanced = sum(o != b for o, b in zip(osce[:first_loss], base[:first_loss], strict=True))
        if neural:
            assert concealed_differently == sorted(lost)
            assert enhanced >= first_loss // 2
        else:
            assert concealed_differently == [] and enhanced == 0
            assert deep == base == osce


def test_decoder_complexity_is_set_read_back_and_survives_a_reset() -> None:
    dec = OpusDecoder(lib=dnn_library(), complexity=DEEP_PLC_COMPLEXITY)
    assert dec.complexity == DEEP_PLC_COMPLEXITY
    dec.reset()
    assert dec.complexity == DEEP_PLC_COMPLEXITY
    for bad in (-1, 11, True):
        with pytest.raises(ValueError):
            OpusDecoder(lib=dnn_library(), complexity=bad)  # type: ignore[arg-type]


def test_inband_fec_setter_takes_effect_in_the_packets(tmp_path: Path) -> None:
    """FEC on at 10 % expected loss: the packets carry LBRR data; FEC off: none."""
    lib = app_opus().lib
    assert lib.packet_has_lbrr is not None
    frames = frames_of(speech_48k(tmp_path))
    for fec in (True, False):
        enc = OpusEncoder(fec=False)
        enc.set_fec(fec)
        enc.set_expected_loss(10)
        packets = [enc.encode(f) for f in frames]
        with_lbrr = sum(lib.packet_has_lbrr(p, len(p)) > 0 for p in packets)
        if fec:
            assert with_lbrr >= len(packets) // 3, (with_lbrr, len(packets))
        else:
            assert with_lbrr == 0


@pytest.mark.parametrize(
    ("request_code", "lie", "sentence"),
    [
        (SET_INBAND_FEC, False, "OPUS_SET_INBAND_FEC(1) did not take effect: libopus reads back 0"),
        (SET_INBAND_FEC, True, "OPUS_SET_INBAND_FEC(1) did not take effect: the packets carry no FEC data"),
        (SET_MAX_BANDWIDTH, True, "OPUS_SET_MAX_BANDWIDTH(wideband) did not take effect: the packets are wider"),
        (SET_DTX, True, "OPUS_SET_DTX(1) did not take effect"),
        (SET_BITRATE, True, "OPUS_SET_BITRATE(24000) did not take effect"),
    ],
)
def test_the_probe_catches_a_setting_that_does_not_take_effect(request_code: int, lie: bool, sentence: str) -> None:
    lib = plain_library()
    IgnoringLib(lib, request_code, lie=lie)
    with pytest.raises(CodecError, match=re.escape(sentence)):
        probe(lib)


def test_the_encoder_refuses_an_fec_setter_that_does_nothing() -> None:
    lib = plain_library()
    IgnoringLib(lib, SET_INBAND_FEC)
    with pytest.raises(CodecError, match="OPUS_SET_INBAND_FEC"):
        OpusEncoder(lib=lib, fec=True)


def test_the_cli_stops_at_start_up_with_one_sentence_when_libopus_is_unusable(tmp_path: Path) -> None:
    not_opus = tmp_path / "libopus.so.0"
    not_opus.write_bytes(b"not a shared library")
    base = [sys.executable, "-m", "app.cli.main", "--data-dir", str(tmp_path / "d")]
    fingerprint = json.loads(subprocess.run([*base, "id"], capture_output=True, check=True, timeout=60).stdout)
    env = {**os.environ, "WZP_OPUS_LIB": str(not_opus)}
    done = subprocess.run(
        [*base, "--relay", "127.0.0.1:9", "call", fingerprint["fingerprint"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("wzp-cli:")]
    assert lines == [f"wzp-cli: cannot load libopus from {not_opus}: {not_opus}: file too short"], done.stderr
