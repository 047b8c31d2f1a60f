"""The matcher and the builder both targets use (synack.drill.runner)."""

from __future__ import annotations

from synack.core import wire
from synack.core.wire import Options, Segment
from synack.drill.runner import (
    REMOTE_ISN,
    Clock,
    SeqSpace,
    build_inbound,
    inbound_option_bytes,
    match_outbound,
    time_error,
)
from synack.drill.script import Direction, PacketLine, TcpOption, TimeKind, TimeSpec

T0 = TimeSpec(TimeKind.RELATIVE, 0)


def out(flags: str, start: int, length: int = 0, *, ack: int | None = None, win: int | None = None,
        options: tuple[TcpOption, ...] | None = ()) -> PacketLine:
    return PacketLine(1, T0, Direction.OUTBOUND, flags, start, start + length, length, ack, win,
                      None, options)


def test_synack_matches_and_teaches_the_isn() -> None:
    space = SeqSpace()
    seg = Segment(8080, 48879, 1000, REMOTE_ISN + 1, wire.SYN | wire.ACK, 65535,
                  Options(mss=1460, wscale=7, sack_permitted=True))
    line = out("S.", 0, ack=1, win=65535,
               options=(TcpOption("mss", (1460,)), TcpOption("nop"), TcpOption("nop"),
                        TcpOption("sackOK"), TcpOption("nop"), TcpOption("wscale", (7,))))
    assert match_outbound(line, seg, space) is None
    assert space.local_isn == 1000


def test_mismatches_name_the_field() -> None:
    space = SeqSpace(local_isn=1000)
    seg = Segment(8080, 48879, 1001, REMOTE_ISN + 1, wire.ACK, 502)
    assert match_outbound(out(".", 1, ack=1, win=502), seg, space) is None
    assert match_outbound(out(".", 1, ack=2), seg, space) == "ack: expected 2 got 1"
    assert match_outbound(out(".", 1, ack=1, win=500), seg, space) == "win: expected 500 got 502"
    assert match_outbound(out(".", 2, ack=1), seg, space) == "seq: expected 2:2(0) got 1:1(0)"
    assert match_outbound(out("F.", 1, ack=1), seg, space) == \
        "flags: expected FA got A (got . 1:1(0) ack 1 win 502)"
    assert match_outbound(out(".", 1, ack=1, options=(TcpOption("nop"),)), seg, space) == \
        "options: expected <nop> got <>"
    assert match_outbound(out(".", 1, ack=1, options=None), seg, space) is None


def test_ts_ecr_checked_val_mapped_back_on_inbound() -> None:
    space = SeqSpace(local_isn=1000)
    seg = Segment(8080, 48879, 1001, REMOTE_ISN + 1, wire.ACK, 502,
                  Options(timestamps=(777777, 50)))
    ts = (TcpOption("nop"), TcpOption("nop"), TcpOption("TS", (100, 50)))
    assert match_outbound(out(".", 1, ack=1, options=ts), seg, space) is None
    bad = (TcpOption("nop"), TcpOption("nop"), TcpOption("TS", (100, 49)))
    assert "TS ecr 50, expected 49" in (match_outbound(out(".", 1, ack=1, options=bad), seg, space) or "")
    inbound = PacketLine(2, T0, Direction.INBOUND, ".", 1, 1, 0, 1, 1000, None,
                         (TcpOption("nop"), TcpOption("nop"), TcpOption("TS", (60, 100))))
    built = build_inbound(inbound, space)
    assert built.options.timestamps == (60, 777777)
    assert built.seq == REMOTE_ISN + 1 and built.ack == 1001 and built.window == 1000
    assert inbound_option_bytes(inbound, built) == \
        b"\x01\x01\x08\x0a" + (60).to_bytes(4, "big") + (777777).to_bytes(4, "big")


def test_inbound_sack_blocks_are_relative_to_the_stacks_isn() -> None:
    space = SeqSpace(local_isn=5000)
    line = PacketLine(3, T0, Direction.INBOUND, ".", 1, 1, 0, 1, 100, None,
                      (TcpOption("sack", (1001, 2001)),))
    seg = build_inbound(line, space)
    assert seg.options.sack_blocks == ((6001, 7001),)
    assert seg.flags == wire.ACK and seg.payload == b""


def test_time_windows() -> None:
    clock = Clock()
    assert clock.resolve(TimeSpec(TimeKind.RELATIVE, 100_000), inbound=False) == (100_000, 100_000)
    clock.happened(1_000_000, 1_000_300, inbound=False)
    assert clock.resolve(TimeSpec(TimeKind.RELATIVE, 0), inbound=True) == (1_000_300, 1_000_300)
    clock.happened(1_000_300, 1_000_300, inbound=True)
    assert time_error(T0, 2_000_000, 2_000_000, 2_003_000, 1_000_000, 4000, "x") is None
    # 12.5 % of a 1 s gap is 125 ms: a packet 100 ms late is in time, 200 ms late is not.
    assert time_error(T0, 2_000_000, 2_000_000, 2_100_000, 1_000_000, 4000, "x") is None
    assert time_error(T0, 2_000_000, 2_000_000, 2_200_000, 1_000_000, 4000, "x") == \
        "x: expected at 2.000000 s, happened at 2.200000 s (tolerance 125000 us)"
    rng = TimeSpec(TimeKind.RANGE, 1_000_000, 3_000_000)
    assert time_error(rng, 1_000_000, 3_000_000, 2_900_000, 0, 4000, "x") is None
