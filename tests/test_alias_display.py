"""Aliases other people chose are cleaned before they are shown, and marked as theirs."""

from __future__ import annotations

import pytest

from app.cli.main import Printer
from app.identity.alias import MAX_DISPLAY_ALIAS, alias_from_seed, display_alias, self_chosen_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Swift Wolf", "Swift Wolf"),
        ("  Swift \t\n Wolf  ", "Swift Wolf"),
        ("Swift\u00a0\u2003Wolf", "Swift Wolf"),  # no-break and em spaces
        ("Swift\u2028Wolf", "Swift Wolf"),  # line separator
        ("Swift\x00\x07\x1b[31mWolf\x7f", "Swift[31mWolf"),  # controls, incl. a terminal escape
        ("\u202eflow\u202c", "flow"),  # right-to-left override
        ("a\u202ab\u202bc\u202cd\u202de", "abcde"),  # every embedding/override
        ("a\u2066b\u2067c\u2068d\u2069e", "abcde"),  # isolates
        ("a\u200eb\u200fc", "abc"),  # LRM, RLM
        ("Sw\u200bift\u200c\u200dWo\u2060lf\ufeff", "SwiftWolf"),  # zero-width characters
        ("\u3164\u115f\u2800", ""),  # letters that render blank
        ("\u200b \u202e ", ""),
        ("", ""),
        ('Say "hi"', "Say 'hi'"),
        ("\u201cMom\u201d", "'Mom'"),
        ("e\u0301", "\u00e9"),  # NFC
        ("Z" + "\u0300\u0301\u0302\u0303\u0304" * 10, "Z\u0300\u0301"),  # stacked marks capped
        ("Жёлтый 狐狸 🦊", "Жёлтый 狐狸 🦊"),  # real names in any script stay
    ],
)
def test_display_alias_cleans(raw: str, shown: str) -> None:
    assert display_alias(raw) == shown


def test_display_alias_caps_length() -> None:
    assert display_alias("x" * MAX_DISPLAY_ALIAS) == "x" * MAX_DISPLAY_ALIAS
    long = display_alias("y" * 10_000)
    assert len(long) == MAX_DISPLAY_ALIAS and long.endswith("…")
    words = display_alias("word " * 100)
    assert len(words) <= MAX_DISPLAY_ALIAS and words.endswith("…") and "  " not in words


def test_display_alias_refuses_non_text() -> None:
    assert display_alias(None) == ""
    assert display_alias(42) == ""


def test_generated_aliases_are_unchanged() -> None:
    for i in range(50):
        alias = alias_from_seed(bytes([i]) * 32)
        assert display_alias(alias) == alias


def test_self_chosen_name_is_marked_and_cannot_fake_its_marking() -> None:
    assert self_chosen_name("Swift Wolf") == "\u201cSwift Wolf\u201d (their name)"
    assert self_chosen_name("\u202e\u200b") == ""
    spoof = self_chosen_name("Mom\u201d (contact) \u201cx")
    assert spoof.startswith("\u201cMom'") and spoof.count("\u201c") == 1 and spoof.count("\u201d") == 1


def test_cli_human_output_marks_and_cleans_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    printer = Printer(as_json=False)
    printer.line({"event": "incoming", "call_id": "c1", "peer_fingerprint": "ab", "peer_alias": "Mom\x1b[2J\u202e"})
    printer.line(
        {"event": "presence", "users": [{"fingerprint": "ab", "alias": "\x1b]0;pwned\x07Eve", "online": "yes"}]}
    )
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "peer_alias=\u201cMom[2J\u201d (their name)" in out
    assert "\u201c]0;pwnedEve\u201d (their name)" in out


def test_cli_json_output_keeps_the_alias_as_sent(capsys: pytest.CaptureFixture[str]) -> None:
    Printer(as_json=True).line({"event": "incoming", "peer_alias": "Mom\u202e"})
    assert "Mom\\u202e" in capsys.readouterr().out  # JSON escapes it; a program gets the real value
