"""三次握手过程中可以携带数据么: a SYN that carries data (no Fast Open).  The server
acknowledges only the SYN and keeps none of the data; the client sends it again after the
handshake; nothing is delivered before ESTABLISHED."""

from __future__ import annotations

from collections.abc import Callable

from synack.core.config import seconds
from synack.core.errors import DropReason
from synack.core.seq import MASK, seq_le, seq_lt, seq_sub
from synack.core.state import State
from synack.core.trace import StateRecord, Tracer, endpoint_str
from synack.core.wire import ACK, PSH, RST, SYN, Options, Segment

from .apps import accept_all, events_of, read_all
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text
from .models import ModelEndpoint

CONNECT_AT = seconds(0.1)
CLIENT_PORT = 40000
REQUEST = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


class SynDataClient(ModelEndpoint):
    """A client that puts its first bytes on its SYN, as RFC 9293 allows and as a TCP
    Fast Open client does, but without a Fast Open cookie.  synack's own stack, like
    Linux without Fast Open, never does this, so this small model (written for this
    scenario only) stands in for the client.  Like any TCP it keeps the data until it is
    acknowledged and, once the SYN,ACK says what was acknowledged, sends the rest with its
    ACK (Linux's tcp_rcv_fastopen_synack does the same).  No timers: nothing is lost here.

    Implements the simulator's endpoint contract (``synack.sim.EndpointLike``).
    """

    def __init__(self, name: str, addr: str, port: int, remote: tuple[str, int], isn: int, data: bytes,
                 tracer: Tracer | None, flights: Callable[[], int] | None = None) -> None:
        super().__init__(name, tracer, flights)
        self.addr = addr
        self.port = port
        self.remote = remote
        self.iss = isn
        self.data = data
        self.state = State.CLOSED
        self.snd_una = isn
        self.rcv_nxt = 0
        #: How many of ``data``'s bytes the peer has acknowledged.
        self.acked = 0

    def open(self, now: int) -> None:
        """Active open: the SYN leaves with all of ``data`` on it."""
        self._state(now, State.SYN_SENT)
        self._send(self.iss, SYN, self.data, Options(mss=1460))

    def on_segment(self, seg: Segment, src: str, dst: str, now: int) -> None:
        data_start = (self.iss + 1) & MASK
        data_end = (data_start + len(self.data)) & MASK
        if seg.flags & RST:
            self._state(now, State.CLOSED)
            return
        if not seg.flags & ACK or seq_lt(seg.ack, self.snd_una) or not seq_le(seg.ack, data_end):
            return  # acknowledges nothing we sent
        if self.state is State.SYN_SENT and seg.flags & SYN and seq_lt(self.iss, seg.ack):
            self.rcv_nxt = (seg.seq + 1) & MASK
            self._acked_to(seg.ack)
            self._state(now, State.ESTABLISHED)
            rest = self.data[self.acked:]
            # the ACK of the SYN,ACK, carrying whatever of the data was not acknowledged
            self._send(self.snd_una, ACK | PSH if rest else ACK, rest)
        elif self.state is State.ESTABLISHED:
            self._acked_to(seg.ack)

    # -- helpers ------------------------------------------------------------------------
    def _acked_to(self, ack: int) -> None:
        self.snd_una = ack
        self.acked = max(0, seq_sub(ack, (self.iss + 1) & MASK))

    def _send(self, seq: int, flags: int, payload: bytes = b"", options: Options | None = None) -> None:
        addr, port = self.remote
        seg = Segment(self.port, port, seq, self.rcv_nxt if flags & ACK else 0, flags, 65535,
                      options or Options(), payload)
        self.emit(self.addr, addr, seg)

    def _state(self, now: int, new: State) -> None:
        old, self.state = self.state, new
        if self._tracer is not None:
            self._tracer(StateRecord(now, self.name, endpoint_str(self.addr, self.port),
                                     endpoint_str(*self.remote), old, new))


def build(ctx: Context) -> list[Run]:
    net, run = ctx.network(Text("the client's SYN carries its request (no Fast Open cookie)",
                                "客户端的 SYN 携带了请求（没有 Fast Open cookie）"))
    model = SynDataClient("client", CLIENT_ADDR, CLIENT_PORT, (SERVER_ADDR, 80),
                          net.rng("syn-data-client:isn").getrandbits(32), REQUEST,
                          net.trace.append if net.tracing else None, net.next_flight)
    client = net.add_node("client", [CLIENT_ADDR], model)
    server = net.add_host("server", [SERVER_ADDR])
    net.connect(client, server, delay=10_000)
    listener = server.listen(80)
    accept_all(server, listener)
    got = read_all(server)
    server_events = events_of(server)

    def connect() -> None:
        model.open(net.now)
        client.service()

    net.at(CONNECT_AT, connect)
    net.run(until=seconds(1))

    stats = server.endpoint.stats
    synack = [s for s in run.sent("server") if s[2] == "SA"]
    established = [t for t, _old, new in run.state_times("server") if new == "ESTABLISHED"]
    readable = [t for t, name in server_events if name == "Readable"]
    delivered = b"".join(bytes(b) for b in got.values())
    resent = [s for s in run.sent("client") if s[5] and s[2] != "S"]
    run.metrics.update(bytes_on_syn=float(len(REQUEST)),
                       syn_data_dropped=float(stats.dropped[DropReason.SYN_DATA]),
                       bytes_resent=float(sum(s[5] for s in resent)), bytes_delivered=float(len(delivered)))
    if synack:
        run.facts.append(Text(
            f"server: the SYN carried {len(REQUEST)} bytes; the SYN,ACK acknowledges only the SYN (ack=x+1): "
            "the data was dropped (counted as data-on-syn), nothing was stored for a peer not yet known "
            "to be real",
            f"服务器：SYN 携带了 {len(REQUEST)} 字节；SYN,ACK 只确认 SYN（ack=x+1）：数据被丢弃（计为 "
            "data-on-syn），不为一个尚未证实真实存在的对端保存任何东西"))
    if resent:
        run.facts.append(Text(
            f"client: the SYN,ACK left all {resent[0][5]} bytes unacknowledged, so they went again with "
            "its ACK (seq=x+1), as ordinary data",
            f"客户端：SYN,ACK 没有确认这 {resent[0][5]} 字节，于是它们作为普通数据随 ACK（seq=x+1）再发一次"))
    if established and readable:
        run.metrics["server_established_ms"] = established[0] / 1000
        run.metrics["readable_ms"] = readable[0] / 1000
        run.facts.append(Text(
            f"server: ESTABLISHED at {established[0] / 1000:.0f} ms; the request became readable at "
            f"{readable[0] / 1000:.0f} ms, {len(delivered)} bytes, once: nothing before ESTABLISHED",
            f"服务器：{established[0] / 1000:.0f} 毫秒进入 ESTABLISHED；请求在 {readable[0] / 1000:.0f} 毫秒"
            f"可读，共 {len(delivered)} 字节，只交付一次：ESTABLISHED 之前什么也没交付"))
    return [run]


SCENARIO = Scenario(
    name="data-on-syn",
    title=Text("Data on a SYN is not kept (without Fast Open)",
               "SYN 上的数据不会被保留（没有 Fast Open 时）"),
    section="三次握手过程中可以携带数据么",
    explanation=Text(
        "The seed says the first two segments of the handshake cannot carry data: a server that "
        "kept the data of every SYN could be made to spend time and memory by anyone sending SYNs "
        "full of data from forged addresses. Strictly, RFC 9293 allows data on a SYN, but a "
        "receiver may not deliver it before the connection is ESTABLISHED, so it would have to "
        "store it for a peer it has not yet verified. Linux, like synack, does not: unless TCP "
        "Fast Open is on and the SYN carries a valid cookie (a later feature), a listener keeps "
        "only the SYN. synack's own client never puts data on a SYN either, so the client in this "
        "run is a small model written for the scenario that does what a Fast Open client does, "
        "without the cookie: its SYN carries its request. The server answers SYN,ACK ack=x+1, "
        "acknowledging the SYN alone, and drops the data; the ladder marks the SYN \"trimmed: "
        "data-on-syn\" (taken in part): its data was not taken, the SYN itself was and opened "
        "a half-open entry as usual. The client sees from ack=x+1 that none of its bytes were "
        "taken and sends them "
        "again with its ACK, seq=x+1, exactly like the data of data-on-third-ack. The server's "
        "connection becomes ESTABLISHED on that segment and only then hands the request to its "
        "application, once. A SYN with data thus costs the same round trip as no data at all, "
        "plus the bytes sent twice: the reason Fast Open needs a cookie that proves the client "
        "was seen before.",
        "原文说握手的前两个报文不能携带数据：如果服务器保留每个 SYN 上的数据，任何人都可以从伪造的地址发送"
        "装满数据的 SYN，让服务器耗费时间和内存。严格地说，RFC 9293 允许 SYN 携带数据，但接收方在连接进入 E"
        "STABLISHED 之前不能交付它，只能为一个尚未验证的对端把它存起来。Linux 和 synack 都不这样做：除非开"
        "启了 TCP Fast Open 并且 SYN 带有有效的 cookie（后续功能），监听套接字只保留 SYN 本身。synack 自己"
        "的客户端也从不在 SYN 上放数据，所以本次运行中的客户端是专为这个场景写的一个小模型，它做 Fast Open "
        "客户端做的事，只是没有 cookie：它的 SYN 带着请求。服务器回复 SYN,ACK ack=x+1，只确认 SYN，丢弃数据"
        "；时序图把这个 SYN 标为“部分接收：SYN 上的数据”（英文为 trimmed: data-on-syn）："
        "没被接收的是它的数据，SYN 本身被接收了，照常建立了半连接条目。客户"
        "端从 ack=x+1 看出它的字节一个也没被接收，于是随 ACK 再发一次，seq=x+1，和 data-on-third-ack 中的数"
        "据完全一样。服务器的连接在这个报文上进入 ESTABLISHED，然后才把请求交给应用程序，只交一次。所以带数"
        "据的 SYN 和不带数据一样要花一个往返，还要把字节发两遍：这就是 Fast Open 需要一个能证明见过该客户端"
        "的 cookie 的原因。"),
    build=build,
)
