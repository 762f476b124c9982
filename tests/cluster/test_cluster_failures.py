"""A relay node or a NATS server dies: the survivors keep calling, nothing hangs, and the dead
node's users come back through another node (clients given every node's address)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import EXPIRY, ClientFactory, Cluster, client_factory, running_cluster
from test_cluster_calls import ended, exchange_datagrams, ring, sees_online

import app.client.client as client_module

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fast_relay_pings")]
T = 10.0


@pytest_asyncio.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[tuple[Cluster, ClientFactory]]:
    async with running_cluster(tmp_path / "cluster") as cluster, client_factory(tmp_path) as make:
        yield cluster, make


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.2, 0.4, 0.8, 1.0, 1.0, 1.0))


def every_node_from(cluster: Cluster, first: str) -> list[str]:
    names = list(cluster.nodes)
    i = names.index(first)
    return [cluster.nodes[n].addr for n in names[i:] + names[:i]]


async def test_node_killed_mid_ring_and_mid_call(fresh: tuple[Cluster, ClientFactory]) -> None:
    cluster, make = fresh
    a, la = await make(every_node_from(cluster, "n1"), "a")
    b, lb = await make(every_node_from(cluster, "n2"), "b")  # on the node that dies
    c, lc = await make(every_node_from(cluster, "n3"), "c")
    d, ld = await make(every_node_from(cluster, "n1"), "d")
    for fp in (b.identity.fingerprint, c.identity.fingerprint):
        await sees_online(la, fp)
    ringing = await ring(a, la, b, lb)  # hosted on n2 (the callee's node)
    in_call = await ring(c, lc, d, ld)  # hosted on n1, caller on n3: must survive
    await d.answer(in_call, "generic")
    await lc.wait("path", call_id=in_call, timeout=T)

    await cluster.kill_node("n2")
    # The ringing call ends for the caller once n2 stops heartbeating (no hang).
    await ended(la, ringing, "Offline", timeout=EXPIRY + T)
    # b's client notices the dead node and registers through the next one.
    await lb.wait("registered", relay=cluster.nodes["n3"].addr, timeout=T)
    await sees_online(la, b.identity.fingerprint, timeout=T)
    # The call between survivors never noticed.
    await exchange_datagrams(c, d, in_call)
    assert c.calls[in_call].state.name == d.calls[in_call].state.name == "IN_CALL"
    # b is reachable again: through n3 now.
    again = await ring(a, la, b, lb)
    await b.answer(again, "generic")
    await la.wait("path", call_id=again, timeout=T)
    await exchange_datagrams(a, b, again)
    await a.hangup(again)
    await ended(lb, again, "Normal")
    await c.hangup(in_call)
    await ended(ld, in_call, "Normal")


async def test_node_killed_mid_call_ends_its_calls(fresh: tuple[Cluster, ClientFactory]) -> None:
    cluster, make = fresh
    a, la = await make(every_node_from(cluster, "n1"), "a")
    b, lb = await make(every_node_from(cluster, "n2"), "b")
    await sees_online(la, b.identity.fingerprint)
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, "generic")  # relay path: media room on n2
    await la.wait("path", call_id=call_id, timeout=T)
    await exchange_datagrams(a, b, call_id)
    await cluster.kill_node("n2")
    # a is on a live node: told its call is over (n2 expired), not left hanging.
    event = await la.wait("ended", call_id=call_id, timeout=EXPIRY + T)
    assert event.reason in ("Offline", "Error"), event
    # (b's own media ends with its relay: client-side relay-loss handling, not the cluster's.)
    await lb.wait("registered", relay=cluster.nodes["n3"].addr, timeout=T)
    # a is not left busy: b can call it through n3.
    again = await ring(b, lb, a, la)
    await b.cancel(again)
    await ended(la, again, "Cancelled")


async def test_nats_server_killed(fresh: tuple[Cluster, ClientFactory]) -> None:
    cluster, make = fresh
    a, la = await make(every_node_from(cluster, "n1"), "a")
    b, lb = await make(every_node_from(cluster, "n2"), "b")
    await sees_online(la, b.identity.fingerprint)
    await cluster.nats[0].stop(kill=True)  # n1's NATS server
    # n1 reconnects to another NATS server; new presence crosses again.
    c, _ = await make(every_node_from(cluster, "n3"), "c")
    await sees_online(la, c.identity.fingerprint, timeout=T)
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, "generic")
    await la.wait("path", call_id=call_id, timeout=T)
    await exchange_datagrams(a, b, call_id)
    await b.hangup(call_id)
    await ended(la, call_id, "Normal")
    assert "nats reconnected node=n1" in cluster.nodes["n1"].proc.stderr
    # Clients never saw a thing.
    assert not la.matching("reconnecting") and not lb.matching("reconnecting")
