"""Urgent data: the telnet interrupt.  The client's user types a long command, then
Ctrl-C; the server, busy, has not read yet; the URG flag and pointer tell it at
once that something urgent lies ahead in the stream, and how far."""

from __future__ import annotations

from typing import Final

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.events import Event, Readable, Urgent
from synack.core.trace import SegmentRecord
from synack.core.wire import URG

from .apps import accept_all
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT: Final = ms(100)
#: The ordinary bytes sent first (pasted text the server is slow to read): more than
#: the initial window, so that some still wait in the client's queue at the interrupt.
TYPED: Final = b"find / -name '*.log' -exec grep -l error {} +\n" * 800
#: Ctrl-C as telnet sends it: Interrupt Process, then the Data Mark (RFC 854).
INTERRUPT: Final = b"\xff\xf4\xff\xf2"
TYPED_AT: Final = ms(200)
INTERRUPT_AT: Final = ms(205)
#: The server's application is busy until then; it reads nothing before.
BUSY_UNTIL: Final = ms(600)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(
        Text("the client sends a long command, then an urgent interrupt; the server reads late",
             "客户端先发一条长命令，再发一个紧急中断；服务器很晚才读"),
        client_config=Config(nodelay=True))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    told: list[tuple[int, int]] = []   # (t_us, urgent_pending) at each Urgent event
    skipped = bytearray()
    rest = bytearray()

    def on_server(ev: Event) -> None:
        if isinstance(ev, Urgent):
            told.append((server.now, ev.conn.urgent_pending))
            net.at(BUSY_UNTIL, flush_to_mark, ev.conn)
        elif isinstance(ev, Readable) and server.now >= BUSY_UNTIL:
            rest.extend(server.read(ev.conn))

    def flush_to_mark(conn: Connection) -> None:
        # telnet's synch (RFC 854): read and discard up to the mark, obey the command.
        while conn.urgent_pending:
            chunk = server.read(conn, conn.urgent_pending)
            if not chunk:
                break
            skipped.extend(chunk)
        rest.extend(server.read(conn))

    server.on_event(on_server)
    conns: list[Connection] = []
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(TYPED_AT, lambda: client.send(conns[0], TYPED))
    net.at(INTERRUPT_AT, lambda: client.send(conns[0], INTERRUPT, urgent=True))
    net.at(seconds(1), lambda: client.close(conns[0]))
    net.at(seconds(1), lambda: server.close(accepted[0]))
    net.run(until=seconds(3))

    sent_before = [r for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
                   and r.host == "client" and r.seg is not None and r.t_us <= INTERRUPT_AT and r.seg.payload]
    queued_before = sum(len(r.seg.payload) for r in sent_before if r.seg is not None)
    urgent_segs = [r for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
                   and r.host == "client" and r.seg is not None and r.seg.flags & URG]
    run.metrics.update({
        "urgent_segments": float(len(urgent_segs)),
        "told_at_ms": told[0][0] / 1000 if told else -1.0,
        "pending_when_told": float(told[0][1]) if told else -1.0,
        "skipped": float(len(skipped)),
        "intact": 1.0 if bytes(skipped) == TYPED + INTERRUPT and not rest else 0.0,
    })
    if urgent_segs:
        first = urgent_segs[0].seg
        assert first is not None
        run.facts.append(Text(
            f"client: the interrupt was queued behind {len(TYPED) - queued_before:,} unsent octets; the "
            f"{len(urgent_segs)} segments sent from then on carried URG, the first pointing {first.urg} "
            "octets past its own sequence number, at the octet after the interrupt",
            f"客户端：中断排在 {len(TYPED) - queued_before:,} 个尚未发出的八位组之后；此后发出的 "
            f"{len(urgent_segs)} 个报文都带 URG，第一个的紧急指针指向自身序号之后 {first.urg} 个八位组处，"
            "即中断之后的那个八位组"))
    if told:
        run.facts.append(Text(
            f"server: told of urgent data at {told[0][0] / 1000:.0f} ms, before reading a byte: "
            f"{told[0][1]:,} octets up to the mark ({len(TYPED):,} typed + {len(INTERRUPT)} of the "
            "interrupt), some of them not even arrived yet",
            f"服务器：{told[0][0] / 1000:.0f} 毫秒就得知有紧急数据，那时还一个字节都没读："
            f"到标记处共 {told[0][1]:,} 个八位组（键入的 {len(TYPED):,} 个 + 中断的 {len(INTERRUPT)} 个），"
            "其中一部分甚至还没到达"))
        run.facts.append(Text(
            f"server: at {BUSY_UNTIL / 1000:.0f} ms it read and discarded the {len(skipped):,} octets "
            "up to the mark, as telnet's synch does, and obeyed the interrupt",
            f"服务器：{BUSY_UNTIL / 1000:.0f} 毫秒时读掉并丢弃标记前的 {len(skipped):,} 个八位组"
            "（telnet 的同步机制），然后执行中断"))
    return [run]


SCENARIO = Scenario(
    name="urgent",
    title=Text("Urgent data: the telnet interrupt", "紧急数据：telnet 中断"),
    section="RFC 9293 §3.8.5",
    explanation=Text(
        "TCP has one way to say \"read this before the rest\": the URG flag and the urgent "
        "pointer. The sender marks a point in its byte stream (SND.UP, the octet after the "
        "urgent data, MUST-62), and every segment it sends before that point carries URG and "
        "the pointer as an offset from the segment's own sequence number. The receiver learns "
        "at once that urgent data lies ahead, however much ordinary data is still unread before "
        "it, and must tell the application (MUST-32) and how much is left up to the mark "
        "(MUST-33). The urgent data itself stays in the stream, in order: TCP does not deliver it "
        "ahead of the rest (RFC 6093; Linux's one out-of-band byte is a BSD quirk). telnet uses "
        "this for Ctrl-C: the server reads and throws away everything up to the mark and obeys "
        "the interrupt. New applications should not use urgent data (SHLD-13); every TCP must "
        "still support it (MUST-30).",
        "TCP 只有一种方式表达\"先看这个\"：URG 标志和紧急指针。"
        "发送方在字节流中标出一个位置（SND.UP，紧急数据之后的那个八位组，MUST-62），"
        "在此之前发出的每个报文都带 URG，以及相对报文自身序号的紧急指针。"
        "接收方立刻得知前方有紧急数据，不管在它之前还有多少普通数据没读，"
        "并且必须通知应用（MUST-32），告诉它到标记处还剩多少（MUST-33）。"
        "紧急数据本身仍在字节流里、按顺序到达：TCP 不会让它插队"
        "（RFC 6093；Linux 的一个带外字节是 BSD 的历史遗留）。"
        "telnet 用它实现 Ctrl-C：服务器读掉并丢弃标记之前的所有数据，然后执行中断。"
        "新应用不应使用紧急数据（SHLD-13），但每个 TCP 都必须支持它（MUST-30）。"),
    build=build,
)
