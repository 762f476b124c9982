"""ClusterCore, sans-IO: nodes wired to each other in memory, on a fake clock."""

from __future__ import annotations

from app.identity import Identity
from app.protocol import messages as m
from app.protocol.proofs import register_transcript
from app.relay.cluster_core import ClusterCore, ClusterTimings, Publish, encode_envelope
from app.relay.relay_core import RelayCore, Send

RELAY = Identity.generate()
TIMINGS = ClusterTimings(heartbeat=1.0, expiry=4.0)


class Net:
    """Nodes and a bus: every Publish is delivered to the nodes subscribed to its subject."""

    def __init__(self, *names: str) -> None:
        self.now = 0.0
        self.nodes = {
            n: ClusterCore(
                RelayCore(relay_fingerprint=RELAY.fingerprint, media_addr=f"192.0.2.{i + 1}:4433"),
                node=n,
                timings=TIMINGS,
            )
            for i, n in enumerate(names)
        }
        self.down: set[str] = set()
        self.sent: dict[str, list[m.Message]] = {}  # "node/conn" -> messages to that client
        for node in self.nodes.values():
            self.run(node.node, node.start(self.now))

    def run(self, origin: str, actions: list) -> None:
        queue = [(origin, a) for a in actions]
        while queue:
            origin, action = queue.pop(0)
            if isinstance(action, Send):
                self.sent.setdefault(f"{origin}/{action.conn}", []).append(action.message)
            elif isinstance(action, Publish) and origin not in self.down:
                data = encode_envelope(action.envelope)
                for name, node in self.nodes.items():
                    if name not in self.down and action.subject in node.subjects:
                        queue += [(name, a) for a in node.cluster_received(data, self.now)]

    def advance(self, seconds: float, step: float = 0.25) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += step
            for name, node in self.nodes.items():
                if name not in self.down:
                    self.run(name, node.tick(self.now))

    def register(self, node: str, conn: int, identity: Identity) -> None:
        core = self.nodes[node]
        (challenge,) = [a.message for a in core.connection_opened(conn, "198.51.100.9:5000", "198.51.100.9", self.now)]
        transcript = register_transcript(RELAY.fingerprint, challenge.nonce, identity.public_key)
        msg = m.Register(
            public_key=identity.public_key, alias=f"u{conn}", nonce=challenge.nonce, signature=identity.sign(transcript)
        )
        self.run(node, core.message_received(conn, msg, self.now))


def offer(caller: Identity, callee: Identity, call_id: str = "c" * 32) -> m.DirectCallOffer:
    return m.DirectCallOffer(
        call_id=call_id,
        caller_fingerprint=caller.fingerprint,
        target_fingerprint=callee.fingerprint,
        ephemeral_key=b"\x01" * 32,
        key_signature=b"\x02" * 64,
    )


def test_presence_reaches_other_nodes_and_expires_with_its_node() -> None:
    net = Net("a", "b")
    alice, bob = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.register("b", 1, bob)
    net.advance(1.0)
    assert net.nodes["a"].node_of(bob.fingerprint) == "b"
    assert net.nodes["b"].node_of(alice.fingerprint) == "a"
    net.down.add("b")
    net.advance(TIMINGS.expiry - 1.0)
    assert net.nodes["a"].node_of(bob.fingerprint) == "b"  # not yet
    net.advance(1.5)
    assert net.nodes["a"].node_of(bob.fingerprint) is None
    deltas = [x for x in net.sent["a/1"] if isinstance(x, m.PresenceDelta)]
    assert m.PresenceChange(fingerprint=bob.fingerprint, alias="u1", online=False) in deltas[-1].changes


def test_missed_delta_is_repaired_by_a_snapshot() -> None:
    net = Net("a", "b")
    bob, carol = Identity.generate(), Identity.generate()
    net.advance(1.0)
    net.down.add("a")  # a misses b's delta for bob...
    net.register("b", 1, bob)
    net.down.discard("a")
    net.register("b", 2, carol)  # ...and sees carol's with a gap: a snapshot brings both
    net.advance(1.0)
    assert net.nodes["a"].node_of(bob.fingerprint) == "b"
    assert net.nodes["a"].node_of(carol.fingerprint) == "b"


def test_call_hosted_on_callee_node_and_ended_when_it_expires() -> None:
    net = Net("a", "b")
    alice, bob = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.register("b", 1, bob)
    net.advance(1.0)
    net.run("a", net.nodes["a"].message_received(1, offer(alice, bob), net.now))
    assert any(isinstance(x, m.CallRinging) for x in net.sent["a/1"])
    assert any(isinstance(x, m.CallIncoming) for x in net.sent["b/1"])
    assert list(net.nodes["b"].calls) == ["c" * 32] and not net.nodes["a"].calls
    net.down.add("b")
    net.advance(TIMINGS.expiry + 1.0)
    assert m.Hangup(call_id="c" * 32, reason="Offline") in net.sent["a/1"]


def test_offer_right_after_the_callee_registered_elsewhere_rings() -> None:
    """The callee's presence is still on its way over NATS when the offer arrives: it waits for it."""
    net = Net("a", "b")
    alice, bob = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.advance(1.0)
    core_b = net.nodes["b"]
    (challenge,) = [a.message for a in core_b.connection_opened(1, "198.51.100.9:5000", "198.51.100.9", net.now)]
    transcript = register_transcript(RELAY.fingerprint, challenge.nonce, bob.public_key)
    reg = m.Register(public_key=bob.public_key, alias="bob", nonce=challenge.nonce, signature=bob.sign(transcript))
    in_flight = core_b.message_received(1, reg, net.now)  # bob is registered on b; a has not heard yet
    net.run("a", net.nodes["a"].message_received(1, offer(alice, bob), net.now))
    assert not any(isinstance(x, m.Hangup) for x in net.sent.get("a/1", []))
    net.run("b", in_flight)  # b's presence delta reaches a
    assert any(isinstance(x, m.CallRinging) for x in net.sent["a/1"])
    assert any(isinstance(x, m.CallIncoming) for x in net.sent["b/1"])
    net.advance(TIMINGS.heartbeat * 2)
    assert not any(isinstance(x, m.Hangup) for x in net.sent["a/1"])


def test_offer_to_a_user_no_node_knows_ends_offline_after_the_grace() -> None:
    net = Net("a", "b")
    alice, nobody = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.advance(1.0)
    net.run("a", net.nodes["a"].message_received(1, offer(alice, nobody), net.now))
    assert not any(isinstance(x, m.Hangup) for x in net.sent["a/1"])
    net.advance(TIMINGS.unknown_callee_grace + 0.25)
    assert m.Hangup(call_id="c" * 32, reason="Offline") in net.sent["a/1"]
    assert not net.nodes["a"].calls and not net.nodes["b"].calls


def test_offer_held_for_presence_then_cancelled_is_answered_at_once() -> None:
    net = Net("a", "b")
    alice, nobody = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.advance(1.0)
    net.run("a", net.nodes["a"].message_received(1, offer(alice, nobody), net.now))
    net.run("a", net.nodes["a"].message_received(1, m.CallCancel(call_id="c" * 32), net.now))
    assert m.Hangup(call_id="c" * 32, reason="Offline") in net.sent["a/1"]
    net.advance(TIMINGS.unknown_callee_grace + 0.25)
    assert sum(isinstance(x, m.Hangup) for x in net.sent["a/1"]) == 1


def test_a_lone_node_answers_an_unknown_callee_at_once_as_one_relay() -> None:
    net = Net("a")
    alice, nobody = Identity.generate(), Identity.generate()
    net.register("a", 1, alice)
    net.run("a", net.nodes["a"].message_received(1, offer(alice, nobody), net.now))
    assert m.Hangup(call_id="c" * 32, reason="Offline") in net.sent["a/1"]


def test_held_offers_per_connection_are_bounded() -> None:
    net = Net("a", "b")
    alice = Identity.generate()
    net.register("a", 1, alice)
    net.advance(1.0)
    for i in range(TIMINGS.held_per_conn + 2):
        net.run("a", net.nodes["a"].message_received(1, offer(alice, Identity.generate(), f"{i:032x}"), net.now))
    answered = [x for x in net.sent["a/1"] if isinstance(x, m.Hangup)]
    assert len(answered) == 2  # the ones beyond the bound: at once
