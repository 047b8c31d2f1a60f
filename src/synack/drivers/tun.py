"""The Linux TUN driver: synack on a real network, inside a private namespace.

:func:`open_tun` creates (or joins) a network namespace, opens a TUN device in it
(``IFF_TUN | IFF_NO_PI``), configures it with pyroute2 (addresses, MTU, queue
length, link up) and runs an :class:`~synack.core.endpoint.Endpoint` on it from
asyncio (:class:`TunStack`): packets in through the loop's reader, a burst at a
time; segments out with one ``writev`` each, answers made without a connection
(SYN-ACKs, RSTs) as each packet is handled, the connections' output when the burst
is done; one timer; busy polling on request (:attr:`TunStack.busy_poll_us`).  Received packets of the common
kinds (IPv4 without options, IPv6 carrying TCP) are parsed here in fewer steps than
by the core's ``receive_packet``, with the same result; any other goes to the core,
which counts why it drops it.  Headers are written with one ``pack`` per packet.

Speed (shared/TUN-NOTES.md): the device's MTU is 65535 and synack advertises the
matching MSS, so the kernel sends 64 KB segments; checksums are the kernel's work.
With ``offload`` (the default) the device has a virtio-net header
(``IFF_VNET_HDR``): every write says ``NEEDS_CSUM`` so the kernel takes our TCP
segments without a checksum, and ``TUNSETOFFLOAD(TUN_F_CSUM)`` lets it hand over
its own segments with the checksum unfilled, which the core is told not to verify.

The pcap tap (``pcap=``) records every packet that crosses the device, with the
TCP checksums filled in for the capture, so Wireshark sees valid packets.

Faults (``faults=``, :mod:`synack.drivers.faults`) sit between the device and the
endpoint: packets read are impaired before the endpoint sees them, packets sent
before they are written.  The capture shows the device, so it has every packet
read (dropped ones too) and only the packets written (duplicates twice, delayed
ones when they leave).  Held packets are released by the loop's timers;
:meth:`TunStack.aclose` writes the outbound ones still held, :meth:`TunStack.close`
drops what is left (``stack.drops["held-at-close"]``).

Packets the driver cannot pass on are counted by reason in ``stack.drops``, and
exceptions caught in its callbacks in ``stack.errors`` (:mod:`synack.drivers.stack`).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import ipaddress
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

from synack.capture import PcapWriter
from synack.core.config import Config
from synack.core.endpoint import Endpoint
from synack.core.errors import MalformedSegment
from synack.core.ip import Packet, ipv4_header, ipv6_header
from synack.core.wire import NO_OPTIONS, encode_options, pack_addr, parse_segment, tcp_checksum, unpack_addr

from .faults import Held, PathFaults, TunFaults
from .netns import (
    DEFAULT_NETNS,
    KERNEL_V4,
    KERNEL_V6,
    SYNACK_V4,
    SYNACK_V6,
    V4_PREFIXLEN,
    V6_PREFIXLEN,
    Namespace,
    NetnsError,
    write_sysctl,
)
from .stack import Stack, encode_failure, monotonic_us

__all__ = ["DEFAULT_IFNAME", "MAX_BUSY_POLL_US", "MAX_MSS", "TunDevice", "TunSettings", "TunStack",
           "check_busy_poll", "open_tun", "tun_config"]

# <linux/if_tun.h>
TUNSETIFF: Final = 0x400454CA
TUNSETOFFLOAD: Final = 0x400454D0
IFF_TUN: Final = 0x0001
IFF_NO_PI: Final = 0x1000
IFF_VNET_HDR: Final = 0x4000
TUN_F_CSUM: Final = 0x01
# <linux/virtio_net.h>: struct virtio_net_hdr, little-endian on the machines we run on
VNET_HDR_LEN: Final = 10
VIRTIO_NET_HDR_F_NEEDS_CSUM: Final = 1
_VNET: Final = struct.Struct("<BBHHHH")
_VNET_V4: Final = _VNET.pack(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 20, 16)
_VNET_V6: Final = _VNET.pack(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 40, 16)
_TCP: Final = struct.Struct("!HHIIBBHHH")
# One pack for a whole NEEDS_CSUM write's headers: the virtio header (pre-packed
# bytes), the IPv4 or IPv6 header, the TCP header without options.
_V4_WRITE: Final = struct.Struct("!12sH6sH8sHHIIBBHHH")
_V4_START: Final = _VNET_V4 + b"\x45\x00"     # version 4, IHL 5; TOS 0
_V4_MIDDLE: Final = b"\x00\x00\x40\x00\x40\x06"  # ident 0, DF, TTL 64, TCP (as ipv4_header)
_V6_WRITE: Final = struct.Struct("!10sIHBB32sHHIIBBHHH")

DEFAULT_IFNAME: Final = "synack0"
MAX_MTU: Final = 65535
#: The largest MSS synack uses on a TUN: the IPv4 total length (16 bits) holds the
#: IP and TCP headers and the payload; the options every segment carries come out of
#: the payload (the core's effective send MSS, RFC 9293 §3.7.1), and SACK blocks
#: ride only in the room a segment leaves.
MAX_MSS: Final = MAX_MTU - 20 - 20
#: Packets read per wake-up before the output is flushed.
READ_BURST: Final = 128


#: The longest busy poll allowed, µs (after each burst, the loop polls no longer).
MAX_BUSY_POLL_US: Final = 100_000


def check_busy_poll(us: int) -> int:
    """``us`` if it is a busy poll allowed (0 to :data:`MAX_BUSY_POLL_US`), else ValueError."""
    if not 0 <= us <= MAX_BUSY_POLL_US:
        raise ValueError(f"busy poll {us} µs outside 0..{MAX_BUSY_POLL_US}")
    return us


@dataclass(frozen=True, slots=True)
class TunSettings:
    """How the device is set up.  Defaults: the README's addresses, MTU 65535."""

    netns: str = DEFAULT_NETNS
    ifname: str = DEFAULT_IFNAME
    mtu: int = MAX_MTU
    kernel_v4: str = KERNEL_V4
    synack_v4: str = SYNACK_V4
    kernel_v6: str = KERNEL_V6
    synack_v6: str = SYNACK_V6
    #: virtio-net header with checksum offload (no checksums computed in Python).
    offload: bool = True
    #: Generous, so the kernel rarely drops while Python catches up (TUN-NOTES §12):
    #: every drop there is a real loss the two ends must recover from.
    txqueuelen: int = 20000
    #: Busy polling, µs (0: off, the default): see :attr:`TunStack.busy_poll_us`.
    busy_poll_us: int = 0

    def __post_init__(self) -> None:
        if not 1280 <= self.mtu <= MAX_MTU:
            raise ValueError(f"mtu {self.mtu} outside 1280..65535")
        check_busy_poll(self.busy_poll_us)
        if not 0 < len(self.ifname) < 16:
            raise ValueError(f"interface name {self.ifname!r} must have 1..15 characters")


def tun_config(mtu: int = MAX_MTU, **overrides: int | bool | None) -> Config:
    """A core Config for a TUN of this MTU: MSS = MTU − 40 (at most :data:`MAX_MSS`),
    large buffers, and Linux's defaults for the options (timestamps, SACK and window
    scaling on: net.ipv4's tcp_timestamps, tcp_sack, tcp_window_scaling = 1)."""
    values: dict[str, int | bool | None] = {"mss": min(mtu - 40, MAX_MSS), "rcv_buf": 4 << 20,
                                            "snd_buf": 4 << 20, "timestamps": True}
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]


class TunDevice:
    """An open TUN device (non-blocking fd) inside a namespace."""

    def __init__(self, fd: int, settings: TunSettings) -> None:
        self.fd = fd
        self.settings = settings
        self.name = settings.ifname
        self.vnet = settings.offload

    @classmethod
    def open(cls, ns: Namespace, settings: TunSettings) -> TunDevice:
        """Create and configure the device inside ``ns``."""
        return ns.run(lambda: cls._open_here(settings))

    @classmethod
    def _open_here(cls, s: TunSettings) -> TunDevice:
        from pyroute2 import IPRoute  # type: ignore[import-untyped]
        from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD  # type: ignore[import-untyped]

        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if s.offload else 0)
            try:
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", s.ifname.encode(), flags))
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise NetnsError(f"device {s.ifname} is busy in namespace {s.netns!r}: "
                                     "is another synack running there?") from None
                raise
            if s.offload:
                fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM)
            dev = s.ifname
            # IPv6 on, but quiet: no router solicitations, no DAD, no link-local address
            # (TUN-NOTES §2); a strict reverse-path filter like the rest of the namespace.
            write_sysctl(f"net.ipv6.conf.{dev}.disable_ipv6", 0)
            write_sysctl(f"net.ipv6.conf.{dev}.accept_ra", 0)
            write_sysctl(f"net.ipv6.conf.{dev}.router_solicitations", 0)
            write_sysctl(f"net.ipv6.conf.{dev}.accept_dad", 0)
            write_sysctl(f"net.ipv6.conf.{dev}.addr_gen_mode", 1)
            write_sysctl(f"net.ipv4.conf.{dev}.rp_filter", 1)
            with IPRoute() as ipr:
                (index,) = ipr.link_lookup(ifname=dev)
                ipr.link("set", index=index, mtu=s.mtu, txqlen=s.txqueuelen)
                ipr.addr("add", index=index, address=s.kernel_v4, prefixlen=V4_PREFIXLEN)
                ipr.addr("add", index=index, address=s.kernel_v6, prefixlen=V6_PREFIXLEN, flags=IFA_F_NODAD)
                ipr.link("set", index=index, state="up")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, s)

    def close(self) -> None:
        """Close the fd: the device, its addresses and routes vanish (TUN-NOTES §13)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _packed(addr: str) -> bytes:
    """``addr``'s bytes, as the core's ``pack_addr`` gives them, with ``inet_pton``:
    a tenth of ``ipaddress``'s cost, and under a spoofed flood each SYN-ACK misses the
    caches (:func:`_route`, :func:`_addr_pair`) with a new address.  What
    ``inet_pton`` does not take (an IPv6 scope) goes to ``pack_addr``."""
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
    except OSError:
        return pack_addr(addr)


@functools.lru_cache(maxsize=1024)
def _route(src: str, dst: str) -> tuple[bool, bytes, int, int]:
    """What every packet from ``src`` to ``dst`` shares: (IPv6?, both addresses
    packed, the IPv4 header's sum without its total length, the pseudo-header sum
    without the TCP length), sums modulo 0xFFFF as in the core's checksums."""
    addrs = _packed(src) + _packed(dst)
    ip_sum = (0x4500 + 0x4000 + 0x4006 + int.from_bytes(addrs, "big")) % 0xFFFF
    return ":" in src, addrs, ip_sum, (int.from_bytes(addrs, "big") + 6) % 0xFFFF


def encode_offloaded(p: Packet) -> tuple[bytes, bytes]:
    """(virtio header + IP header + TCP header, payload) for a NEEDS_CSUM write.

    The checksum field holds the pseudo-header sum, as for any CHECKSUM_PARTIAL
    packet; the kernel does not verify a locally delivered partial checksum.  The
    bytes are those of the core's ``ipv4_header``/``ipv6_header`` and the TCP
    header, made with one ``pack`` and the per-route sums cached.
    """
    seg, src, dst = p.seg, p.src, p.dst
    v6, addrs, ip_sum, pseudo = _route(src, dst)
    payload = seg.payload
    if seg.options is NO_OPTIONS:
        tcp_len = 20 + len(payload)
        opts = b""
        offset = 0x50
    else:
        opts = encode_options(seg.options)
        tcp_len = 20 + len(opts) + len(payload)
        offset = (5 + len(opts) // 4) << 4
    partial = (pseudo + tcp_len) % 0xFFFF
    if v6:
        head = _V6_WRITE.pack(_VNET_V6, 6 << 28, tcp_len, 6, 64, addrs, seg.src_port, seg.dst_port,
                              seg.seq, seg.ack, offset, seg.flags, seg.window, partial, seg.urg)
    else:
        r = (ip_sum + 20 + tcp_len) % 0xFFFF
        head = _V4_WRITE.pack(_V4_START, 20 + tcp_len, _V4_MIDDLE, 0xFFFF - r if r else 0, addrs,
                              seg.src_port, seg.dst_port, seg.seq, seg.ack, offset, seg.flags,
                              seg.window, partial, seg.urg)
    return (head + opts if opts else head), payload


@functools.lru_cache(maxsize=1024)
def _addr_pair(raw: bytes) -> tuple[str, str]:
    """The IP header's source and destination as text.  IPv4 with ``inet_ntoa``, which
    writes what ``ipaddress`` writes (dotted decimal) at a sixth of the cost; IPv6
    through the core's ``unpack_addr``, whose form (RFC 5952, as ``ipaddress`` writes
    it) is not quite ``inet_ntop``'s."""
    if len(raw) == 8:
        return socket.inet_ntoa(raw[:4]), socket.inet_ntoa(raw[4:])
    return unpack_addr(raw[:16]), unpack_addr(raw[16:])


def parse_common(data: bytes, off: int) -> Packet | None:
    """The IP packet at ``data[off:]`` parsed, if it is the common kind; else None,
    and the core's ``receive_packet`` parses it (and counts why it is dropped).

    Common: IPv4 without options or fragmentation, its total length what was read
    and its header checksum right, or IPv6 with TCP as the next header and its
    payload length what was read; TCP that ``parse_segment`` takes (checksum not
    verified: the kernel leaves it unfilled, TUN-NOTES §6).  Exactly what the core
    would accept, parsed with fewer steps.
    """
    size = len(data) - off
    if size < 40:
        return None
    first = data[off]
    if first == 0x45:
        if data[off + 9] != 6 or (data[off + 2] << 8 | data[off + 3]) != size \
                or data[off + 6] & 0x3F or data[off + 7] \
                or int.from_bytes(data[off:off + 20], "big") % 0xFFFF:
            return None
        start = off + 20
        src, dst = _addr_pair(data[off + 12:start])
    elif first >> 4 == 6:
        if data[off + 6] != 6 or (data[off + 4] << 8 | data[off + 5]) != size - 40:
            return None
        start = off + 40
        src, dst = _addr_pair(data[off + 8:start])
    else:
        return None
    try:
        seg = parse_segment(data[start:])
    except MalformedSegment:
        return None
    return Packet(src, dst, seg)


def encode_plain(p: Packet) -> tuple[bytes, bytes]:
    """(IP header + TCP header, payload) with the TCP checksum computed here."""
    seg, src, dst = p.seg, p.src, p.dst
    opts = b"" if seg.options is NO_OPTIONS else encode_options(seg.options)
    tcp_len = 20 + len(opts) + len(seg.payload)
    head = _TCP.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack, (5 + len(opts) // 4) << 4, seg.flags,
                     seg.window, 0, seg.urg) + opts
    csum = tcp_checksum(head + seg.payload, src, dst)
    tcph = head[:16] + csum.to_bytes(2, "big") + head[18:]
    if ":" in src:
        return ipv6_header(src, dst, tcp_len) + tcph, seg.payload
    return ipv4_header(src, dst, tcp_len) + tcph, seg.payload


def with_tcp_checksum(packet: bytes) -> bytes:
    """``packet`` (IPv4 or IPv6 carrying TCP) with its TCP checksum computed."""
    if len(packet) < 20:
        return packet
    if packet[0] >> 4 == 6:
        ihl, src, dst = 40, packet[8:24], packet[24:40]
    else:
        ihl, src, dst = (packet[0] & 0x0F) * 4, packet[12:16], packet[16:20]
    tcp = packet[ihl:]
    if len(tcp) < 20:
        return packet
    zeroed = tcp[:16] + b"\x00\x00" + tcp[18:]
    csum = tcp_checksum(zeroed, str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)))
    return packet[:ihl] + tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]


class TunStack(Stack):
    """An endpoint on a TUN device, driven by the running asyncio loop."""

    def __init__(self, endpoint: Endpoint, device: TunDevice, *, pcap: PcapWriter | None = None,
                 faults: TunFaults | None = None) -> None:
        super().__init__(endpoint, pcap=pcap)
        self.device = device
        self.settings = device.settings
        self._fd = device.fd
        self._vnet = device.vnet
        self._bufsize = self.settings.mtu + (VNET_HDR_LEN if self._vnet else 0) + 64
        self._encode = encode_offloaded if self._vnet else encode_plain
        self.faults: TunFaults | None = None
        self._inbound: PathFaults | None = None
        self._outbound: PathFaults | None = None
        # Packets a fault delays: (what was read, its parse) inbound, packets outbound.
        self._held_in: Held[tuple[bytes, Packet | None]] = Held(self.loop, monotonic_us, self._release_in)
        self._held_out: Held[Packet] = Held(self.loop, monotonic_us, self._release_out)
        self.set_faults(faults)
        self._busy_ns = 0
        self._busy_until = 0  # (monotonic ns) the loop polls rather than sleeps until then
        self._busy = False  # _busy_poll is scheduled
        self.busy_poll_us = self.settings.busy_poll_us
        self.loop.add_reader(self._fd, self._on_readable)

    @property
    def busy_poll_us(self) -> int:
        """Busy polling, as Linux's ``net.core.busy_poll``: after handling a burst,
        the event loop keeps polling the device, without sleeping, for this many µs.
        A packet that comes in that time is read without waking the process, which
        is most of a userspace stack's latency behind a TUN (``bench/flood_bench.py``
        measures it); the price is CPU spent polling while traffic flows.  0 (the
        default): off."""
        return self._busy_ns // 1000

    @busy_poll_us.setter
    def busy_poll_us(self, us: int) -> None:
        self._busy_ns = check_busy_poll(us) * 1000

    @property
    def write_errors(self) -> int:
        """Packets the device refused (``drops["write-error"]``)."""
        return self.drops["write-error"]

    def set_faults(self, faults: TunFaults | None) -> None:
        """Impair the traffic from now on (None: no more).  Packets already held
        are released as planned."""
        if faults is not None:
            s = self.settings
            faults.bind({"synack": (s.synack_v4, s.synack_v6), "kernel": (s.kernel_v4, s.kernel_v6)})
        self.faults = faults
        self._inbound = faults.inbound if faults is not None else None
        self._outbound = faults.outbound if faults is not None else None

    @property
    def held(self) -> int:
        """Packets held back by faults right now (both directions)."""
        return len(self._held_in) + len(self._held_out)

    def pause_input(self) -> None:
        """Stop reading the device: what the kernel sends waits in the device's queue
        (for demos and tests that need a segment held back, e.g. to cross FINs)."""
        if not self.closed:
            self.loop.remove_reader(self._fd)

    def resume_input(self) -> None:
        if not self.closed:
            self.loop.add_reader(self._fd, self._on_readable)
            self.loop.call_soon(self._on_readable)

    def _on_readable(self) -> None:
        if self.closed:
            return
        fd, size, read = self._fd, self._bufsize, os.read
        ep = self.endpoint
        replies_to_send = ep.replies_to_send
        tap = self.pcap
        inbound = self._inbound
        off = VNET_HDR_LEN if self._vnet else 0
        now = monotonic_us()
        n = 0
        for _ in range(READ_BURST):
            try:
                data = read(fd, size)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # Not a packet but the device failing: stop reading it rather than be
                # woken for the same error again and again.  The connections then
                # time out on their own.
                self.report("read", exc)
                self.loop.remove_reader(fd)
                break
            n += 1
            try:
                if tap is not None:
                    self._tap_in(now, data)
                if inbound is not None:
                    self._impair_in(inbound, data, now)
                elif off:
                    # Checksums unfilled (TUN_F_CSUM), so never verified (TUN-NOTES §6).
                    p = parse_common(data, off)
                    if p is not None:
                        ep.receive_segment(p.seg, p.src, p.dst, now)
                    else:
                        ep.receive_packet(data[off:], now, verify_checksum=False)
                else:
                    ep.receive_packet(data, now)
                # Answers without a connection (SYN-ACKs above all) leave at once; the
                # connections' output waits for the burst's end (Endpoint.replies_to_send).
                replies = replies_to_send(now)
                if replies:
                    self.packets_out += len(replies)
                    self._transmit(replies, now)
            except Exception as exc:
                self.report("receive", exc)
        self.packets_in += n
        if n:
            self._flush()
            if self._busy_ns:
                self._busy_until = time.monotonic_ns() + self._busy_ns
                if not self._busy:
                    self._busy = True
                    self.loop.call_soon(self._busy_poll)

    def _busy_poll(self) -> None:
        """Keeps the event loop from sleeping until busy_poll_us after the last burst:
        with a callback ready, each round of the loop polls the device without
        blocking, so a packet that comes is read without a wake-up, and the loop's
        other callbacks (the application's above all) run in between as ever."""
        if self.closed or time.monotonic_ns() >= self._busy_until:
            self._busy = False
        else:
            self.loop.call_soon(self._busy_poll)

    def _deliver_in(self, data: bytes, p: Packet | None, now: int) -> None:
        """What was read, to the endpoint (as :meth:`_on_readable` does)."""
        if not self._vnet:
            self.endpoint.receive_packet(data, now)
        elif p is not None:
            self.endpoint.receive_segment(p.seg, p.src, p.dst, now)
        else:
            self.endpoint.receive_packet(data[VNET_HDR_LEN:], now, verify_checksum=False)

    def _fate(self, faults: PathFaults, now: int, p: Packet | None) -> list[int]:
        """When the copies of ``p`` are due; a fault layer that fails (a predicate
        that raises) lets the packet pass untouched."""
        try:
            if p is None:
                return faults.fate(now, "", "", None)
            return faults.fate(now, p.src, p.dst, p.seg)
        except Exception as exc:
            self.report("fault", exc)
            return [now]

    def _impair_in(self, faults: PathFaults, data: bytes, now: int) -> None:
        # Parsed for the faults' predicates (a packet parse_common leaves to the core
        # meets only the random impairments).
        p = parse_common(data, VNET_HDR_LEN if self._vnet else 0)
        for due in self._fate(faults, now, p):
            if due <= now:
                self._deliver_in(data, p, now)
            elif not self._held_in.hold(due, (data, p)):
                self.drop("hold-full")

    def _release_in(self, items: list[tuple[bytes, Packet | None]], now: int) -> None:
        """Held packets, now due, to the endpoint (from the loop's timer)."""
        if self.closed:
            return
        for data, p in items:
            try:
                self._deliver_in(data, p, now)
            except Exception as exc:
                self.report("receive", exc)
        self._flush()

    def _tap_in(self, now: int, data: bytes) -> None:
        if not self._vnet:
            self._tap(now, data)
        elif data[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            self._tap(now, with_tcp_checksum(data[VNET_HDR_LEN:]))
        else:
            self._tap(now, data[VNET_HDR_LEN:])

    def _transmit(self, packets: list[Packet], now: int) -> None:
        outbound = self._outbound
        if outbound is not None:
            packets = self._impair_out(outbound, packets, now)
        self._write(packets, now)

    def _impair_out(self, faults: PathFaults, packets: list[Packet], now: int) -> list[Packet]:
        """The packets to write now; the others are held (or dropped)."""
        out = []
        held = self._held_out
        for p in packets:
            for due in self._fate(faults, now, p):
                if due <= now:
                    out.append(p)
                elif not held.hold(due, p):
                    self.drop("hold-full")
        return out

    def _release_out(self, packets: list[Packet], now: int) -> None:
        """Held packets, now due, to the device (from the loop's timer)."""
        if self.closed:
            return
        try:
            self._write(packets, now)
        except Exception as exc:
            self.report("release", exc)

    def _write(self, packets: list[Packet], now: int) -> None:
        """Each packet to the device; one that cannot be encoded or written is dropped
        and counted, and the others go on."""
        fd, encode = self._fd, self._encode
        write, writev = os.write, os.writev
        for p in packets:
            try:
                head, payload = encode(p)
            except Exception as exc:
                self.drop(encode_failure(p), exc)
                continue
            try:
                if payload:
                    writev(fd, (head, payload))
                else:
                    write(fd, head)
            except OSError:
                # The device refused it (queue full, or going away): a loss TCP recovers.
                self.drops["write-error"] += 1
                continue
            if self.pcap is not None:
                if self._vnet:
                    self._tap(now, with_tcp_checksum(head[VNET_HDR_LEN:] + payload))
                else:
                    self._tap(now, head + payload)

    def _last_words(self) -> None:
        # aclose: what the faults still hold back leaves now (the RSTs of aborted
        # connections among it), rather than be dropped by close().
        if not self.closed:
            self._write(self._held_out.take_all(), monotonic_us())

    def counters(self) -> dict[str, Any]:
        doc = super().counters()
        doc["held"] = self.held
        if self.faults is not None:
            doc["faults"] = self.faults.as_dict()
        return doc

    def close(self) -> None:
        if self.closed:
            return
        self.loop.remove_reader(self._fd)
        left = len(self._held_in.take_all()) + len(self._held_out.take_all())
        if left:
            self.drops["held-at-close"] += left
        super().close()
        self.device.close()


@asynccontextmanager
async def open_tun(settings: TunSettings | None = None, *, config: Config | None = None,
                   pcap: str | None = None, name: str = "synack",
                   faults: TunFaults | None = None) -> AsyncIterator[TunStack]:
    """A running :class:`TunStack` in the namespace ``settings.netns`` (joined if it
    exists, else created and removed on exit).  It becomes the loop's default stack,
    so ``synack.open_connection``/``start_server`` use it.  ``faults`` impair its
    traffic (:mod:`synack.drivers.faults`).  On exit, connections that are closing get
    up to 2 s to finish, the rest are reset, the device goes."""
    s = settings if settings is not None else TunSettings()
    ns = Namespace.join_or_create(s.netns)
    try:
        device = TunDevice.open(ns, s)
        try:
            cfg = config if config is not None else tun_config(s.mtu)
            endpoint = Endpoint([s.synack_v4, s.synack_v6], cfg, name=name)
            writer = PcapWriter.open(pcap) if pcap else None
        except BaseException:
            device.close()
            raise
        stack = TunStack(endpoint, device, pcap=writer, faults=faults)
        try:
            yield stack
        finally:
            await stack.aclose()
    finally:
        ns.close()

