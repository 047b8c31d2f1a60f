"""A window reopened by read() is announced on an actively opened connection too.

Regression: SYN-SENT set RCV.NXT from the peer's ISN but left RCV.ADV (the right
edge we advertised) relative to RCV.NXT = 0, so for about half of all peer ISNs the
edge looked 2**31 ahead and read() never sent a window update: a sender that had
filled the window waited for its persist timer (found against Linux over TUN).
"""

from __future__ import annotations

import pytest

from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.wire import ACK


def _pump(a: Endpoint, b: Endpoint) -> None:
    for _ in range(100):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.packets_to_send(0):
                dst.receive_segment(p.seg, p.src, p.dst, 0)
                moved = True
        if not moved:
            return
    raise AssertionError("the endpoints never went quiet")


@pytest.mark.parametrize("server_isn", [0x1000, 0x7FFF0000, 0x90000000, 0xFFFFF000])
def test_read_announces_the_reopened_window(server_isn: int) -> None:
    client = Endpoint(["10.0.0.1"], Config(rcv_buf=20000, wscale=None), isn=lambda *_: 5000)
    server = Endpoint(["10.0.0.2"], isn=lambda *_: server_isn)
    listener = server.listen(80)
    conn = client.connect("10.0.0.2", 80, 0)
    _pump(client, server)
    peer = listener.accept()
    assert peer is not None
    assert peer.send(b"x" * 30000) == 30000
    _pump(client, server)
    client.handle_timeout(200_000)  # the delayed ACK of the last segment (window 0)
    _pump(client, server)
    assert conn.bytes_readable == 20000 and peer.snd_wnd == 0  # the window is full
    assert len(conn.read()) == 20000
    updates = [p.seg for p in client.packets_to_send(0)]
    assert updates and updates[0].flags == ACK and updates[0].window == 20000
