"""SYN-ACK 重传次数: nobody answers the SYN-ACK; it is retransmitted 5 times (1, 2, 4, 8,
16 s apart), then the half-open entry is removed from the SYN queue."""

from __future__ import annotations

from itertools import pairwise

from synack.core.config import seconds
from synack.core.timers import Timer
from synack.core.trace import TimerAction, TimerRecord
from synack.core.wire import SYN, Options, Segment

from .apps import netstat_at
from .base import SERVER_ADDR, Context, Run, Scenario, Text

#: An address no host of the network owns (TEST-NET-2, RFC 5737): the SYN-ACKs sent
#: to it are lost ("no-route"), so the handshake can never complete.
GHOST_ADDR = "198.51.100.7"
GHOST_PORT = 40000
GHOST_ISN = 1_000_000
#: The moments the SYN queue is read: while the entry waits, and just after it is gone.
PEEKS = (seconds(0.5), seconds(62.5), seconds(63.5))


def build(ctx: Context) -> list[Run]:
    net, run = ctx.network(Text("a SYN from an address that never answers (198.51.100.7)",
                                "来自一个永不回应的地址（198.51.100.7）的 SYN"), left="ghost")
    server = net.add_host("server", [SERVER_ADDR])
    listener = server.listen(80)
    syn = Segment(GHOST_PORT, 80, GHOST_ISN, 0, SYN, 64240, Options(mss=1460, sack_permitted=True, wscale=7))
    net.inject(0, GHOST_ADDR, SERVER_ADDR, syn, sender="ghost")
    queue: list[tuple[int, int]] = []
    for t in PEEKS:
        net.at(t, lambda t=t: queue.append((t, listener.syn_queue_len)))
    netstat_at(ctx, net, run, seconds(20))
    net.run(until=seconds(70))

    stats = server.endpoint.stats
    fired = [(r.t_us, r.action) for r in net.trace if isinstance(r, TimerRecord) and r.timer is Timer.SYNACK]
    resent = [t for t, action in fired if action is TimerAction.FIRED]
    gave_up = [t for t, action in fired if action is TimerAction.GAVE_UP]
    run.metrics["synack_retransmits"] = float(stats.synack_retransmits)
    for t, n in queue:
        run.metrics[f"syn_queue_at_{t / 1e6:g}s"] = float(n)
    if resent:
        gaps = [b - a for a, b in pairwise([0, *resent])]
        run.facts.append(Text(
            f"server: SYN-ACK sent at 0 s and resent at t = {', '.join(f'{t / 1e6:g}' for t in resent)} s, "
            f"waiting {', '.join(f'{g / 1e6:g}' for g in gaps)} s: the wait doubles each time",
            f"服务器：0 秒发出 SYN-ACK，又在 t = {', '.join(f'{t / 1e6:g}' for t in resent)} 秒重传，"
            f"间隔 {', '.join(f'{g / 1e6:g}' for g in gaps)} 秒：每次等待加倍"))
    if gave_up and resent:
        waited = (gave_up[0] - resent[-1]) / 1e6
        run.metrics["entry_removed_at_s"] = gave_up[0] / 1e6
        run.facts.append(Text(
            f"server: after retransmission {len(resent)} (tcp_synack_retries) it waited {waited:g} s more, "
            f"then at t = {gave_up[0] / 1e6:g} s removed the entry (SYN-RECEIVED → CLOSED) without a "
            f"word to {GHOST_ADDR}",
            f"服务器：第 {len(resent)} 次重传（tcp_synack_retries）之后又等了 {waited:g} 秒，在 t = "
            f"{gave_up[0] / 1e6:g} 秒删除了该条目（SYN-RECEIVED → CLOSED），没有通知 {GHOST_ADDR}"))
    if queue:
        counts = ", ".join(f"{n} at {t / 1e6:g} s" for t, n in queue)
        counts_zh = "，".join(f"{t / 1e6:g} 秒时 {n}" for t, n in queue)
        run.facts.append(Text(f"SYN queue length: {counts}",
                              f"半连接队列长度：{counts_zh}"))
    return [run]


SCENARIO = Scenario(
    name="synack-retries-exhausted",
    title=Text("SYN-ACK retries run out: the half-open entry is dropped",
               "SYN-ACK 重传次数用尽：半连接条目被删除"),
    section="SYN-ACK 重传次数",
    explanation=Text(
        "A SYN arrives from 198.51.100.7, an address that will never answer (nobody in this "
        "network owns it, so every SYN-ACK sent there is lost: the client crashed, or the "
        "source was forged). The server cannot know that: it keeps the half-open entry in its "
        "SYN queue and retransmits the SYN-ACK each time its timer expires, exactly as the "
        "seed describes. The timer starts at 1 s and doubles after every retransmission "
        "(exponential backoff), so the retransmissions leave at t = 1, 3, 7, 15 and 31 s, "
        "1, 2, 4, 8 and 16 s after each other. Linux's tcp_synack_retries is 5: after the fifth "
        "retransmission the server waits one more, doubled, interval (32 s) for an answer to "
        "it, and at t = 63 s gives up: the entry is removed from the SYN queue without a word to "
        "the peer, and the queue count returns to 0. So one unanswered SYN holds a slot of the "
        "SYN queue for about a minute: the reason SYN floods work, and why \"shorter SYN "
        "timeout\" (fewer retries) is one of the seed's defenses. The netstat view at 20 s shows "
        "the entry with its synack timer and 4 retries done.",
        "一个 SYN 来自 198.51.100.7，这个地址永远不会回应（网络里没有主机拥有它，发往那里的 SYN-ACK 全部"
        "丢失：客户端崩溃了，或者源地址是伪造的）。服务器无从得知：它把半连接条目留在半连接队列里，每次定时"
        "器到期就重传 SYN-ACK，正如原文所说。定时器从 1 秒开始，每重传一次就加倍（指数退避），所以重传发生"
        "在 t = 1、3、7、15、31 秒，彼此相隔 1、2、4、8、16 秒。Linux 的 tcp_synack_retries 为 5：第五次"
        "重传之后，服务器再等一个加倍的间隔（32 秒）看有没有回应，然后在 t = 63 秒放弃：条目从半连接队列中"
        "删除，不通知对方，队列计数回到 0。所以一个得不到回应的 SYN 会占用半连接队列的一个位置约一分钟："
        "这正是 SYN 洪泛攻击得逞的原因，也是原文防御手段中“缩短超时（减少重试）”的由来。20 秒时的 "
        "netstat 视图显示这个条目、它的 synack 定时器和已经做过的 4 次重传。"),
    build=build,
)
