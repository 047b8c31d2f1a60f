"""Write captures in the classic libpcap format, which Wireshark and tshark read.

Packets are raw IP (``LINKTYPE_RAW``, 101): what :func:`synack.core.ip.build_packet`
makes and what a TUN device carries, with no link-layer header.  Timestamps are
the integer microseconds synack uses everywhere (virtual time in the simulator, so a
capture of a simulated run starts at the Unix epoch).  The file is little-endian
with microsecond resolution (magic ``0xa1b2c3d4``).

A writer is a tap, as smoltcp's ``PcapWriter`` wraps a device: give it a binary
stream and call :meth:`PcapWriter.write` for each packet that crosses the link.
Both sides use it: the drivers (a TUN device's traffic, an in-memory stack's) and
the views (a simulated run's ``--pcap``), so it lives beside them, under neither.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from types import TracebackType
from typing import BinaryIO, Final

MAGIC_MICROSECONDS: Final = 0xA1B2C3D4
VERSION: Final = (2, 4)
LINKTYPE_RAW: Final = 101      # raw IPv4 or IPv6, version from the first nibble
SNAPLEN: Final = 262144        # what tcpdump and Wireshark write by default

_GLOBAL_HEADER: Final = struct.Struct("<IHHiIII")
_RECORD_HEADER: Final = struct.Struct("<IIII")
_MAX_T_US: Final = (1 << 32) * 1_000_000 - 1   # ts_sec is an unsigned 32-bit field


class PcapWriter:
    """A libpcap file being written to ``stream``.

    The global header is written at once, so even a capture with no packets is a
    valid file.  :meth:`close` flushes; it closes the stream only when the writer
    opened it itself (:meth:`open`), like ``gzip.GzipFile(fileobj=...)``.
    """

    def __init__(self, stream: BinaryIO, snaplen: int = SNAPLEN, linktype: int = LINKTYPE_RAW) -> None:
        if snaplen <= 0:
            raise ValueError(f"snaplen must be positive, not {snaplen}")
        self._stream = stream
        self._owns_stream = False
        self._closed = False
        self.snaplen = snaplen
        self.linktype = linktype
        self.packets = 0
        stream.write(_GLOBAL_HEADER.pack(MAGIC_MICROSECONDS, *VERSION, 0, 0, snaplen, linktype))

    @classmethod
    def open(cls, path: str | os.PathLike[str], snaplen: int = SNAPLEN) -> PcapWriter:
        """A writer on a new file at ``path``, closed by :meth:`close`."""
        stream = open(path, "wb")  # noqa: SIM115 -- closed by close()
        try:
            writer = cls(stream, snaplen)
        except BaseException:
            stream.close()
            raise
        writer._owns_stream = True
        return writer

    def write(self, t_us: int, packet: bytes) -> None:
        """Append ``packet`` (an IP packet) captured at ``t_us`` microseconds.

        A packet longer than the snaplen is stored cut, with its original length
        recorded, as a capture tool does.
        """
        if self._closed:
            raise ValueError("write to a closed PcapWriter")
        if not 0 <= t_us <= _MAX_T_US:
            raise ValueError(f"timestamp {t_us} µs does not fit a pcap record")
        sec, usec = divmod(t_us, 1_000_000)
        kept = packet[: self.snaplen]
        self._stream.write(_RECORD_HEADER.pack(sec, usec, len(kept), len(packet)) + bytes(kept))
        self.packets += 1

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        """Flush, and close the stream if this writer opened it.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_stream:
            self._stream.close()
        else:
            self._stream.flush()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def write_pcap(path: str | os.PathLike[str], packets: Iterable[tuple[int, bytes]],
               snaplen: int = SNAPLEN) -> int:
    """Write ``(t_us, ip_packet)`` pairs to a new pcap file; returns the packet count."""
    with PcapWriter.open(path, snaplen) as writer:
        for t_us, packet in packets:
            writer.write(t_us, packet)
        return writer.packets
