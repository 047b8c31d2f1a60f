"""Fast retransmit: one lost segment, three duplicate ACKs, one retransmission, no
timeout."""

from __future__ import annotations

from typing import Final

from synack.core.config import ms
from synack.core.timers import Timer
from synack.sim import Drop, from_host, has_payload

from .base import Context, Run, Scenario, Text
from .transfer import bulk, data_sent, duplicate_acks, retransmissions, timers_fired, window_reductions

SIZE: Final = 20 * 1460
#: The data segment the link loses (the 5th the client sends).
LOST: Final = 5


def build(ctx: Context) -> list[Run]:
    _net, run, t = bulk(ctx, Text(f"20-segment upload; the link loses data segment #{LOST}",
                                 f"上传 20 个报文；链路丢掉第 {LOST} 个数据报文"),
                       SIZE, delay=ms(20),
                       setup=lambda net: net.add_fault(Drop(has_payload() & from_host("client"), nth=LOST)))
    run.max_rows = 60
    lost = [r for r in run.drops("client") if r[3].startswith("fault:")]
    again = retransmissions(run, "client")
    dups = duplicate_acks(run, "server")
    timeouts = timers_fired(run, "client", Timer.RETRANSMIT)
    run.metrics.update({
        "bytes": float(SIZE), "bytes_intact": float(t.intact), "lost": float(len(lost)),
        "duplicate_acks": float(len(dups)), "retransmissions": float(len(again)),
        "retransmission_timeouts": float(len(timeouts)),
        "data_segments": float(len(data_sent(run, "client"))),
    })
    if lost and again:
        run.facts.append(Text(
            f"client: segment #{LOST} lost at {lost[0][0] / 1e6:.3f} s; server: {len(dups)} duplicate "
            f"ACKs; client: sent it again at {again[0][0] / 1e6:.3f} s "
            f"({(again[0][0] - lost[0][0]) / 1000:.0f} ms later), {len(again)} retransmission(s), "
            f"{len(timeouts)} timeout(s)",
            f"客户端：第 {LOST} 个报文在 {lost[0][0] / 1e6:.3f}"
            f" 秒丢失；服务器：{len(dups)} 个重复 ACK；客户端："
            f"在 {again[0][0] / 1e6:.3f} 秒重发（{(again[0][0] - lost[0][0]) / 1000:.0f} 毫秒后），共重传 "
            f"{len(again)} 次，超时 {len(timeouts)} 次"))
    cuts = window_reductions(run, "client")
    if cuts:
        _t, before, after = cuts[0]
        run.metrics["cwnd_before"] = float(before)
        run.metrics["ssthresh_after"] = float(after)
        run.facts.append(Text(
            f"client: congestion window {before:,} octets before the loss, {after:,} after "
            f"(× {after / before:.2f}: CUBIC's β = 0.7; Reno would halve it)",
            f"客户端：丢包前拥塞窗口 {before:,} 字节，之后 {after:,} 字节"
            f"（× {after / before:.2f}：CUBIC 的 β = 0.7；Reno 会减半）"))
    run.facts.append(Text(
        f"server: all {SIZE:,} bytes {'intact' if t.intact else 'CORRUPTED'}",
        f"服务器：全部 {SIZE:,} 字节{'完好' if t.intact else '已损坏'}"))
    return [run]


SCENARIO = Scenario(
    name="fast-retransmit",
    title=Text("Fast retransmit: three duplicate ACKs", "快速重传：三个重复 ACK"),
    section="RFC 5681 §3.2",
    explanation=Text(
        "The link loses one data segment in the middle of a window. Every later segment reaches "
        "the receiver beyond the hole, and each one makes it send a duplicate ACK at once, "
        "repeating the sequence number of the missing byte (RFC 5681 §4.2). One duplicate ACK "
        "may only mean reordering; three in a row (the fourth identical ACK) mean the segment is "
        "almost certainly lost while later ones still get through, so the network is not "
        "blocked. The sender then retransmits the missing segment at once (fast retransmit, "
        "RFC 5681 §3.2), about one round trip after the loss, instead of waiting for the "
        "retransmission timer (at least 200 ms here, and 1 s before any RTT is measured). It "
        "reduces its congestion window rather than restarting from one segment (fast recovery). "
        "By how much is the congestion control's choice: RFC 5681's Reno halves the window; "
        "synack, like Linux, uses CUBIC by default (RFC 9438), which multiplies it by β = 0.7, "
        "and the run shows the window before and after (NewReno's recovery, RFC 6582, and SACK's, "
        "RFC 6675, also handle several losses in one window). When the retransmission "
        "fills the hole, the receiver acknowledges everything it had held at once. Expected: one "
        "segment lost, at least three duplicate ACKs, exactly one retransmission, no timeout.",
        "链路在一个窗口中间丢了一个数据报文。之后的每个报文都"
        "落在空洞之后到达接收方，每个都让它立即发送一个重复 "
        "ACK，重复缺失字节的序号（RFC 5681 §4.2）。一个重"
        "复 ACK 可能只是乱序；连续三个（第四个相同的 ACK）则说明"
        "这个报文几乎肯定丢了，而后面的报文仍能通过，网络并没有堵死。于是发送方立即重传缺失的报文（快速重传，"
        "RFC 5681 §3.2），大约在丢包一个往返之后，而不必等重"
        "传定时器（这里至少 200 毫秒，测到 RTT 之前是 1 秒）。"
        "它缩小拥塞窗口，而不是从一个报文重新开始（快速恢复）。缩小多少由拥塞控制算法决定："
        "RFC 5681 的 Reno 把窗口减半；synack 和 Linux 一样默认使用 CUBIC（RFC 9438），把窗口乘以 "
        "β = 0.7，本次运行显示了丢包前后的窗口（NewReno 的恢复，RFC 6582，以及 SACK 的恢复，RFC 6675，"
        "还能处理一个窗口内的多次丢包）。"
        "重传填上空洞后，接收方一次确认它暂存的全部数据。预期：丢"
        "一个报文，至少三个重复 ACK，恰好一次重传，没有超时。"),
    build=build,
)
