"""What each side of a handshake has *proven* about the other, after each segment.

The seed opens with an analogy: a handshake must prove that each side can send and can
receive.  This module reads a run's trace (never a scripted table) and, after every
segment that reaches one of the two drawn hosts, says what the receiver now knows about
its peer, for the connection the segment belongs to:

- **the peer can send**: a segment of this connection came from it.  A SYN alone proves
  it only for *some* time: an old duplicate SYN, delayed in the network, looks exactly
  like a new one;
- **the peer can receive**: a segment came from it whose ACK covers our own SYN
  (``ack == our ISN + 1``).  Our ISN is new, so that segment was sent after our SYN
  arrived: it proves the peer received it, and that the peer is answering *now*.

A host learns nothing from a segment for a connection it does not have (the client
whose attempt is over answers the SYN-ACK with RST); a RST proves neither ability.
Pure: imports only ``synack.core``, so the browser can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from synack.core.seq import seq_sub
from synack.core.trace import SegmentRecord, StateRecord, TraceRecord, Verdict, endpoint_str
from synack.core.wire import ACK, RST, SYN, flags_names, flags_str

__all__ = ["TABLE_HEADERS", "Knowledge", "ProofRow", "learned_text", "proof_rows", "proof_table"]

_MOD: Final = 1 << 32


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What one side has proven about its peer."""

    peer_sends: bool = False
    peer_receives: bool = False

    @property
    def both(self) -> bool:
        return self.peer_sends and self.peer_receives


@dataclass(frozen=True, slots=True)
class ProofRow:
    """One segment's arrival and what each side has proven after it (for the
    connection the segment belongs to)."""

    #: 1, 2, ... in order of arrival.
    step: int
    t_us: int
    #: ``"client"`` or ``"server"`` (the left and right host of the run).
    sender: str
    receiver: str
    #: tcpdump-style flag letters ("S", "SA", "A", "R") and the names ("SYN,ACK").
    flags: str
    names: str
    #: Relative to each side's ISN, as the ladder shows them (ack: raw 0 without ACK).
    seq: int
    ack: int
    #: The receiver's port on this connection (tells two connections apart).
    port: int
    client: Knowledge
    server: Knowledge
    #: Each side's state once the segment was processed.
    client_state: str
    server_state: str
    #: What the receiver learned: "sends", "receives", "both", "nothing", "no-connection",
    #: "rst", "dropped" (its stack refused the segment), or "new-attempt" (a SYN opened a
    #: new connection attempt at the receiver).
    learned: str

    @property
    def label(self) -> str:
        """``"SYN,ACK seq=0 ack=1"``."""
        return f"{self.names} seq={self.seq}" + (f" ack={self.ack}" if "A" in self.flags else "")

    def knowledge(self, side: str) -> Knowledge:
        return self.client if side == "client" else self.server


_Key = tuple[str, str, str]   # (host, local "addr:port", remote "addr:port")
#: (the peer's sending newly proven, its receiving newly proven) -> ``ProofRow.learned``.
_GAINED: Final = {(True, True): "both", (True, False): "sends", (False, True): "receives"}


def proof_rows(records: Sequence[TraceRecord], left: str = "client", right: str = "server") -> list[ProofRow]:
    """After each segment that reaches ``left`` or ``right`` from the other (and that
    the receiving stack did not drop), what each side has proven about the other."""
    know: dict[_Key, Knowledge] = {}
    alive: set[_Key] = set()
    iss: dict[_Key, int] = {}
    state: dict[_Key, str] = {}
    isn_of: dict[tuple[str, str], int] = {}   # (from, to) -> the ISN used, for relative numbers
    rows: list[tuple[ProofRow, _Key, _Key]] = []

    def finish() -> None:
        # The states a row shows are those once the segment was processed: the state
        # records it caused follow its record.
        if rows and rows[-1][0].client_state == "":
            row, ck, sk = rows[-1]
            rows[-1] = (_with_states(row, state.get(ck, "CLOSED"), state.get(sk, "LISTEN")), ck, sk)

    for rec in records:
        if rows and rec.t_us > rows[-1][0].t_us:
            finish()
        if isinstance(rec, StateRecord):
            key = (rec.host, rec.local, rec.remote)
            state[key] = rec.new.value
            if rec.new.value == "CLOSED":   # the connection is gone, and what it knew
                alive.discard(key)
                know.pop(key, None)
            continue
        if not isinstance(rec, SegmentRecord) or rec.seg is None or rec.host not in (left, right):
            continue
        seg = rec.seg
        src, dst = endpoint_str(rec.src, seg.src_port), endpoint_str(rec.dst, seg.dst_port)
        if rec.event == "send":
            if seg.flags & SYN:
                key = (rec.host, src, dst)
                iss[key] = seg.seq
                isn_of[(src, dst)] = seg.seq
                alive.add(key)
                know.setdefault(key, Knowledge())
            continue
        if rec.event != "recv":
            continue
        finish()
        receiver = rec.host
        sender = right if receiver == left else left
        key = (receiver, dst, src)
        before = know.get(key, Knowledge())
        if seg.flags & RST:
            learned, after = "rst", before
        elif seg.flags & SYN and not seg.flags & ACK and key not in alive:
            learned, after = "new-attempt", Knowledge(peer_sends=True)
            alive.add(key)
        elif key not in alive:
            learned, after = "no-connection", before
        elif rec.verdict is Verdict.DROPPED:
            learned, after = "dropped", before
        else:
            receives = before.peer_receives or (
                bool(seg.flags & ACK) and key in iss and seg.ack == (iss[key] + 1) % _MOD)
            after = Knowledge(True, receives)
            gained = (after.peer_sends and not before.peer_sends,
                      after.peer_receives and not before.peer_receives)
            learned = _GAINED.get(gained, "nothing")
        know[key] = after
        mirror = (sender, src, dst)
        client_key, server_key = (key, mirror) if receiver == left else (mirror, key)
        base_seq = isn_of.get((src, dst), seg.seq)
        base_ack = isn_of.get((dst, src), 0)
        rows.append((ProofRow(
            step=len(rows) + 1, t_us=rec.t_us, sender="client" if sender == left else "server",
            receiver="client" if receiver == left else "server", flags=flags_str(seg.flags),
            names=flags_names(seg.flags), seq=seq_sub(seg.seq, base_seq),
            ack=seq_sub(seg.ack, base_ack) if seg.flags & ACK else seg.ack, port=seg.dst_port,
            client=know.get(client_key, Knowledge()), server=know.get(server_key, Knowledge()),
            client_state="", server_state="", learned=learned), client_key, server_key))
    finish()
    return [row for row, _ck, _sk in rows]


def _with_states(row: ProofRow, client_state: str, server_state: str) -> ProofRow:
    return ProofRow(row.step, row.t_us, row.sender, row.receiver, row.flags, row.names, row.seq, row.ack,
                    row.port, row.client, row.server, client_state, server_state, row.learned)


# -- the table, in words ----------------------------------------------------------------
_WHO: Final = {"client": ("client", "客户端"), "server": ("server", "服务器")}
_LEARNED: Final = {
    "new-attempt": ("{r}: a SYN: the {p} can send (or could: an old SYN looks the same)",
                    "{r}：收到 SYN：{p}能发送（或者曾经能：旧的 SYN 看起来一样）"),
    "both": ("{r}: its SYN acknowledged: the {p} can send and receive",
             "{r}：自己的 SYN 被确认：{p}能发送也能接收"),
    "receives": ("{r}: its SYN acknowledged: the {p} can receive",
                 "{r}：自己的 SYN 被确认：{p}能接收"),
    "sends": ("{r}: the {p} can send", "{r}：{p}能发送"),
    "nothing": ("{r}: nothing new", "{r}：没有新的证明"),
    "no-connection": ("{r}: no such connection: nothing", "{r}：没有这个连接：什么也证明不了"),
    "rst": ("{r}: a RST proves neither", "{r}：RST 什么也证明不了"),
    "dropped": ("{r}: refused by its stack: nothing", "{r}：被协议栈丢弃：什么也证明不了"),
}
#: The table's columns: step, segment, what each side has proven, states, what was learned.
TABLE_HEADERS: Final = {
    "en": ("#", "segment", "client has proven: the server can", "server has proven: the client can",
           "states (client / server)", "what this segment proved"),
    "zh": ("#", "报文", "客户端已证明服务器能", "服务器已证明客户端能", "状态（客户端 / 服务器）",
           "这个报文证明了什么"),
}


def _proven(k: Knowledge, lang: str) -> str:
    words = [w for ok, w in ((k.peer_sends, ("send", "发送")), (k.peer_receives, ("receive", "接收"))) if ok]
    if not words:
        return "-"
    return ("、" if lang == "zh" else ", ").join(w[1] if lang == "zh" else w[0] for w in words)


def learned_text(row: ProofRow, lang: str) -> str:
    """What the segment of ``row`` proved to its receiver, in words."""
    en, zh = _LEARNED[row.learned]
    i = 1 if lang == "zh" else 0
    return (zh if lang == "zh" else en).format(r=_WHO[row.receiver][i], p=_WHO[row.sender][i])


def proof_table(rows: Sequence[ProofRow], lang: str = "en") -> list[tuple[str, ...]]:
    """``rows`` as the table's text, one tuple per row, columns as :data:`TABLE_HEADERS`."""
    return [(str(r.step), f"{r.label} →" if r.sender == "client" else f"← {r.label}",
             _proven(r.client, lang), _proven(r.server, lang), f"{r.client_state} / {r.server_state}",
             learned_text(r, lang)) for r in rows]
