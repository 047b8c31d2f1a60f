"""The pcap writer: exact bytes, two independent readers (scapy and tshark).

The tshark tests skip when tshark is missing, except under ``CI=true``, where a
missing tshark fails them: CI must prove that Wireshark reads our captures.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
from scapy.utils import RawPcapReader

from support.ci import unavailable
from synack.capture import LINKTYPE_RAW, SNAPLEN, PcapWriter, write_pcap
from synack.core.ip import build_packet, ipv4_header
from synack.core.wire import ACK, FIN, PSH, SYN, Options, Segment

CLIENT4, SERVER4 = "198.18.0.2", "198.18.0.1"
CLIENT6, SERVER6 = "fd00:5ac::2", "fd00:5ac::1"
C_ISS, S_ISS = 2**32 - 3, 3000000000   # the client's data crosses 2**32


def exchange(client: str, server: str) -> list[tuple[int, str, str, Segment]]:
    """Handshake, 5 bytes of data, and a close: ``(t_us, src, dst, segment)``."""
    c, s = 40000, 80
    c1, c6, c7 = C_ISS + 1, (C_ISS + 6) % 2**32, (C_ISS + 7) % 2**32
    syn_opts = Options(mss=1460, wscale=7, sack_permitted=True, timestamps=(1000, 0))
    return [
        (1_000_000, client, server, Segment(c, s, C_ISS, 0, SYN, 64240, syn_opts)),
        (1_000_250, server, client, Segment(s, c, S_ISS, c1, SYN | ACK, 65160,
                                            syn_opts._replace(timestamps=(5000, 1000)))),
        (1_000_500, client, server, Segment(c, s, c1, S_ISS + 1, ACK, 502)),
        (1_000_600, client, server, Segment(c, s, c1, S_ISS + 1, PSH | ACK, 502, payload=b"hello")),
        (1_000_850, server, client, Segment(s, c, S_ISS + 1, c6, ACK, 510)),
        (2_000_000, client, server, Segment(c, s, c6, S_ISS + 1, FIN | ACK, 502)),
        (2_000_250, server, client, Segment(s, c, S_ISS + 1, c7, FIN | ACK, 510)),
        (2_000_500, client, server, Segment(c, s, c7, S_ISS + 2, ACK, 502)),
    ]


def packets(rows: Iterable[tuple[int, str, str, Segment]]) -> list[tuple[int, bytes]]:
    return [(t, build_packet(seg, src, dst)) for t, src, dst, seg in rows]


def tcpdump_letters(flags: int) -> str:
    """Written out here rather than taken from wire.flags_str, which is under test elsewhere."""
    return "".join(letter for bit, letter in ((FIN, "F"), (SYN, "S"), (PSH, "P"), (ACK, "A"))
                   if flags & bit)


# -- the bytes ------------------------------------------------------------------------------
def test_global_header_bytes() -> None:
    out = io.BytesIO()
    PcapWriter(out)
    assert out.getvalue() == bytes.fromhex("d4c3b2a1 0200 0400 00000000 00000000 00000400 65000000")
    assert struct.unpack("<IHHiIII", out.getvalue()) == (0xA1B2C3D4, 2, 4, 0, 0, 262144, 101)


def test_record_bytes() -> None:
    out = io.BytesIO()
    writer = PcapWriter(out)
    writer.write(3_000_042, b"\x45abc")
    assert out.getvalue()[24:] == struct.pack("<IIII", 3, 42, 4, 4) + b"\x45abc"
    assert writer.packets == 1


def test_packet_longer_than_snaplen_is_cut_with_original_length_kept() -> None:
    out = io.BytesIO()
    writer = PcapWriter(out, snaplen=8)
    writer.write(0, bytes(range(20)))
    assert out.getvalue()[8 + 8:12 + 8] == struct.pack("<I", 8)          # snaplen in the header
    assert out.getvalue()[24:] == struct.pack("<IIII", 0, 0, 8, 20) + bytes(range(8))


@pytest.mark.parametrize("t_us", [-1, 2**32 * 1_000_000])
def test_timestamp_out_of_range_raises(t_us: int) -> None:
    writer = PcapWriter(io.BytesIO())
    with pytest.raises(ValueError):
        writer.write(t_us, b"\x45")


def test_largest_timestamp_is_written() -> None:
    out = io.BytesIO()
    PcapWriter(out).write(2**32 * 1_000_000 - 1, b"")
    assert out.getvalue()[24:] == struct.pack("<IIII", 2**32 - 1, 999_999, 0, 0)


def test_close_flushes_but_leaves_a_given_stream_open() -> None:
    out = io.BytesIO()
    with PcapWriter(out) as writer:
        writer.write(1, b"\x60")
    assert writer.closed and not out.closed
    writer.close()   # idempotent
    with pytest.raises(ValueError):
        writer.write(2, b"\x60")
    assert len(out.getvalue()) == 24 + 16 + 1


def test_open_owns_and_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    writer = PcapWriter.open(path)
    writer.write(5, b"\x45\x00")
    writer.close()
    assert writer.closed
    assert path.read_bytes()[24:] == struct.pack("<IIII", 0, 5, 2, 2) + b"\x45\x00"


def test_write_pcap_is_read_back_by_scapy(tmp_path: Path) -> None:
    path = tmp_path / "handshake.pcap"
    pkts = packets(exchange(CLIENT4, SERVER4)) + packets(exchange(CLIENT6, SERVER6))
    assert write_pcap(path, pkts) == len(pkts)
    reader = RawPcapReader(str(path))
    try:
        assert (reader.linktype, reader.snaplen) == (LINKTYPE_RAW, SNAPLEN)
        got = [(meta.sec * 1_000_000 + meta.usec, data, meta.wirelen) for data, meta in reader]
    finally:
        reader.close()
    assert got == [(t, data, len(data)) for t, data in pkts]


# -- tshark -----------------------------------------------------------------------------------
ROOT_WARNING = 'Running as user "root"'


@pytest.fixture
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        unavailable("tshark is not installed; install it to check captures with Wireshark's dissectors")
    return path


def run_tshark(tshark: str, path: Path, *args: str) -> str:
    """tshark's stdout; fails on a non-zero exit or anything on stderr."""
    cmd = [tshark, "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE",
           "-o", "ip.check_checksum:TRUE", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    stderr = "\n".join(line for line in proc.stderr.splitlines() if ROOT_WARNING not in line)
    assert proc.returncode == 0 and stderr == "", f"{cmd} exited {proc.returncode}: {stderr}"
    return proc.stdout


def tshark_problems(tshark: str, path: Path) -> list[str]:
    """Malformed packets and expert errors or warnings, as tshark reports them."""
    problems: list[str] = []
    expert = run_tshark(tshark, path, "-q", "-z", "expert")
    for line in expert.splitlines():
        if line.startswith(("Errors (", "Warns (")) or "Malformed" in line:
            problems.append(line.strip())
    listing = run_tshark(tshark, path)
    problems += [line for line in listing.splitlines() if "Malformed" in line]
    return problems


FIELDS = ("frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.flags.str",
          "tcp.seq_raw", "tcp.ack_raw", "tcp.len", "tcp.window_size_value", "tcp.checksum.status")


def tshark_rows(tshark: str, path: Path) -> list[dict[str, str]]:
    args: list[str] = ["-T", "fields", "-E", "separator=/t"]
    for field in FIELDS:
        args += ["-e", field]
    out = run_tshark(tshark, path, *args)
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def letters_from_tshark(flags_str: str) -> str:
    """tshark's ``·······AP···`` as tcpdump's ``PA``."""
    present = set(flags_str) - {"·"}
    return "".join(letter for letter in "FSRPA" if letter in present)


@pytest.mark.parametrize(("client", "server"), [(CLIENT4, SERVER4), (CLIENT6, SERVER6)], ids=["ipv4", "ipv6"])
def test_tshark_reads_handshake_and_close(tshark: str, tmp_path: Path, client: str, server: str) -> None:
    rows = exchange(client, server)
    path = tmp_path / "exchange.pcap"
    write_pcap(path, packets(rows))
    got = tshark_rows(tshark, path)
    v6 = ":" in client
    expected = [{
        "frame.time_epoch": f"{t // 1_000_000}.{t % 1_000_000:06d}000",
        "ip.src": "" if v6 else src, "ip.dst": "" if v6 else dst,
        "ipv6.src": src if v6 else "", "ipv6.dst": dst if v6 else "",
        "tcp.flags.str": tcpdump_letters(seg.flags),
        "tcp.seq_raw": str(seg.seq), "tcp.ack_raw": str(seg.ack) if seg.flags & ACK else "0",
        "tcp.len": str(len(seg.payload)), "tcp.window_size_value": str(seg.window),
        "tcp.checksum.status": "1",   # 1 = Good (checked: -o tcp.check_checksum:TRUE)
    } for t, src, dst, seg in rows]
    for row in got:
        row["tcp.flags.str"] = letters_from_tshark(row["tcp.flags.str"])
    assert got == expected
    assert tshark_problems(tshark, path) == []


def test_tshark_checker_catches_malformed_packets(tshark: str, tmp_path: Path) -> None:
    # The negative control for tshark_problems: a bad checksum and a data offset of 15
    # in a 20-byte TCP header must be reported.
    good = build_packet(Segment(40000, 80, 1, 0, SYN, 1000), CLIENT4, SERVER4)
    bad_checksum = good[:36] + bytes([good[36] ^ 0xFF]) + good[37:]
    bad_offset = ipv4_header(CLIENT4, SERVER4, 20) + good[20:32] + b"\xf0" + good[33:40]
    path = tmp_path / "bad.pcap"
    write_pcap(path, [(0, good), (1, bad_checksum), (2, bad_offset)])
    problems = tshark_problems(tshark, path)
    assert any(p.startswith("Errors (") for p in problems)
    assert any("Malformed" in p for p in problems)
    path.write_bytes(path.read_bytes()[:-3])   # cut short in the middle of a packet
    with pytest.raises(AssertionError, match="exited"):
        run_tshark(tshark, path)
