"""The streams API over an in-process link (no privileges needed)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import pytest

import synack
from synack.core.config import Config, ms
from synack.core.endpoint import Endpoint
from synack.core.state import State
from synack.drivers.stack import NEAR_SLACK, MemoryStack, default_stack, memory_pair, monotonic_us, wake_time
from synack.drivers.streams import SynackTransport, open_connection, start_server

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run(coro: Awaitable[None], timeout: float = 20.0) -> None:
    async def main() -> None:
        await asyncio.wait_for(coro, timeout)
    asyncio.run(main())


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _pair_with_server(handler: Handler, port: int = 7) -> tuple[MemoryStack, MemoryStack]:
    client, server = memory_pair()
    await start_server(handler, None, port, stack=server)
    return client, server


def test_echo_round_trip_and_extra_info() -> None:
    async def main() -> None:
        client, _ = await _pair_with_server(echo)
        reader, writer = await open_connection("10.0.0.2", 7, stack=client)
        assert writer.get_extra_info("peername") == ("10.0.0.2", 7)
        sockname = writer.get_extra_info("sockname")
        assert sockname[0] == "10.0.0.1" and 32768 <= sockname[1] <= 60999
        writer.write(b"hello\nworld\n")
        writer.writelines([b"abc", b"def|tail"])
        await writer.drain()
        assert await reader.readline() == b"hello\n"
        assert await reader.readexactly(6) == b"world\n"
        assert await reader.readuntil(b"|") == b"abcdef|"
        writer.write_eof()
        assert await reader.read() == b"tail"
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
    run(main())


def test_ipv6() -> None:
    async def main() -> None:
        client, _ = await _pair_with_server(echo, 8080)
        reader, writer = await open_connection("fd00::2", 8080, stack=client)
        assert writer.get_extra_info("peername") == ("fd00::2", 8080, 0, 0)
        writer.write(b"six")
        writer.write_eof()
        assert await reader.read() == b"six"
        writer.close()
        await writer.wait_closed()
    run(main())


def test_bulk_with_a_slow_reader_is_exact() -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def slow_sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        digest = hashlib.sha256()
        while data := await reader.read(10000):
            digest.update(data)
            await asyncio.sleep(0)
        writer.write(digest.hexdigest().encode())
        writer.close()

    async def main() -> None:
        client, server = await _pair_with_server(slow_sink)
        reader, writer = await open_connection("10.0.0.2", 7, stack=client)
        transport = writer.transport
        assert isinstance(transport, SynackTransport)
        paused = False
        for i in range(0, len(payload), 100_000):
            writer.write(payload[i:i + 100_000])
            paused = paused or transport.get_write_buffer_size() > 0
            await writer.drain()
        writer.write_eof()
        assert paused, "the core's send buffer should have filled and applied back-pressure"
        assert (await reader.read()).decode() == hashlib.sha256(payload).hexdigest()
        writer.close()
        await writer.wait_closed()
        assert server.endpoint.stats.retransmits == 0
    run(main())


def test_refused_without_listener() -> None:
    async def main() -> None:
        client, _ = memory_pair()
        with pytest.raises(ConnectionRefusedError):
            await open_connection("10.0.0.2", 9, stack=client)
    run(main())


def test_connect_times_out_when_nothing_answers() -> None:
    async def main() -> None:
        quick = Config(syn_retries=1, initial_rto=ms(30))
        client, server = memory_pair(Endpoint(["10.0.0.1"], quick), Endpoint(["10.0.0.2"]))
        server.close()  # a dead peer: every packet vanishes
        with pytest.raises(TimeoutError):
            await open_connection("10.0.0.2", 80, stack=client)
    run(main())


def test_peer_reset_raises_connection_reset() -> None:
    async def resetter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(4)
        writer.transport.abort()

    async def main() -> None:
        client, _ = await _pair_with_server(resetter)
        reader, writer = await open_connection("10.0.0.2", 7, stack=client)
        writer.write(b"ping")
        with pytest.raises(ConnectionResetError):
            await reader.read()
    run(main())


def test_server_sees_half_close_and_replies() -> None:
    async def upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's FIN
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    async def main() -> None:
        client, server = await _pair_with_server(upper)
        reader, writer = await open_connection("10.0.0.2", 7, stack=client)
        writer.write(b"half closed")
        writer.write_eof()
        assert await reader.read() == b"HALF CLOSED"
        conn = writer.get_extra_info("synack_connection")
        writer.close()
        await writer.wait_closed()
        for _ in range(100):
            if conn.state is State.TIME_WAIT:
                break
            await asyncio.sleep(0.01)
        assert conn.state is State.TIME_WAIT  # our FIN went first: we wait 2MSL
        assert not server.busy_connections()
    run(main())


def test_default_stack_and_package_exports() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError):
            default_stack()
        client, _ = await _pair_with_server(echo)
        assert default_stack() is client
        reader, writer = await synack.open_connection("10.0.0.2", 7)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        writer.close()
        await writer.wait_closed()
        server = await synack.start_server(echo, "10.0.0.1", 0)
        assert 32768 <= server.port <= 60999
        server.close()
        await server.wait_closed()
        await client.aclose()
        with pytest.raises(RuntimeError):
            default_stack()
    run(main())


def test_host_names_are_rejected() -> None:
    async def main() -> None:
        client, _ = memory_pair()
        with pytest.raises(ValueError, match="IP addresses"):
            await open_connection("example.com", 80, stack=client)
    run(main())


def test_import_synack_stays_light() -> None:
    import subprocess
    import sys
    code = "import sys, synack; assert 'asyncio' not in sys.modules; synack.open_connection; " \
           "assert 'asyncio' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_server_forgets_transports_of_finished_connections() -> None:
    async def main() -> None:
        client, server_stack = memory_pair()
        server = await start_server(echo, None, 7, stack=server_stack)
        for _ in range(5):
            reader, writer = await open_connection("10.0.0.2", 7, stack=client)
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"
            if not server.transports():
                raise AssertionError("the open connection's transport should be listed")
            writer.close()
            await writer.wait_closed()
            assert await reader.read() == b""
        for _ in range(100):
            if not server._transports:
                break
            await asyncio.sleep(0.01)
        assert not server._transports  # a long-running server does not keep them all
    run(main())


def test_deadlines_close_together_share_one_wake_up() -> None:
    """stack.NEAR_SLACK: never before a deadline, at most that much after it."""
    class Clocked(Endpoint):
        def __init__(self) -> None:
            super().__init__(["10.0.0.9"])
            self.deadlines: list[int] = []
            self.calls: list[int] = []

        def next_timeout(self) -> int | None:
            return min(self.deadlines, default=None)

        def handle_timeout(self, now: int) -> None:
            self.calls.append(now)
            self.deadlines = [d for d in self.deadlines if d > now]

    async def main() -> None:
        ep = Clocked()
        stack = MemoryStack(ep)
        start = monotonic_us()
        first = start + 20_000
        ep.deadlines = [first + 300, first + 600]
        stack.kick()
        await asyncio.sleep(0)
        ep.deadlines.append(first)  # an earlier one: the wake-up moves forward
        stack.kick()
        await asyncio.sleep(0.1)
        assert len(ep.calls) == 1
        assert first + 600 <= ep.calls[0]
        assert ep.calls[0] <= first + NEAR_SLACK + 50_000  # (a loaded machine's lateness)
        assert stack._timer is None
        stack.close()
    run(main())


@pytest.mark.parametrize(("ahead", "width"), [
    (251_999, None),           # under 63 jiffies (HZ 250): NEAR_SLACK after the deadline
    (252_000, 32_000),         # level 1: 8 jiffies a slot
    (1_000_000, 32_000),       # a first SYN-ACK retransmission
    (2_015_999, 32_000),
    (2_016_000, 256_000),      # level 2: 64 jiffies
    (4_000_000, 256_000),      # the third SYN-ACK timeout of a SYN-queue entry
    (16_128_000, 2_048_000),   # level 3: 512 jiffies
    (60_000_000, 2_048_000),   # TIME-WAIT, FIN-WAIT-2
    (129_024_000, 16_384_000),  # level 4
])
def test_a_wake_up_comes_as_linuxs_timer_wheel_fires(ahead: int, width: int | None) -> None:
    """calc_wheel_index at HZ 250: the expiry rounded up past its slot in the level
    that its distance picks; never before the deadline."""
    for now in (7_777_777_777, 8_000_000_000):  # (the second: a deadline on a slot's edge)
        deadline = now + ahead
        wake = wake_time(deadline, now)
        if width is None:
            assert wake == deadline + NEAR_SLACK
        else:
            assert wake % width == 0 and deadline < wake <= deadline + width


def test_deadlines_in_one_slot_share_a_wake_up_and_the_stack_arms_it() -> None:
    """Timers armed together 4 s ahead (a flood's SYN-queue entries, admitted within a
    few ms) fire together, as Linux's in one slot of its wheel."""
    now = 5_000_000_000
    slot_start = (now + 4_000_000) // 256_000 * 256_000
    assert len({wake_time(slot_start + i * 13_000 // 64, now) for i in range(64)}) == 1

    class Clocked(Endpoint):
        def __init__(self) -> None:
            super().__init__(["10.0.0.9"])
            self.deadline: int | None = None

        def next_timeout(self) -> int | None:
            return self.deadline

    async def main() -> None:
        ep = Clocked()
        stack = MemoryStack(ep)
        ep.deadline = monotonic_us() + 4_000_000
        before = monotonic_us()
        stack.kick()
        await asyncio.sleep(0)
        assert stack._timer is not None
        when = round(stack._timer.when() * 1e6)
        assert when % 256_000 in (0, 1, 255_999)  # (float seconds)
        assert ep.deadline < when <= ep.deadline + 256_000
        assert abs(when - wake_time(ep.deadline, before)) <= 256_000  # the same slot, or the next
        stack.close()
    run(main())
