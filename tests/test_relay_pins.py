"""The relay pins file: atomic, private, shared safely between processes, never silently lost."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.client.relay_pins import PINS_FILE, RelayPins
from app.identity import fingerprint_of

ROOT = Path(__file__).resolve().parents[1]


def fp(n: int) -> str:
    return fingerprint_of(n.to_bytes(32, "big"))


def bad_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob(PINS_FILE + ".bad-*"))


def leftovers(data_dir: Path) -> list[str]:
    """Files in the data dir other than the pins file and its lock file."""
    return sorted(p.name for p in data_dir.iterdir() if p.name != PINS_FILE and not p.name.endswith(".lock"))


def test_pin_roundtrip_and_other_instance_sees_it(tmp_path: Path) -> None:
    a = RelayPins(tmp_path)
    b = RelayPins(tmp_path)  # e.g. the CLI, started before the GUI pinned
    assert a.get("relay.example:4433") is None
    a.pin("relay.example:4433", fp(1))
    assert a.get("relay.example:4433") == fp(1)
    assert RelayPins(tmp_path).get("relay.example:4433") == fp(1)
    assert b.get("relay.example:4433") == fp(1)
    assert a.load_problem is None and b.load_problem is None
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"relay.example:4433": "1a2b',  # truncated write
        b"\xff\xfe garbage",
        b"[1, 2, 3]",
        b"",
        b'{"relay.example:4433": "not a fingerprint"}',
        b'{"relay.example:4433": 42}',
    ],
)
def test_corrupt_file_is_kept_aside_and_reported(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / PINS_FILE
    path.write_bytes(content)

    pins = RelayPins(tmp_path)

    assert pins.load_problem is not None
    assert PINS_FILE in pins.load_problem and ".bad-" in pins.load_problem
    [aside] = bad_files(tmp_path)
    assert aside.read_bytes() == content  # the bytes are kept, exactly
    assert str(aside) in pins.load_problem
    problem = pins.load_problem
    assert pins.take_problem() == problem
    assert pins.load_problem is None and pins.take_problem() is None  # told once

    # The next pin writes a fresh, valid file and leaves the bad one alone.
    pins.pin("other.example:4433", fp(2))
    assert aside.read_bytes() == content
    assert RelayPins(tmp_path).get("other.example:4433") == fp(2)
    assert RelayPins(tmp_path).load_problem is None


def test_valid_entries_survive_a_partly_bad_file(tmp_path: Path) -> None:
    path = tmp_path / PINS_FILE
    content = f'{{"good.example:1": "{fp(1)}", "bad.example:2": "zz"}}'.encode()
    path.write_bytes(content)

    pins = RelayPins(tmp_path)

    assert pins.load_problem is not None
    assert pins.get("good.example:1") == fp(1)
    assert pins.get("bad.example:2") is None
    [aside] = bad_files(tmp_path)
    assert aside.read_bytes() == content
    assert RelayPins(tmp_path).get("good.example:1") == fp(1)  # rewritten at once


def test_corrupt_file_appearing_later_is_not_overwritten_silently(tmp_path: Path) -> None:
    pins = RelayPins(tmp_path)
    pins.pin("a.example:1", fp(1))
    (tmp_path / PINS_FILE).write_bytes(b"{oops")

    pins.pin("b.example:2", fp(2))

    [aside] = bad_files(tmp_path)
    assert aside.read_bytes() == b"{oops"
    assert pins.take_problem() is not None
    fresh = RelayPins(tmp_path)
    assert fresh.get("b.example:2") == fp(2)
    assert fresh.load_problem is None


def test_file_mode_is_0600(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("POSIX file modes")
    old = os.umask(0o022)
    try:
        RelayPins(tmp_path).pin("relay.example:4433", fp(1))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / PINS_FILE).stat().st_mode) == 0o600


def test_temp_files_are_unique_and_in_the_same_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources: list[Path] = []
    real_replace = os.replace

    def spy(src: os.PathLike[str] | str, dst: os.PathLike[str] | str) -> None:
        if Path(dst).name == PINS_FILE:
            sources.append(Path(src))
            assert Path(src).exists()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    a, b = RelayPins(tmp_path), RelayPins(tmp_path)
    a.pin("a.example:1", fp(1))
    b.pin("b.example:2", fp(2))
    a.pin("c.example:3", fp(3))

    assert len(sources) == 3
    assert len({s.name for s in sources}) == 3
    assert all(s.parent == tmp_path for s in sources)
    assert leftovers(tmp_path) == []


def test_pin_rejects_a_bad_fingerprint(tmp_path: Path) -> None:
    pins = RelayPins(tmp_path)
    with pytest.raises(ValueError):
        pins.pin("relay.example:4433", "not a fingerprint")
    assert not (tmp_path / PINS_FILE).exists()


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from app.client.relay_pins import RelayPins
    from app.identity import fingerprint_of

    data_dir, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    pins = RelayPins(data_dir)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for i in range(count):
        pins.pin(f"{tag}-{i}.example:4433", fingerprint_of(bytes([ord(tag[0])]) + i.to_bytes(31, "big")))
    print("done", flush=True)
    """
)


def test_two_processes_pinning_at_once_lose_no_pin(tmp_path: Path) -> None:
    count = 150
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), tag, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for tag in ("gui", "cli")
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    pins = RelayPins(tmp_path)
    assert pins.load_problem is None
    for tag in ("gui", "cli"):
        for i in range(count):
            expected = fingerprint_of(bytes([ord(tag[0])]) + i.to_bytes(31, "big"))
            assert pins.get(f"{tag}-{i}.example:4433") == expected, (tag, i)
    assert bad_files(tmp_path) == []
    assert leftovers(tmp_path) == []
