"""Settings (JSON), contacts and call history (SQLite) in a data directory."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from app.identity import FingerprintError, Identity
from app.storage import CallHistory, ContactBook, Settings, SettingsStore, open_database
from app.storage.database import MIGRATIONS, SCHEMA_VERSION, DatabaseError, schema_version

FP_A = Identity.generate().fingerprint
FP_B = Identity.generate().fingerprint


# ------------------------------------------------------------------ settings


def test_settings_defaults_when_missing(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    assert not store.exists()
    s = store.load()
    assert s == Settings()
    assert s.relay_or_none() is None


def test_settings_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    s = Settings(alias="Ada", bitrate=32000, privacy_default="private", input_device="USB mic")
    s.add_relay("relay.example:4433")
    s.add_relay("10.0.0.5:4433", select=True)
    store.save(s)
    loaded = store.load()
    assert loaded == s
    assert loaded.relay_or_none() == "10.0.0.5:4433"
    assert json.loads((tmp_path / "settings.json").read_text())["version"] == 1


def test_settings_remove_selected_relay_selects_another(tmp_path: Path) -> None:
    s = Settings()
    s.add_relay("a:1")
    s.add_relay("b:2", select=True)
    s.remove_relay("b:2")
    assert s.selected_relay == "a:1" and s.relays == ["a:1"]
    s.remove_relay("a:1")
    assert s.relay_or_none() is None


def test_settings_wrong_types_fall_back_per_key(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"alias": 5, "bitrate": "fast", "relays": ["x:1", 3], "privacy_default": "weird",
                    "host_relay": True, "unknown_key": 1})
    )
    s = SettingsStore(tmp_path).load()
    assert s.alias == "" and s.bitrate == 24000 and s.relays == [] and s.privacy_default == "ask"
    assert s.host_relay is True


def test_settings_bitrate_is_clamped(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path)
    store.save(Settings(bitrate=1_000_000))
    assert store.load().bitrate == 64000


def test_corrupt_settings_are_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text("{not json")
    s = SettingsStore(tmp_path).load()
    assert s == Settings()
    assert (tmp_path / "settings.json.bad").read_text() == "{not json"
    assert not (tmp_path / "settings.json").exists()


# ------------------------------------------------------------------ database


def _upgrades(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("database schema upgraded")]


def test_database_schema_is_versioned_and_migrations_run_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.storage.database")
    conn = open_database(tmp_path)
    assert schema_version(conn) == SCHEMA_VERSION
    assert _upgrades(caplog) == [f"database schema upgraded to version {v}" for v in range(1, SCHEMA_VERSION + 1)]
    conn.execute("INSERT INTO contacts (fingerprint, name, added_at) VALUES ('fp', 'Bob', 1.0)")
    conn.close()

    caplog.clear()
    conn = open_database(tmp_path)  # opening again runs no migration and keeps the data
    try:
        assert _upgrades(caplog) == []
        assert schema_version(conn) == SCHEMA_VERSION
        assert [tuple(r) for r in conn.execute("SELECT fingerprint, name FROM contacts")] == [("fp", "Bob")]
    finally:
        conn.close()


def test_database_from_an_older_wzp_runs_only_the_missing_migrations(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = sqlite3.connect(tmp_path / "wzp.sqlite3")
    raw.executescript(MIGRATIONS[0])
    raw.execute("INSERT INTO contacts (fingerprint, name, added_at) VALUES ('fp', 'Bob', 1.0)")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    caplog.set_level(logging.INFO, logger="app.storage.database")
    conn = open_database(tmp_path)
    try:
        assert _upgrades(caplog) == [f"database schema upgraded to version {v}" for v in range(2, SCHEMA_VERSION + 1)]
        assert schema_version(conn) == SCHEMA_VERSION
        assert [tuple(r) for r in conn.execute("SELECT fingerprint, name FROM contacts")] == [("fp", "Bob")]
    finally:
        conn.close()


def test_database_from_a_newer_wzp_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "wzp.sqlite3")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(DatabaseError, match="newer WZP"):
        open_database(tmp_path)


def test_garbage_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "wzp.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="cannot be opened"):
        open_database(tmp_path)


# ------------------------------------------------------------------ contacts


def test_contacts_add_rename_trust_remove(tmp_path: Path) -> None:
    book = ContactBook(open_database(tmp_path))
    c = book.save(FP_A.upper().replace(":", "-"), "  Ada   Lovelace ")
    assert c.fingerprint == FP_A and c.name == "Ada Lovelace" and not c.trusted
    book.set_trusted(FP_A, True)
    assert book.is_trusted(FP_A)
    c = book.save(FP_A, "Ada")  # rename keeps trust
    assert c.name == "Ada" and c.trusted
    book.save(FP_B, "")
    assert [x.fingerprint for x in book.all()] == [FP_B, FP_A]  # unnamed first (empty name sorts first)
    assert book.get(FP_B).display_name == FP_B[:9]  # type: ignore[union-attr]
    book.remove(FP_A)
    assert book.get(FP_A) is None and not book.is_trusted(FP_A)


def test_a_removed_contact_comes_back_exactly_as_it_was(tmp_path: Path) -> None:
    book = ContactBook(open_database(tmp_path))
    book.save(FP_A, "Ada", trusted=True)
    book.set_verified(FP_A, True)
    book.remember_relays(FP_A, ["relay.example.org:4433", "[2001:db8::1]:5000"])
    before = book.get(FP_A)
    assert before is not None
    book.remove(FP_A)
    assert book.restore(before) == before  # added and verified times too, not "now"
    assert book.get(FP_A) == before


def test_contacts_reject_bad_fingerprints(tmp_path: Path) -> None:
    book = ContactBook(open_database(tmp_path))
    with pytest.raises(FingerprintError):
        book.save("not a fingerprint", "x")


def test_contacts_survive_reopen(tmp_path: Path) -> None:
    ContactBook(open_database(tmp_path)).save(FP_A, "Ada", trusted=True)
    c = ContactBook(open_database(tmp_path)).get(FP_A)
    assert c is not None and c.trusted and c.name == "Ada"


# ------------------------------------------------------------------- history


def test_history_records_and_orders_calls(tmp_path: Path) -> None:
    history = CallHistory(open_database(tmp_path))
    history.add(call_id="1", direction="outgoing", peer_fingerprint=FP_A, started_at=100.0, duration_s=12.5,
                reason="Normal", path="direct")
    history.add(call_id="2", direction="missed", peer_fingerprint=FP_B, peer_alias="Bob", started_at=200.0,
                reason="Cancelled")
    history.add(call_id="3", direction="declined", peer_fingerprint=FP_B, started_at=150.0, reason="Declined")
    recent = history.recent()
    assert [r.call_id for r in recent] == ["2", "3", "1"]
    assert recent[2].duration_s == 12.5 and recent[2].path == "direct" and recent[2].direction == "outgoing"
    assert recent[0].peer_alias == "Bob"
    history.delete(recent[1].id)
    assert [r.call_id for r in history.recent()] == ["2", "1"]
    history.clear()
    assert history.recent() == []


def test_history_rejects_unknown_direction(tmp_path: Path) -> None:
    history = CallHistory(open_database(tmp_path))
    with pytest.raises(ValueError, match="direction"):
        history.add(call_id="1", direction="sideways", peer_fingerprint=FP_A, started_at=1.0)


def test_history_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.storage.history as history_module

    monkeypatch.setattr(history_module, "KEEP_ROWS", 3)
    history = CallHistory(open_database(tmp_path))
    for i in range(5):
        history.add(call_id=str(i), direction="incoming", peer_fingerprint=FP_A, started_at=float(i))
    assert [r.call_id for r in history.recent()] == ["4", "3", "2"]


def test_verified_and_direct_calls_are_separate(tmp_path: Path) -> None:
    book = ContactBook(open_database(tmp_path))
    c = book.set_verified(FP_A, True, "Ada")  # verifying someone not saved yet adds them
    assert c.name == "Ada" and c.verified and c.verified_at > 0 and not c.allow_direct
    book.set_allow_direct(FP_A, True)
    c = book.save(FP_A, "Ada L")  # renaming keeps both
    assert c.verified and c.allow_direct
    book.set_verified(FP_A, False)
    c = book.get(FP_A)
    assert c is not None and not c.verified and c.verified_at == 0 and c.allow_direct


def test_upgrade_keeps_direct_calls_and_verifies_nobody(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "wzp.sqlite3")
    for script in MIGRATIONS[:2]:
        raw.executescript(script)
    raw.execute("INSERT INTO contacts (fingerprint, name, trusted, added_at) VALUES (?, 'Ada', 1, 1.0)", (FP_A,))
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()
    c = ContactBook(open_database(tmp_path)).get(FP_A)
    assert c is not None and c.allow_direct and not c.verified
