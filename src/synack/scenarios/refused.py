"""RFC 9293: a SYN to a port nobody listens on is answered with RST; connect() fails."""

from __future__ import annotations

from synack.core.config import seconds
from synack.core.errors import DropReason

from .apps import events_of
from .base import SERVER_ADDR, Context, Run, Scenario, Text

#: The server listens on 80; the client asks for 81, where nothing listens.
LISTENING_PORT = 80
CLOSED_PORT = 81


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        f"client connects to port {CLOSED_PORT}; the server only listens on {LISTENING_PORT}",
        f"客户端连接 {CLOSED_PORT} 端口；服务器只在 {LISTENING_PORT} 端口监听"))
    server.listen(LISTENING_PORT)
    client_events = events_of(client)
    net.at(seconds(0.1), lambda: client.connect(SERVER_ADDR, CLOSED_PORT))
    net.run(until=seconds(5))
    refused = [t for t, name in client_events if name == "ConnectionRefused"]
    if refused:
        rtt_ms = (refused[0] - seconds(0.1)) / 1000
        run.facts.append(Text(
            f"client: connect() failed after {rtt_ms:.0f} ms (one round trip) with "
            "\"connection refused\" (ECONNREFUSED); it did not retransmit its SYN",
            f"客户端：connect() 在 {rtt_ms:.0f} 毫秒（一个往返）后失败，错误是“connection refused”"
            "（ECONNREFUSED）；它没有重传 SYN"))
    stats = server.endpoint.stats
    run.facts.append(Text(
        f"server: no socket for port {CLOSED_PORT}: {stats.dropped[DropReason.NO_CONNECTION]} segment "
        f"dropped as \"{DropReason.NO_CONNECTION.value}\", {stats.resets_sent} RST sent, "
        "no state kept",
        f"服务器：{CLOSED_PORT} 端口没有套接字：{stats.dropped[DropReason.NO_CONNECTION]} 个报文按"
        f"“{DropReason.NO_CONNECTION.value}”丢弃，发出 {stats.resets_sent} 个 RST，不保留任何状态"))
    run.metrics["client_refused"] = float(len(refused))
    run.metrics["server_resets_sent"] = float(stats.resets_sent)
    return [run]


SCENARIO = Scenario(
    name="refused",
    title=Text("Connection refused: a SYN to a closed port", "连接被拒绝：SYN 发到没有监听的端口"),
    section="RFC 9293",
    explanation=Text(
        f"The server listens on port {LISTENING_PORT} only; the client sends its SYN (seq=x) to port "
        f"{CLOSED_PORT}. For that port the server has no TCB at all: it is in the fictional state "
        "CLOSED, and RFC 9293 (§3.10.7.1) says every segment arriving there, except a RST, is "
        "answered with a RST. The reply must be acceptable to the sender without the server "
        "knowing anything about it: the SYN carried no ACK, so the RST is <SEQ=0><ACK=x+1>"
        "<CTL=RST,ACK>, its ACK covering exactly the SYN (which occupies one sequence number). "
        "The client in SYN-SENT accepts a RST only if its ACK acknowledges the SYN (§3.10.7.3, "
        "and RFC 5961 against blind resets); this one does, so the client drops the connection "
        "(SYN-SENT → CLOSED) and connect() fails with \"connection refused\" (ECONNREFUSED) after "
        "a single round trip, instead of retransmitting the SYN for two minutes as it would if "
        "the SYN had simply been lost. The server keeps no state, so refusing costs it nothing.",
        f"服务器只监听 {LISTENING_PORT} 端口；客户端把 SYN（seq=x）发往 {CLOSED_PORT} 端口。对这个端口，"
        "服务器根本没有 TCB，处在虚构的 CLOSED 状态；RFC 9293（§3.10.7.1）规定到达这里的任何报文"
        "（RST 除外）都用 RST 回答。服务器对发送方一无所知，却要让回答能被对方接受：SYN 不带 ACK，"
        "所以 RST 是 <SEQ=0><ACK=x+1><CTL=RST,ACK>，它的确认号正好覆盖那个 SYN（SYN 占一个序列号）。"
        "处于 SYN-SENT 的客户端只接受确认了自己 SYN 的 RST（§3.10.7.3，以及防盲打 RST 的 RFC 5961）；"
        "这个 RST 符合，于是客户端删除连接（SYN-SENT → CLOSED），connect() 在一个往返之后就以"
        "“connection refused”（ECONNREFUSED）失败，而不是像 SYN 丢失时那样重传两分钟。服务器不保留"
        "任何状态，拒绝连接对它没有代价。"),
    build=build,
)
