"""Segments reordered by the link: the bytes still arrive in order, and the receiver's
duplicate ACKs show every hole it saw."""

from __future__ import annotations

from typing import Final

from synack.core.config import ms
from synack.sim import PathParams

from .base import Context, Run, Scenario, Text
from .transfer import bulk, data_sent, duplicate_acks, retransmissions, spurious_retransmissions

SIZE: Final = 60_000
#: One data segment in ten is held back 5 ms on the way to the server (a parallel path,
#: a link-layer retransmission): the next ones overtake it.
FORWARD: Final = PathParams(delay=ms(10), bandwidth=10_000_000, reorder=0.1, reorder_delay=ms(5))
BACKWARD: Final = PathParams(delay=ms(10), bandwidth=10_000_000)


def build(ctx: Context) -> list[Run]:
    net, run, t = bulk(ctx, Text("60 kB upload; the link holds back one segment in ten by 5 ms",
                                 "上传 60 kB；链路把十分之一的报文推迟 5 毫秒"),
                       SIZE, forward=FORWARD, backward=BACKWARD)
    run.max_rows = 60
    reordered = net.path(net.hosts["client"], net.hosts["server"]).stats.reordered
    dups = duplicate_acks(run, "server")
    resent = len(retransmissions(run, "client"))
    spurious = len(spurious_retransmissions(run, "client", "server"))
    run.metrics.update({
        "bytes": float(SIZE), "bytes_intact": float(t.intact), "reordered": float(reordered),
        "duplicate_acks": float(len(dups)), "retransmissions": float(resent),
        "spurious_retransmissions": float(spurious),
        "data_segments": float(len(data_sent(run, "client"))),
    })
    run.facts.append(Text(
        f"link: {reordered} segments held back and overtaken; server: read all {SIZE:,} bytes "
        f"{'in order and intact' if t.intact else 'CORRUPTED'}",
        f"链路：{reordered} 个报文被推迟、被后面的报文超过；服务器：读到全部 {SIZE:,} 字节，"
        f"{'顺序正确、完好无损' if t.intact else '已损坏'}"))
    run.facts.append(Text(
        f"server: {len(dups)} duplicate ACKs (the same ack number again: 'I still miss the byte "
        f"at this number'); client: {resent} segments sent again, {spurious} of them already at "
        "the server (nothing was lost: the reordering looked like loss)",
        f"服务器：{len(dups)} 个重复 ACK（确认号不变：'我"
        f"还缺这个序号处的字节'）；客户端：重发了 {resent} 个报文，其中 {spurious} 个"
        "服务器早已收到（什么也没丢：乱序看起来像丢包）"))
    return [run]


SCENARIO = Scenario(
    name="reorder",
    title=Text("Reordered segments", "报文乱序"),
    section="RFC 9293 §3.10.7.4, RFC 5681 §4.2",
    explanation=Text(
        "IP does not promise order: packets can take different paths or be held up by a link "
        "layer, and arrive in another order than they were sent. Here the link holds back one "
        "data segment in ten by 5 ms, so the segments behind it overtake it. TCP numbers every "
        "byte, so the receiver always knows where a segment belongs: it hands the application "
        "only the bytes up to the first hole (RCV.NXT) and, for every segment beyond the hole, "
        "answers at once with an ACK that repeats RCV.NXT, a duplicate ACK (RFC 5681 §4.2: do "
        "not delay it). A stack that keeps the out-of-order segments (RFC 9293 says it should) "
        "delivers them when the late one arrives and acknowledges everything at once; one that "
        "drops them makes the sender send them again. The sender cannot tell reordering from "
        "loss from one duplicate ACK, which is why fast retransmit waits for three: a little "
        "reordering costs nothing, much of it looks like loss. Either way the application reads "
        "the bytes in order and intact.",
        "IP 不保证顺序：报文可能走不同的路径，或被链路层耽"
        "搁，到达顺序与发送顺序不同。这里链路把十分之一的数据"
        "报文推迟 5 毫秒，后面的报文就超过了它。TCP 给每"
        "个字节编号，所以接收方总知道一个报文该放在哪里：它只把第"
        "一个空洞之前（RCV.NXT 之前）的字节交给应用，对空洞之后"
        "的每个报文立即回一个重复 RCV.NXT 的 ACK，即重复 "
        "ACK（RFC 5681 §4.2：不要延迟它）。保留乱序报文"
        "的协议栈（RFC 9293 建议这样做）在迟到的报文到达时一并交"
        "付，并一次确认全部；丢弃乱序报文的协议栈则让发送方重"
        "发它们。仅凭一个重复 ACK，发送方分不清乱序和丢包，"
        "所以快速重传要等三个：少量乱序没有代价，大量乱序看"
        "起来就像丢包。无论哪种情况，应用读到的字节都是有序且"
        "完好的。"),
    build=build,
)
