"""四次挥手: the four-way close, segment by segment, and the 2MSL wait that ends it."""

from __future__ import annotations

from synack.core.config import seconds

from .apps import CLOSE_AT, events_of, netstat_at, ping_pong_then_close
from .base import SERVER_ADDR, Context, Run, Scenario, Text


def _entered(run: Run, host: str, state: str) -> int | None:
    """When ``host`` first entered ``state`` (µs), if it did."""
    return next((t for t, _old, new in run.state_times(host) if new == state), None)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        "the client closes first; the server application closes 1 s later",
        "客户端先关闭；服务器应用 1 秒后关闭"))
    client_events = events_of(client)
    server_events = events_of(server)
    # The server application learns of the client's FIN as end-of-file (read() -> b"")
    # and closes its side only when it is done: here, one second later.
    ping_pong_then_close(net, client, server, SERVER_ADDR)
    # A netstat in the middle of the client's TIME-WAIT shows the timer running.
    netstat_at(ctx, net, run, seconds(30))
    net.run_until_idle()

    tw, cl = _entered(run, "client", "TIME-WAIT"), _entered(run, "client", "CLOSED")
    s_closed = _entered(run, "server", "CLOSED")
    close_segs = [s for s in run.sent() if s[0] >= CLOSE_AT]
    if tw is not None and cl is not None and s_closed is not None:
        run.facts.append(Text(
            f"the close took {len(close_segs)} segments: "
            + ", ".join(f"{h} {f}" for _t, h, f, *_ in close_segs),
            f"关闭用了 {len(close_segs)} 个报文："
            + "，".join(f"{'客户端' if h == 'client' else '服务器'} {f}" for _t, h, f, *_ in close_segs)))
        run.facts.append(Text(
            f"server: CLOSED at {s_closed / 1e6:.3f} s, as soon as the last ACK arrived; "
            "the passive closer never waits",
            f"服务器：{s_closed / 1e6:.3f} 秒时一收到最后的 ACK 就进入 CLOSED；被动关闭方从不等待"))
        run.facts.append(Text(
            f"client: TIME-WAIT from {tw / 1e6:.3f} s to {cl / 1e6:.3f} s = {(cl - tw) / 1e6:g} s "
            "(2MSL; Linux's fixed TCP_TIMEWAIT_LEN; RFC 9293: 2 × 2 min = 240 s)",
            f"客户端：TIME-WAIT 从 {tw / 1e6:.3f} 秒到 {cl / 1e6:.3f} 秒，共 {(cl - tw) / 1e6:g} 秒"
            "（2MSL；Linux 固定的 TCP_TIMEWAIT_LEN；RFC 9293 为 2 × 2 分钟 = 240 秒）"))
        run.metrics["close_segments"] = float(len(close_segs))
        run.metrics["client_time_wait_s"] = (cl - tw) / 1e6
        run.metrics["server_closed_s"] = s_closed / 1e6
    run.facts.append(Text(
        "client events: " + ", ".join(name for _t, name in client_events)
        + "; server events: " + ", ".join(name for _t, name in server_events),
        "客户端事件：" + "，".join(name for _t, name in client_events)
        + "；服务器事件：" + "，".join(name for _t, name in server_events)))
    return [run]


SCENARIO = Scenario(
    name="close",
    title=Text("The four-way close", "四次挥手"),
    section="四次挥手",
    explanation=Text(
        "Each direction of a TCP connection is closed on its own, so closing takes a FIN and an ACK per dir"
        "ection. After a small request and reply, the client application calls close(): the client sends FI"
        "N (seq = its next sequence number; the ACK flag is set too, as on every segment after the handshak"
        "e) and enters FIN-WAIT-1. The FIN consumes one sequence number, just like a SYN, because it must b"
        "e acknowledged. The server's TCP acknowledges it (ack = FIN + 1; at once here, while Linux holds t"
        "his ACK for its delayed-ACK time, at least 40 ms, in case its application closes at once, see clos"
        "e-fin-ack-combined) and enters CLOSE-WAIT (the seed writes CLOSED-WAIT; the RFC name is CLOSE-WAIT"
        "); when that ACK arrives the client is in FIN-WAIT-2 (and, since its application closed fully, Lin"
        "ux gives the peer 60 s, tcp_fin_timeout, to send its FIN). The server's TCP cannot send its own FI"
        "N yet: only its application knows whether it has more to send. The application sees the FIN as end"
        "-of-file, finishes its work and calls close() one second later; now the server sends FIN and enter"
        "s LAST-ACK. The client answers with the last ACK and enters TIME-WAIT; the server is CLOSED as soo"
        "n as that ACK arrives. The client, the side that closed first, stays in TIME-WAIT for 2MSL before "
        "it is CLOSED: 60 s here, Linux's fixed TCP_TIMEWAIT_LEN (RFC 9293 sets MSL to 2 minutes, so 240 s)"
        ". It waits so that it can answer again if its last ACK was lost (scenario time-wait-lost-ack) and "
        "so that old segments of this connection die out before the same addresses and ports can be used ag"
        "ain (time-wait-old-segment). The netstat at 30 s shows the client socket in TIME-WAIT with its tim"
        "er.",
        "TCP 连接的两个方向各自独立关闭，所以每个方向都需要一个 FIN 和一个 ACK。经过一次小小的请求和应答之"
        "后，客户端应用调用 close()：客户端发送 FIN（seq 为它的下一个序列号；ACK 标志也置位，握手之后的每个"
        "报文都是如此），进入 FIN-WAIT-1。FIN 和 SYN 一样消耗一个序列号，因为它需要对方确认。服务器的 TCP "
        "确认它（ack = FIN + 1；这里是立即确认，而 Linux 会把这个 ACK 推迟一个延迟确认时间（至少 40 毫秒）"
        "，以防应用马上关闭，见 close-fin-ack-combined），进入 CLOSE-WAIT（原文写作 CLOSED-WAIT，RFC 中的名"
        "字是 CLOSE-WAIT）；客户端收到这个 ACK 后进入 FIN-WAIT-2（由于它的应用已完全关闭，Linux 给对方 60 "
        "秒，即 tcp_fin_timeout，来发送 FIN）。服务器的 TCP 此时还不能发送自己的 FIN：只有它的应用知道是否"
        "还有数据要发。应用把 FIN 看作文件结束（end-of-file），处理完手头的工作，一秒后才调用 close()；这时"
        "服务器发送 FIN，进入 LAST-ACK。客户端回复最后一个 ACK，进入 TIME-WAIT；服务器一收到这个 ACK 就进入"
        " CLOSED。先关闭的一方（客户端）要在 TIME-WAIT 中停留 2MSL 才进入 CLOSED：这里是 60 秒，即 Linux 固"
        "定的 TCP_TIMEWAIT_LEN（RFC 9293 规定 MSL 为 2 分钟，即 240 秒）。它这样等待，一是为了在最后的 ACK "
        "丢失时还能再次应答（见场景 time-wait-lost-ack），二是让这个连接的旧报文在相同的地址和端口被重新使"
        "用之前从网络中消失（见 time-wait-old-segment）。30 秒时的 netstat 显示客户端套接字处于 TIME-WAIT "
        "及其定时器。"),
    build=build,
)
