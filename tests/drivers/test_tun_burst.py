"""A burst of packets read from the TUN device: each SYN-ACK (an answer made without
a connection) is written as its SYN is handled, so under a SYN flood a client's
SYN-ACK never waits behind the rest of the burst; a connection's own output (its
ACKs) is written once the burst is handled, so ACKs of data are coalesced.  After a
burst, busy polling (off by default) keeps the loop looking at the device a while
rather than sleeping.

The stack runs on one end of a datagram socket pair (no privileges)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from support.tunhelp import socket_device
from synack.core.endpoint import Endpoint
from synack.core.ip import Packet, build_packet, parse_packet
from synack.core.wire import ACK, SYN, Options, Segment
from synack.drivers.tun import MAX_BUSY_POLL_US, VNET_HDR_LEN, TunSettings, TunStack, tun_config

OURS = "198.18.0.2"
PORT = 9000
SYN_OPTIONS = Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(1000, 0))


def run(coro: Awaitable[None], timeout: float = 20.0) -> None:
    async def main() -> None:
        await asyncio.wait_for(coro, timeout)
    asyncio.run(main())


def _send(far: socket.socket, src: str, seg: Segment) -> None:
    far.send(bytes(VNET_HDR_LEN) + build_packet(seg, src, OURS))


def _read_all(far: socket.socket) -> list[Packet]:
    out: list[Packet] = []
    while True:
        try:
            data = far.recv(1 << 17)
        except BlockingIOError:
            return out
        out.append(parse_packet(data[VNET_HDR_LEN:], verify_checksum=False))


def _syn(sport: int, seq: int) -> Segment:
    return Segment(sport, PORT, seq, 0, SYN, 64240, SYN_OPTIONS)


class Watch:
    """Wraps the endpoint's receive_segment: what the far end had received by the
    time each segment came to be handled."""

    def __init__(self, stack: TunStack, far: socket.socket) -> None:
        self.seen: list[list[Packet]] = []
        self.far = far
        inner = stack.endpoint.receive_segment

        def receive(seg: Segment, src: str, dst: str, now: int, flight: int = 0) -> None:
            self.seen.append(_read_all(far))
            inner(seg, src, dst, now, flight)

        stack.endpoint.receive_segment = receive  # type: ignore[method-assign]


def _listening(settings: TunSettings | None = None) -> tuple[TunStack, socket.socket]:
    """A stack listening on PORT, on one end of a socket pair; the other end."""
    device, far = socket_device(settings)
    stack = TunStack(Endpoint([OURS], tun_config()), device)
    stack.endpoint.listen(PORT, 64)
    return stack, far


async def _handled(stack: TunStack, count: int) -> None:
    for _ in range(400):
        if stack.packets_in >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{stack.packets_in} packets handled, not {count}")


def test_each_syn_ack_of_a_burst_leaves_before_the_next_syn_is_handled() -> None:
    async def main() -> None:
        stack, far = _listening()
        watch = Watch(stack, far)
        clients = [("198.18.0.1", 40001, 100), ("198.18.0.7", 40002, 200), ("198.18.0.9", 40003, 300)]
        for src, sport, seq in clients:  # all queued before the loop reads any: one burst
            _send(far, src, _syn(sport, seq))
        await _handled(stack, 3)
        last = _read_all(far)
        # Before the first SYN, nothing; before each next SYN, the SYN-ACK of the one before.
        arrived = [[(p.dst, p.seg.dst_port) for p in got] for got in (*watch.seen, last)]
        assert arrived == [[], [("198.18.0.1", 40001)], [("198.18.0.7", 40002)], [("198.18.0.9", 40003)]]
        for got, (src, sport, seq) in zip((*watch.seen[1:], last), clients, strict=True):
            p = got[0]
            assert (p.src, p.dst) == (OURS, src)
            options = Options(mss=65495, wscale=7, sack_permitted=True)
            assert p.seg._replace(seq=0, options=p.seg.options._replace(timestamps=None)) == \
                Segment(PORT, sport, 0, seq + 1, SYN | ACK, 65535, options)
            assert p.seg.options.timestamps is not None and p.seg.options.timestamps[1] == 1000
        assert stack.packets_in == 3 and stack.packets_out == 3
        stack.close()
        far.close()
    run(main())


def test_a_connections_ack_waits_for_the_bursts_end_and_a_syn_ack_does_not() -> None:
    async def main() -> None:
        stack, far = _listening()
        peer = "198.18.0.1"
        _send(far, peer, _syn(40001, 100))
        await _handled(stack, 1)
        (synack,) = _read_all(far)
        iss = synack.seg.seq
        ts = (2000, synack.seg.options.timestamps[0] if synack.seg.options.timestamps else 0)
        _send(far, peer, Segment(40001, PORT, 101, iss + 1, ACK, 502, Options(timestamps=ts)))
        await _handled(stack, 2)
        assert _read_all(far) == []
        watch = Watch(stack, far)
        # One burst: data beyond a hole (a duplicate ACK owed at once), then a new SYN.
        _send(far, peer, Segment(40001, PORT, 201, iss + 1, ACK, 502, Options(timestamps=ts), b"x" * 100))
        _send(far, "198.18.0.7", _syn(40002, 500))
        await _handled(stack, 4)
        after = _read_all(far)
        assert watch.seen == [[], []]  # while the burst is read, nothing of the connection's
        assert [(p.dst, p.seg.flags) for p in after] == [("198.18.0.7", SYN | ACK), (peer, ACK)]
        dup = after[1].seg
        assert (dup.seq, dup.ack, dup.options.sack_blocks) == (iss + 1, 101, ((201, 301),))
        stack.close()
        far.close()
    run(main())


# -- busy polling --------------------------------------------------------------------------
class LoopWatch:
    """Records each time the event loop waits for its file descriptors (monotonic
    time, the timeout it gives: 0 means it only looks, it does not sleep), and the
    time of each of the stack's flushes."""

    def __init__(self, stack: TunStack) -> None:
        self.selects: list[tuple[float, float | None]] = []
        self.flushes: list[float] = []
        selector = stack.loop._selector  # type: ignore[attr-defined]
        select_ = selector.select
        flush = stack._flush

        def watched_select(timeout: float | None = None) -> Any:
            self.selects.append((time.monotonic(), timeout))
            return select_(timeout)

        def watched_flush() -> None:
            self.flushes.append(time.monotonic())
            flush()

        selector.select = watched_select
        stack._flush = watched_flush  # type: ignore[method-assign]

    def waits_between(self, start: float, end: float) -> list[float | None]:
        return [timeout for t, timeout in self.selects if start <= t < end]


def test_busy_polling_keeps_the_loop_looking_not_sleeping_for_its_time_after_a_burst() -> None:
    async def main() -> None:
        stack, far = _listening(TunSettings(netns="unused", busy_poll_us=30_000))
        assert stack.busy_poll_us == 30_000
        watch = LoopWatch(stack)
        _send(far, "198.18.0.1", _syn(40001, 100))
        await _handled(stack, 1)
        await asyncio.sleep(0.15)
        burst = watch.flushes[0]
        # It looks again and again; the first time it sleeps is 30 ms on, for the rest
        # of the test's own sleep.
        assert len(watch.waits_between(burst, burst + 0.01)) > 10
        t, timeout = next((t, timeout) for t, timeout in watch.selects if t >= burst and timeout != 0)
        assert t >= burst + 0.030 and timeout is not None and timeout > 0.05
        assert not stack._busy
        # A packet that comes while it looks is read at the next look, as ever.
        stack.busy_poll_us = 100_000
        _send(far, "198.18.0.7", _syn(40002, 200))
        _send(far, "198.18.0.9", _syn(40003, 300))
        await _handled(stack, 3)
        assert [p.seg.dst_port for p in _read_all(far)] == [40001, 40002, 40003]
        stack.close()
        far.close()
    run(main())


def test_no_busy_polling_by_default_nor_after_a_wake_up_with_nothing_to_read() -> None:
    async def main() -> None:
        stack, far = _listening()
        watch = LoopWatch(stack)
        _send(far, "198.18.0.1", _syn(40001, 100))
        await _handled(stack, 1)
        await asyncio.sleep(0.05)
        burst = watch.flushes[0]
        assert stack.busy_poll_us == 0 and not stack._busy
        assert any(timeout is None or timeout > 0.01 for timeout in watch.waits_between(burst, burst + 0.03))
        stack.busy_poll_us = 1000
        stack._on_readable()  # woken with nothing to read: no busy polling
        assert not stack._busy
        stack.close()
        far.close()
    run(main())


@pytest.mark.parametrize("us", [-1, MAX_BUSY_POLL_US + 1])
def test_a_busy_poll_out_of_range_is_refused(us: int) -> None:
    with pytest.raises(ValueError, match=re.escape(f"busy poll {us} µs outside 0..100000")):
        TunSettings(busy_poll_us=us)

    async def main() -> None:
        device, far = socket_device()
        stack = TunStack(Endpoint([OURS], tun_config()), device)
        with pytest.raises(ValueError, match=re.escape("outside 0..100000")):
            stack.busy_poll_us = us
        assert stack.busy_poll_us == 0
        stack.close()
        far.close()
    run(main())
