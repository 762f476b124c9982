"""Hooks for tests and benchmarks ONLY: environment variables a user never sets.

They let a test or a bench drive a real `wzp` process (offscreen) from outside, the way
`wzp-cli --json` is driven: nothing here is reachable from the app's windows or settings.

* ``WZP_TEST_AUTO_ANSWER=trusted|generic``: every incoming call is accepted at once, through
  the call model, as if the user pressed Accept (or "Accept privately").
* ``WZP_TEST_PLAY=FILE.wav``: calls send this WAV file instead of the microphone.
* ``WZP_TEST_RECORD=FILE.wav``: calls write what they receive to this WAV file instead of
  playing it (each call overwrites it).
* ``WZP_TEST_EVENTS=1``: every client event is printed on stdout as one JSON line with an
  ``"event"`` key (the `wzp-cli --json` format), plus ``{"event": "quit_requested", "signal": ...}``
  when a signal asks the app to quit.
* ``WZP_TEST_HIDE=1``: the main window is hidden after start (as when only the tray icon is left).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import events as ev

if TYPE_CHECKING:
    from ui.app import WzpApp
    from ui.client_host import MediaOptions

log = logging.getLogger(__name__)

AUTO_ANSWER = "WZP_TEST_AUTO_ANSWER"
PLAY = "WZP_TEST_PLAY"
RECORD = "WZP_TEST_RECORD"
EVENTS = "WZP_TEST_EVENTS"
HIDE = "WZP_TEST_HIDE"


def apply_media_hooks(media: MediaOptions) -> None:
    """WZP_TEST_PLAY / WZP_TEST_RECORD: WAV files instead of the devices."""
    if play := os.environ.get(PLAY):
        media.play = Path(play)
        log.warning("test hook: calls send %s instead of the microphone", play)
    if record := os.environ.get(RECORD):
        media.record = Path(record)
        log.warning("test hook: calls are recorded to %s instead of played", record)


def print_line(data: dict[str, Any]) -> None:
    """One JSON line on stdout (WZP_TEST_EVENTS); a reader that went away changes nothing."""
    if os.environ.get(EVENTS):
        try:
            print(json.dumps(data, separators=(",", ":")), flush=True)
        except (OSError, ValueError):  # stdout closed or a broken pipe
            pass


def install(wzp: WzpApp) -> None:
    """Wire the hooks the environment asks for into a built (not yet started) app."""
    mode = os.environ.get(AUTO_ANSWER, "")
    if mode:
        if mode not in ("trusted", "generic"):
            raise SystemExit(f"{AUTO_ANSWER} must be 'trusted' or 'generic', not {mode!r}")
        log.warning("test hook: incoming calls are answered automatically (%s)", mode)
        answer = wzp.call.accept if mode == "trusted" else wzp.call.accept_privately
        wzp.call.incoming.connect(answer)
    if os.environ.get(EVENTS):

        def on_event(event: ev.ClientEvent) -> None:
            print_line(event.to_dict())

        wzp.host.event.connect(on_event)
        print_line({"event": "started", "pid": os.getpid()})


def after_start(wzp: WzpApp) -> None:
    if os.environ.get(HIDE):
        log.warning("test hook: the main window is hidden")
        wzp.window.hide()


def enabled() -> bool:
    """Whether any test hook is asked for (then `install`, `apply_media_hooks`, `after_start` apply)."""
    return any(os.environ.get(name) for name in (AUTO_ANSWER, PLAY, RECORD, EVENTS, HIDE))
