"""真实握手: the three-way handshake, segment by segment."""

from __future__ import annotations

from synack.core.config import seconds

from .apps import accept_all, events_of
from .base import SERVER_ADDR, Context, Run, Scenario, Text


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text("client connects to server port 80",
                                                  "客户端连接服务器的 80 端口"))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    client_events = events_of(client)
    net.at(seconds(0.1), lambda: client.connect(SERVER_ADDR, 80))
    net.run(until=seconds(1))
    if accepted and client_events:
        run.facts.append(Text(
            f"client: connect() returned after {(client_events[0][0] - seconds(0.1)) / 1000:.0f} ms "
            "(one round trip); server: accept() got the connection",
            f"客户端 connect() 在 {(client_events[0][0] - seconds(0.1)) / 1000:.0f} 毫秒后返回（一个往返）；"
            "服务器 accept() 拿到了连接"))
    return [run]


SCENARIO = Scenario(
    name="handshake",
    title=Text("The three-way handshake", "三次握手"),
    section="真实握手",
    explanation=Text(
        "Both sides start CLOSED; the server listens (LISTEN). The client sends SYN with its "
        "initial sequence number x and enters SYN-SENT. The server answers SYN,ACK: its own "
        "ISN y and ack=x+1, and its new connection sits in SYN-RECEIVED (in the listener's SYN "
        "queue). The client answers ACK seq=x+1 ack=y+1 and is ESTABLISHED; when that ACK "
        "arrives the server is ESTABLISHED too and the connection moves to the accept queue. "
        "A SYN consumes one sequence number (so the ACK of it is x+1); a bare ACK consumes none "
        "(the client's next segment still starts at x+1). The options on the SYNs negotiate the "
        "MSS, window scaling and SACK. That is why the window reads win=65535 on both SYNs and "
        "win=511 on the ACK, for the same 64 KiB receive buffer: the window field of a segment "
        "with SYN is never scaled (RFC 7323 §2.2), and once both sides have sent wscale 7 every "
        "later window field counts units of 2^7 = 128 octets, so 511 means 511 × 128 = 65,408 "
        "octets, the free 65,535 rounded down to a multiple of 128 (Linux rounds up; see the "
        "README).",
        "双方都从 CLOSED 开始；服务器监听端口（LISTEN）。客户端发送 SYN，带上自己的初始序列号 x，进入 "
        "SYN-SENT。服务器回复 SYN,ACK：自己的初始序列号 y 和 ack=x+1，新连接处于 SYN-RECEIVED（在监听"
        "套接字的半连接队列里）。客户端回复 ACK seq=x+1 ack=y+1，进入 ESTABLISHED；服务器收到这个 ACK "
        "后也进入 ESTABLISHED，连接移入全连接队列。SYN 消耗一个序列号（所以确认号是 x+1），单纯的 ACK "
        "不消耗（客户端下一个报文仍从 x+1 开始）。SYN 上的选项协商 MSS、窗口扩大和 SACK。"
        "所以同样是 64 KiB 的接收缓冲区，两个 SYN 上写的是 win=65535，ACK 上却是 win=511：带 SYN 的"
        "报文的窗口字段从不缩放（RFC 7323 §2.2），而双方都发过 wscale 7 之后，此后每个窗口字段的单位是 "
        "2^7 = 128 字节，511 表示 511 × 128 = 65,408 字节，即空闲的 65,535 字节向下取整到 128 的倍数"
        "（Linux 向上取整；见 README）。"),
    build=build,
)
