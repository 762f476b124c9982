"""Builds the media session for a call (placeholder until the media engine lands)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def make_media_factory(
    *, play: Path | None, record: Path | None, bitrate: int, no_audio: bool, emit: Callable[[Any], None]
) -> Any:
    from app.client import events as ev

    async def factory(call: Any, keys: Any) -> None:
        emit(ev.AudioNotice(call_id=call.call_id, message="audio is not available yet in this build"))
        return None

    return factory
