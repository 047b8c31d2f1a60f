"""Mutations: of a segment (flags, sequence and acknowledgment numbers around the
edges that matter, windows, options, payload, urgent pointer, ports) and of the raw
IP packet that carries one (bit flips, truncation, header fields, malformed option
blocks; checksums right or wrong)."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from typing import Final

from synack.core.ip import ipv4_header, ipv6_header
from synack.core.seq import HALF, MASK
from synack.core.wire import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Options,
    Segment,
    encode_options,
    internet_checksum,
    pack_addr,
    tcp_checksum,
    unpack_addr,
)

from .common import pattern

COMMON_FLAGS: Final = (ACK, ACK | PSH, FIN | ACK, FIN, RST, RST | ACK, SYN, SYN | ACK, 0, URG | ACK,
                       FIN | PSH | ACK, SYN | FIN, SYN | RST, RST | FIN | ACK, 0xFF, ACK | 0x40 | 0x80)
SMALL: Final = (1, 2, 3)
EDGE_DELTAS: Final = (1, 2, 100, 535, 536, 1459, 1460, 1461, 2920, 3000, 65534, 65535, 65536, 65537,
                      70000, 1 << 20, HALF - 1, HALF, HALF + 1, MASK)


@dataclass(slots=True)
class Anchors:
    """The numbers mutations aim at: our receive space (the peer's sequence numbers),
    our send space (its acknowledgment numbers), and both ends' timestamps."""

    rcv_nxt: int
    rcv_wnd: int
    rcv_adv: int
    irs: int
    snd_una: int
    snd_nxt: int
    snd_max: int
    iss: int
    max_snd_wnd: int
    mss: int
    peer_ts: int      # the peer's clock now (a TSval it would send)
    our_ts: int       # our latest TSval it saw (what it echoes)

    def seq_anchor(self, rng: random.Random) -> int:
        r = rng.randrange(9)
        if r < 4:
            return self.rcv_nxt
        if r == 4:
            return (self.rcv_nxt + self.rcv_wnd) & MASK
        if r == 5:
            return self.rcv_adv
        if r == 6:
            return self.irs
        if r == 7:
            return (self.rcv_nxt - 1) & MASK
        return rng.choice((0, HALF, MASK, rng.getrandbits(32)))

    def ack_anchor(self, rng: random.Random) -> int:
        r = rng.randrange(9)
        if r < 2:
            return self.snd_una
        if r < 4:
            return self.snd_max
        if r == 4:
            return self.snd_nxt
        if r == 5:
            return self.iss
        if r == 6:
            return (self.snd_una - self.max_snd_wnd) & MASK  # RFC 5961 §5's lower edge
        if r == 7:
            return (self.iss + 1) & MASK
        return rng.choice((0, HALF, MASK, rng.getrandbits(32)))


def delta(rng: random.Random, mss: int = 1460) -> int:
    r = rng.randrange(10)
    if r < 3:
        return 0
    sign = -1 if rng.random() < 0.5 else 1
    if r < 6:
        return sign * rng.choice(SMALL)
    if r < 8:
        return sign * rng.choice((*EDGE_DELTAS, mss, mss - 1, mss + 1))
    if r < 9:
        return sign * rng.randrange(4, 70000)
    return rng.getrandbits(32)


def sack_block(rng: random.Random, a: Anchors) -> tuple[int, int]:
    una, top = a.snd_una, a.snd_max
    span = (top - una) & MASK
    r = rng.randrange(8)
    if r < 3 and span > 0 and span < HALF:
        left = (una + rng.randrange(span)) & MASK
        return left, (left + 1 + rng.randrange((top - left) & MASK or 1)) & MASK  # inside
    if r == 3:
        return (una - rng.randrange(1, 3000)) & MASK, una  # below SND.UNA: a D-SACK
    if r == 4:
        return top, (top + rng.randrange(1, 70000)) & MASK  # beyond SND.MAX
    if r == 5:
        left = (una + delta(rng)) & MASK
        return left, (left - rng.randrange(1, 5000)) & MASK  # reversed
    if r == 6:
        return (MASK - rng.randrange(100)) & MASK, rng.randrange(100)  # across the wrap
    left = rng.getrandbits(32)
    return left, (left + rng.choice((0, 1, HALF, rng.getrandbits(32)))) & MASK


def timestamps(rng: random.Random, a: Anchors) -> tuple[int, int]:
    r = rng.randrange(6)
    if r < 2:
        val = a.peer_ts
    elif r == 2:
        val = (a.peer_ts - rng.choice((1, 2, 1000, HALF - 1, HALF, HALF + 1))) & MASK  # older (PAWS)
    elif r == 3:
        val = (a.peer_ts + rng.choice((1, 1000, HALF - 1, HALF))) & MASK  # newer
    elif r == 4:
        val = rng.choice((0, 1, MASK, HALF))
    else:
        val = rng.getrandbits(32)
    r = rng.randrange(5)
    if r < 2:
        ecr = a.our_ts
    elif r == 2:
        ecr = 0
    elif r == 3:
        ecr = (a.our_ts + delta(rng)) & MASK
    else:
        ecr = rng.getrandbits(32)
    return val, ecr


def mutate_options(rng: random.Random, o: Options, a: Anchors) -> Options:
    r = rng.randrange(10)
    if r == 0:
        return Options()
    if r == 1:
        return o._replace(mss=rng.choice((1, 47, 48, 88, 535, 536, 1460, 9000, 65535)))
    if r == 2:
        return o._replace(wscale=rng.choice((0, 1, 7, 14, 15, 16, 255)))
    if r == 3:
        return o._replace(sack_permitted=not o.sack_permitted)
    if r in (4, 5):
        return o._replace(timestamps=timestamps(rng, a))
    if r == 6:
        return o._replace(timestamps=None)
    if r in (7, 8):
        n = rng.randrange(1, 5)
        return o._replace(sack_blocks=tuple(sack_block(rng, a) for _ in range(n)))
    return o._replace(sack_blocks=())


def fit_options(o: Options) -> Options:
    """Drop SACK blocks (then the rest) until the options fit 40 octets."""
    room = 40 - (4 if o.mss is not None else 0) - (4 if o.wscale is not None else 0) \
        - (12 if o.timestamps is not None else (4 if o.sack_permitted else 0))
    blocks = o.sack_blocks
    while blocks and 4 + 8 * len(blocks) > room:
        blocks = blocks[:-1]
    if blocks is not o.sack_blocks:
        o = o._replace(sack_blocks=blocks)
    return o


def mutate_segment(rng: random.Random, seg: Segment, a: Anchors, rounds: int) -> Segment:
    """``seg`` changed in ``rounds`` ways; the payload is then what its (new) sequence
    numbers name."""
    sport, dport, seq, ack, flags, window, opts, payload, urg = seg
    n = len(payload)
    for _ in range(rounds):
        r = rng.randrange(20)
        if r < 3:  # flags
            k = rng.randrange(3)
            if k == 0:
                flags ^= 1 << rng.randrange(8)
            elif k == 1:
                flags = rng.choice(COMMON_FLAGS)
            else:
                flags = rng.getrandbits(8)
        elif r < 6:  # seq, around the receive space's edges
            seq = (a.seq_anchor(rng) + delta(rng, a.mss)) & MASK if rng.random() < 0.6 \
                else (seq + delta(rng, a.mss)) & MASK
        elif r < 9:  # ack, around the send space's edges
            ack = (a.ack_anchor(rng) + delta(rng, a.mss)) & MASK if rng.random() < 0.6 \
                else (ack + delta(rng, a.mss)) & MASK
            if rng.random() < 0.2:
                flags ^= ACK
        elif r < 11:  # window
            window = rng.choice((0, 0, 1, 2, window >> 1, window + 1, 0x7FFF, 0xFFFF, rng.getrandbits(16)))
            window &= 0xFFFF
        elif r < 15:  # options
            opts = mutate_options(rng, opts, a)
        elif r < 17:  # payload length
            n = rng.choice((0, 0, 1, max(n - 1, 0), n + 1, a.mss, a.mss + 1, 2 * a.mss,
                            max(a.rcv_wnd, 0), max(a.rcv_wnd, 0) + 1, rng.randrange(0, 9000)))
            n = min(n, 65000)
        elif r < 18:  # urgent pointer
            if rng.random() < 0.7:
                flags |= URG
            urg = rng.choice((0, 1, n, n + 1, 0xFFFF, rng.getrandbits(16)))
        elif r < 19:  # ports: a stray for a neighbour
            if rng.random() < 0.5:
                sport = (sport + rng.choice((1, -1, 1000))) & 0xFFFF
            else:
                dport = (dport + rng.choice((1, -1))) & 0xFFFF
        else:  # a SYN's options on anything, or a SYN with everything
            flags |= SYN if rng.random() < 0.5 else 0
            opts = Options(mss=rng.choice((None, 0, 536, 65535)), wscale=rng.choice((None, 7, 14, 15)),
                           sack_permitted=rng.random() < 0.5,
                           timestamps=timestamps(rng, a) if rng.random() < 0.5 else None)
    data_seq = (seq + 1) & MASK if flags & SYN else seq
    return Segment(sport, dport, seq, ack, flags & 0xFF, window, fit_options(opts), pattern(data_seq, n),
                   urg & 0xFFFF)


# -- raw packets ---------------------------------------------------------------------------
_TCP_HDR: Final = struct.Struct("!HHIIBBHHH")


def junk_options(rng: random.Random) -> bytes:
    """An option block of well-formed, malformed and unknown options, at most 40 octets."""
    pieces = []
    for _ in range(rng.randrange(1, 7)):
        r = rng.randrange(22)
        if r == 0:
            p = b"\x01"
        elif r == 1:
            p = b"\x00" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(4)))  # EOL, then junk
        elif r == 2:
            p = b"\x02\x04" + rng.getrandbits(16).to_bytes(2, "big")
        elif r == 3:
            p = bytes((2, rng.choice((0, 1, 2, 3, 5, 40)))) + b"\x05\xb4"
        elif r == 4:
            p = b"\x03\x03" + bytes((rng.choice((0, 7, 14, 15, 255)),))
        elif r == 5:
            p = bytes((3, rng.choice((2, 4, 0)), 7))
        elif r == 6:
            p = b"\x04\x02"
        elif r == 7:
            p = b"\x04\x03\x00"
        elif r == 8:
            p = b"\x08\x0a" + rng.getrandbits(64).to_bytes(8, "big")
        elif r == 9:
            p = bytes((8, rng.choice((9, 11, 2, 0)))) + bytes(8)
        elif r == 10:
            k = rng.randrange(1, 5)
            p = bytes((5, 2 + 8 * k)) + rng.getrandbits(64 * k).to_bytes(8 * k, "big")
        elif r == 11:
            p = bytes((5, rng.choice((2, 3, 9, 11, 18, 255)))) + bytes(9)
        elif r == 12:
            length = rng.randrange(2, 12)
            p = bytes((rng.choice((6, 7, 9, 19, 28, 30, 34, 253, 254)), length)) + bytes(length - 2)
        elif r == 13:
            p = bytes((rng.choice((9, 34, 200)), rng.choice((0, 1))))
        elif r == 14:
            p = bytes((rng.choice((2, 3, 8, 5)),))  # a kind without its length byte
        elif r == 15:
            p = bytes((8, 10, 0, 0))  # runs past the block
        elif r == 16:
            p = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 9)))
        else:
            p = b"\x01" * rng.randrange(1, 4)
        pieces.append(p)
    block = b"".join(pieces)[:40]
    pad = (-len(block)) & 3
    return block + rng.choice((b"\x00", b"\x01", b"\xff")) * pad


def tcp_bytes(seg: Segment, src: str, dst: str, options: bytes) -> bytes:
    """The TCP header and payload of ``seg`` with a raw option block, checksum right."""
    head = _TCP_HDR.pack(seg.src_port, seg.dst_port, seg.seq, seg.ack, (5 + len(options) // 4) << 4,
                         seg.flags, seg.window, 0, seg.urg) + options
    tcp = head + seg.payload
    csum = tcp_checksum(tcp, src, dst)
    return tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]


def ip_wrap(tcp: bytes, src: str, dst: str) -> bytes:
    if ":" in src:
        return ipv6_header(src, dst, len(tcp)) + tcp
    return ipv4_header(src, dst, len(tcp)) + tcp


def fix_checksums(data: bytearray, tcp_too: bool) -> None:
    """Make the IPv4 header checksum right and, if ``tcp_too``, the TCP checksum (when
    the headers still say where the segment is)."""
    if not data:
        return
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        ihl = (data[0] & 0x0F) * 4
        if ihl < 20 or ihl > len(data):
            return
        data[10:12] = b"\x00\x00"
        data[10:12] = internet_checksum(bytes(data[:ihl])).to_bytes(2, "big")
        total = int.from_bytes(data[2:4], "big")
        if not tcp_too or total < ihl + 18 or total > len(data):
            return
        start, end = ihl, total
        src, dst = unpack_addr(bytes(data[12:16])), unpack_addr(bytes(data[16:20]))
    elif version == 6 and len(data) >= 40:
        plen = int.from_bytes(data[4:6], "big")
        if not tcp_too or plen < 18 or 40 + plen > len(data):
            return
        start, end = 40, 40 + plen
        src, dst = unpack_addr(bytes(data[8:24])), unpack_addr(bytes(data[24:40]))
    else:
        return
    data[start + 16:start + 18] = b"\x00\x00"
    csum = tcp_checksum(bytes(data[start:end]), src, dst)
    data[start + 16:start + 18] = csum.to_bytes(2, "big")


def mutate_packet(rng: random.Random, seg: Segment, src: str, dst: str, rounds: int) -> tuple[bytes, bool]:
    """``seg`` as an IP packet from ``src`` to ``dst``, then corrupted ``rounds`` times;
    and whether the checksums were made right again afterwards (the corruption then
    reaches the parser, and what it changed is taken as sent)."""
    v6 = ":" in src
    opts_raw = None
    if rng.random() < 0.3:
        opts_raw = junk_options(rng)
    tcp = tcp_bytes(seg, src, dst, encode_options(seg.options) if opts_raw is None else opts_raw)
    data = bytearray(ip_wrap(tcp, src, dst))
    ip_len = 40 if v6 else 20
    for _ in range(rounds if opts_raw is None else rounds - 1):
        r = rng.randrange(12)
        size = len(data)
        if size <= ip_len + 20:
            r = 8  # (truncated already: only add octets)
        if r < 3:  # bit flips anywhere
            for _ in range(rng.randrange(1, 4)):
                i = rng.randrange(size * 8)
                data[i >> 3] ^= 1 << (i & 7)
        elif r < 6:  # bit flips in the TCP header
            i = rng.randrange(ip_len * 8, min(size, ip_len + 40) * 8)
            data[i >> 3] ^= 1 << (i & 7)
        elif r == 6:  # a byte set
            data[rng.randrange(size)] = rng.getrandbits(8)
        elif r == 7:  # truncated, the IP length told or not
            cut = rng.randrange(size)
            del data[cut:]
            if rng.random() < 0.5 and data:
                _set_ip_length(data, v6)
        elif r == 8:  # trailing octets, the IP length told or not
            data += bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 20)))
            if rng.random() < 0.5:
                _set_ip_length(data, v6)
        elif r == 9:  # the data offset
            if size > ip_len + 12:
                data[ip_len + 12] = (rng.randrange(16) << 4) | (data[ip_len + 12] & 0x0F)
        elif r == 10:  # IP header fields
            _mutate_ip(rng, data, v6)
        else:  # the reserved bits and flags (ECE, CWR, the NS bit)
            if size > ip_len + 13:
                data[ip_len + 12] ^= 1 << rng.randrange(4)
                data[ip_len + 13] ^= 1 << rng.randrange(8)
    fixed = rng.random() < 0.6
    fix_checksums(data, fixed)
    return bytes(data), fixed


def _set_ip_length(data: bytearray, v6: bool) -> None:
    if v6:
        if len(data) >= 6:
            data[4:6] = max(len(data) - 40, 0).to_bytes(2, "big")
    elif len(data) >= 4:
        data[2:4] = len(data).to_bytes(2, "big")


def _mutate_ip(rng: random.Random, data: bytearray, v6: bool) -> None:
    r = rng.randrange(6)
    if len(data) < (40 if v6 else 20):
        return
    if r == 0:
        data[0] = (rng.choice((0, 4, 5, 6, 7, 15)) << 4) | (data[0] & 0x0F)
    elif v6:
        if r == 1:
            data[6] = rng.choice((0, 17, 43, 44, 58, 59))  # next header: not TCP
        elif r == 2:
            data[4:6] = rng.getrandbits(16).to_bytes(2, "big")
        elif r == 3:
            data[24:40] = pack_addr(rng.choice(("fd00::3", "fd00::1", "ff02::1", "::1")))  # another dst
        else:
            data[8:24] = pack_addr(rng.choice(("fd00::3", "ff02::1", "::")))  # another src
    else:
        if r == 1:
            data[0] = (data[0] & 0xF0) | rng.choice((0, 4, 6, 15))  # IHL
        elif r == 2:
            data[6:8] = rng.choice((b"\x20\x00", b"\x00\x01", b"\x40\x00", b"\x3f\xff"))  # fragments
        elif r == 3:
            data[9] = rng.choice((0, 1, 17, 255))  # protocol
        elif r == 4:
            data[2:4] = rng.getrandbits(16).to_bytes(2, "big")
        else:
            which = rng.randrange(2)
            addr = rng.choice(("10.0.0.3", "10.0.0.1", "224.0.0.1", "0.0.0.0", "255.255.255.255"))
            data[12 + 4 * which:16 + 4 * which] = pack_addr(addr)


def foreign_destination(data: bytes, ours: frozenset[str]) -> bool:
    """Whether ``data`` is an IP packet that parses far enough to name a destination
    that is not one of ``ours``."""
    if len(data) >= 40 and data[0] >> 4 == 6:
        return unpack_addr(bytes(data[24:40])) not in ours
    if len(data) >= 20 and data[0] >> 4 == 4:
        return unpack_addr(bytes(data[16:20])) not in ours
    return False
