"""Fixtures of the network lab: skip (with the reason) unless root with working `ip netns`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netlab import Lab, netns_available


@pytest.fixture(scope="session")
def netns_ok() -> None:
    ok, why = netns_available()
    if not ok:
        pytest.skip(f"network lab skipped: {why}")


@pytest.fixture
def lab(netns_ok: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A fresh `Lab`; every namespace and process it made is gone after the test, pass or fail."""
    with Lab(request.node.name) as the_lab:
        yield the_lab
