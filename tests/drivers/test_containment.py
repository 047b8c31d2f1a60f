"""Drivers contain their faults: no exception leaves a stack's callbacks.

The TUN stack runs here on one end of a datagram socket pair (no privileges): the
test reads what it writes at the other end, and writes what it should read.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Awaitable
from typing import Any

import pytest

from support.tunhelp import socket_device
from synack.core.config import ms
from synack.core.endpoint import Endpoint
from synack.core.ip import Packet, build_packet, parse_packet
from synack.core.state import State
from synack.core.wire import ACK, Segment
from synack.drivers.faults import Hold, Impairments, PathFaults, TunFaults, has_payload
from synack.drivers.stack import MemoryStack, memory_pair, monotonic_us
from synack.drivers.streams import create_connection, create_server, open_connection, start_server
from synack.drivers.tun import VNET_HDR_LEN, TunDevice, TunSettings, TunStack, tun_config

V4 = ("198.18.0.2", "198.18.0.1")
V6 = ("fd00:5ac::2", "fd00:5ac::1")
TOO_LONG = 65_500  # + 40 bytes of headers: past the IPv4 total length's 65535


def run(coro: Awaitable[None], timeout: float = 20.0) -> None:
    async def main() -> None:
        await asyncio.wait_for(coro, timeout)
    asyncio.run(main())


def _packet(seq: int, addrs: tuple[str, str] = V4, size: int = 10) -> Packet:
    return Packet(addrs[0], addrs[1], Segment(40000, 9000, seq, 1, ACK, 100, payload=b"d" * size))


def _reports() -> list[dict[str, Any]]:
    """What reaches the running loop's exception handler."""
    found: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: found.append(ctx))
    return found


def _read_all(sock: socket.socket, vnet: bool = True) -> list[Packet]:
    packets = []
    while True:
        try:
            data = sock.recv(1 << 17)
        except BlockingIOError:
            return packets
        packets.append(parse_packet(data[VNET_HDR_LEN:] if vnet else data, verify_checksum=False))


def _stack(faults: TunFaults | None = None, **config: int) -> tuple[TunStack, socket.socket]:
    device, far = socket_device()
    endpoint = Endpoint(["198.18.0.2", "fd00:5ac::2"], tun_config(**config))
    return TunStack(endpoint, device, faults=faults), far


# -- a packet that cannot be encoded -----------------------------------------------------
@pytest.mark.parametrize("addrs", [V4, V6])
def test_a_batch_with_an_unencodable_packet_sends_the_others(addrs: tuple[str, str]) -> None:
    async def main() -> None:
        reports = _reports()
        stack, far = _stack()
        size = TOO_LONG if addrs is V4 else 65_520  # IPv6: past the payload length's 65535
        stack._transmit([_packet(1, addrs), _packet(2, addrs, size), _packet(3, addrs)], monotonic_us())
        assert [p.seg.seq for p in _read_all(far)] == [1, 3]
        assert stack.drops == {"too-long": 1}
        stack._transmit([_packet(4, addrs, size), _packet(5, addrs)], monotonic_us())
        assert [p.seg.seq for p in _read_all(far)] == [5]
        assert stack.drops == {"too-long": 2}
        assert len(reports) == 1  # reported once, counted always
        assert "too-long" in reports[0]["message"] and reports[0]["exception"] is not None
        assert stack.errors == {}
        stack.close()
        far.close()
    run(main())


def test_the_memory_stack_drops_and_counts_an_unencodable_packet_too() -> None:
    async def main() -> None:
        reports = _reports()
        a, b = memory_pair()
        got: list[bytes] = []
        b._deliver = got.extend  # type: ignore[method-assign]
        a._transmit([_packet(1, ("10.0.0.1", "10.0.0.2")), _packet(2, ("10.0.0.1", "10.0.0.2"), TOO_LONG),
                     _packet(3, ("10.0.0.1", "10.0.0.2"))], monotonic_us())
        await asyncio.sleep(0)
        assert [parse_packet(r).seg.seq for r in got] == [1, 3]
        assert a.drops == {"too-long": 1} and len(reports) == 1
    run(main())


class TickingEndpoint:
    """Stands in for an endpoint whose timer sends, each time it fires, a packet, an
    unencodable one and another packet; five times, 5 ms apart."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.listeners: list[Any] = []
        self.deadline: int | None = monotonic_us() + 5000
        self.fired = 0
        self.out: list[Packet] = []

    def next_event(self) -> None:
        return None

    def next_timeout(self) -> int | None:
        return self.deadline

    def handle_timeout(self, now: int) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.fired += 1
            n = 10 * self.fired
            self.out = [_packet(n + 1), _packet(n + 2, size=TOO_LONG), _packet(n + 3)]
            self.deadline = now + 5000 if self.fired < 5 else None

    def packets_to_send(self, now: int) -> list[Packet]:
        out, self.out = self.out, []
        return out


def test_a_timer_that_meets_an_unencodable_packet_keeps_the_stack_going() -> None:
    async def main() -> None:
        reports = _reports()
        device, far = socket_device()
        endpoint = TickingEndpoint()
        stack = TunStack(endpoint, device)  # type: ignore[arg-type]
        stack.kick()
        for _ in range(200):
            await asyncio.sleep(0.005)
            if endpoint.deadline is None:
                break
        assert endpoint.fired == 5  # the timer kept firing after the first bad packet
        assert [p.seg.seq for p in _read_all(far)] == [n + k for n in (10, 20, 30, 40, 50) for k in (1, 3)]
        assert stack.drops == {"too-long": 5} and stack.errors == {}
        assert len(reports) == 1
        stack.close()
        far.close()
    run(main())


def test_an_exception_in_the_cores_timer_is_counted_and_the_stack_backs_off() -> None:
    async def main() -> None:
        reports = _reports()
        stack, far = _stack(initial_rto=ms(20))
        ep = stack.endpoint
        ep.connect("198.18.0.1", 9000, monotonic_us())  # a SYN, and a retransmission deadline
        stack.kick()
        await asyncio.sleep(0.01)
        calls = 0

        def broken(now: int) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("a bug in the core")

        ep.handle_timeout = broken  # type: ignore[method-assign]
        due = ep.next_timeout()
        assert due is not None
        await asyncio.sleep(max(0.0, (due - monotonic_us()) / 1e6) + 0.35)
        # The deadline stays due: without the back-off this would be thousands of wake-ups.
        assert 2 <= calls <= 5
        assert stack.errors == {"timer": calls}
        assert len(reports) == 1 and isinstance(reports[0]["exception"], RuntimeError)
        del ep.handle_timeout  # the bug fixed: the SYN is sent again
        _read_all(far)
        await asyncio.sleep(stack.ERROR_BACKOFF / 1e6 + 0.05)
        syns = [p.seg.flags for p in _read_all(far)]
        assert syns and set(syns) == {0x02}
        stack.close()
        far.close()
    run(main())


def test_an_exception_receiving_one_packet_leaves_the_others() -> None:
    async def main() -> None:
        reports = _reports()
        stack, far = _stack()
        seen: list[int] = []

        def receive(seg: Segment, src: str, dst: str, now: int) -> None:
            if seg.seq == 2:
                raise RuntimeError("a bug in the core")
            seen.append(seg.seq)

        stack.endpoint.receive_segment = receive  # type: ignore[method-assign]
        for seq in (1, 2, 3):
            p = _packet(seq, ("198.18.0.1", "198.18.0.2"))
            far.send(b"\x00" * VNET_HDR_LEN + build_packet(p.seg, p.src, p.dst))
        for _ in range(100):
            await asyncio.sleep(0.005)
            if stack.packets_in == 3:
                break
        assert seen == [1, 3] and stack.errors == {"receive": 1} and len(reports) == 1
        stack.close()
        far.close()
    run(main())


def test_a_capture_that_cannot_be_written_stops_and_the_traffic_goes_on() -> None:
    class FullDisk:
        closed = False

        def write(self, now: int, raw: bytes) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self.closed = True

    async def main() -> None:
        reports = _reports()
        stack, far = _stack()
        pcap = FullDisk()
        stack.pcap = pcap  # type: ignore[assignment]
        stack._transmit([_packet(1), _packet(2)], monotonic_us())
        assert [p.seg.seq for p in _read_all(far)] == [1, 2]
        assert stack.pcap is None and pcap.closed
        assert stack.errors == {"pcap": 1} and len(reports) == 1
        stack.close()
        far.close()
    run(main())


# -- exceptions of an application's protocol ---------------------------------------------
def test_a_protocol_that_raises_loses_its_own_connection_only() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(100):
                writer.write(data)
        except ConnectionResetError:
            pass  # the touchy client's connection
        writer.close()

    class Touchy(asyncio.Protocol):
        def __init__(self) -> None:
            self.lost: list[BaseException | None] = []

        def data_received(self, data: bytes) -> None:
            if b"boom" in data:
                raise ValueError("the application's bug")

        def connection_lost(self, exc: BaseException | None) -> None:
            self.lost.append(exc)

    async def main() -> None:
        reports = _reports()
        client, server = memory_pair()
        await start_server(handler, None, 7, stack=server)
        transport, touchy = await create_connection(Touchy, "10.0.0.2", 7, stack=client)
        assert isinstance(touchy, Touchy)
        reader, writer = await open_connection("10.0.0.2", 7, stack=client)
        transport.write(b"boom")
        for _ in range(100):
            await asyncio.sleep(0.005)
            if touchy.lost:
                break
        assert len(touchy.lost) == 1 and isinstance(touchy.lost[0], ValueError)
        conn = transport.get_extra_info("synack_connection")
        assert conn.state is State.CLOSED  # reset
        assert [r["message"] for r in reports] == ["Fatal error: protocol.data_received() call failed"]
        writer.write(b"still here")  # the other connection carries on
        assert await reader.readexactly(10) == b"still here"
        assert client.errors == {} and server.errors == {}
        writer.close()
        await writer.wait_closed()
    run(main())


def test_a_server_protocol_factory_that_raises_resets_that_connection() -> None:
    async def main() -> None:
        reports = _reports()
        client, server = memory_pair()
        await create_server(lambda: 1 / 0, None, 7, stack=server)  # type: ignore[arg-type, return-value]
        with pytest.raises((ConnectionResetError, ConnectionRefusedError)):
            reader, _writer = await open_connection("10.0.0.2", 7, stack=client)
            await reader.read()
        assert any(isinstance(r.get("exception"), ZeroDivisionError) for r in reports)
        assert server.errors == {}
    run(main())


# -- the fault layer in the driver -------------------------------------------------------
def test_the_driver_drops_and_duplicates_exactly_what_the_seed_says() -> None:
    imp = Impairments(loss=0.2, duplicate=0.2)

    async def main() -> None:
        stack, far = _stack(TunFaults(outbound=PathFaults("outbound", imp, seed=42)))
        stack._transmit([_packet(i) for i in range(40)], monotonic_us())
        written = [p.seg.seq for p in _read_all(far)]
        expected = PathFaults("outbound", imp, seed=42)
        assert written == [i for i in range(40) for _ in expected.fate(0, *V4, _packet(i).seg)]
        s = stack.faults.outbound.stats  # type: ignore[union-attr]
        assert s.seen == 40 and len(written) == 40 - s.lost + s.duplicated and s.lost and s.duplicated
        stack.close()
        far.close()
    run(main())


def test_inbound_faults_act_before_the_endpoint_sees_a_packet() -> None:
    imp = Impairments(loss=0.3, duplicate=0.3)

    async def main() -> None:
        stack, far = _stack(TunFaults(inbound=PathFaults("inbound", imp, seed=4)))
        seen: list[int] = []
        stack.endpoint.receive_segment = lambda seg, src, dst, now: seen.append(seg.seq)  # type: ignore
        for seq in range(40):
            p = _packet(seq, ("198.18.0.1", "198.18.0.2"))
            far.send(b"\x00" * VNET_HDR_LEN + build_packet(p.seg, p.src, p.dst))
        for _ in range(100):
            await asyncio.sleep(0.005)
            if stack.packets_in == 40:
                break
        expected = PathFaults("inbound", imp, seed=4)
        assert seen == [i for i in range(40) for _ in expected.fate(0, *V4, _packet(i).seg)]
        stack.close()
        far.close()
    run(main())


def test_delayed_packets_leave_later_and_overtaken_ones_after() -> None:
    async def main() -> None:
        # Delay 20 ms; the packet with data held 30 ms more, so the others overtake it.
        faults = TunFaults(outbound=PathFaults("outbound", Impairments(delay=20_000),
                                               [Hold(has_payload(), for_=30_000)]))
        stack, far = _stack(faults)
        start = monotonic_us()
        stack._transmit([_packet(1, size=0), _packet(2), _packet(3, size=0)], start)
        assert _read_all(far) == [] and stack.held == 3
        await asyncio.sleep(0.03)
        assert [p.seg.seq for p in _read_all(far)] == [1, 3]
        await asyncio.sleep(0.03)
        assert [p.seg.seq for p in _read_all(far)] == [2]
        assert stack.held == 0 and monotonic_us() - start >= 50_000
        stack.close()
        far.close()
    run(main())


def test_close_drops_what_is_held_and_aclose_sends_it_first() -> None:
    async def main() -> None:
        faults = TunFaults(PathFaults("inbound", Impairments(delay=500_000)),
                           PathFaults("outbound", Impairments(delay=500_000)))
        stack, far = _stack(faults)
        stack._transmit([_packet(1), _packet(2)], monotonic_us())
        p = _packet(7, ("198.18.0.1", "198.18.0.2"))
        far.send(b"\x00" * VNET_HDR_LEN + build_packet(p.seg, p.src, p.dst))
        await asyncio.sleep(0.02)
        assert stack.held == 3
        stack.close()
        assert stack.drops == {"held-at-close": 3} and stack.held == 0
        await asyncio.sleep(0.01)  # no timer is left to fire on a closed stack
        far.close()

        stack, far = _stack(TunFaults(outbound=PathFaults("outbound", Impairments(delay=500_000))))
        stack._transmit([_packet(1), _packet(2)], monotonic_us())
        await stack.aclose(timeout=0)
        assert [p.seg.seq for p in _read_all(far)] == [1, 2]  # written at once, not dropped
        assert stack.drops == {}
        far.close()
    run(main())


def test_a_lossy_transfer_between_two_tun_stacks_is_exact_both_ways() -> None:
    """Loss, duplicates, reordering and delay on both stacks, both directions."""
    blob = hashlib.shake_256(b"lossy socket pair").digest(600_000)
    imp = Impairments(loss=0.03, delay=1000, duplicate=0.03, reorder=0.03)

    handled: list[str] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        handled.append("clean")  # no reset on the way

    async def main() -> None:
        device_a, far = socket_device()
        far_fd = far.detach()
        device_b = TunDevice(far_fd, TunSettings(netns="unused"))
        cfg = tun_config(1500, min_rto=ms(20))
        a = TunStack(Endpoint(["198.18.0.2"], cfg), device_a, faults=TunFaults.both(imp, seed=1))
        b = TunStack(Endpoint(["198.18.0.1"], cfg), device_b, faults=TunFaults.both(imp, seed=2))
        await start_server(echo, None, 9000, stack=b)
        reader, writer = await open_connection("198.18.0.1", 9000, stack=a)

        async def send() -> None:
            for i in range(0, len(blob), 50_000):
                writer.write(blob[i:i + 50_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        got = await reader.read()
        await sender
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob).hexdigest()
        conn = writer.get_extra_info("synack_connection")
        writer.close()
        await writer.wait_closed()
        for _ in range(200):
            if conn.state in (State.TIME_WAIT, State.CLOSED) and not b.busy_connections():
                break
            await asyncio.sleep(0.01)
        assert conn.state in (State.TIME_WAIT, State.CLOSED) and not b.busy_connections()
        for stack in (a, b):
            assert stack.drops == {} and stack.errors == {}
            assert stack.faults is not None
            for path in (stack.faults.inbound, stack.faults.outbound):
                assert path is not None
                s = path.stats
                assert s.lost and s.duplicated and s.reordered, (stack, path, s)
        assert a.endpoint.stats.retransmits + b.endpoint.stats.retransmits > 0
        assert handled == ["clean"]
        await a.aclose()
        await b.aclose()
    run(main(), timeout=60)


def test_memory_stack_unaffected_by_fault_api() -> None:
    # MemoryStack has no fault layer; its counters are the base's.
    async def main() -> None:
        a, _b = memory_pair()
        assert isinstance(a, MemoryStack)
        assert a.counters() == {"packets_in": 0, "packets_out": 0, "drops": {}, "errors": {}}
    run(main())

