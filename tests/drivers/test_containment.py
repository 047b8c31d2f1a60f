"""Drivers contain their faults: no exception leaves a stack's callbacks.

The TUN stack runs here on one end of a datagram socket pair (no privileges): the
test reads what it writes at the other end, and writes what it should read.
"""

from __future__ import annotations

import asyncio
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
from synack.drivers.stack import MemoryStack, memory_pair, monotonic_us
from synack.drivers.streams import create_connection, create_server, open_connection, start_server
from synack.drivers.tun import VNET_HDR_LEN, TunStack, tun_config

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


def _stack(**config: int) -> tuple[TunStack, socket.socket]:
    device, far = socket_device()
    endpoint = Endpoint(["198.18.0.2", "fd00:5ac::2"], tun_config(**config))
    return TunStack(endpoint, device), far


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


def test_the_counters_of_a_stack() -> None:
    async def main() -> None:
        a, _b = memory_pair()
        assert isinstance(a, MemoryStack)
        assert a.counters() == {"packets_in": 0, "packets_out": 0, "drops": {}, "errors": {}}
    run(main())

