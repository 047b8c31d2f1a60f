"""三次握手过程中可以携带数据么: the third segment of the handshake may carry data."""

from __future__ import annotations

from typing import Any

from synack.core.config import seconds
from synack.core.connection import Connection
from synack.core.events import Connected, Event
from synack.sim import Host

from .apps import accept_all, events_of, read_all
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)
REQUEST = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


def _one_run(ctx: Context, label: Text, early: bool) -> Run:
    """The client's application writes its request right after connect() (``early``: while
    the handshake is still under way) or when the Connected event comes."""
    net, run, client, server = ctx.two_hosts(label)
    listener = server.listen(80)
    accept_all(server, listener)
    got = read_all(server)
    server_events = events_of(server)
    conns: list[Connection] = []

    def connect() -> None:
        conns.append(client.connect(SERVER_ADDR, 80))
        if early:
            client.send(conns[0], REQUEST)  # SYN-SENT: queued until ESTABLISHED

    if not early:
        _send_on_connect(client, REQUEST)
    net.at(CONNECT_AT, connect)
    net.run(until=seconds(1))

    client_segs = run.sent("client")
    third = client_segs[1] if len(client_segs) > 1 else None
    established = [t for t, old, new in run.state_times("server") if new == "ESTABLISHED"]
    readable = [t for t, name in server_events if name == "Readable"]
    data = b"".join(bytes(b) for b in got.values())
    run.metrics["segments"] = float(len(run.sent()))
    run.metrics["third_segment_bytes"] = float(third[5]) if third else -1.0
    run.metrics["bytes_delivered"] = float(len(data))
    if third is not None:
        if third[5]:
            run.facts.append(Text(
                f"client: the third segment is ACK seq=x+1 ack=y+1 carrying {third[5]} bytes: the request "
                "was waiting in the send buffer when the SYN,ACK arrived, so it left with the ACK",
                f"客户端：第三个报文是 ACK seq=x+1 ack=y+1，携带 {third[5]} 字节：SYN,ACK 到达时请求已在发送"
                "缓冲区里等着，于是和 ACK 一起发出"))
        else:
            run.facts.append(Text(
                f"client: the third segment is a bare ACK; the request follows in a fourth segment "
                f"({len(client_segs)} segments from the client, {int(run.metrics['segments'])} in all)",
                f"客户端：第三个报文是不带数据的 ACK；请求在第四个报文里跟着发出（客户端共发 "
                f"{len(client_segs)} 个报文，总共 {int(run.metrics['segments'])} 个）"))
    if established and readable:
        run.facts.append(Text(
            f"server: ESTABLISHED at {established[0] / 1000:.0f} ms, the request readable at "
            f"{readable[0] / 1000:.0f} ms ({len(data)} bytes): data is handed to the application only "
            "on an ESTABLISHED connection",
            f"服务器：{established[0] / 1000:.0f} 毫秒进入 ESTABLISHED，"
            f"请求在 {readable[0] / 1000:.0f} 毫秒可读（{len(data)} 字节）："
            "数据只会在已建立的连接上交给应用程序"))
        run.metrics["server_established_ms"] = established[0] / 1000
        run.metrics["readable_ms"] = readable[0] / 1000
    return run


def _send_on_connect(host: Host[Any], data: bytes) -> None:
    def on_event(ev: Event) -> None:
        if isinstance(ev, Connected):
            host.send(ev.conn, data)

    host.on_event(on_event)


def build(ctx: Context) -> list[Run]:
    return [
        _one_run(ctx, Text("the request is written right after connect(): it rides on the third segment",
                           "connect() 之后立即写请求：它搭上第三个报文"), early=True),
        _one_run(ctx, Text("the request is written when connect() returns: bare ACK, then data",
                           "connect() 返回后才写请求：先是单独的 ACK，然后是数据"), early=False),
    ]


SCENARIO = Scenario(
    name="data-on-third-ack",
    title=Text("The third segment of the handshake can carry data", "第三次握手可以携带数据"),
    section="三次握手过程中可以携带数据么",
    explanation=Text(
        "When the SYN,ACK arrives, the client has all it needs: its SYN was acknowledged (the "
        "server can receive) and the server's SYN arrived (the server can send). It enters "
        "ESTABLISHED at once, and RFC 9293 (§3.10.7.3) lets the ACK it now sends carry data "
        "that is waiting. In the first run the application wrote its request immediately after "
        "connect(), while the connection was still in SYN-SENT; RFC 9293 says such a SEND is "
        "queued until ESTABLISHED. So the third segment is ACK seq=x+1 ack=y+1 with the request "
        "in it, and the server gets the handshake's completion and the data together. Linux does "
        "the same for an application already blocked in write() when the SYN,ACK comes: it "
        "delays that ACK (\"save one ACK\") so the data can ride on it. The server is safe to "
        "accept it: the segment completes its handshake first (SYN-RECEIVED → ESTABLISHED), "
        "and only then is its text processed and handed to the application. In the second run "
        "the application waits for connect() to return before writing: the ACK has already "
        "left on its own, and the data follows in a fourth segment, one more packet for the "
        "same result. The first two segments, in contrast, should carry no data: the server "
        "would have to store it before knowing the client is real (see data-on-syn).",
        "SYN,ACK 到达时，客户端已经知道它需要知道的一切：自己的 SYN 被确认了（服务器能收），服务器的 SYN 也"
        "到了（服务器能发）。它立即进入 ESTABLISHED，RFC 9293（§3.10.7.3）允许它此时发出的 ACK 携带正在等待"
        "的数据。第一次运行中，应用在 connect() 之后立刻写入请求，此时连接还处于 SYN-SENT；RFC 9293 规定这"
        "样的 SEND 要排队到 ESTABLISHED 才发。于是第三个报文就是带着请求的 ACK seq=x+1 ack=y+1，服务器一并"
        "收到握手的完成和数据。Linux 对 SYN,ACK 到达时已阻塞在 write() 中的应用也这样做：它推迟这个 ACK（“"
        "省一个 ACK”），让数据搭上它。服务器接受这个报文是安全的：报文先完成它的握手（SYN-RECEIVED → ESTABL"
        "ISHED），然后其中的数据才被处理并交给应用程序。第二次运行中，应用等 connect() 返回后才写：ACK 已经"
        "单独发出，数据在第四个报文中跟着发出，多一个包，结果相同。相反，前两个报文不应该携带数据：服务器将"
        "不得不在确认客户端真实存在之前就保存它们（见 data-on-syn）。"),
    build=build,
)
