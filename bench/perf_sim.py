"""Micro-benchmarks of the simulator (run by hand: ``python bench/perf_sim.py``).

1. Packets through a link between two trivial echo endpoints: the simulator's own
   per-packet cost (scheduler pop, host loop, route, path, heap push).
2. The same with impairments switched on (jitter, loss, duplication, bandwidth).
3. Full connection lifecycles on the real Endpoint (handshake, 100-byte request and
   reply, close, TIME-WAIT expiry), for the benchmark target of the design.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # support.sim_fakes

from support.sim_fakes import EchoEndpoint
from synack.core.ip import Packet
from synack.core.wire import ACK, Segment
from synack.sim import Network, ms


def echo_run(n_packets: int, chains: int = 100, trace: bool = False, **link: Any) -> tuple[float, int]:
    net = Network(seed=1, trace=trace)
    a = net.add_node("a", ["10.0.0.1"], EchoEndpoint(n_packets))
    b = net.add_node("b", ["10.0.0.2"], EchoEndpoint(n_packets))
    net.connect(a, b, delay=ms(1), **link)
    for i in range(chains):
        a.endpoint.outbox.append(Packet("10.0.0.1", "10.0.0.2", Segment(1000 + i, 80, i, 0, ACK, 65535)))
    a.service()
    t0 = time.process_time()
    net.run()
    dt = time.process_time() - t0
    delivered = a.endpoint.count + b.endpoint.count
    return dt, delivered


def lifecycles(n: int) -> float:
    from synack.core.events import AcceptReady, Connected, Event, PeerClosed, Readable

    net = Network(seed=1)
    c = net.add_host("client", ["10.0.0.1"])
    s = net.add_host("server", ["10.0.0.2"])
    net.connect(c, s, delay=ms(1))
    lst = s.listen(80, backlog=4096)
    done = [0]

    def on_server(ev: Event) -> None:
        if isinstance(ev, AcceptReady):
            while s.accept(lst) is not None:
                pass
        elif isinstance(ev, Readable):
            if len(s.read(ev.conn)) and ev.conn.state.value == "ESTABLISHED":
                s.send(ev.conn, b"r" * 100)
        elif isinstance(ev, PeerClosed):
            s.close(ev.conn)

    def on_client(ev: Event) -> None:
        if isinstance(ev, Connected):
            c.send(ev.conn, b"q" * 100)
        elif isinstance(ev, Readable):
            c.read(ev.conn)
            c.close(ev.conn)
            done[0] += 1

    s.on_event(on_server)
    c.on_event(on_client)

    for i in range(n):
        net.at(i * 100, c.connect, "10.0.0.2", 80)
    t0 = time.process_time()
    net.run()
    dt = time.process_time() - t0
    assert done[0] == n, (done[0], n)
    return dt


def main() -> None:
    n = 200_000
    for label, kw in (("plain link", {}),
                      ("trace on", {"trace": True}),
                      ("jitter+loss+dup", {"jitter": ms(1), "loss": 0.01, "duplicate": 0.01}),
                      ("bandwidth 1 Gbit/s", {"bandwidth": 1_000_000_000})):
        dt, delivered = echo_run(n, **kw)
        print(f"{label:>20}: {delivered} packets in {dt:.3f} s CPU = {dt / delivered * 1e6:.2f} µs/packet")
    for k in (2000, 10_000):
        dt = lifecycles(k)
        print(f"{'lifecycles':>20}: {k} in {dt:.3f} s CPU = {k / dt:,.0f}/s ({dt / k * 1e6:.1f} µs each)")


if __name__ == "__main__":
    main()
