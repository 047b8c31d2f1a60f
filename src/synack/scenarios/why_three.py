"""恋爱模拟 / 为什么不是两次 / 为什么不是四次: the seed's opening analogy made exact.

Three runs, and after every segment of each, what each side has *proven* about the
other's ability to send and to receive (:func:`synack.views.proofs.proof_rows`, read
from the run's trace):

1. the three-way handshake, synack on both sides;
2. a two-way exchange: synack's client against a naive server that is ESTABLISHED as
   soon as its SYN-ACK leaves (the model of ``old-duplicate-syn``, not a mode of the
   stack); an old SYN of an abandoned attempt, then a new SYN, reach it: it treats
   them alike;
3. a four-way exchange, SYN, ACK, SYN, ACK, between two small models (TCP has no such
   handshake): the server's SYN, sent apart from its ACK, proves nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from synack.core.config import ms, seconds
from synack.core.seq import MASK
from synack.core.state import State
from synack.core.trace import StateRecord, Tracer, endpoint_str
from synack.core.wire import ACK, SYN, Options, Segment
from synack.sim import Delay, flags_are, from_host
from synack.views.proofs import ProofRow, proof_rows

from .apps import accept_all, events_of
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text
from .models import ModelEndpoint
from .old_duplicate_syn import TwoWayServer

PORT: Final = 80
CONNECT_AT: Final = ms(100)
#: Run 2: the first attempt's SYN is held in the network this long; its application
#: gives up (close in SYN-SENT) before it arrives, and connects again later.
STUCK_FOR: Final = seconds(2)
GIVE_UP_AT: Final = ms(500)
RECONNECT_AT: Final = seconds(3)
#: The four-way models' client port.
FOUR_WAY_PORT: Final = 40000


# -- the four-way models -----------------------------------------------------------------
class _FourWayEnd(ModelEndpoint):
    """One end of a four-way exchange (SYN, ACK, SYN, ACK): each side's SYN and the
    ACK of it are separate segments.  A model for this scenario only."""

    #: The state it starts in.
    initial = State.CLOSED

    def __init__(self, name: str, addr: str, port: int, peer: tuple[str, int], isn: int,
                 tracer: Tracer | None, flights: Callable[[], int] | None) -> None:
        super().__init__(name, tracer, flights)
        self.addr, self.port, self.peer = addr, port, peer
        self.iss = isn
        self.snd_nxt = isn   # iss + 1 once its SYN has left
        self.rcv_nxt = 0
        self.state = self.initial
        self.syn_acked = False
        self.syn_received = False

    def send_syn(self) -> None:
        self._send(SYN, self.iss, 0)
        self.snd_nxt = (self.iss + 1) & MASK

    def _send(self, flags: int, seq: int, ack: int) -> None:
        options = Options(mss=1460) if flags & SYN else Options()
        self.emit(self.addr, self.peer[0], Segment(self.port, self.peer[1], seq, ack, flags, 65535, options))

    def _state(self, now: int, new: State) -> None:
        old, self.state = self.state, new
        if self._tracer is not None:
            self._tracer(StateRecord(now, self.name, endpoint_str(self.addr, self.port),
                                     endpoint_str(*self.peer), old, new))

    def on_segment(self, seg: Segment, src: str, dst: str, now: int) -> None:
        if seg.flags & ACK and seg.ack == self.snd_nxt and self.snd_nxt != self.iss:
            self.syn_acked = True   # our SYN has left, and this acknowledges it
        if seg.flags & SYN and not self.syn_received:
            self.syn_received = True
            self.rcv_nxt = (seg.seq + 1) & MASK
            self._send(ACK, self.snd_nxt, self.rcv_nxt)   # the ACK alone: its own segment
            self.on_peer_syn(now)
        if self.syn_acked and self.syn_received and self.state is not State.ESTABLISHED:
            self._state(now, State.ESTABLISHED)

    def on_peer_syn(self, now: int) -> None:
        """What this end does once it has ACKed the peer's SYN."""


class FourWayClient(_FourWayEnd):
    def connect(self, now: int) -> None:
        self.send_syn()
        self._state(now, State.SYN_SENT)


class FourWayServer(_FourWayEnd):
    """Listens; answers a SYN with an ACK, then its own SYN as a second segment."""

    initial = State.LISTEN

    def on_peer_syn(self, now: int) -> None:
        self.send_syn()
        self._state(now, State.SYN_RECEIVED)


# -- the runs -------------------------------------------------------------------------------
def _first_both(rows: list[ProofRow]) -> int | None:
    """The step after which both sides have proven both abilities."""
    return next((r.step for r in rows if r.client.both and r.server.both), None)


def _three_way(ctx: Context) -> Run:
    net, run, client, server = ctx.two_hosts(Text(
        "three-way: synack on both sides", "三次握手：双方都是 synack"))
    accept_all(server, server.listen(PORT))
    net.at(CONNECT_AT, lambda: client.connect(SERVER_ADDR, PORT))
    net.run(until=seconds(1))
    rows = proof_rows(run.records)
    both = _first_both(rows)
    run.metrics["segments"] = float(len(rows))
    run.metrics["both_proven_after"] = float(both or 0)
    if both is not None:
        run.facts.append(Text(
            f"after segment {both} of {len(rows)} both sides have proven that the other can send and "
            "receive: SYN (the server learns the client can send), SYN,ACK (the client learns the server "
            "can send and receive: ack=x+1), ACK (the server learns the client can receive: ack=y+1)",
            f"第 {both} 个报文（共 {len(rows)} 个）之后，双方都证明了对方能发送也能接收：SYN（服务器得知客户"
            "端"
            "能发送），SYN,ACK（客户端得知服务器能发送也能接收：ack=x+1），ACK（服务器得知客户端能接收："
            "ack=y+1）"))
    return run


def _two_way(ctx: Context) -> Run:
    net, run = ctx.network(Text("two-way: a naive server, ESTABLISHED as its SYN,ACK leaves (a model)",
                                "两次握手：一个天真的服务器，SYN,ACK 一发出就 ESTABLISHED（模型）"))
    client = net.add_host("client", [CLIENT_ADDR])
    server = TwoWayServer.on(net, PORT)
    naive = server.endpoint
    net.connect(client, server, delay=ms(10))
    # The first attempt's SYN is held in the network; its application gives up.
    net.add_fault(Delay(flags_are("S") & from_host(client), by=STUCK_FOR))
    first: list[object] = []
    net.at(CONNECT_AT, lambda: first.append(client.connect(SERVER_ADDR, PORT)))
    net.at(GIVE_UP_AT, lambda: client.close(first[0]))  # type: ignore[arg-type]
    events = events_of(client)
    net.at(RECONNECT_AT, lambda: client.connect(SERVER_ADDR, PORT))
    net.run(until=RECONNECT_AT + seconds(1))

    rows = proof_rows(run.records)
    syns = [r for r in rows if r.learned == "new-attempt" and r.receiver == "server"]
    run.metrics["server_connections"] = float(len(naive.accepted))
    ports = [c.remote[1] for c in naive.accepted]
    # The phantom: the connection the old SYN made, still ESTABLISHED at the end.
    run.metrics["phantoms"] = float(sum(1 for c in naive.connections.values()
                                        if c.state is State.ESTABLISHED and c.remote[1] == ports[0]))
    connected = [t for t, name in events if name == "Connected"]
    run.metrics["client_connected"] = float(len(connected))
    if len(syns) == 2 and len(ports) == 2:
        old, new = syns
        same = (old.server, old.server_state) == (new.server, new.server_state)
        run.metrics["old_and_new_syn_alike"] = float(same)
        run.facts.append(Text(
            f"segments {old.step} and {new.step}: the old SYN (of the attempt given up at "
            f"{GIVE_UP_AT / 1e6:g} s) and the new SYN leave the naive server in the same place: "
            f"'the client can send' proven, 'it can receive' not, ESTABLISHED at once and handed to its "
            f"application; it cannot tell them apart",
            f"第 {old.step} 和第 {new.step} 个报文：旧的 SYN（{GIVE_UP_AT / 1e6:g} 秒时已放弃的那次尝试的）和"
            "新的 "
            "SYN 让天真服务器处于同样的境地：证明了“客户端能发送”，没有证明“它能接收”，立即 ESTABLISHED 并交"
            "给"
            "应用程序；它分不清两者"))
        answered = [r for r in rows if r.step > old.step and r.receiver == "client" and r.port == ports[0]]
        if answered:
            run.facts.append(Text(
                f"segment {answered[0].step}: the client has no such connection any more, learns nothing and "
                "answers RST, which the naive server ignores: it keeps a phantom connection for good",
                f"第 {answered[0].step} 个报文：客户端已经没有这个连接，什么也没得知，回复 RST，天真服务器却"
                "忽略它："
                "它永远占着一个幽灵连接"))
        proven = [r for r in rows if r.step > new.step and r.server.peer_receives]
        if proven:
            run.facts.append(Text(
                f"the new connection: the naive server had committed at segment {new.step}; synack's client "
                f"still sends the third segment, which would prove at segment {proven[0].step} that the clien"
                "t "
                "can receive, but the two-way server does not wait for it, and for the old SYN it never come"
                "s",
                f"新的连接：天真服务器在第 {new.step} 个报文时就已认定连接建立；synack 的客户端仍然发送第三个"
                "报文，"
                f"它本可以在第 {proven[0].step} 个报文时证明客户端能接收，但两次握手的服务器并不等它，而对旧"
                "的 SYN"
                "，它永远不会来"))
    return run


def _four_way(ctx: Context) -> Run:
    net, run = ctx.network(Text("four-way: SYN, ACK, SYN, ACK (two models; TCP has no such handshake)",
                                "四次握手：SYN、ACK、SYN、ACK（两个模型；TCP 没有这样的握手）"))
    tracer = net.trace.append if net.tracing else None
    rng = net.rng("four-way:isn")
    c = FourWayClient("client", CLIENT_ADDR, FOUR_WAY_PORT, (SERVER_ADDR, PORT), rng.getrandbits(32),
                      tracer, net.next_flight)
    s = FourWayServer("server", SERVER_ADDR, PORT, (CLIENT_ADDR, FOUR_WAY_PORT), rng.getrandbits(32),
                      tracer, net.next_flight)
    client = net.add_node("client", [CLIENT_ADDR], c)
    server = net.add_node("server", [SERVER_ADDR], s)
    net.connect(client, server, delay=ms(10))

    def connect() -> None:
        c.connect(net.now)
        client.service()

    net.at(CONNECT_AT, connect)
    net.run(until=seconds(1))
    rows = proof_rows(run.records)
    both = _first_both(rows)
    nothing = [r.step for r in rows if r.learned == "nothing"]
    run.metrics["segments"] = float(len(rows))
    run.metrics["both_proven_after"] = float(both or 0)
    if both is not None and nothing:
        run.facts.append(Text(
            f"segment {nothing[0]}, the server's SYN sent on its own, proves nothing the client did not know "
            f"from segment {nothing[0] - 1} (the ACK: the server can send and receive); after {both} segments"
            " "
            "both sides know exactly what the three-way handshake proves in 3: the ACK and the SYN can ride "
            "in "
            "one segment, and that segment is the SYN,ACK",
            f"第 {nothing[0]} 个报文，单独发出的服务器 SYN，没有证明任何客户端从第 {nothing[0] - 1} 个报文"
            f"（ACK：服务器能发送也能接收）还不知道的事；{both} 个报文之后，双方知道的恰好是三次握手用 3 个报"
            "文证明的"
            "：ACK 和 SYN 可以放在一个报文里，这个报文就是 SYN,ACK"))
    return run


def build(ctx: Context) -> list[Run]:
    return [_three_way(ctx), _two_way(ctx), _four_way(ctx)]


def tables(seed: int = 1) -> list[tuple[Text, list[ProofRow]]]:
    """The three runs (three-way, two-way, four-way), each with the rows of its table:
    what each side has proven after each segment.  For the browser page."""
    return [(run.label, proof_rows(run.records, run.left, run.right)) for run in SCENARIO.run(seed)]


SCENARIO = Scenario(
    name="why-three",
    title=Text("Why three: what each segment proves", "为什么是三次：每个报文证明了什么"),
    section="恋爱模拟 / 为什么不是两次 / 为什么不是四次",
    explanation=Text(
        "The seed's analogy, made exact. Each side must prove that the other can send and can "
        "receive, and only segments prove anything: a segment from the peer proves it can send; a "
        "segment whose ACK covers our own SYN (ack = our ISN + 1) proves it received that SYN, and, "
        "because our ISN is new, that it is answering now and not an echo of the past. Three "
        "segments are the least that prove all four: the SYN (the server learns the client can "
        "send, or could: an old duplicate SYN looks the same), the SYN,ACK (the client learns the "
        "server can send and receive), the ACK (the server learns the client can receive, and that "
        "the SYN was current). The table under each ladder is read from the run's trace. A two-way "
        "server commits after the first segment: it never learns that the client can receive, and "
        "it cannot tell an old SYN from a new one (RFC 9293 §3.5: the principal reason for the "
        "three-way handshake is to keep old duplicate SYNs from causing confusion). A four-way "
        "exchange (SYN, ACK, SYN, ACK) proves exactly what three do: the server's ACK and its SYN "
        "say different things but can travel together, and together they are the SYN,ACK. The "
        "seed asks whether four would do and answers \"of course, a hundred would\" (当然可以，100 "
        "次都可以): more segments can be sent, but none can prove more, and three is the fewest "
        "that prove everything.",
        "把种子文档的比喻变得精确。双方都要证明对方能发送、能接收，而能证明什么的只有报文：对方发来的报文"
        "证明它能发送；一个报文的 ACK 覆盖了我们自己的 SYN（ack = 我们的 ISN + 1），证明它收到了这个 SYN，"
        "而且因为我们的 ISN 是新的，证明它是现在在回答，不是过去的回声。三个报文是证明全部四件事的最少数目："
        "SYN（服务器得知客户端能发送，或者说曾经能：旧的重复 SYN 看起来一模一样），SYN,ACK（客户端得知服务器"
        "能发送也能接收），ACK（服务器得知客户端能接收，并且那个 SYN 是当前的）。每张时序图下面的表格都读自"
        "本次运行的跟踪记录。两次握手的服务器在第一个报文之后就认定连接建立：它永远不知道客户端能否接收，也"
        "分不清旧的 SYN 和新的 SYN（RFC 9293 §3.5：三次握手的主要原因就是防止旧的重复 SYN 造成混乱）。四次"
        "交换（SYN、ACK、SYN、ACK）证明的恰好和三次一样多：服务器的 ACK 和 SYN 说的是两件事，却可以一起发"
        "送，合在一起就是 SYN,ACK。所以对种子文档中“四次握手可以嘛？当然可以，100 次都可以”的回答"
        "是：报文可以多发，但多发的"
        "证明不了更多，三次是能证明一切的最少次数。"),
    build=build,
    proofs=True,
)
