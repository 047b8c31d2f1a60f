"""Connection refused: SYN to a closed port → RST,ACK seq=0 ack=x+1; connect fails."""

from __future__ import annotations

from typing import Any

from synack.core.errors import DropReason
from synack.core.events import Closed, ConnectionRefused, Event
from synack.core.seq import seq_add
from synack.scenarios import get
from synack.scenarios.base import Context, Run, Text
from synack.scenarios.refused import CLOSED_PORT, SCENARIO
from synack.sim import Host, Network


def test_refused_segments_and_states() -> None:
    run = get("refused").run(seed=1)[0]
    sent = run.sent()
    assert len(sent) == 2
    (t1, h1, f1, x, a1, l1), rst = sent
    assert (t1, h1, f1, a1, l1) == (100_000, "client", "S", 0, 0)
    # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>: the SYN counts one
    assert rst == (110_000, "server", "RA", 0, seq_add(x, 1), 0)
    assert run.received("client") == [(120_000, "client", "RA", 0, seq_add(x, 1), 0)]
    assert run.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"), (120_000, "SYN-SENT", "CLOSED")]
    assert run.states("server") == []
    assert run.drops() == [(110_000, "server", "S", "no-connection")]


def test_refused_client_sees_connection_refused_then_closed() -> None:
    ctx = Context(seed=1)
    runs = SCENARIO.build(ctx)
    client = runs[0].host("client")
    server = runs[0].host("server")
    assert client.endpoint.connections == [] and server.endpoint.connections == []
    assert client.endpoint.stats.resets_received == 1
    assert client.endpoint.stats.syn_retransmits == 0
    assert server.endpoint.stats.dropped[DropReason.NO_CONNECTION] == 1
    assert server.endpoint.stats.resets_sent == 1
    assert [lst.port for lst in server.endpoint.listeners] == [80] and CLOSED_PORT == 81
    assert runs[0].metrics == {"client_refused": 1.0, "server_resets_sent": 1.0}


class WatchingContext(Context):
    """A context that records the client's events as values."""

    seen: list[tuple[int, Event]]

    def two_hosts(self, label: Text, **kw: Any) -> tuple[Network, Run, Host[Any], Host[Any]]:
        net, run, client, server = super().two_hosts(label, **kw)
        self.seen = []
        client.on_event(lambda ev: self.seen.append((client.now, ev)))
        return net, run, client, server


def test_refused_event_order() -> None:
    ctx = WatchingContext(seed=1)
    SCENARIO.build(ctx)
    assert [(t, type(ev)) for t, ev in ctx.seen] == [(120_000, ConnectionRefused), (120_000, Closed)]
    first, second = ctx.seen[0][1], ctx.seen[1][1]
    assert isinstance(first, ConnectionRefused) and isinstance(second, Closed)
    assert first.conn is second.conn and first.conn.remote_port == CLOSED_PORT


def test_refused_facts_in_both_languages() -> None:
    run = get("refused").run(seed=3)[0]
    assert run.facts[0].en.startswith("client: connect() failed after 20 ms")
    assert "connection refused" in run.facts[0].zh
    assert SCENARIO.section == "RFC 9293"
