"""Identity keys, aliases, identicons and the on-disk identity store."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import app.identity as identity_pkg
from app.identity import (
    Identicon,
    Identity,
    IdentityFileError,
    alias_from_seed,
    default_data_dir,
    fingerprint_of,
    identicon,
    load_identity,
    load_or_create_identity,
    save_identity,
    verify_signature,
)
from app.identity.alias import ADJECTIVES, ANIMALS

SEED = bytes(range(32))
FINGERPRINT_RE = re.compile(r"[0-9a-f]{4}(:[0-9a-f]{4}){7}")
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


# --- keys -------------------------------------------------------------------------------


def test_from_seed_is_deterministic() -> None:
    a, b = Identity.from_seed(SEED), Identity.from_seed(bytes(SEED))
    assert a == b
    assert hash(a) == hash(b)
    assert a.public_key == b.public_key
    assert a.fingerprint == b.fingerprint
    assert a.alias == b.alias
    assert a.seed == SEED


def test_key_derivation_matches_spec() -> None:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"wzp-identity-v1",
        info=b"ed25519-signing-key",
    )
    expected = Ed25519PrivateKey.from_private_bytes(hkdf.derive(SEED)).public_key()
    ident = Identity.from_seed(SEED)
    assert ident.public_key == expected.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert ident.public_key != SEED  # the seed is never used as the key directly
    assert ident.fingerprint == fingerprint_of(ident.public_key)
    assert FINGERPRINT_RE.fullmatch(ident.fingerprint)


def test_generate_gives_distinct_identities() -> None:
    a, b = Identity.generate(), Identity.generate()
    assert len(a.seed) == 32
    assert len(a.public_key) == 32
    assert a != b
    assert a.fingerprint != b.fingerprint


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_from_seed_rejects_wrong_length(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Identity.from_seed(b"\x00" * length)


def test_from_seed_rejects_non_bytes() -> None:
    with pytest.raises(TypeError):
        Identity.from_seed("00" * 32)  # type: ignore[arg-type]


def test_identity_is_immutable_and_repr_hides_seed() -> None:
    ident = Identity.from_seed(SEED)
    with pytest.raises(AttributeError):
        ident.seed = b"\x00" * 32  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ident._seed = b"\x00" * 32  # type: ignore[misc]
    text = repr(ident)
    assert SEED.hex() not in text
    assert ident.fingerprint in text
    assert copy.deepcopy(ident) == ident


def test_sign_verify_round_trip() -> None:
    ident = Identity.from_seed(SEED)
    data = b"hello peer"
    sig = ident.sign(data)
    assert len(sig) == 64
    assert ident.sign(data) == sig  # Ed25519 is deterministic
    assert verify_signature(ident.public_key, sig, data)
    assert verify_signature(bytearray(ident.public_key), memoryview(sig), bytearray(data))


def test_tampering_fails_verification() -> None:
    ident = Identity.from_seed(SEED)
    data = b"hello peer"
    sig = ident.sign(data)
    flipped_sig = bytes([sig[0] ^ 1]) + sig[1:]
    assert not verify_signature(ident.public_key, sig, b"hello peeR")
    assert not verify_signature(ident.public_key, flipped_sig, data)
    assert not verify_signature(Identity.generate().public_key, sig, data)


@pytest.mark.parametrize(
    ("public_key", "signature", "data"),
    [
        (b"", b"\x00" * 64, b"x"),
        (b"\x00" * 31, b"\x00" * 64, b"x"),
        (b"\x00" * 32, b"\x00" * 63, b"x"),
        (b"\x00" * 32, b"\x00" * 65, b"x"),
        (b"\xff" * 32, b"\x00" * 64, b"x"),  # not a valid curve point
        (b"\x00" * 32, b"\x00" * 64, b"x"),
        (32, b"\x00" * 64, b"x"),
        (None, None, None),
        ("a" * 32, "b" * 64, "data"),
        (b"\x00" * 32, b"\x00" * 64, 123),
    ],
)
def test_verify_signature_never_raises(public_key: object, signature: object, data: object) -> None:
    assert verify_signature(public_key, signature, data) is False  # type: ignore[arg-type]


_P = 2**255 - 19
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
SMALL_ORDER_KEYS = [
    (y | sign << 255).to_bytes(32, "little")
    for y in (0, 1, _P - 1, _Y8, _P - _Y8, _P, _P + 1)
    for sign in (0, 1)
]


@pytest.mark.parametrize("key", SMALL_ORDER_KEYS, ids=lambda key: key.hex()[:8])
def test_small_order_public_keys_never_verify(key: bytes) -> None:
    # With a small-order key, forged signatures (e.g. all zeros) can verify for any
    # message under plain OpenSSL; such keys must be rejected outright.
    for signature in (b"\x00" * 64, key + b"\x00" * 32, bytes(32) + bytes(31) + b"\x01"):
        for data in (b"", b"x", b"anything at all"):
            assert verify_signature(key, signature, data) is False


def test_verify_signature_rejects_wrong_types_for_valid_signature() -> None:
    ident = Identity.from_seed(SEED)
    sig = ident.sign(b"x")
    assert not verify_signature(ident.public_key, sig, "x")  # type: ignore[arg-type]


# --- alias ------------------------------------------------------------------------------


def test_alias_is_two_capitalised_words_and_deterministic() -> None:
    alias = alias_from_seed(SEED)
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", alias)
    assert alias_from_seed(SEED) == alias
    assert Identity.from_seed(SEED).alias == alias
    adjective, animal = alias.split(" ")
    assert adjective in ADJECTIVES
    assert animal in ANIMALS


def test_alias_word_lists() -> None:
    for words in (ADJECTIVES, ANIMALS):
        assert len(words) >= 64
        assert len(set(words)) == len(words)
        assert all(re.fullmatch(r"[A-Z][a-z]+", word) for word in words)


def test_alias_is_hashed_not_raw_seed_bytes() -> None:
    # Seeds sharing their first bytes must still spread over many aliases.
    aliases = {alias_from_seed(bytes([0] * 31 + [i])) for i in range(256)}
    assert len(aliases) > 100


# --- identicon --------------------------------------------------------------------------


def test_identicon_shape_symmetry_and_colours() -> None:
    fp = Identity.from_seed(SEED).fingerprint
    icon = identicon(fp)
    assert isinstance(icon, Identicon)
    assert icon.size == 5
    assert len(icon.grid) == 5
    for row in icon.grid:
        assert len(row) == 5
        assert all(isinstance(cell, bool) for cell in row)
        assert row == row[::-1]
    for colour in (icon.foreground, icon.background):
        assert len(colour) == 3
        assert all(isinstance(c, int) and 0 <= c <= 255 for c in colour)
    assert icon.foreground != icon.background
    assert identicon(fp.upper().replace(":", "")) == icon  # same for any spelling


def test_identicons_differ_between_identities() -> None:
    icons = {identicon(Identity.from_seed(bytes([i]) * 32).fingerprint) for i in range(20)}
    assert len(icons) > 15


def test_identity_package_does_not_import_qt() -> None:
    assert identity_pkg.__all__
    source = "".join(
        path.read_text() for path in Path(identity_pkg.__file__).parent.glob("*.py")
    )
    assert "PySide" not in source
    assert "PyQt" not in source


# --- store ------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "wzp-data"


@pytest.fixture
def zero_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_default_data_dir_is_a_path() -> None:
    path = default_data_dir()
    assert isinstance(path, Path)
    assert "wzp" in str(path).lower()


def test_load_or_create_creates_then_reloads(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.identity"):
        created = load_or_create_identity(data_dir)
    assert any(created.fingerprint in record.getMessage() for record in caplog.records)
    path = data_dir / "identity.json"
    assert path.is_file()
    assert load_or_create_identity(data_dir) == created
    assert load_identity(path) == created
    assert [p.name for p in data_dir.iterdir()] == ["identity.json"]  # no temp leftovers


def test_file_format(data_dir: Path) -> None:
    ident = load_or_create_identity(data_dir)
    document = json.loads((data_dir / "identity.json").read_text())
    assert document == {
        "version": 1,
        "seed": ident.seed.hex(),
        "check": hashlib.sha256(ident.seed).hexdigest()[:8],
    }


@posix_only
@pytest.mark.usefixtures("zero_umask")
def test_file_and_dir_modes(data_dir: Path) -> None:
    load_or_create_identity(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "identity.json").stat().st_mode) == 0o600


@posix_only
@pytest.mark.usefixtures("zero_umask")
def test_save_identity_mode_and_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "identity.json"
    first, second = Identity.generate(), Identity.generate()
    save_identity(path, first)
    assert load_identity(path) == first
    path.chmod(0o644)
    save_identity(path, second)
    assert load_identity(path) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["identity.json"]


def test_load_identity_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_identity(tmp_path / "identity.json")


def _valid_document(seed: bytes = SEED) -> dict[str, object]:
    return {"version": 1, "seed": seed.hex(), "check": hashlib.sha256(seed).hexdigest()[:8]}


def _dump(document: object) -> bytes:
    return json.dumps(document).encode()


VALID = _dump(_valid_document())

BAD_FILES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "corrupt"),
    "truncated": (VALID[: len(VALID) // 2], "bad JSON"),
    "truncated-seed": (
        _dump({**_valid_document(), "seed": SEED.hex()[:-2]}),
        "'seed' is not 64 hex digits",
    ),
    "garbage": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe garbage", "not UTF-8"),
    "garbage-text": (b"this is not json at all", "bad JSON"),
    "json-list": (b"[1, 2, 3]", "not a JSON object"),
    "bad-checksum": (_dump({**_valid_document(), "check": "00000000"}), "checksum mismatch"),
    "bit-rot": (
        _dump({**_valid_document(), "seed": "1" + SEED.hex()[1:]}),
        "checksum mismatch",
    ),
    "wrong-version": (_dump({**_valid_document(), "version": 2}), "version 2"),
    "version-true": (_dump({**_valid_document(), "version": True}), "version"),
    "missing-version": (
        _dump({k: v for k, v in _valid_document().items() if k != "version"}),
        "version",
    ),
    "seed-not-hex": (_dump({**_valid_document(), "seed": "zz" * 32}), "'seed'"),
    "check-missing": (
        _dump({k: v for k, v in _valid_document().items() if k != "check"}),
        "'check'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_and_is_left_untouched(data_dir: Path, case: str) -> None:
    content, reason = BAD_FILES[case]
    data_dir.mkdir()
    path = data_dir / "identity.json"
    path.write_bytes(content)
    before = path.stat()

    for attempt in (lambda: load_or_create_identity(data_dir), lambda: load_identity(path)):
        with pytest.raises(IdentityFileError) as info:
            attempt()
        message = str(info.value)
        assert str(path) in message
        assert "left untouched" in message
        assert re.search(reason, message), message
        assert info.value.path == path

    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert [p.name for p in data_dir.iterdir()] == ["identity.json"]


def test_identity_file_error_is_not_a_value_error() -> None:
    assert issubclass(IdentityFileError, Exception)
    assert not issubclass(IdentityFileError, ValueError)


def test_valid_handwritten_file_loads(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "identity.json").write_bytes(VALID)
    assert load_or_create_identity(data_dir) == Identity.from_seed(SEED)


def test_unreadable_path_raises_identity_file_error(data_dir: Path) -> None:
    (data_dir / "identity.json").mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(IdentityFileError, match="could not be read"):
        load_or_create_identity(data_dir)
    assert (data_dir / "identity.json").is_dir()


@posix_only
def test_world_readable_file_logs_warning(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_or_create_identity(data_dir)
    path = data_dir / "identity.json"
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="app.identity"):
        load_identity(path)
    assert any("readable by other users" in r.getMessage() for r in caplog.records)


def test_create_never_clobbers_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    from app.identity.store import _create_exclusively

    path = tmp_path / "identity.json"
    path.write_bytes(VALID)
    assert _create_exclusively(path, Identity.generate()) is False
    assert path.read_bytes() == VALID
    assert [p.name for p in tmp_path.iterdir()] == ["identity.json"]


def test_create_falls_back_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    created = load_or_create_identity(tmp_path)
    assert load_identity(tmp_path / "identity.json") == created
    assert [p.name for p in tmp_path.iterdir()] == ["identity.json"]
