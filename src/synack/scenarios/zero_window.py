"""Flow control: a reader that stops reading closes the window; the sender probes it
(the persist timer) until the reader resumes and the window reopens."""

from __future__ import annotations

import itertools
from typing import Final

from synack.core.config import Config, ms, seconds
from synack.core.timers import Timer

from .base import Context, Run, Scenario, Text
from .transfer import CONNECT_AT, bulk, pure_acks, timers_fired

SIZE: Final = 40_000
RCV_BUF: Final = 8192
#: The server's application reads nothing until then, then everything.
READ_FROM: Final = seconds(5)


def build(ctx: Context) -> list[Run]:
    _net, run, t = bulk(ctx, Text(f"40 kB upload; the server's application reads nothing for "
                                 f"{(READ_FROM - CONNECT_AT) / 1e6:.1f} s (receive buffer 8 KiB)",
                                 "上传 40 kB；服务器的应用"
                                 f" {(READ_FROM - CONNECT_AT) / 1e6:.1f} 秒内什么也不读"
                                 "（接收缓冲区 8 KiB）"),
                       SIZE, server_config=Config(rcv_buf=RCV_BUF), read_from=READ_FROM,
                       delay=ms(10))
    run.max_rows = 60
    acks = pure_acks(run, "server")
    closed_at = next((ts for ts, _ack, win in acks if win == 0), None)
    reopened_at = next((ts for ts, _ack, win in acks if win > 0 and closed_at is not None and ts > closed_at),
                       None)
    probes = timers_fired(run, "client", Timer.PERSIST)
    run.metrics.update({
        "bytes": float(SIZE), "bytes_intact": float(t.intact), "probes": float(len(probes)),
        "window_closed_s": closed_at / 1e6 if closed_at is not None else -1.0,
        "window_reopened_s": reopened_at / 1e6 if reopened_at is not None else -1.0,
    })
    if closed_at is not None:
        run.facts.append(Text(
            f"server: its 8 KiB buffer full, it advertised win=0 at {closed_at / 1e6:.3f} s; "
            "the client stopped sending",
            f"服务器：8 KiB 缓冲区满了，在 {closed_at / 1e6:.3f} 秒通告 win=0；客户端停止发送"))
    if probes:
        gaps = ", ".join(f"{(b - a) / 1e6:g}" for a, b in itertools.pairwise(probes))
        answers = sum(1 for ts, _ack, win in acks if closed_at is not None and closed_at < ts < READ_FROM)
        run.facts.append(Text(
            f"client: persist timer fired {len(probes)} times (at {probes[0] / 1e6:.3f} s, then "
            f"{gaps or '-'} s apart), each time probing with a bare ACK at SND.UNA-1; the server "
            f"answered {answers} with win=0 (an answer within 500 ms of the last is rate-limited)",
            f"客户端：坚持定时器触发 {len(probes)} 次（第一次在 {probes[0] / 1e6:.3f} 秒，之后间隔 "
            f"{gaps or '-'} 秒），每次用序号为 SND.UNA-1 的纯 ACK 探测；服务器回了 {answers} 个"
            f" win=0（距上次回应不足 500 毫秒的被限速）"))
    if reopened_at is not None:
        run.facts.append(Text(
            f"server: the application read at {READ_FROM / 1e6:g} s and the window reopened "
            f"({reopened_at / 1e6:.3f} s); all {SIZE:,} bytes {'intact' if t.intact else 'CORRUPTED'}",
            f"服务器：应用在 {READ_FROM / 1e6:g} 秒开始读，窗口重新打开（{reopened_at / 1e6:.3f} 秒）；全部 "
            f"{SIZE:,} 字节{'完好' if t.intact else '已损坏'}"))
    return [run]


SCENARIO = Scenario(
    name="zero-window",
    title=Text("Zero window and the persist timer", "零窗口与坚持定时器"),
    section="RFC 9293 §3.8.6.1",
    explanation=Text(
        "The window a receiver advertises is the free space in its receive buffer; only the "
        "application's reads make room. Here the server's application reads nothing for five "
        "seconds, so its 8 KiB buffer fills and it advertises a window of zero: the client must "
        "stop sending, however much data it still has (flow control, as opposed to congestion "
        "control). The window reopens when the application reads, and the receiver then sends a "
        "window update, a bare ACK with the new window; but that ACK carries no data, so nothing "
        "retransmits it if it is lost, and both sides would wait forever. Hence the persist "
        "timer (RFC 9293 §3.8.6.1, MUST-35/36): while the window is zero and data waits, the "
        "sender sends a zero-window probe, with exponential back-off. synack sends it as Linux "
        "does: a bare ACK with an old sequence number (SND.UNA - 1), which the receiver must "
        "answer with an ACK carrying its current window (RFC 9293 suggests one octet of new data "
        "instead). Once the application reads, the next ACK or probe answer shows the open "
        "window and the transfer resumes. Unlike retransmissions, probes that the receiver keeps "
        "answering never end the connection (MUST-37).",
        "接收方通告的窗口就是它接收缓冲区的空闲空间；只有应用"
        "读取才能腾出空间。这里服务器的应用五秒内什么也不读，"
        "于是 8 KiB 缓冲区被填满，它通告零窗口：不管还有"
        "多少数据，客户端都必须停止发送（这是流量控制，不是拥塞控"
        "制）。应用读取后窗口重新打开，接收方随即发送窗口更新，即"
        "一个带新窗口的纯 ACK；但这个 ACK 不带数据，丢了"
        "也没人重传，双方就会永远等下去。所以有坚持定时器（RFC 929"
        "3 §3.8.6.1，MUST-35/36）：只要窗口为零且有数据"
        "待发，发送方就发零窗口探测报文，并按指数退避。synack 像 "
        "Linux 一样发送它：一个序号已过时（SND.UNA - 1）的纯 "
        "ACK，接收方必须回一个带当前窗口的 ACK（RFC 9293 建议"
        "改为发送一个字节的新数据）。应用一读，下一个 ACK 或探测"
        "的回复就显示窗口已打开，传输继续。与重传不同，只要接收方"
        "一直回应，探测就永远不会终止连接（MUST-37）。"),
    build=build,
)
