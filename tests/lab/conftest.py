"""Fixtures of the network lab: they need root with working `ip netns`. Without, the lab tests skip
(with the reason), except under CI or WZP_REQUIRE_LAB=1, where they fail (see `require.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netlab import Lab, netns_available
from .require import skip_or_fail


@pytest.fixture(scope="session")
def netns_ok() -> None:
    ok, why = netns_available()
    if not ok:
        skip_or_fail(why)


@pytest.fixture
def lab(netns_ok: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A fresh `Lab`; every namespace and process it made is gone after the test, pass or fail."""
    with Lab(request.node.name) as the_lab:
        yield the_lab
