"""A bulk transfer: 1 MB over a 10 Mbit/s link with a 40 ms round trip."""

from __future__ import annotations

from typing import Final

from synack.core.config import ms

from .base import Context, Run, Scenario, Text
from .transfer import bulk, data_sent, retransmissions

SIZE: Final = 1_000_000
RATE: Final = 10_000_000        # bit/s, each direction
ONE_WAY: Final = ms(20)         # propagation delay each way: RTT 40 ms
MSS: Final = 1460
#: What fits through the link at best: payload over payload + IPv4 and TCP headers.
HEADER_EFFICIENCY: Final = MSS / (MSS + 40)


def build(ctx: Context) -> list[Run]:
    _net, run, t = bulk(ctx, Text("1 MB upload, 10 Mbit/s, RTT 40 ms, no loss",
                                 "上传 1 MB，10 Mbit/s，RTT 40 毫秒，无丢包"),
                       SIZE, delay=ONE_WAY, bandwidth=RATE)
    run.max_rows = 60
    goodput = t.goodput()
    segments = len(data_sent(run, "client"))
    resent = len(retransmissions(run, "client"))
    run.metrics.update({
        "bytes": float(SIZE), "bytes_intact": float(t.intact), "seconds": t.seconds,
        "goodput_mbps": goodput / 1e6, "link_mbps": RATE / 1e6, "utilisation": goodput / RATE,
        "data_segments": float(segments), "retransmissions": float(resent),
    })
    run.facts.append(Text(
        f"server: read all {SIZE:,} bytes {'intact' if t.intact else 'CORRUPTED'} {t.seconds:.3f} s after "
        f"the handshake: goodput {goodput / 1e6:.2f} Mbit/s on a {RATE / 1e6:g} Mbit/s link "
        f"({goodput / RATE:.0%}; headers alone cap it at {HEADER_EFFICIENCY:.1%})",
        f"服务器：握手后 {t.seconds:.3f} 秒读完全部 {SIZE:,} "
        f"字节（{'完好' if t.intact else '已损坏'}）：有效吞吐 "
        f"{goodput / 1e6:.2f} Mbit/s，链路 {RATE / 1e6:g}"
        f" Mbit/s（{goodput / RATE:.0%}；仅首部开销就把上限压到 "
        f"{HEADER_EFFICIENCY:.1%}）"))
    run.facts.append(Text(
        f"client: {segments} data segments, {resent} retransmitted; the first round trips are slow "
        "start (10 segments, then 1.5 to 2 times as many each RTT), the rest runs at the link's rate",
        f"客户端：{segments} 个数据报文，重传 {resent} 个；最初几个往返是慢启动（10 个报文起，每个 RTT "
        "增长到 1.5 至 2 倍），之后以链路速率发送"))
    return [run]


SCENARIO = Scenario(
    name="bulk",
    title=Text("A bulk transfer fills the link", "批量传输填满链路"),
    section="RFC 9293 §3.8, RFC 5681",
    explanation=Text(
        "The client sends 1 MB to the server over a 10 Mbit/s link with 20 ms of propagation "
        "delay each way (a 40 ms round trip), then closes. The bandwidth-delay product is "
        "10 Mbit/s × 40 ms = 50 kB: that much data must be in flight, unacknowledged, to keep "
        "the link busy, and the receiver's window (64 KiB here) allows it. The sender starts "
        "with a congestion window of 10 segments (RFC 6928) and grows it by one segment per ACK "
        "(slow start, RFC 5681): while the receiver acknowledges every segment (its quick-ack "
        "start) the window doubles every round trip, and once it acknowledges every second one, "
        "it grows by half; after a few "
        "round trips the link, not TCP, sets the pace and a queue forms at its entrance. Goodput "
        "counts only the application's bytes, from the end of the handshake to the last byte "
        "read: every 1460-byte segment also carries 40 bytes of IPv4 and TCP headers, so even a "
        "perfect transfer reaches at most 97.3 % of the link rate, and the slow-start round trips "
        "at the beginning cost a little more.",
        "客户端通过一条 10 Mbit/s、单向传播时延 20 毫秒（"
        "往返 40 毫秒）的链路向服务器发送 1 MB，然后关闭连接。"
        "带宽时延积是 10 Mbit/s × 40 ms = 50 kB：要让链路一直忙，就必须有这么多数据在途、尚未被确认，而接收方"
        "的窗口（这里是 64 KiB）允许这么多。发送方的拥塞窗口从"
        " 10 个报文开始（RFC 6928），每收到一个 ACK 就增加"
        "一个报文（慢启动，RFC 5681）：接收方逐个确认时（开头的快速确认）"
        "窗口每个往返翻一倍，改为每两个报文确认一次后，每个往返增长一半；"
        "几个往返之后，决定速度的是链路而不是 TCP，链路入口"
        "处开始排队。有效吞吐（goodput）只计应用的数据，从"
        "握手结束算到最后一个字节被读走：每个 1460 字节的报文"
        "还要带 40 字节的 IPv4 和 TCP 首部，所以即使传"
        "输完美，也最多达到链路速率的 97.3%，开头慢启动的几个往返"
        "还会再少一点。"),
    build=build,
)
