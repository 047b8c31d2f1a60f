"""Segments fit the path (RFC 9293 §3.7.1, MUST-16): whatever options a connection
carries (timestamps, SACK blocks after losses, window scale), over IPv4 and IPv6
and any MTU, no packet is larger than the MTU the advertised MSS came from, and the
bytes arrive.  The simulator's paths drop (and count) any packet over their ``mtu``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from synack.core.config import Config, ms, seconds
from synack.core.state import State
from synack.scenarios.apps import accept_all, read_all
from synack.sim import Network, PathParams

FAMILIES = {"v4": ("198.18.0.1", "198.18.0.2"), "v6": ("fd00:5ac::1", "fd00:5ac::2")}


def two_way(seed: int, family: str, mtu: int, loss: float, timestamps: bool, sack: bool,
            wscale: int | None, size: int) -> tuple[Network, bool]:
    """Both ends send ``size`` bytes to each other over a path of ``mtu``; True when
    each got the other's bytes and both closed."""
    client_addr, server_addr = FAMILIES[family]
    cfg = Config(mss=mtu - 40, timestamps=timestamps, sack=sack, wscale=wscale, retries2=60,
                 syn_retries=20, synack_retries=20, time_wait=seconds(1), fin_timeout=seconds(600))
    net = Network(seed, max_events=2_000_000)
    client = net.add_host("client", [client_addr], cfg)
    server = net.add_host("server", [server_addr], cfg)
    net.connect(client, server, params=PathParams(delay=ms(10), mtu=mtu, loss=loss))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    got = {"client": read_all(client), "server": read_all(server)}
    up, down = bytes(range(256)) * (size // 256), bytes(range(255, -1, -1)) * (size // 256)
    conn = client.connect(server_addr, 80)
    net.run(until=seconds(5))
    if not accepted:
        return net, False
    client.send(conn, up)
    server.send(accepted[0], down)
    net.run(until=seconds(600))
    ok = bytes(got["server"].get(accepted[0], b"")) == up and bytes(got["client"].get(conn, b"")) == down
    client.close(conn)
    server.close(accepted[0])
    net.run(until=seconds(1200))
    return net, ok and conn.state is State.CLOSED and accepted[0].state is State.CLOSED


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1), family=st.sampled_from(sorted(FAMILIES)),
       mtu=st.sampled_from([576, 1280, 1500, 9000]), loss=st.sampled_from([0.0, 0.03]),
       timestamps=st.booleans(), sack=st.booleans(), wscale=st.sampled_from([None, 0, 7, 14]),
       size=st.sampled_from([20_480, 100_096]))
def test_no_packet_is_over_the_mtu_and_the_bytes_arrive(seed: int, family: str, mtu: int, loss: float,
                                                       timestamps: bool, sack: bool, wscale: int | None,
                                                       size: int) -> None:
    if family == "v6" and mtu < 1280:
        mtu = 1280  # IPv6's minimum MTU (RFC 8200 §5)
    net, ok = two_way(seed, family, mtu, loss, timestamps, sack, wscale, size)
    link = net.links[0]
    assert link.forward.stats.mtu_drops == 0 and link.backward.stats.mtu_drops == 0
    assert ok


def test_with_timestamps_on_a_1500_byte_path_100_kb_arrive() -> None:
    """The defect this guards: a full segment carried the peer's MSS in payload plus
    its 12 octets of timestamps, 1512 octets on a 1500-octet path, and nothing
    arrived in 60 s."""
    net, ok = two_way(1, "v4", 1500, 0.0, True, True, 7, 100_096)
    assert net.links[0].forward.stats.mtu_drops == 0 and ok
