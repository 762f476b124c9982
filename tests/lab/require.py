"""Whether the network lab must run: under CI (CI=true) or with WZP_REQUIRE_LAB=1 (set by .ci/run)
a lab that cannot run is a failure, never a silent skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def lab_required() -> bool:
    return os.environ.get("WZP_REQUIRE_LAB", "") == "1" or os.environ.get("CI", "").strip().lower() == "true"


def skip_or_fail(why: str) -> NoReturn:
    """The lab cannot run here: fail when it is required, else skip with the reason."""
    if lab_required():
        pytest.fail(f"the network lab is required (CI or WZP_REQUIRE_LAB=1) but cannot run: {why}", pytrace=False)
    pytest.skip(f"network lab skipped: {why}")
