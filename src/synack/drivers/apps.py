"""Small servers written against the streams API (for ``synack serve``): echo and a
static HTTP/1.1 file server, one request per connection (``Connection: close``)."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

__all__ = ["echo_handler", "http_handler"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

MAX_HEADERS: Final = 100
CHUNK: Final = 1 << 20
SERVER: Final = "synack"


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send back every byte until the peer's FIN, then close."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, TimeoutError):
        writer.transport.abort()
        return
    writer.close()


def _response_head(status: str, length: int, ctype: str) -> bytes:
    return (f"HTTP/1.1 {status}\r\nServer: {SERVER}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode("latin-1")


def resolve(root: Path, target: str) -> Path | None:
    """The file a request target names under ``root`` (index.html for a directory),
    or None when it is missing or outside ``root``."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
    candidate = (root / path.lstrip("/")).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def http_handler(directory: str | os.PathLike[str]) -> Handler:
    """A handler serving the files under ``directory`` (GET and HEAD)."""
    root = Path(directory).resolve()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_one(root, reader, writer)
        except (ConnectionError, TimeoutError):
            writer.transport.abort()
            return
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, ValueError):
            writer.write(_response_head("400 Bad Request", 0, "text/plain"))
        writer.close()

    return handle


async def _serve_one(root: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = (await reader.readuntil(b"\n")).decode("latin-1").split()
    for _ in range(MAX_HEADERS):
        if (await reader.readuntil(b"\n")).strip() == b"":
            break
    else:
        raise ValueError("too many header lines")
    if len(request) != 3 or not request[2].startswith("HTTP/"):
        raise ValueError("bad request line")
    method, target = request[0], request[1]
    if method not in ("GET", "HEAD"):
        body = b"method not allowed\n"
        writer.write(_response_head("405 Method Not Allowed", len(body), "text/plain") + body)
        return
    path = resolve(root, target)
    if path is None:
        body = b"not found\n"
        writer.write(_response_head("404 Not Found", len(body), "text/plain") + body)
        return
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    size = path.stat().st_size
    writer.write(_response_head("200 OK", size, ctype))
    if method == "HEAD":
        return
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
