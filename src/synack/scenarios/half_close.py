"""半关闭: after shutdown() the client can no longer send data, but it keeps receiving."""

from __future__ import annotations

from synack.core.config import seconds
from synack.core.connection import Connection
from synack.core.errors import ConnectionClosing
from synack.core.events import Event, PeerClosed, Readable
from synack.core.timers import Timer
from synack.core.trace import TimerRecord

from .apps import accept_all
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)
REQUEST_AT = seconds(0.2)
SHUTDOWN_AT = seconds(0.3)
SEND_AFTER_SHUTDOWN_AT = seconds(0.5)
REQUEST = b"send me the log\n"
#: The server's answer, one chunk every 100 ms after it has read the whole request.
CHUNKS = (b"log line 1\n", b"log line 2\n", b"log line 3\n")
CHUNK_EVERY = seconds(0.1)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        "the client sends its request and shuts down its sending side; the server answers, then closes",
        "客户端发出请求后关闭自己的发送方向；服务器发完应答后再关闭"))
    listener = server.listen(80)
    accept_all(server, listener)
    conns: list[Connection] = []
    request = bytearray()
    received = bytearray()
    in_fin_wait_2: list[int] = []   # bytes taken while the client was in FIN-WAIT-2
    send_error: list[str] = []
    eof_at: list[int] = []

    def server_app(ev: Event) -> None:
        if isinstance(ev, Readable):
            request.extend(server.read(ev.conn))
        elif isinstance(ev, PeerClosed):
            # End of file: the request is complete.  Answer it, then close.
            conn = ev.conn
            request.extend(server.read(conn))
            for i, chunk in enumerate(CHUNKS, 1):
                net.after(i * CHUNK_EVERY, server.send, conn, chunk)
            net.after((len(CHUNKS) + 1) * CHUNK_EVERY, server.close, conn)

    def client_app(ev: Event) -> None:
        if isinstance(ev, Readable):
            state = ev.conn.state.value
            data = client.read(ev.conn)
            received.extend(data)
            if state == "FIN-WAIT-2":
                in_fin_wait_2.append(len(data))
        elif isinstance(ev, PeerClosed):
            eof_at.append(net.now)

    def send_after_shutdown() -> None:
        try:
            client.send(conns[0], b"one more thing\n")
        except ConnectionClosing as exc:
            send_error.append(str(exc))

    server.on_event(server_app)
    client.on_event(client_app)
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(REQUEST_AT, lambda: client.send(conns[0], REQUEST))
    net.at(SHUTDOWN_AT, lambda: client.shutdown(conns[0]))
    net.at(SEND_AFTER_SHUTDOWN_AT, send_after_shutdown)
    net.run_until_idle()

    run.facts.append(Text(
        f"server: read the whole request ({len(request)} bytes) once the client's FIN told it "
        "nothing more would come",
        f"服务器：客户端的 FIN 告诉它不会再有数据，于是它读到了完整的请求（{len(request)} 字节）"))
    if send_error:
        run.facts.append(Text(
            f"client: send() after shutdown() failed: {send_error[0]}; its side is closed for data "
            "(it still sends ACKs)",
            f"客户端：shutdown() 之后再 send() 失败：{send_error[0]}；它的发送方向已对数据关闭"
            "（仍然发送 ACK）"))
    run.facts.append(Text(
        f"client: received {sum(in_fin_wait_2)} bytes in {len(in_fin_wait_2)} segments while in "
        f"FIN-WAIT-2, {len(received)} in all: {bytes(received)!r}",
        f"客户端：在 FIN-WAIT-2 中收到 {len(in_fin_wait_2)} 个报文共 {sum(in_fin_wait_2)} 字节，"
        f"总共 {len(received)} 字节：{bytes(received)!r}"))
    fw2_timers = [r for r in run.records if isinstance(r, TimerRecord) and r.timer is Timer.FIN_WAIT_2]
    if fw2_timers:
        run.facts.append(Text("client: a FIN-WAIT-2 timer was armed", "客户端：启动了 FIN-WAIT-2 定时器"))
    else:
        run.facts.append(Text(
            "client: no FIN-WAIT-2 timer ran: after shutdown() the application still reads, so the "
            "client waits for the server's FIN as long as the server keeps sending",
            "客户端：没有 FIN-WAIT-2 定时器：shutdown() 之后应用还在读，服务器发送多久，客户端就等待服务器"
            "的 FIN 多久"))
    run.metrics["bytes_received_in_fin_wait_2"] = float(sum(in_fin_wait_2))
    run.metrics["bytes_received"] = float(len(received))
    if eof_at:
        run.metrics["client_eof_s"] = eof_at[0] / 1e6
    return [run]


SCENARIO = Scenario(
    name="half-close",
    title=Text("Half-close: shutdown() closes one direction only", "半关闭：shutdown() 只关闭一个方向"),
    section="半关闭",
    explanation=Text(
        "A TCP connection is two byte streams, one in each direction, and a FIN closes only the "
        "stream of the side that sends it. The seed says that after its FIN the client is "
        "half-closed: it cannot send to the server any more, it can only receive. Precisely: it "
        "can send no more data (send() now fails with \"connection closing\"), but it still "
        "acknowledges everything it receives. The application asks for exactly this with "
        "shutdown() (SHUT_WR), not close(). Here the client sends a request and shuts down at once: "
        "its FIN is how the server learns that the request is complete (read() returns end-of-file), "
        "as with rsh or a one-shot upload. The server's TCP ACKs the FIN (CLOSE-WAIT; the client "
        "moves to FIN-WAIT-2), and then the server application keeps sending its answer for "
        "another 300 ms: three data segments that the client receives and acknowledges while in "
        "FIN-WAIT-2. Only then does the server close; its FIN moves the client to TIME-WAIT, and "
        "the client has read every byte. Because the client only shut down its sending side, "
        "no FIN-WAIT-2 timer runs: Linux's 60 s tcp_fin_timeout is for sockets the application "
        "has fully closed (orphans), which nobody reads any more. After a full close(), data "
        "arriving would be answered with a RST instead.",
        "TCP 连接是两条字节流，每个方向一条，FIN 只关闭发送它的那一方的字节流。原文说，客户端发出 FIN "
        "之后处于半关闭状态：不能再向服务器发送报文，只能接收。准确地说：它不能再发送数据（send() 此时"
        "会失败，报错“connection closing”），但它仍然确认收到的一切。应用要的正是这个时应调用 "
        "shutdown()（SHUT_WR），而不是 close()。这里客户端发出请求后立即 shutdown：服务器正是通过它的 "
        "FIN 知道请求已经完整（read() 返回文件结束），rsh 或一次性上传就是这样做的。服务器的 TCP 确认这个 "
        "FIN（进入 CLOSE-WAIT；客户端进入 FIN-WAIT-2），然后服务器应用又继续发送应答 300 毫秒：三个数据报"
        "文，客户端在 FIN-WAIT-2 中接收并确认。之后服务器才关闭；它的 FIN 使客户端进入 TIME-WAIT，客户端"
        "读到了每一个字节。因为客户端只关闭了发送方向，所以没有 FIN-WAIT-2 定时器：Linux 的 60 秒 "
        "tcp_fin_timeout 只针对应用已完全关闭、再也没人读取的套接字（孤儿套接字）。如果是完全 close()，之"
        "后再到达的数据会被回以 RST。"),
    build=build,
)
