"""Calls and presence between users on different nodes of one relay service (3 NATS servers,
3 `wzp-relay --cluster` processes): everything behaves as on one relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import ClientFactory, Cluster, client_factory, env_without_nats_auth
from helpers.calls import exchange_datagrams
from helpers.events import EventLog
from helpers.procs import last_line, spawn

import app.client.client as client_module
from app.client.client import WzpClient
from app.identity import Identity

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]
T = 10.0


@pytest_asyncio.fixture(loop_scope="module")
async def make(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    async with client_factory(tmp_path) as factory:
        yield factory


def on(cluster: Cluster, *names: str) -> list[str]:
    """The relay list of a client that prefers these nodes."""
    return [cluster.nodes[n].addr for n in names]


async def sees_online(log, fingerprint: str, online: str = "yes", timeout: float = T) -> None:
    await log.wait(
        "presence",
        timeout=timeout,
        where=lambda e: any(u["fingerprint"] == fingerprint and u["online"] == online for u in e.users),
    )


async def ring(a: WzpClient, la, b: WzpClient, lb) -> str:
    call_id = await a.place_call(b.identity.fingerprint)
    await la.wait("ringing", call_id=call_id, timeout=T)
    await lb.wait("incoming", call_id=call_id, peer_fingerprint=a.identity.fingerprint, timeout=T)
    return call_id


async def ended(log, call_id: str, reason: str, timeout: float = T) -> None:
    event = await log.wait("ended", call_id=call_id, timeout=timeout)
    assert event.reason == reason, f"{log.name}: {event}"


async def test_all_nodes_present_one_relay_key(cluster: Cluster) -> None:
    assert len({n.fingerprint for n in cluster.nodes.values()}) == 1
    assert len({n.media for n in cluster.nodes.values()}) == 3  # each its own media address


async def test_presence_across_nodes(cluster: Cluster, make: ClientFactory) -> None:
    a, la = await make(on(cluster, "n1"), "a")
    b, lb = await make(on(cluster, "n2"), "b", alias="Bee")
    await sees_online(la, b.identity.fingerprint)
    await sees_online(lb, a.identity.fingerprint)
    listed = {e.fingerprint: e.alias for e in await a.presence()}
    assert listed.get(b.identity.fingerprint) == "Bee", listed
    hidden, _ = await make(on(cluster, "n3"), "hidden", discoverable=False)
    c, _ = await make(on(cluster, "n3"), "c")
    await sees_online(la, c.identity.fingerprint)
    assert hidden.identity.fingerprint not in {e.fingerprint for e in await a.presence()}
    await b.stop()
    await sees_online(la, b.identity.fingerprint, online="no")
    assert b.identity.fingerprint not in {e.fingerprint for e in await c.presence()}


@pytest.mark.parametrize("mode", ["generic", "trusted"])
async def test_call_across_nodes(cluster: Cluster, make: ClientFactory, mode: str) -> None:
    """generic: relay path through the callee node's media room; trusted: direct wins on loopback."""
    a, la = await make(on(cluster, "n1"), f"a-{mode}")
    b, lb = await make(on(cluster, "n2"), f"b-{mode}")
    await sees_online(la, b.identity.fingerprint)
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, mode)
    settled = "relay" if mode == "generic" else "direct"  # the first path may be the relay either way
    await la.wait("path", call_id=call_id, path=settled, timeout=T)
    await lb.wait("path", call_id=call_id, path=settled, timeout=T)
    # Both parties were sent to the callee's node for media.
    assert a.calls[call_id].relay_addr == b.calls[call_id].relay_addr == cluster.nodes["n2"].media
    await exchange_datagrams(a, b, call_id)
    await a.hangup(call_id)
    await ended(lb, call_id, "Normal")
    # Over, on both nodes: a can call b again at once (nobody is left busy).
    again = await ring(a, la, b, lb)
    await b.hangup(again)
    await ended(la, again, "Declined")


async def test_decline_cancel_and_timeout_across_nodes(cluster: Cluster, make: ClientFactory) -> None:
    a, la = await make(on(cluster, "n1"), "a")
    b, lb = await make(on(cluster, "n3"), "b")
    await sees_online(la, b.identity.fingerprint)
    declined = await ring(a, la, b, lb)
    await b.answer(declined, "reject")
    await ended(la, declined, "Declined")
    cancelled = await ring(a, la, b, lb)
    await a.cancel(cancelled)
    await ended(lb, cancelled, "Cancelled")
    timed_out = await ring(a, la, b, lb)
    await ended(la, timed_out, "Timeout", timeout=T + 5)
    await ended(lb, timed_out, "Timeout", timeout=T)


async def test_busy_and_offline_across_nodes(cluster: Cluster, make: ClientFactory) -> None:
    a, la = await make(on(cluster, "n1"), "a")
    b, lb = await make(on(cluster, "n2"), "b")
    c, lc = await make(on(cluster, "n3"), "c")
    for fp in (a.identity.fingerprint, b.identity.fingerprint):
        await sees_online(lc, fp)
    call_id = await ring(a, la, b, lb)
    # Ringing is not busy: c's call to b rings too.
    also = await ring(c, lc, b, lb)
    await b.answer(call_id, "generic")
    await ended(lc, also, "Busy")  # b took the other call
    await la.wait("path", call_id=call_id, timeout=T)
    # b (callee, call hosted on its node n2) and a (caller on n1, call hosted on n2) are both busy.
    to_b = await c.place_call(b.identity.fingerprint)
    await ended(lc, to_b, "Busy")
    to_a = await c.place_call(a.identity.fingerprint)
    await ended(lc, to_a, "Busy")
    await b.hangup(call_id)
    await ended(la, call_id, "Normal")
    # Not busy any more.
    free = await ring(c, lc, a, la)
    await c.cancel(free)
    await ended(la, free, "Cancelled")
    # Offline: nobody has this key; and a user who left.
    nobody = await c.place_call(Identity.generate().fingerprint)
    await ended(lc, nobody, "Offline")
    await b.stop()
    await sees_online(lc, b.identity.fingerprint, online="no")
    gone = await c.place_call(b.identity.fingerprint)
    await ended(lc, gone, "Offline")


@pytest.mark.parametrize("who", ["caller", "callee"])
async def test_signal_drop_ends_the_call_on_the_other_node(
    cluster: Cluster, make: ClientFactory, who: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.05, 0.1, 0.2, 0.2, 0.2, 0.2))
    a, la = await make(on(cluster, "n1"), f"a-{who}")
    b, lb = await make(on(cluster, "n2"), f"b-{who}")
    await sees_online(la, b.identity.fingerprint)
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, "generic")
    await la.wait("path", call_id=call_id, timeout=T)
    dropper, dropper_log, other, other_log = (a, la, b, lb) if who == "caller" else (b, lb, a, la)
    assert dropper.link is not None and dropper.link.conn is not None
    mark = dropper_log.mark()
    dropper.link.conn.close(reason_phrase="network gone")
    await ended(other_log, call_id, "Offline")
    await dropper_log.wait("ended", call_id=call_id)
    await dropper_log.wait("registered", after=mark, timeout=T)
    # Nobody is left busy on either node: the other side can call the dropped one again.
    again = await ring(other, other_log, dropper, dropper_log)
    await other.cancel(again)
    await ended(dropper_log, again, "Cancelled")


async def test_new_registration_on_another_node_replaces_the_old(
    cluster: Cluster, make: ClientFactory, tmp_path: Path
) -> None:
    a, la = await make(on(cluster, "n1"), "a")
    c, lc = await make(on(cluster, "n3"), "c")
    await sees_online(lc, a.identity.fingerprint)
    a2 = WzpClient(a.identity, tmp_path / "a", cluster.nodes["n2"].addr)
    try:
        await a2.start()
        await a2.wait_registered(T)
        await la.wait("status", status="replaced", timeout=T)
        # Calls to a now go to its new registration on n2.
        la2 = EventLog("a2")
        a2.add_listener(la2)
        call_id = await c.place_call(a.identity.fingerprint)
        await la2.wait("incoming", call_id=call_id, timeout=T)
        await c.cancel(call_id)
    finally:
        await a2.stop()


async def test_wrong_nats_password_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    proc = await spawn(
        "intruder",
        tmp_path,
        "wzp-relay",
        "--listen", "127.0.0.1:0",
        "--data-dir", tmp_path / "intruder",
        "--cluster", cluster.nats[0].url,
        env={**env_without_nats_auth(), "WZP_NATS_USER": "wzp-relay", "WZP_NATS_PASSWORD": "wrong"},
    )  # fmt: skip
    try:
        assert await proc.finish(30) == 2
        assert "cannot reach the NATS servers" in last_line(proc.stderr), proc.describe()
    finally:
        await proc.stop()
