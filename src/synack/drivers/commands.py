"""``synack serve``, ``synack connect`` and ``synack ss``: synack on a TUN device.

Each command joins the namespace ``--netns`` if it exists, or creates it and
removes it again on exit; the TUN device lives inside it.  Problems the user can
fix raise :class:`CommandError` (printed as one line by the CLI).

``serve`` and ``connect`` take faults (:func:`make_faults`: ``--loss``, ``--delay``,
``--duplicate``, ``--reorder``, ``--seed``), the same in each direction and drawn
independently in each; they say what is on when they start and, on exit, what the
faults did and what the driver dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from typing import BinaryIO

from synack.core.info import SocketInfo

from .apps import echo_handler, http_handler
from .control import ControlServer, query
from .faults import Impairments, TunFaults
from .netns import Namespace, NetnsError, privilege_problem
from .streams import open_connection, start_server
from .tun import TunSettings, TunStack, open_tun

__all__ = ["CommandError", "connect", "make_faults", "serve", "show_table"]


class CommandError(Exception):
    """One line for the user: what went wrong and, when possible, what to do."""


def _check(netns: str) -> None:
    problem = privilege_problem()
    if problem is not None:
        raise CommandError(problem)
    try:
        Namespace.check_name(netns)
    except NetnsError as exc:
        raise CommandError(str(exc)) from None


def make_faults(loss: float = 0.0, delay_ms: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                seed: int = 1) -> TunFaults | None:
    """The command line's faults: the same impairments in both directions, each
    direction drawing from its own stream of ``seed``; None when nothing is on."""
    try:
        impairments = Impairments(loss=loss, delay=round(delay_ms * 1000), duplicate=duplicate,
                                  reorder=reorder)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return TunFaults.both(impairments, seed=seed) if impairments.active else None


def _say(*lines: str) -> None:
    for line in lines:
        print(f"synack: {line}", file=sys.stderr, flush=True)


def _report_counters(stack: TunStack) -> None:
    """On exit: what the faults did, what the driver dropped (when anything)."""
    if stack.faults is not None:
        _say(f"faults: {stack.faults.summary()}")
    if stack.drops:
        _say("driver drops: " + ", ".join(f"{reason} {n}" for reason, n in sorted(stack.drops.items())))
    if stack.errors:
        _say("driver errors: " + ", ".join(f"{where} {n}" for where, n in sorted(stack.errors.items())))


@contextlib.asynccontextmanager
async def _running(netns: str, pcap: str | None, faults: TunFaults | None = None,
                   busy_poll_us: int = 0) -> AsyncIterator[TunStack]:
    try:
        cm = open_tun(TunSettings(netns=netns, busy_poll_us=busy_poll_us), pcap=pcap, faults=faults)
        stack = await cm.__aenter__()
    except (NetnsError, OSError) as exc:
        raise CommandError(str(exc)) from None
    try:
        control = await ControlServer.start(stack, netns)
    except OSError as exc:
        await cm.__aexit__(None, None, None)
        raise CommandError(str(exc)) from None
    if faults is not None:
        _say(*(f"faults, {line}" for line in faults.describe()))
    if busy_poll_us:
        _say(f"busy polling: after each burst the loop looks at the device for {busy_poll_us} µs")
    try:
        yield stack
    finally:
        await control.close()
        await cm.__aexit__(None, None, None)
        _report_counters(stack)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(netns: str, pcap: str | None, port: int, http_dir: str | None,
                 faults: TunFaults | None, busy_poll_us: int) -> None:
    if http_dir is not None and not os.path.isdir(http_dir):
        raise CommandError(f"not a directory: {http_dir}")
    handler = http_handler(http_dir) if http_dir is not None else echo_handler
    async with _running(netns, pcap, faults, busy_poll_us) as stack:
        stop = _stop_event()
        try:
            server = await start_server(handler, None, port, stack=stack, backlog=1024)
        except OSError as exc:
            raise CommandError(str(exc)) from None
        s = stack.settings
        what = f"HTTP files from {http_dir}" if http_dir is not None else "echo"
        print(f"synack: serving {what} on {s.synack_v4}:{port} and [{s.synack_v6}]:{port} "
              f"in namespace {netns!r} (Ctrl-C to stop)\n"
              f"synack: try: ip netns exec {netns} curl http://{s.synack_v4}:{port}/",
              file=sys.stderr, flush=True)
        await stop.wait()
        server.close()
        server.close_clients()


def serve(netns: str, pcap: str | None, port: int, http_dir: str | None,
          faults: TunFaults | None = None, busy_poll_us: int = 0) -> None:
    """Run a server on the TUN until SIGINT/SIGTERM, then close its connections."""
    _check(netns)
    asyncio.run(_serve(netns, pcap, port, http_dir, faults, busy_poll_us))


async def _pump_in(source: BinaryIO, writer: asyncio.StreamWriter) -> None:
    """Copy ``source`` to the peer, then half-close.  The blocking reads run on a
    daemon thread, so a terminal's pending read never holds up the exit."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue(maxsize=4)
    read = getattr(source, "read1", source.read)

    def reader_thread() -> None:
        while True:
            try:
                data: bytes | BaseException = read(1 << 16)
            except Exception as exc:
                data = exc
            try:
                asyncio.run_coroutine_threadsafe(queue.put(data), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                return  # the loop is gone
            if not data or isinstance(data, BaseException):
                return

    threading.Thread(target=reader_thread, name="synack-stdin", daemon=True).start()
    while True:
        item = await queue.get()
        if isinstance(item, BaseException):
            raise item
        if not item:
            break
        writer.write(item)
        await writer.drain()
    writer.write_eof()


async def _connect(netns: str, pcap: str | None, host: str, port: int, source: BinaryIO,
                   sink: BinaryIO, faults: TunFaults | None, busy_poll_us: int) -> None:
    async with _running(netns, pcap, faults, busy_poll_us) as stack:
        stop = _stop_event()
        try:
            reader, writer = await open_connection(host, port, stack=stack)
        except (ConnectionRefusedError, TimeoutError, ValueError, OSError) as exc:
            raise CommandError(f"connect to {host} port {port}: {exc}") from None
        sender = asyncio.ensure_future(_pump_in(source, writer))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                chunk = asyncio.ensure_future(reader.read(1 << 20))
                await asyncio.wait({chunk, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not chunk.done():
                    chunk.cancel()
                    break
                data = chunk.result()
                if not data:
                    break
                try:
                    sink.write(data)
                    sink.flush()
                except BrokenPipeError:
                    # Our reader went away (`| head`): stop quietly, as netcat does.
                    writer.transport.abort()
                    return
        except (ConnectionError, TimeoutError) as exc:
            raise CommandError(f"{host} port {port}: {exc}") from None
        finally:
            stopper.cancel()
            if sender.done() and not sender.cancelled() and sender.exception() is not None:
                writer.transport.abort()
            else:
                # The peer finished: what we still had to send stays unsent (netcat -q0).
                sender.cancel()
                writer.close()


def connect(netns: str, pcap: str | None, host: str, port: int, send: str | None, output: str | None,
            faults: TunFaults | None = None, busy_poll_us: int = 0) -> None:
    """A netcat-like client: input (stdin or ``send``) to the peer, its bytes to
    stdout (or ``output``); half-close at the end of the input."""
    _check(netns)
    try:
        source = open(send, "rb") if send else sys.stdin.buffer  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {send}: {exc.strerror or exc}") from None
    try:
        sink = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        asyncio.run(_connect(netns, pcap, host, port, source, sink, faults, busy_poll_us))
    finally:
        if send:
            source.close()
        if output:
            sink.close()


def show_table(netns: str) -> tuple[int, list[SocketInfo]]:
    """The live table of the synack running in ``netns`` (for ``synack ss``)."""
    try:
        now, rows, _doc = query(netns)
    except (FileNotFoundError, ConnectionRefusedError):
        raise CommandError(f"no synack is running in namespace {netns!r}") from None
    except OSError as exc:
        raise CommandError(f"cannot ask the synack in namespace {netns!r}: {exc}") from None
    return now, rows
