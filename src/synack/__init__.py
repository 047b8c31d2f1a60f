"""synack: TCP (RFC 9293) in pure Python, built around the handshake and the close.

``synack.open_connection`` and ``synack.start_server`` (asyncio streams over synack)
are loaded on first use, so ``import synack`` stays light and never imports asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "open_connection", "start_server"]

if TYPE_CHECKING:
    from synack.drivers.streams import open_connection, start_server


def __getattr__(name: str) -> Any:
    if name in ("open_connection", "start_server"):
        from synack.drivers import streams
        return getattr(streams, name)
    raise AttributeError(f"module 'synack' has no attribute {name!r}")
