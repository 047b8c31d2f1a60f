"""The invariants, checked after every input (each failure names its kind).

- Every emitted segment round-trips (``parse_segment(serialize(seg)) == seg``, through
  an IP packet of its family) and fits an IP packet, its options fit 40 octets, it
  leaves from one of our addresses, its flags make sense (ACK unless our SYN or a
  RST; no SYN with RST or FIN; URG exactly with a pointer; no data on a RST or our
  SYN; SYN options only on SYNs, SACK blocks only with ACK), its data and options
  together are no larger than the connection's MSS (RFC 9293 §3.7.1: the options come
  out of the data's share), its data is exactly what the application wrote at those
  sequence numbers, new data is within the peer's window, its ACK is never beyond
  RCV.NXT nor behind an earlier ACK, and the right edge of the window it advertises
  never moves back (RFC 9293 SHLD-14).
- Every live connection: SND.UNA <= SND.NXT <= SND.MAX in sequence space, and the
  flight within the send buffer (plus SYN and FIN); something unacknowledged (SYN,
  data, FIN) outside TIME-WAIT has a retransmission timer running; RCV.NXT only
  moves forward, by no more than the receive buffer (plus a FIN); send buffer <=
  ``snd_buf``, receive buffer <= ``rcv_buf``; the reassembly queue within
  ``ooo_budget``, its charge what its blocks cost, its blocks beyond RCV.NXT,
  ordered and apart, and empty once the peer's FIN is taken (nothing comes after it;
  Linux's tcp_fin() purges its out-of-order queue); not CLOSED (a closed connection
  is gone from the endpoint); in the state its traced changes led to.
- Every listener: SYN queue <= its limit, accept queue <= backlog.
- Every traced state change is an edge of ``TRANSITIONS`` and starts where the
  previous change of that 4-tuple ended.
- A packet given to ``receive_packet`` is either parsed (``segments_in``) or dropped
  and counted under a malformation reason.
- After ``handle_timeout(now)``, ``next_timeout()`` is not in the past.
- At the end of an episode whose peers fall silent (the ``quiesce`` step): every
  deadline has passed, and what is left waits for its application with nothing in
  flight (ESTABLISHED, CLOSE-WAIT, FIN-WAIT-2); every SYN queue is empty.
- (The driver checks the application's reads: the octets read are the octets the
  peer sent at those sequence numbers.)

Known failures (``KNOWN`` in :mod:`synfuzz.known`) can be tolerated: counted, not
raised, so that a run goes on past them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Final

from synack.core.buffers import BLOCK_OVERHEAD
from synack.core.connection import Connection
from synack.core.endpoint import Endpoint
from synack.core.errors import DropReason, MalformedSegment
from synack.core.ip import Packet, ipv4_header, ipv6_header, parse_packet
from synack.core.seq import MASK, seq_gt, seq_le, seq_sub
from synack.core.state import CLOSED, LISTEN, SYN_RECEIVED, SYN_SENT, TIME_WAIT, TRANSITIONS, State
from synack.core.timers import RETRANSMIT
from synack.core.timestamps import TIMESTAMPS_OPTION
from synack.core.trace import StateRecord, TraceRecord
from synack.core.wire import ACK, FIN, RST, SYN, URG, Options, parse_segment, serialize

from .common import Failure, pattern

MALFORMED: Final = (DropReason.TRUNCATED, DropReason.BAD_IP_HEADER, DropReason.BAD_IP_CHECKSUM,
                    DropReason.NOT_TCP, DropReason.BAD_DATA_OFFSET, DropReason.BAD_OPTION,
                    DropReason.BAD_CHECKSUM, DropReason.BAD_PORT, DropReason.BAD_FLAGS)
#: Where a connection may wait for its application for ever (with nothing in flight).
WAITING: Final = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_2})
_NO_TS_SACK: Final = Options()


class Checker:
    """The invariants of one endpoint, with what they remember between inputs."""

    def __init__(self, ep: Endpoint, records: list[TraceRecord],
                 tolerate: frozenset[str] = frozenset()) -> None:
        self.ep = ep
        #: Kinds of failure that are known (docs/FUZZ.md, synfuzz.known):
        #: counted in ``tolerated``, not raised, so that the run goes on past them.
        self.tolerate = tolerate
        self.tolerated: Counter[str] = Counter()
        self.records = records
        self.addresses = frozenset(ep.addresses)
        #: RCV.NXT as last seen, per connection.
        self.rcv_seen: dict[object, int] = {}
        #: The state each 4-tuple's last traced change left it in.
        self.chain: dict[tuple[str, str], State] = {}
        #: Every transition seen (coverage).
        self.edges: Counter[tuple[State, State]] = Counter()
        #: ``next_timeout() == now`` right after ``handle_timeout(now)``.
        self.due_after_timeout = 0
        self.digest = hashlib.blake2b(digest_size=16)
        self.emitted = 0
        #: Per connection: the last ACK sent, the right edge of the window it advertised,
        #: and SND.MAX after the last input (what was sent before).
        self.ack_sent: dict[object, int] = {}
        self.edge_sent: dict[object, int] = {}
        self.max_seen: dict[object, int] = {}
        #: A connection's 4-tuple as the trace writes it.
        self.names: dict[object, tuple[str, str]] = {}
        self.inputs = 0

    def fail(self, kind: str, detail: str) -> None:
        """Raise the failure, unless it is a known one (then count it and go on)."""
        if kind in self.tolerate:
            self.tolerated[kind] += 1
            return
        raise Failure(kind, detail)

    # -- one input -------------------------------------------------------------------------
    def snapshot(self) -> tuple[int, int]:
        st = self.ep.stats
        dropped = st.dropped
        return st.segments_in, sum(dropped[r] for r in MALFORMED)

    def after_packet(self, before: tuple[int, int]) -> bool:
        """``receive_packet`` either parsed the packet (True) or counted why not."""
        seg_in, bad = self.snapshot()
        if seg_in == before[0] + 1 and bad == before[1]:
            return True
        if seg_in == before[0] and bad == before[1] + 1:
            return False
        raise Failure("malformed-not-counted", f"segments_in {before[0]} -> {seg_in}, "
                      f"malformed drops {before[1]} -> {bad}")

    def after_timeout(self, now: int) -> None:
        nt = self.ep.next_timeout()
        if nt is not None:
            if nt < now:
                self.fail("timeout-in-past", f"next_timeout() {nt} < now {now} after handle_timeout(now)")
            if nt == now:
                self.due_after_timeout += 1

    def after(self, now: int) -> list[Packet]:
        """Pull the output, then check everything; the packets that left."""
        ep = self.ep
        touched = list(ep.dirty)
        packets = ep.packets_to_send(now)
        for p in packets:
            self.check_packet(p)
        while ep.next_event() is not None:
            pass
        if self.records:
            self.check_records()
        self.inputs += 1
        if self.inputs & 15 == 0 or len(touched) > 8:
            self.check_connections(ep._conns.values(), sweep=True)
        elif touched:
            conns = ep._conns
            self.check_connections([c for c in touched if conns.get(c.key) is c], sweep=False)
        for listener in ep.listeners:
            if listener.syn_queue_len > listener.syn_queue_limit:
                self.fail("syn-queue-bound", f"{listener}: {listener.syn_queue_len} > "
                          f"{listener.syn_queue_limit}")
            if listener.accept_queue_len > listener.backlog + 1:  # backlog + 1, as Linux's
                self.fail("accept-queue-bound", f"{listener}: {listener.accept_queue_len} > "
                          f"{listener.backlog} + 1")
        return packets

    def check_packet(self, p: Packet) -> None:
        src, dst, seg, _ = p
        self.emitted += 1
        if src not in self.addresses:
            self.fail("foreign-source", f"{seg.summary()} leaves from {src}, not ours")
        try:
            data = serialize(seg, src, dst)
        except Exception as exc:  # options beyond 40 octets, a field out of range
            raise Failure("unserializable", f"{seg!r}: {type(exc).__name__}: {exc}") from None
        self.digest.update(data)
        v6 = ":" in src
        try:
            if len(data) > (0xFFFF if v6 else 0xFFFF - 20):
                self.fail("packet-too-long", f"{seg.summary()}: {len(data)} octets of TCP do not fit an "
                          f"IPv{6 if v6 else 4} packet")
                back = parse_segment(data, src, dst)
            else:  # (through the IP packet: its parser checks the checksum with the pseudo-header)
                head = ipv6_header(src, dst, len(data)) if v6 else ipv4_header(src, dst, len(data))
                p_src, p_dst, back, _ = parse_packet(head + data)
                if (p_src, p_dst) != (src, dst):
                    self.fail("round-trip", f"{seg!r}: the IP packet says {p_src} -> {p_dst}")
        except MalformedSegment as exc:
            raise Failure("round-trip", f"{seg!r} does not parse back: {exc.reason}") from None
        if back != seg:
            self.fail("round-trip", f"{seg!r} parses back as {back!r}")
        flags = seg.flags
        options_len = len(data) - 20 - len(seg.payload)
        if options_len > 40:
            self.fail("options-too-long", seg.summary())
        if not (flags & (ACK | RST) or flags == SYN):
            self.fail("segment-flags", f"neither ACK nor RST nor our SYN: {seg.summary()}")
        if flags & SYN and flags & (RST | FIN):
            self.fail("segment-flags", f"SYN with RST or FIN: {seg.summary()}")
        if bool(flags & URG) != (seg.urg > 0):
            self.fail("segment-flags", f"URG without a pointer or a pointer without URG: {seg!r}")
        if flags & RST and seg.payload:
            self.fail("segment-flags", f"data on a RST: {seg.summary()}")
        o = seg.options
        if not flags & SYN and o is not _NO_TS_SACK and (o.mss is not None or o.wscale is not None
                                                          or o.sack_permitted):
            self.fail("segment-options", f"SYN options on a non-SYN: {seg.summary()}")
        if o.sack_blocks and not flags & ACK:
            self.fail("segment-options", f"SACK blocks without ACK: {seg.summary()}")
        payload = seg.payload
        if payload:
            if flags & SYN:
                self.fail("segment-data", f"data on our SYN: {seg.summary()}")
            if payload != pattern(seg.seq, len(payload)):
                self.fail("sent-data-corrupt", f"{seg.summary()}: not the octets the application "
                          f"wrote at {seg.seq}")
        conn = self.ep._conns.get((src, seg.src_port, dst, seg.dst_port))
        if conn is None or flags & (SYN | RST):
            return
        if flags & ACK and conn.state is not SYN_SENT:
            ack = seg.ack
            if seq_gt(ack, conn.rcv_nxt):
                self.fail("ack-beyond-rcv-nxt", f"{conn}: {seg.summary()} acknowledges beyond RCV.NXT "
                          f"{conn.rcv_nxt}")
            last = self.ack_sent.get(conn)
            if last is not None and seq_gt(last, ack):
                self.fail("ack-backwards", f"{conn}: {seg.summary()} after an ACK of {last}")
            self.ack_sent[conn] = ack
            # The scaled field is rounded down (ReceiveSpace.advertise): the edge shown
            # may move back by less than 2**wscale, never more, and whatever any edge
            # shown covered stays acceptable (RCV.NXT + RCV.WND reaches it).
            edge = (ack + (seg.window << conn.rcv_wscale)) & MASK
            last = self.edge_sent.get(conn)
            if last is not None and seq_gt(last, edge) and seq_sub(last, edge) >= 1 << conn.rcv_wscale:
                self.fail("window-shrunk", f"{conn}: {seg.summary()} moves the window's right edge "
                          f"back from {last} to {edge} (wscale {conn.rcv_wscale})")
            if last is None or seq_gt(edge, last):
                self.edge_sent[conn] = last = edge
            if seq_gt(last, (conn.rcv_nxt + conn.rcv_wnd) & MASK):
                self.fail("window-refused", f"{conn}: the edge {last} was shown, but RCV.NXT + RCV.WND "
                          f"is {(conn.rcv_nxt + conn.rcv_wnd) & MASK}")
        if payload:
            end = (seg.seq + len(payload)) & MASK
            before = self.max_seen.get(conn)
            if (before is None or seq_gt(end, before)) and seq_gt(end, (conn.snd_una + conn.snd_wnd) & MASK):
                self.fail("beyond-peer-window", f"{conn}: new data {seg.summary()} beyond SND.UNA "
                          f"{conn.snd_una} + SND.WND {conn.snd_wnd}")
            if len(payload) + options_len > conn.snd_mss + (TIMESTAMPS_OPTION if conn.ts_ok else 0):
                # RFC 9293 §3.7.1 (MUST-16): Eff.snd.MSS = min(SendMSS + 20, MMS_S) - TCPhdrsize,
                # TCPhdrsize counting the options: the options come out of the data's share
                # (snd_mss is that already, less the timestamps every segment carries).
                self.fail("segment-above-mss", f"{seg.summary()}: {len(payload)} octets of data and "
                          f"{options_len} of options, the MSS is {conn.snd_mss}")

    def check_connections(self, conns: Iterable[Connection], sweep: bool) -> None:
        """The connections' invariants: of them all (``sweep``), or of those the input
        touched (every change of a connection marks it in the endpoint's ``dirty``)."""
        seen = self.rcv_seen
        names = self.names
        for conn in conns:
            st = conn.state
            if st is CLOSED or st is LISTEN:
                self.fail("closed-connection-kept", f"{conn} is still the endpoint's")
            snd, rcv, cfg = conn.snd, conn.rcv, conn.config
            una, nxt, top = snd.una, snd.nxt, snd.max
            if not (seq_le(una, nxt) and seq_le(nxt, top)):
                self.fail("send-sequence-order", f"{conn}: SND.UNA {una} SND.NXT {nxt} SND.MAX {top}")
            nbuf = len(snd.buf)
            if nbuf > cfg.snd_buf:
                self.fail("send-buffer-bound", f"{conn}: {nbuf} > snd_buf {cfg.snd_buf}")
            if seq_sub(top, una) > nbuf + 2:
                self.fail("flight-beyond-buffer", f"{conn}: SND.MAX - SND.UNA = {seq_sub(top, una)}, "
                          f"{nbuf} octets queued")
            if top != una and conn.timers[RETRANSMIT] is None and st is not TIME_WAIT:
                # Something unacknowledged (a SYN, data, a FIN) and no timer to resend it.
                self.fail("stuck-syn-received" if st is SYN_RECEIVED else "no-retransmit-timer",
                          f"{conn}: SND.UNA {una} < SND.MAX {top} and no retransmission timer: "
                          f"{conn.timers}")
            self.max_seen[conn] = top
            nrbuf = len(rcv.buf)
            if nrbuf > cfg.rcv_buf:
                self.fail("receive-buffer-bound", f"{conn}: {nrbuf} > rcv_buf {cfg.rcv_buf}")
            ooo = rcv.ooo
            if ooo is not None:
                if rcv.peer_fin and len(ooo):
                    self.fail("reassembly-after-fin", f"{conn}: the peer's FIN is taken (RCV.NXT "
                              f"{rcv.nxt}) and data beyond it is still held: {ooo.blocks}")
                else:
                    self.check_reassembly(conn, ooo, rcv.nxt, cfg.ooo_budget)
            if st is not SYN_SENT:
                cur = rcv.nxt
                prev = seen.get(conn)
                if prev is not None and prev != cur:
                    moved = seq_sub(cur, prev)
                    if moved < 0:
                        self.fail("rcv-nxt-backwards", f"{conn}: RCV.NXT {prev} -> {cur}")
                    if moved > cfg.rcv_buf + 1:
                        self.fail("rcv-nxt-jump", f"{conn}: RCV.NXT {prev} -> {cur} (+{moved}), "
                                      f"rcv_buf {cfg.rcv_buf}")
                seen[conn] = cur
            name = names.get(conn)
            if name is None:
                name = names[conn] = (_ep_str(conn.local_addr, conn.local_port),
                                      _ep_str(conn.remote_addr, conn.remote_port))
            last = self.chain.get(name)
            if last is not None and last is not st and last is not CLOSED:
                self.fail("untraced-state", f"{conn}: its last traced change went to {last}")
        if sweep:
            conns_of = self.ep._conns
            for key, conn in conns_of.items():
                if conn.key != key:
                    self.fail("connection-key", f"{conn} filed under {key}")
            live = set(conns_of.values())
            for table in (seen, self.ack_sent, self.edge_sent, self.max_seen, names):
                if len(table) > len(live):
                    for conn in [c for c in table if c not in live]:
                        del table[conn]

    def check_reassembly(self, conn: object, ooo: object, rcv_nxt: int, budget: int) -> None:
        held = ooo.held  # type: ignore[attr-defined]
        limit = ooo.limit  # type: ignore[attr-defined]
        blocks = ooo.blocks  # type: ignore[attr-defined]
        if held > budget or limit != budget:
            self.fail("reassembly-budget", f"{conn}: {held} held, budget {budget}")
        charge = sum(seq_sub(b, a) for a, b in blocks) + BLOCK_OVERHEAD * len(blocks)
        if charge != held:
            self.fail("reassembly-accounting", f"{conn}: charged {held}, blocks cost {charge}: {blocks}")
        prev = rcv_nxt
        for a, b in blocks:
            if not seq_gt(b, a):
                self.fail("reassembly-blocks", f"{conn}: empty block {a}-{b}")
            if not seq_gt(a, prev):
                self.fail("reassembly-blocks", f"{conn}: block {a}-{b} not beyond {prev} "
                              f"(RCV.NXT {rcv_nxt}): {blocks}")
            prev = b

    def check_records(self) -> None:
        chain = self.chain
        for r in self.records:
            if type(r) is StateRecord:
                edge = (r.old, r.new)
                if edge not in TRANSITIONS:
                    self.fail("illegal-transition", f"{r.local} {r.remote}: {r.old} -> {r.new}")
                self.edges[edge] += 1
                key = (r.local, r.remote)
                last = chain.get(key, CLOSED)
                # (a 4-tuple starts again from LISTEN, or from SYN-RECEIVED for a SYN cookie)
                if r.old is not last and not (last is CLOSED and r.old in (LISTEN, SYN_RECEIVED)):
                    self.fail("transition-chain", f"{r.local} {r.remote}: {r.old} -> {r.new}, but its "
                                  f"last change went to {last}")
                chain[key] = r.new
        self.records.clear()

    # -- the end of an episode ---------------------------------------------------------------
    def liveness(self) -> None:
        nt = self.ep.next_timeout()
        if nt is not None:
            self.fail("timers-never-settle", f"a deadline at {nt} after six hours of silence (or 20,000 "
                      f"expiries): {[(c, c.timers) for c in self.ep.connections][:8]}")
            return
        for conn in self.ep.connections:
            if conn.state is SYN_RECEIVED:
                self.fail("stuck-syn-received", f"{conn} outlives every timer: {conn.timers}")
            elif conn.state not in WAITING:
                self.fail("stuck-connection", f"{conn} outlives every timer: {conn.timers}")
            if conn.next_timeout() is not None or conn.bytes_unacked:
                self.fail("stuck-connection", f"{conn} waits for its application with "
                              f"{conn.bytes_unacked} octets unacknowledged, timers {conn.timers}")
        for listener in self.ep.listeners:
            if listener.syn_queue_len:
                self.fail("stuck-half-open", f"{listener}: entries outlive their SYN-ACK retries")


def _ep_str(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
