"""半连接队列 / 全连接队列: the SYN queue and the accept queue, and what happens when each
is full (Linux: tcp_abort_on_overflow, tcp_syncookies)."""

from __future__ import annotations

from typing import Any

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.errors import DropReason
from synack.core.listener import Listener
from synack.core.wire import SYN, Options, Segment
from synack.sim import Host, Network

from .apps import events_of, netstat_at
from .base import SERVER_ADDR, Context, Run, Scenario, Text

BACKLOG = 2
#: Four connects in quick succession (the accept queue holds BACKLOG + 1, as Linux's): the
#: fourth SYN arrives while the accept queue still
#: has room (one connection in it), its ACK after the second connection has filled it.
CONNECTS = (ms(100), ms(110), ms(120), ms(135))
#: The client's first write on the fourth connection, after the server has forgotten it.
WRITE_AT = seconds(64)
PEEK_AT = ms(500)
#: Half-open entries whose SYN-ACKs go nowhere (addresses nobody owns, RFC 5737).
SPOOFED = ("198.51.100.1", "198.51.100.2")


def _count(run: Run, host: str, reason: DropReason, flags: str | None = None) -> int:
    return sum(1 for _t, h, f, r in run.drops(host) if r == reason.value and (flags is None or f == flags))


def _peek(net: Network, listener: Listener, at: int) -> dict[str, int]:
    seen: dict[str, int] = {}

    def look() -> None:
        seen["syn"] = listener.syn_queue_len
        seen["accept"] = listener.accept_queue_len

    net.at(at, look)
    return seen


def _established(host: Host[Any]) -> int:
    return sum(1 for c in host.endpoint.connections if c.state.value == "ESTABLISHED")


# -- the accept queue ----------------------------------------------------------------------
def _accept_queue_run(ctx: Context, abort_on_overflow: bool) -> Run:
    if abort_on_overflow:
        label = Text(f"backlog {BACKLOG}, tcp_abort_on_overflow=1: the overflow is reset",
                     f"backlog 为 {BACKLOG}，tcp_abort_on_overflow=1：溢出的连接被重置")
    else:
        label = Text(f"backlog {BACKLOG}, accept() never called, tcp_abort_on_overflow=0",
                     f"backlog 为 {BACKLOG}，从不调用 accept()，tcp_abort_on_overflow=0")
    net, run, client, server = ctx.two_hosts(label, server_config=Config(abort_on_overflow=abort_on_overflow))
    listener = server.listen(80, backlog=BACKLOG)
    conns: list[Connection] = []
    for t in CONNECTS:
        net.at(t, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    client_events = events_of(client)
    seen = _peek(net, listener, PEEK_AT)
    counted: dict[str, int] = {}
    net.at(PEEK_AT, lambda: counted.update(client=_established(client), server=_established(server)))
    netstat_at(ctx, net, run, PEEK_AT)

    def write() -> None:
        if conns[-1].state.value == "ESTABLISHED":
            client.send(conns[-1], b"hello")

    net.at(WRITE_AT, write)
    net.run(until=seconds(1) if abort_on_overflow else seconds(66))

    stats = server.endpoint.stats
    dropped_acks = _count(run, "server", DropReason.ACCEPT_QUEUE_FULL, "A")
    run.metrics.update(accept_queue=float(seen.get("accept", -1)), syn_queue=float(seen.get("syn", -1)),
                       client_established=float(counted.get("client", -1)),
                       server_established=float(counted.get("server", -1)),
                       acks_dropped=float(dropped_acks), synack_retransmits=float(stats.synack_retransmits),
                       resets_sent=float(stats.resets_sent))
    run.facts.append(Text(
        f"at {PEEK_AT / 1000:.0f} ms: the client has {counted.get('client')} ESTABLISHED connections; the "
        f"server has {counted.get('server')}, waiting in its accept queue ({seen.get('accept')}/"
        f"{listener.accept_queue_limit}: backlog + 1); "
        f"SYN queue {seen.get('syn')}",
        f"{PEEK_AT / 1000:.0f} 毫秒时：客户端有 {counted.get('client')} 个 ESTABLISHED 连接，服务器有 "
        f"{counted.get('server')} 个，在全连接队列里等待（{seen.get('accept')}/"
        f"{listener.accept_queue_limit}：backlog + 1）；半连接队列 "
        f"{seen.get('syn')}"))
    resets = [t for t, name in client_events if name == "ConnectionReset"]
    if abort_on_overflow:
        run.facts.append(Text(
            "server: the fourth handshake's ACK found the accept queue full and was answered with RST; "
            f"the client's connect() had already succeeded, and the connection was reset at "
            f"{resets[0] / 1000:.0f} ms" if resets else "server: no reset was sent",
            "服务器：第四次握手的 ACK 遇到全连接队列已满，被回以 RST；客户端的 connect() 早已成功，连接在 "
            f"{resets[0] / 1000:.0f} 毫秒被重置" if resets else "服务器：没有发送 RST"))
        return run
    run.facts.append(Text(
        f"server: the fourth connection's ACK was dropped {dropped_acks} times (accept queue full); its "
        f"half-open entry stayed and resent the SYN-ACK {stats.synack_retransmits} times, and the client "
        "answered each with the same ACK",
        f"服务器：第四个连接的 ACK 被丢弃了 {dropped_acks} 次（全连接队列已满）；"
        f"它的半连接条目保留着，重传了 {stats.synack_retransmits} 次 SYN-ACK，客户端每次都回以同样的 ACK"))
    if resets:
        run.facts.append(Text(
            f"at 63 s the server gave up and forgot the entry; the client, which believed it was connected "
            f"all along, wrote at {WRITE_AT / 1e6:.0f} s and got RST (connection reset at "
            f"{resets[0] / 1e6:.2f} s)",
            f"63 秒时服务器放弃并删除了该条目；一直以为已经连上的客户端在 {WRITE_AT / 1e6:.0f} 秒"
            f"写数据，收到 RST（连接在 {resets[0] / 1e6:.2f} 秒被重置）"))
    return run


# -- the SYN queue -------------------------------------------------------------------------
def _syn_queue_run(ctx: Context, syncookies: int) -> Run:
    config = Config(max_syn_backlog=len(SPOOFED), syncookies=syncookies)
    if syncookies:
        label = Text("SYN queue full, tcp_syncookies=1 (Linux's default)",
                     "半连接队列已满，tcp_syncookies=1（Linux 默认）")
    else:
        label = Text(f"SYN queue full ({len(SPOOFED)} SYNs never answered), tcp_syncookies=0",
                     f"半连接队列已满（{len(SPOOFED)} 个永远得不到回应的 SYN），tcp_syncookies=0")
    net, run, client, server = ctx.two_hosts(label, server_config=config)
    listener = server.listen(80)
    for i, addr in enumerate(SPOOFED):
        syn = Segment(40000 + i, 80, 1000 * (i + 1), 0, SYN, 64240, Options(mss=1460))
        net.inject(0, addr, SERVER_ADDR, syn, sender="spoofed")
    client_events = events_of(client)
    conns: list[Connection] = []
    net.at(CONNECTS[0], lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    seen = _peek(net, listener, PEEK_AT)
    netstat_at(ctx, net, run, PEEK_AT)
    net.run(until=seconds(1) if syncookies else seconds(64))

    stats = server.endpoint.stats
    syn_drops = _count(run, "server", DropReason.SYN_QUEUE_FULL)
    connected = [t for t, name in client_events if name == "Connected"]
    run.metrics.update(syn_queue=float(seen.get("syn", -1)), syns_dropped=float(syn_drops),
                       syncookies_sent=float(stats.syncookies_sent),
                       syncookies_accepted=float(stats.syncookies_accepted))
    if connected:
        run.metrics["connect_ms"] = (connected[0] - CONNECTS[0]) / 1000
    run.facts.append(Text(
        f"at {PEEK_AT / 1000:.0f} ms: SYN queue {seen.get('syn')}/{listener.syn_queue_limit}, both entries "
        "waiting for ACKs that will never come",
        f"{PEEK_AT / 1000:.0f} 毫秒时：半连接队列 {seen.get('syn')}/{listener.syn_queue_limit}，两个条目都在"
        "等永远不会来的 ACK"))
    if syncookies and connected and server.endpoint.connections:
        conn = server.endpoint.connections[0]
        run.facts.append(Text(
            f"server: the SYN queue was full, so the SYN-ACK carried a cookie instead of an entry; the "
            f"client's ACK brought it back and the connection was rebuilt from it: connect() took "
            f"{run.metrics['connect_ms']:.0f} ms. A cookie keeps only the MSS ({conn.snd_mss}): "
            f"window scaling {'on' if conn.snd_wscale else 'off'}, SACK {'on' if conn.sack_ok else 'off'}",
            "服务器：半连接队列已满，于是 SYN-ACK 带上 cookie 而不建条目；客户端的 ACK 把它带了回来，"
            f"连接据此重建：connect() 用了 {run.metrics['connect_ms']:.0f} 毫秒。"
            f"cookie 只记住 MSS（{conn.snd_mss}）：窗口扩大{'开启' if conn.snd_wscale else '关闭'}，"
            f"SACK {'开启' if conn.sack_ok else '关闭'}"))
    elif connected:
        run.facts.append(Text(
            f"server: the client's SYN and its retransmissions were dropped {syn_drops} times (SYN queue "
            "full); only when the two entries timed out at 63 s did its last retransmission get in: "
            f"connect() took {run.metrics['connect_ms'] / 1000:.2f} s",
            f"服务器：客户端的 SYN 及其重传被丢弃了 {syn_drops} 次（半连接队列已满）；"
            "直到两个条目在 63 秒超时，它的最后一次重传才进得来："
            f"connect() 用了 {run.metrics['connect_ms'] / 1000:.2f} 秒"))
    return run


def build(ctx: Context) -> list[Run]:
    return [_accept_queue_run(ctx, False), _accept_queue_run(ctx, True),
            _syn_queue_run(ctx, 0), _syn_queue_run(ctx, 1)]


SCENARIO = Scenario(
    name="queues",
    title=Text("The SYN queue and the accept queue, and what happens when they are full",
               "半连接队列和全连接队列，以及队列满了会怎样"),
    section="半连接队列 / 全连接队列",
    explanation=Text(
        "A listening socket has two queues. The SYN queue (半连接队列) holds half-open connections, "
        "SYN-RECEIVED, from the SYN until the handshake's ACK; the accept queue (全连接队列) holds "
        "connections whose handshake completed, ESTABLISHED, until the application takes them with "
        "accept(). listen(backlog) bounds the accept queue; Linux bounds the SYN queue by the same backlog "
        "and by tcp_max_syn_backlog. When a queue is full, packets are dropped, as the seed says; which "
        "ones, and what follows, is the point of the four runs. Run 1: backlog 2 and an application that "
        "never calls accept(). Three connections fill the accept queue: Linux's test (sk_acceptq_is_full) "
        "is \"more than backlog\", so a backlog of 2 admits 3. The fourth SYN arrived while there was still "
        "room, so the server answered it, but its ACK arrives after the queue filled: the server drops that "
        "ACK (tcp_abort_on_overflow=0). The client is already ESTABLISHED, connect() has returned; the "
        "server keeps the half-open entry and retransmits its SYN-ACK (1, 2, 4, 8, 16 s), each one answered "
        "by the client with the same ACK, dropped again while the queue stays full. Linux drops rather than "
        "resets so that a short burst can recover: as soon as the application accepts, the next ACK gets "
        "in. Here it never does; at 63 s the entry is dropped, and the client only learns of it when it "
        "writes: RST. Run 2: with tcp_abort_on_overflow=1 the overflowing ACK is answered with RST at once. "
        "(A SYN that arrives when the accept queue is already full is dropped outright.) Runs 3 and 4: a "
        "SYN queue of 2 is filled by two SYNs whose sources never answer. With tcp_syncookies=0 every new "
        "SYN is dropped: the client's SYN and its retransmissions at 1.1, 3.1, 7.1, 15.1, 31.1 s are all "
        "lost, and its sixth retransmission at 63.1 s gets in only because the two entries have just timed "
        "out. With tcp_syncookies=1, Linux's default, a SYN that finds the queue full is answered anyway, "
        "with a SYN cookie: the half-open state is encoded in the SYN-ACK's sequence number and nothing is "
        "stored; the client's ACK brings it back and the connection is created from it in one round trip, "
        "at the cost of the options a cookie cannot hold (window scaling, SACK). The netstat view at 0.5 s "
        "shows the queue lengths of each run.",
        "监听套接字有两个队列。半连接队列存放处于 SYN-RECEIVED 的半开连接，从收到 SYN 到握手的 ACK 到达为"
        "止；全连接队列存放已完成握手、处于 ESTABLISHED 的连接，直到应用用 accept() 取走。listen(backlog) "
        "限制全连接队列的长度；Linux 用同一个 backlog 和 tcp_max_syn_backlog 限制半连接队列。正如原文所说，"
        "队列满了就会丢包；丢的是哪些包、接下来会怎样，正是这四次运行要展示的。第一次运行：backlog 为 2，应"
        "用从不调用 accept()。三个连接填满了全连接队列：Linux 的判断（sk_acceptq_is_full）是“多于 "
        "backlog”，所以 backlog 为 2 时能容纳 3 个。第四个 SYN 到达时队列还有空位，服务器回答了它，但它的 "
        "ACK 在队列满了之后才到：服务器丢弃这个 ACK（tcp_abort_on_overflow=0）。客户端早已 ESTABLISHED，"
        "connect() 已经返回；服务器保留半连接条目并重传 SYN-ACK（1、2、4、8、16 秒），客户端每次都回以同样"
        "的 ACK，只要队列还满就又被丢弃。Linux 选择丢弃而不是重置，是为了让短暂的突发能够恢复：应用一旦 "
        "accept，下一个 ACK 就能进来。这里应用始终没有 accept；63 秒时条目被删除，客户端直到写数据时才知"
        "道：收到 RST。第二次运行：tcp_abort_on_overflow=1 时，溢出的 ACK 立即被回以 RST。（全连接队列已满"
        "时到达的 SYN 会被直接丢弃。）第三、四次运行：容量为 2 的半连接队列被两个源地址永远不回应的 SYN 占"
        "满。tcp_syncookies=0 时每个新 SYN 都被丢弃：客户端的 SYN 和它在 1.1、3.1、7.1、15.1、31.1 秒的重传"
        "全部丢失，第六次重传（63.1 秒）能进来，只是因为那两个条目刚好超时。tcp_syncookies=1（Linux 默认）"
        "时，发现队列已满的 SYN 照样得到回答，带的是 SYN cookie：半连接状态编码在 SYN-ACK 的序列号里，服务"
        "器什么也不保存；客户端的 ACK 把它带回来，连接据此在一个往返内建立，代价是 cookie 存不下的选项（窗"
        "口扩大、SACK）。0.5 秒时的 netstat 视图显示每次运行的队列长度。"),
    build=build,
)
