"""The live connection table of a running synack, for ``synack ss``.

A running ``synack serve``/``connect`` listens on a Unix socket named after its
namespace (``/run/synack/NAME.sock``); each client that connects gets one JSON
document (the endpoint's :meth:`~synack.core.endpoint.Endpoint.snapshot` rows, the
time they were taken, the endpoint's counters and the driver's, :meth:`Stack.counters`:
its drops and errors by reason and what its faults did) and the socket is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from typing import Any, Final

from synack.core.info import SocketInfo

from .stack import Stack, monotonic_us

__all__ = ["ControlServer", "control_path", "query"]

CONTROL_DIR: Final = "/run/synack"


def control_path(netns: str) -> str:
    return f"{CONTROL_DIR}/{netns}.sock"


def snapshot_document(stack: Stack) -> dict[str, Any]:
    now = monotonic_us()
    return {"now": now, "name": stack.endpoint.name, "addresses": list(stack.endpoint.addresses),
            "rows": [row._asdict() for row in stack.endpoint.snapshot(now)],
            "stats": stack.endpoint.stats.as_dict(), "driver": stack.counters()}


class ControlServer:
    """Serves :func:`snapshot_document` on a Unix socket until closed."""

    def __init__(self, server: asyncio.AbstractServer, path: str) -> None:
        self._server = server
        self.path = path

    @classmethod
    async def start(cls, stack: Stack, netns: str) -> ControlServer:
        path = control_path(netns)
        os.makedirs(CONTROL_DIR, exist_ok=True)
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # left behind by a synack that died
            else:
                raise OSError(f"another synack already answers on {path}")
            finally:
                probe.close()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(json.dumps(snapshot_document(stack)).encode() + b"\n")
            try:
                await writer.drain()
            finally:
                writer.close()

        server = await asyncio.start_unix_server(answer, path)
        return cls(server, path)

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def query(netns: str, timeout: float = 5.0) -> tuple[int, list[SocketInfo], dict[str, Any]]:
    """``(now, rows, document)`` from the synack running in ``netns``; OSError if none."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(control_path(netns))
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    finally:
        sock.close()
    doc = json.loads(b"".join(chunks))
    rows = [SocketInfo(**row) for row in doc["rows"]]
    return int(doc["now"]), rows, doc
