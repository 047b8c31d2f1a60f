"""A bulk transfer over a link that loses 1 % of the packets, next to the Mathis et al.
estimate of what a loss-limited TCP can reach."""

from __future__ import annotations

import math
from typing import Final

from synack.core.timers import Timer

from .base import Context, Run, Scenario, Text
from .bulk import HEADER_EFFICIENCY, MSS, ONE_WAY, RATE, SIZE
from .transfer import bulk, data_sent, retransmissions, timers_fired, window_reductions

LOSS: Final = 0.01
RTT_S: Final = 2 * ONE_WAY / 1e6


def mathis(mss: int, rtt_s: float, p: float) -> float:
    """Mathis, Semke, Mahdavi, Ott (1997): the throughput of a TCP whose congestion
    avoidance sees random loss ``p`` is about MSS/RTT · C/√p, C = √(3/2) ≈ 1.22; bit/s."""
    return mss * 8 / rtt_s * math.sqrt(1.5) / math.sqrt(p)


def build(ctx: Context) -> list[Run]:
    _net, run, t = bulk(ctx, Text("1 MB upload, 10 Mbit/s, RTT 40 ms, 1 % random loss each way",
                                 "上传 1 MB，10 Mbit/s，RTT 40 毫秒，每个方向随机丢包 1%"),
                       SIZE, delay=ONE_WAY, bandwidth=RATE, loss=LOSS)
    run.max_rows = 60
    goodput = t.goodput()
    estimate = mathis(MSS, RTT_S, LOSS)
    segments = len(data_sent(run, "client"))
    resent = len(retransmissions(run, "client"))
    timeouts = len(timers_fired(run, "client", Timer.RETRANSMIT))
    lost = sum(1 for _t, host, _f, reason in run.drops() if host == "client" and reason == "link-loss")
    run.metrics.update({
        "bytes": float(SIZE), "bytes_intact": float(t.intact), "seconds": t.seconds,
        "goodput_mbps": goodput / 1e6, "link_mbps": RATE / 1e6, "utilisation": goodput / RATE,
        "mathis_mbps": estimate / 1e6, "loss": LOSS, "rtt_ms": RTT_S * 1000,
        "data_segments": float(segments), "retransmissions": float(resent),
        "client_packets_lost": float(lost), "retransmission_timeouts": float(timeouts),
    })
    run.facts.append(Text(
        f"server: read all {SIZE:,} bytes {'intact' if t.intact else 'CORRUPTED'} after {t.seconds:.2f} s: "
        f"goodput {goodput / 1e6:.2f} Mbit/s, {goodput / RATE:.0%} of the link "
        f"(lossless best {HEADER_EFFICIENCY:.0%})",
        f"服务器：{t.seconds:.2f} 秒后读完全部 {SIZE:,} 字节（{'完好' if t.intact else '已损坏'}）：有效吞吐 "
        f"{goodput / 1e6:.2f} Mbit/s，为链路的 {goodput / RATE:.0%}（无丢包时最多 {HEADER_EFFICIENCY:.0%}）"))
    run.facts.append(Text(
        f"Mathis et al.: MSS/RTT · 1.22/√p = {MSS} B / {RTT_S * 1000:.0f} ms · 1.22/√{LOSS:g} = "
        f"{estimate / 1e6:.2f} Mbit/s; measured {goodput / estimate:.0%} of it",
        f"Mathis 等人的公式：MSS/RTT · 1.22/√p = {MSS} B / {RTT_S * 1000:.0f} ms · 1.22/√{LOSS:g} = "
        f"{estimate / 1e6:.2f} Mbit/s；实测为它的 {goodput / estimate:.0%}"))
    cuts = window_reductions(run, "client")
    if cuts:
        lo, hi = (f"{f(after / before for _t, before, after in cuts):.2f}" for f in (min, max))
        share = lo if lo == hi else f"{lo}-{hi}"
        run.metrics["window_reductions"] = float(len(cuts))
        run.facts.append(Text(
            f"client: {len(cuts)} window reductions (losses repaired in one recovery count once), "
            f"each to {share} of the window before (CUBIC's β = 0.7, not Reno's halving)",
            f"客户端：拥塞窗口缩小 {len(cuts)} 次（同一次恢复中修复的丢包只算一次），每次缩到之前的 {share}"
            "（CUBIC 的 β = 0.7，而不是 Reno 的减半）"))
    run.facts.append(Text(
        f"client: {lost} of its packets lost on the link, {resent} data segments sent again, "
        f"{timeouts} retransmission timeouts",
        f"客户端：{lost} 个报文在链路上丢失，{resent} 个数据报文被重发，重传定时器超时 {timeouts} 次"))
    return [run]


SCENARIO = Scenario(
    name="bulk-lossy",
    title=Text("A bulk transfer under 1 % loss", "1% 丢包下的批量传输"),
    section="RFC 5681, RFC 6298",
    explanation=Text(
        "The same 1 MB upload as in 'bulk', but the link drops 1 % of the packets at random, in "
        "both directions. Every lost data segment leaves a hole the receiver cannot fill, so it "
        "repeats its last acknowledgment; the sender has to notice the loss, send the segment "
        "again, and — because loss is TCP's sign of congestion — reduce its congestion window: "
        "Reno (RFC 5681) halves it; synack, like Linux, uses CUBIC by default (RFC 9438), which "
        "multiplies it by β = 0.7. How fast the loss is noticed is what matters: three duplicate "
        "ACKs (fast retransmit, one round trip) or the retransmission timer (at least 200 ms here, "
        "doubled on every repeat, and followed by a restart from one segment). Mathis et al. "
        "(1997) showed that a Reno TCP in congestion avoidance reaches about MSS/RTT · 1.22/√p: "
        "1460 bytes every 40 ms, × 12.2 for p = 1 %, about 3.6 Mbit/s, whatever the link's own "
        "rate. The model assumes one loss per window at a steady rate p, each repaired by fast "
        "retransmit (no timeouts), a window that grows one segment per round trip and is halved "
        "on each loss (1.22 = √(3/2) comes from that halving), a constant RTT, and no limit from "
        "the receiver's window. CUBIC reduces less but, in windows as small as these, runs in its "
        "Reno-friendly region (RFC 9438 §4.3), which grows by α = 3(1−β)/(1+β) ≈ 0.53 segment "
        "per round trip, chosen so that its average window under loss p equals Reno's: the "
        "estimate still applies. A stack that recovers only by timeouts falls well below it; one "
        "with fast retransmit and SACK recovery comes close or a little above (random losses are "
        "not evenly spaced).",
        "与 'bulk' 相同的 1 MB 上传，但链路在两个方向上随机丢弃 1% 的报文。每丢一个数据报文，接收方就出现一个"
        "补不上的空洞，只能重复上一个确认；发送方必须察觉丢包、"
        "重发该报文，并且——因为丢包是 TCP 眼中拥塞的信号"
        "——缩小拥塞窗口：Reno（RFC 5681）把它减半；synack 和 Linux 一样默认使用 CUBIC（RFC 9438），"
        "把它乘以 β = 0.7。关键在于多快察觉丢"
        "包：三个重复 ACK（快速重传，一个往返），还是重传定时器"
        "（这里至少 200 毫秒，每次重复加倍，之后从一个报文重新开"
        "始）。Mathis 等人（1997）证明，处于拥塞避免阶段的 Reno TCP 大约能达到 MSS/RTT · 1.22/√p："
        "每 40 毫秒 1460 字节，p = 1% 时乘以 12.2，约 3.6 Mbit/s，与链路本身的速率无关。这个模型假设："
        "丢包率 p 稳定、每个窗口丢一个报文、每次都由快速重传修复（没有超时）、窗口每个往返增长一个报文并在"
        "每次丢包时减半（1.22 = √(3/2) 正是来自这个减半）、RTT 不变、不受接收窗口限制。CUBIC 减得少一些，"
        "但在这样小的窗口里它运行在“与 Reno 友好”的区域（RFC 9438 §4.3），每个往返增长 "
        "α = 3(1−β)/(1+β) ≈ 0.53 个报文，这个 α 的选取使它在丢包率 p 下的平均窗口与 Reno 相同：估计"
        "仍然适用。只靠超时恢复的协议栈远低于它；有快速重传和 SACK 恢复的协议栈则接近它或略高"
        "（随机丢包的间隔并不均匀）。"),
    build=build,
)
