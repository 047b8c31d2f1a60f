"""为什么是四次挥手而不是三次: the server's ACK and FIN share a segment only when its
application closes before the delayed ACK of the client's FIN leaves."""

from __future__ import annotations

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection

from .apps import accept_all, on_peer_closed
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)
CLOSE_AT = seconds(0.3)
#: Linux delays the ACK of a FIN on its delayed-ACK timer (TCP_DELACK_MIN).
FIN_ACK_DELAY = ms(40)
#: How long the server application of the second run takes to close.
SLOW_CLOSE = seconds(1)


def _one_run(ctx: Context, label: Text, server_delay: int) -> Run:
    net, run, client, server = ctx.two_hosts(label, server_config=Config(fin_ack_delay=FIN_ACK_DELAY))
    listener = server.listen(80)
    accept_all(server, listener)
    conns: list[Connection] = []
    if server_delay == 0:
        # A server that closes as soon as read() returns end-of-file.
        on_peer_closed(server, server.close)
    else:
        on_peer_closed(server, lambda conn: net.after(server_delay, server.close, conn))
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    net.run_until_idle()

    close_segs = [s for s in run.sent() if s[0] >= CLOSE_AT]
    run.facts.append(Text(
        f"the close took {len(close_segs)} segments: " + ", ".join(f"{h} {f}" for _t, h, f, *_ in close_segs),
        f"关闭用了 {len(close_segs)} 个报文："
        + "，".join(f"{'客户端' if h == 'client' else '服务器'} {f}" for _t, h, f, *_ in close_segs)))
    client_states = [new for _old, new in run.states("client")]
    fw2 = "FIN-WAIT-2" in client_states
    run.facts.append(Text(
        "client: " + " → ".join(client_states[client_states.index("FIN-WAIT-1"):])
        + ("" if fw2 else " (no FIN-WAIT-2: the FIN arrived together with the ACK of its own FIN)"),
        "客户端：" + " → ".join(client_states[client_states.index("FIN-WAIT-1"):])
        + ("" if fw2 else "（没有 FIN-WAIT-2：对方的 FIN 和对自己 FIN 的确认一起到达）")))
    fin_arrived = next((t for t, _h, f, *_ in run.received("server") if "F" in f), 0)
    acks = [(t, f) for t, host, f, *_ in close_segs if host == "server"]
    if len(acks) == 2:
        run.facts.append(Text(
            f"server: the bare ACK left {(acks[0][0] - fin_arrived) / 1000:g} ms after the client's FIN "
            f"arrived (delayed-ACK timer), its FIN {(acks[1][0] - fin_arrived) / 1e6:g} s after it",
            f"服务器：客户端的 FIN 到达后 {(acks[0][0] - fin_arrived) / 1000:g} 毫秒单独的 ACK 发出（延迟确认"
            f"定时器），{(acks[1][0] - fin_arrived) / 1e6:g} 秒后才发出它的 FIN"))
    elif acks:
        run.facts.append(Text(
            f"server: its FIN,ACK left {(acks[0][0] - fin_arrived) / 1000:g} ms after the client's FIN "
            "arrived: the application closed before the delayed ACK was due",
            f"服务器：客户端的 FIN 到达后 {(acks[0][0] - fin_arrived) / 1000:g} 毫秒 FIN,ACK 就发出了：应用在"
            "延迟确认到期之前就关闭了"))
    retrans = run.host("client").endpoint.stats.retransmits
    run.facts.append(Text(f"client: FIN retransmissions: {retrans}", f"客户端：FIN 重传次数：{retrans}"))
    run.metrics["close_segments"] = float(len(close_segs))
    run.metrics["client_retransmits"] = float(retrans)
    return run


def build(ctx: Context) -> list[Run]:
    return [
        _one_run(ctx, Text("the server application closes at once: three segments",
                           "服务器应用立即关闭：三个报文"), 0),
        _one_run(ctx, Text("the server application closes 1 s later: four segments",
                           "服务器应用 1 秒后关闭：四个报文"), SLOW_CLOSE),
    ]


SCENARIO = Scenario(
    name="close-fin-ack-combined",
    title=Text("Three segments or four: when the server's ACK and FIN combine",
               "三个报文还是四个：服务器的 ACK 和 FIN 何时合并"),
    section="为什么是四次挥手而不是三次",
    explanation=Text(
        "The server's ACK and its FIN answer two different things. The ACK is its TCP's receipt for "
        "the client's FIN. The FIN says that the server has nothing more to send, and only the server "
        "application knows that: it is sent when the application calls close() or shutdown(), which "
        "may be much later (see half-close). So TCP does not hold the ACK until the application "
        "closes: as the seed says, a long wait would make the client think its FIN was lost and "
        "retransmit it. But TCP may hold it briefly. Linux delays the ACK of a FIN on the "
        "delayed-ACK timer (tcp_fin() puts the socket in \"pingpong\" mode, expecting the application "
        "to answer; at least 40 ms, TCP_DELACK_MIN), and both runs here do the same (synack's "
        "fin_ack_delay = 40 ms; the default is 0, an immediate ACK). In the first run the server "
        "application closes as soon as read() returns end-of-file, well within those 40 ms: its FIN "
        "leaves on the pending ACK as one FIN,ACK segment, and the close takes three segments. The "
        "client, finding its own FIN acknowledged and the server's FIN in the same segment, goes "
        "from FIN-WAIT-1 straight to TIME-WAIT (RFC 9293 §3.10.7.4) and never sees FIN-WAIT-2. In the "
        "second run the application needs 1 s: the delayed-ACK timer fires after 40 ms and a bare ACK "
        "leaves, the FIN follows 1 s later, and the close takes four segments. The client retransmits "
        "nothing in either run. Both are ordinary TCP: the \"four waves\" are two FIN/ACK pairs, one "
        "per direction, and whether a FIN rides on an ACK is the same kind of economy as an ACK "
        "riding on data.",
        "服务器的 ACK 和 FIN 回答的是两件不同的事。ACK 是服务器的 TCP 对客户端 FIN 的回执；FIN 表示服务器"
        "再也没有数据要发送，而这只有服务器应用知道：应用调用 close() 或 shutdown() 时才会发送 FIN，这可能"
        "要晚得多（见 half-close）。所以 TCP 不会把 ACK 一直扣到应用关闭：正如原文所说，等得太久会让客户端"
        "以为自己的 FIN 丢了而重传。但 TCP 可以稍等片刻。Linux 用延迟确认定时器推迟对 FIN 的确认（tcp_fin() "
        "把套接字切换到“pingpong”模式，预期应用会作出回应；至少 40 毫秒，即 TCP_DELACK_MIN），这里两次运行"
        "也都这样做（synack 的 fin_ack_delay = 40 毫秒；默认值为 0，即立即确认）。第一次运行中，服务器应用"
        "在 read() 返回文件结束时立即关闭，远在 40 毫秒之内：它的 FIN 搭上了待发的 ACK，成为一个 FIN,ACK 报"
        "文，关闭只用了三个报文。客户端发现自己的 FIN 已被确认、服务器的 FIN 也在同一个报文里，于是从 "
        "FIN-WAIT-1 直接进入 TIME-WAIT（RFC 9293 §3.10.7.4），根本不经过 FIN-WAIT-2。第二次运行中应用需要 "
        "1 秒：40 毫秒后延迟确认定时器到期，单独的 ACK 发出，FIN 在 1 秒后才跟上，关闭用了四个报文。两次运"
        "行中客户端都没有重传任何东西。两种情况都是普通的 TCP：“四次挥手”指的是两对 FIN/ACK，每个方向一对；"
        "FIN 是否搭 ACK 的便车，和 ACK 搭数据的便车是同一类节省。"),
    build=build,
)
