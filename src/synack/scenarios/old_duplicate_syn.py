"""为什么不是两次: an old duplicate SYN reaches the server after its connection has ended.
The three-way handshake lets the client refuse it (RST); a naive two-way-handshake server
(a model written here, not a mode of synack's stack) would hold a phantom connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synack.core.config import seconds
from synack.core.connection import Connection
from synack.core.info import SocketInfo
from synack.core.seq import MASK
from synack.core.state import State
from synack.core.trace import NoteRecord, StateRecord, Tracer, endpoint_str
from synack.core.wire import ACK, FIN, RST, SYN, Options, Segment
from synack.sim import Delay, Host, Network, flags_are, from_host

from .apps import accept_all, events_of, netstat_at, on_peer_closed, read_all
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text
from .models import ModelEndpoint

CONNECT_AT = seconds(0.1)
SEND_AT = seconds(1.5)
CLOSE_AT = seconds(2)
#: How long the first SYN is stuck in the network: longer than the whole connection and
#: the client's TIME-WAIT (60 s) that follows it, so the client has no TCB left for it.
STUCK_FOR = seconds(70)
END = seconds(75)
#: After the old SYN has been answered and refused: what is left on each side.
NETSTAT_AT = seconds(71)
DATA = b"hello"


# -- the naive server ------------------------------------------------------------------------
@dataclass
class _NaiveConn:
    remote: tuple[str, int]
    irs: int
    iss: int
    rcv_nxt: int
    snd_nxt: int
    state: State = State.ESTABLISHED
    received: bytearray = field(default_factory=bytearray)


class TwoWayServer(ModelEndpoint):
    """A server that trusts a two-way handshake: a SYN creates a connection which is
    ESTABLISHED (and handed to its application) the moment the SYN-ACK leaves.  It answers
    data with ACKs, closes when the peer closes, and ignores RST, as in the seed's story,
    where the client ignores the server's answer.  No timers: an idle ESTABLISHED
    connection has nothing to retransmit, so nothing ever ends it.

    Implements the simulator's endpoint contract (``synack.sim.EndpointLike``).
    """

    def __init__(self, name: str, addr: str, port: int, isns: Callable[[], int],
                 tracer: Tracer | None, flights: Callable[[], int] | None = None) -> None:
        super().__init__(name, tracer, flights)
        self.addr = addr
        self.port = port
        self._isns = isns
        self.connections: dict[tuple[str, int], _NaiveConn] = {}
        #: Every connection its application was handed, in order.
        self.accepted: list[_NaiveConn] = []
        self.resets_ignored = 0

    @classmethod
    def on(cls, net: Network, port: int) -> Host[TwoWayServer]:
        """A naive server named "server" at ``SERVER_ADDR``:``port`` on ``net``, its ISNs
        from the network's seeded stream, traced with the network: its host (the model
        is ``host.endpoint``)."""
        rng = net.rng("two-way-server:isn")
        naive = cls("server", SERVER_ADDR, port, lambda: rng.getrandbits(32),
                    net.trace.append if net.tracing else None, net.next_flight)
        return net.add_node("server", [SERVER_ADDR], naive)

    def on_segment(self, seg: Segment, src: str, dst: str, now: int) -> None:
        if seg.dst_port != self.port:
            return
        key = (src, seg.src_port)
        conn = self.connections.get(key)
        if seg.flags & RST:
            if conn is not None:
                self.resets_ignored += 1
                self._note(now, conn, "two-way server: RST ignored, the connection stays ESTABLISHED")
            return
        if seg.flags & SYN:
            if conn is None:
                conn = _NaiveConn(key, seg.seq, self._isns(), (seg.seq + 1) & MASK, 0)
                conn.snd_nxt = (conn.iss + 1) & MASK
                self.connections[key] = conn
                self._send(conn, conn.iss, SYN | ACK, Options(mss=1460))
                self._state(now, conn, State.LISTEN, State.ESTABLISHED)
                self.accepted.append(conn)
                self._note(now, conn, "two-way server: ESTABLISHED as its SYN,ACK leaves; app: accept()")
            elif seg.seq == conn.irs:
                self._send(conn, conn.iss, SYN | ACK, Options(mss=1460))
            return
        if conn is None:
            return
        if seg.payload and seg.seq == conn.rcv_nxt:
            conn.received += seg.payload
            conn.rcv_nxt = (conn.rcv_nxt + len(seg.payload)) & MASK
            self._send(conn, conn.snd_nxt, ACK)
        if seg.flags & FIN and ((seg.seq + len(seg.payload)) & MASK) == conn.rcv_nxt:
            conn.rcv_nxt = (conn.rcv_nxt + 1) & MASK
            self._send(conn, conn.snd_nxt, ACK)
            self._state(now, conn, conn.state, State.CLOSE_WAIT)
            self._send(conn, conn.snd_nxt, FIN | ACK)  # its application closes at once
            conn.snd_nxt = (conn.snd_nxt + 1) & MASK
            self._state(now, conn, State.CLOSE_WAIT, State.LAST_ACK)
        elif conn.state is State.LAST_ACK and seg.flags & ACK and seg.ack == conn.snd_nxt:
            self._state(now, conn, State.LAST_ACK, State.CLOSED)
            del self.connections[key]

    def snapshot(self, now: int) -> list[SocketInfo]:
        """Its sockets as netstat rows: the listening port, then every connection."""
        local = endpoint_str(self.addr, self.port)
        rows = [SocketInfo("LISTEN", endpoint_str("*", self.port), "*:*", 0, 0)]
        rows += [SocketInfo(c.state.value, local, endpoint_str(*c.remote), 0, 0)
                 for c in self.connections.values()]
        return rows

    # -- helpers ------------------------------------------------------------------------
    def _send(self, conn: _NaiveConn, seq: int, flags: int, options: Options | None = None) -> None:
        addr, port = conn.remote
        seg = Segment(self.port, port, seq, conn.rcv_nxt, flags, 65535, options or Options())
        self.emit(self.addr, addr, seg)

    def _state(self, now: int, conn: _NaiveConn, old: State, new: State) -> None:
        conn.state = new
        if self._tracer is not None:
            self._tracer(StateRecord(now, self.name, endpoint_str(self.addr, self.port),
                                     endpoint_str(*conn.remote), old, new))

    def _note(self, now: int, conn: _NaiveConn, text: str) -> None:
        if self._tracer is not None:
            self._tracer(NoteRecord(now, self.name, text, endpoint_str(self.addr, self.port),
                                    endpoint_str(*conn.remote)))


# -- the runs ------------------------------------------------------------------------------
def _client_story(net: Network, client: Host[Any]) -> tuple[list[Connection], list[tuple[int, str]]]:
    """The seed's client: its first SYN is stuck in the network; the retransmission
    connects; it sends a little data, closes, and forgets the connection after TIME-WAIT."""
    net.add_fault(Delay(flags_are("S") & from_host(client), by=STUCK_FOR))
    conns: list[Connection] = []
    events = events_of(client)
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(SEND_AT, lambda: client.send(conns[0], DATA))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    return conns, events


def _old_syn_facts(run: Run, events: list[tuple[int, str]]) -> None:
    closed = [t for t, name in events if name == "Closed"]
    syns = [s for s in run.sent("client") if s[2] == "S"]
    if closed and syns:
        run.facts.append(Text(
            f"client: its first SYN (seq=x) got stuck in the network; the retransmission at "
            f"{syns[1][0] / 1e6:g} s opened the connection, which carried {len(DATA)} bytes, was closed, "
            f"and left TIME-WAIT at {closed[0] / 1e6:.2f} s: the client has no TCB left",
            f"客户端：它的第一个 SYN（seq=x）滞留在网络中；{syns[1][0] / 1e6:g} 秒的重传建立了连接，传了 "
            f"{len(DATA)} 字节后关闭，在 {closed[0] / 1e6:.2f} 秒离开 TIME-WAIT：客户端已没有这个 TCB"))


def _three_way(ctx: Context) -> Run:
    net, run, client, server = ctx.two_hosts(Text(
        "synack's server: three-way handshake", "synack 的服务器：三次握手"))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    got = read_all(server)
    on_peer_closed(server, server.close)
    _conns, events = _client_story(net, client)
    netstat_at(ctx, net, run, NETSTAT_AT)
    net.run(until=END)

    _old_syn_facts(run, events)
    old = [s for s in run.received("server") if s[2] == "S" and s[0] > CLOSE_AT]
    rsts = [s for s in run.sent("client") if s[2] == "R"]
    gone = [t for t, _old, new in run.state_times("server") if new == "CLOSED"]
    if old and rsts and gone:
        run.facts.append(Text(
            f"{old[0][0] / 1e6:.2f} s: the old SYN reached the server, which cannot tell it from a new "
            "one: a half-open entry (SYN-RECEIVED) and SYN,ACK ack=x+1",
            f"{old[0][0] / 1e6:.2f} 秒：旧的 SYN 到达服务器，服务器无法把它和新的区分开：建立半连接条目"
            "（SYN-RECEIVED），回复 SYN,ACK ack=x+1"))
        half_ms = (gone[-1] - old[0][0]) / 1000
        run.facts.append(Text(
            "client: that SYN,ACK answers nothing it sent recently: no connection, so RST seq=x+1; "
            f"server: the RST removed the half-open entry {half_ms:.0f} ms after it was made; the "
            "application never saw it",
            "客户端：这个 SYN,ACK 回答的不是它最近发的任何东西：没有这个连接，于是回 RST seq=x+1；服务器："
            f"RST 在条目建立 {half_ms:.0f} 毫秒后删除了它；应用程序根本没看到它"))
        run.metrics["half_open_ms"] = half_ms
    run.metrics["accepted"] = float(len(accepted))
    run.metrics["server_connections_end"] = float(len(server.endpoint.connections))
    run.metrics["syn_queue_end"] = float(listener.syn_queue_len)
    run.metrics["bytes_delivered"] = float(sum(len(b) for b in got.values()))
    return run


def _two_way(ctx: Context) -> Run:
    net, run = ctx.network(Text("a naive server with a two-way handshake (a model)",
                                "一个只做两次握手的天真服务器（模型）"))
    client = net.add_host("client", [CLIENT_ADDR])
    server = TwoWayServer.on(net, 80)
    naive = server.endpoint
    net.connect(client, server, delay=10_000)
    _conns, events = _client_story(net, client)
    netstat_at(ctx, net, run, NETSTAT_AT)
    net.run(until=END)

    _old_syn_facts(run, events)
    phantoms = [c for c in naive.connections.values() if c.state is State.ESTABLISHED]
    run.metrics["phantom_connections"] = float(len(phantoms))
    run.metrics["accepted"] = float(len(naive.accepted))
    run.metrics["resets_ignored"] = float(naive.resets_ignored)
    if phantoms:
        run.facts.append(Text(
            "naive server: the old SYN became a connection at once, ESTABLISHED as its SYN,ACK left, "
            "and its application accepted it; the client's RST is ignored",
            "天真服务器：旧的 SYN 立即变成一个连接，SYN,ACK 一发出就进入 ESTABLISHED，应用程序 accept 了它"
            "；客户端的 RST 被忽略"))
        run.facts.append(Text(
            f"at {END / 1e6:g} s it still holds {len(phantoms)} phantom connection, waiting for data that "
            "will never come: nothing in it has a timer that could end it",
            f"到 {END / 1e6:g} 秒它仍然占着 {len(phantoms)} 个幽灵连接，等待永远不会来的数据：其中没有任何"
            "定时器能结束它"))
    return run


def build(ctx: Context) -> list[Run]:
    return [_three_way(ctx), _two_way(ctx)]


SCENARIO = Scenario(
    name="old-duplicate-syn",
    title=Text("Why not two? An old duplicate SYN", "为什么不是两次？历史重复的 SYN"),
    section="为什么不是两次",
    explanation=Text(
        "The seed's story, run as it is told. The client's first SYN does not get lost: it is "
        "stuck in some node of the network for 70 s. The client, hearing nothing, retransmits it "
        "after 1 s; that copy arrives, the handshake completes, the client sends a little data "
        "and closes; after TIME-WAIT (60 s) it has forgotten the connection entirely. Then, at "
        "70.11 s, the old SYN arrives. To the server it looks exactly like a new connection "
        "request (same addresses and ports, seq=x). With the three-way handshake the server "
        "makes no connection yet: it keeps only a small half-open entry and answers SYN,ACK ack=x+1, "
        "and waits for the client to confirm. The client has no connection that this SYN,ACK "
        "could belong to, so it answers as any TCP does to a segment for a connection that does "
        "not exist: RST, with seq=x+1 taken from the SYN,ACK's ack, exactly the number the "
        "server expects. The server deletes the entry: no connection was made, the application "
        "never saw anything, nothing stays held. That is the root reason for the third step: it "
        "is the client's confirmation that this SYN is current, i.e. that the client can "
        "receive and does want this connection. Even if the RST were lost, the half-open entry "
        "would time out after its SYN-ACK retransmissions (63 s). The second run replaces the "
        "server by a deliberately naive model (not a mode of synack's stack) that considers a "
        "connection established as soon as it sends its SYN,ACK, a two-way handshake. It hands "
        "the phantom connection to its application at once, and, like the seed's server, waits "
        "for data that never comes: it ignores the client's RST (the seed has the client ignore "
        "the answer, which comes to the same), and an idle established connection has no timer "
        "that would ever end it. The run ends with one phantom connection held.",
        "按原文的故事原样运行。客户端的第一个 SYN 并没有丢，而是在网络的某个节点滞留了 70 秒。客户端什么也"
        "没收到，1 秒后重传；这个副本到达，握手完成，客户端发送少量数据后关闭；TIME-WAIT（60 秒）之后，它已"
        "经完全忘记了这个连接。接着在 70.11 秒，旧的 SYN 到了。在服务器看来，它和一个新的连接请求一模一样（"
        "相同的地址和端口，seq=x）。在三次握手下，服务器此时还没有建立连接：它只保存一个小小的半连接条目"
        "，回复 SYN,ACK ack=x+1，等客户端确认。客户端没有任何连接能对得上这个 SYN,ACK，于是像所有 TCP 对待"
        "不存在的连接的报文那样回答：RST，seq=x+1 取自 SYN,ACK 的确认号，正是服务器期望的序列号。服务器删除"
        "该条目：没有建立连接，应用程序什么也没看到，没有占用任何资源。这就是第三步的根本原因：它是客户端的"
        "确认，说明这个 SYN 是当前的，也就是客户端能够接收、并且确实想要这个连接。即使 RST 丢了，半连接条目"
        "也会在 SYN-ACK 重传之后（63 秒）超时。第二次运行把服务器换成一个故意写得很天真的模型（不是 synack "
        "协议栈的某种模式），它在发出 SYN,ACK 的那一刻就认为连接已建立，即两次握手。它立即把这个幽灵连接交"
        "给应用程序，并像原文中的服务器那样，一直等待永远不会来的数据：它忽略客户端的 RST（原文中是客户端忽"
        "略服务器的确认，结果相同），而一个空闲的已建立连接没有任何定时器能结束它。运行结束时它仍占着一个幽"
        "灵连接。"),
    build=build,
)
