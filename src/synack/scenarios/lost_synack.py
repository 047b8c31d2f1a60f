"""半连接队列 / SYN-ACK 重传: the SYN-ACK is lost; the half-open entry waits in the SYN
queue and the SYN-ACK is retransmitted (1 s, then 2 s ...) until the handshake completes."""

from __future__ import annotations

from itertools import pairwise

from synack.core.config import seconds
from synack.core.listener import Listener
from synack.core.timers import Timer
from synack.core.trace import TimerAction, TimerRecord
from synack.sim import Drop, Network, flags_are

from .apps import accept_all, events_of, netstat_at
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)


def _one_run(ctx: Context, label: Text, lost: int, peek_at: int) -> Run:
    """The client connects at 0.1 s; the first ``lost`` SYN-ACKs on the wire are dropped;
    the listener's queues are read at ``peek_at``."""
    net, run, client, server = ctx.two_hosts(label)
    net.add_fault(Drop(flags_are("SA"), count=lost))
    listener = server.listen(80)
    accept_all(server, listener)
    client_events = events_of(client)
    net.at(CONNECT_AT, lambda: client.connect(SERVER_ADDR, 80))
    peeked: list[tuple[int, int]] = []
    net.at(peek_at, lambda: peeked.append((listener.syn_queue_len, listener.accept_queue_len)))
    netstat_at(ctx, net, run, peek_at)
    net.run(until=seconds(10))
    _facts(run, net, listener, peek_at, peeked, client_events)
    return run


def _facts(run: Run, net: Network, listener: Listener, peek_at: int,
           peeked: list[tuple[int, int]], client_events: list[tuple[int, str]]) -> None:
    at_s = peek_at / 1e6
    if peeked:
        syn_q, acc_q = peeked[0]
        run.metrics["syn_queue_at_peek"] = float(syn_q)
        run.facts.append(Text(
            f"server at {at_s:g} s: SYN queue {syn_q}, accept queue {acc_q}: the half-open entry "
            "(SYN-RECV) still waits for the handshake's ACK (its SYN-ACK was lost), its synack timer running",
            f"服务器在 {at_s:g} 秒：半连接队列 {syn_q}，全连接队列 {acc_q}：半连接条目（SYN-RECV）在等一个"
            "不可能到来的 ACK，它的 SYN-ACK 定时器在走"))
    synacks = [s for s in run.sent("server") if s[2] == "SA"]
    timer_fired = [t for t, _host in _timers(net, Timer.SYNACK)]
    run.metrics["synacks_sent"] = float(len(synacks))
    run.metrics["synack_timer_retransmits"] = float(len(timer_fired))
    if synacks and timer_fired:
        times = [synacks[0][0], *timer_fired]
        gaps = " then ".join(f"{(b - a) / 1e6:g} s" for a, b in pairwise(times))
        gaps_zh = "，然后 ".join(f"{(b - a) / 1e6:g} 秒" for a, b in pairwise(times))
        at = ", ".join(f"{t / 1e6:g}" for t in timer_fired)
        n = len(timer_fired)
        run.facts.append(Text(
            f"server: its own timer resent the SYN-ACK {n} time{'s' if n > 1 else ''} (t = {at} s), "
            f"waiting {gaps}; each SYN the client retransmitted was answered at once with one more "
            "SYN-ACK",
            f"服务器：自己的定时器重传了 {n} 次 SYN-ACK（t = {at} 秒），依次等待 {gaps_zh}；客户端每次重传"
            "的 SYN 也立刻多换来一个 SYN-ACK"))
    connected = [t for t, name in client_events if name == "Connected"]
    if connected:
        run.metrics["connect_ms"] = (connected[0] - CONNECT_AT) / 1000
        run.facts.append(Text(
            f"client: connect() returned after {(connected[0] - CONNECT_AT) / 1000:.0f} ms; the second "
            "SYN-ACK of the pair was a duplicate and got a duplicate ACK; server: SYN queue back to "
            f"{listener.syn_queue_len}, the connection was accepted",
            f"客户端：connect() 在 {(connected[0] - CONNECT_AT) / 1000:.0f} 毫秒后返回；成对 SYN-ACK 中的"
            f"第二个是重复的，换来一个重复的 ACK；服务器：半连接队列回到 {listener.syn_queue_len}，连接被 "
            "accept"))


def _timers(net: Network, timer: Timer) -> list[tuple[int, str]]:
    return [(r.t_us, r.host) for r in net.trace
            if isinstance(r, TimerRecord) and r.timer is timer and r.action is TimerAction.FIRED]


def build(ctx: Context) -> list[Run]:
    one = _one_run(ctx, Text("the first SYN-ACK is lost",
                             "第一个 SYN-ACK 丢失"), lost=1, peek_at=seconds(0.5))
    three = _one_run(ctx, Text("the SYN-ACKs of the first 2 s are lost (3 of them)",
                               "前 2 秒的 SYN-ACK 全部丢失（共 3 个）"), lost=3, peek_at=seconds(2))
    return [one, three]


SCENARIO = Scenario(
    name="lost-synack",
    title=Text("A lost SYN-ACK: the half-open entry waits and the SYN-ACK is retransmitted",
               "SYN-ACK 丢失：半连接条目等待，SYN-ACK 重传"),
    section="半连接队列 / SYN-ACK 重传",
    explanation=Text(
        "When the server answers a SYN it keeps a small half-open entry in the listener's SYN "
        "queue (半连接队列): state SYN-RECEIVED (\"SYN-RECV\" in netstat), the client's ISN x, its "
        "own ISN y, the options. The entry stays until the handshake's third segment arrives. If "
        "the SYN-ACK is lost, nothing arrives: the netstat view at 0.5 s shows the entry with its "
        "\"synack\" timer. Two timers are now running, and both fire one second after their "
        "start: the client's SYN timer (it has heard nothing) and the server's SYN-ACK timer (its "
        "SYN-ACK was never acknowledged). The server's timer was started one link delay after the "
        "client's, and the client's retransmitted SYN needs exactly that link delay to arrive, "
        "so both land at t = 1.11 s: the timer resends the SYN-ACK, and the retransmitted SYN, "
        "which matches the half-open entry (same address, port and ISN x), is answered with one "
        "more SYN-ACK right away, as Linux does (tcp_check_req: a retransmitted SYN means our "
        "SYN-ACK was lost). Both SYN-ACKs are identical (seq=y ack=x+1). The first makes the "
        "client ESTABLISHED and its ACK completes the server side; the second is a duplicate "
        "and is answered with a duplicate ACK. In the second run the SYN-ACKs keep getting lost "
        "for 2 s: the server's timer waits 1 s, then 2 s (exponential backoff: 1, 2, 4, 8, 16 s "
        "with Linux's tcp_synack_retries = 5), and the client's SYN timer doubles in step. The "
        "half-open entry is kept throughout; once a SYN-ACK gets through, the connection "
        "completes normally and leaves the SYN queue.",
        "服务器回答一个 SYN 时，会在监听套接字的半连接队列里保存一个小小的条目：状态 SYN-RECEIVED"
        "（netstat 中的 \"SYN-RECV\"）、客户端的 ISN x、自己的 ISN y 和选项。这个条目一直留到握手的第三个"
        "报文到来。如果 SYN-ACK 丢了，什么也不会到来：0.5 秒时的 netstat 视图显示这个条目和它的 "
        "\"synack\" 定时器。此时有两个定时器在走，都在启动一秒后到期：客户端的 SYN 定时器（它什么也没收"
        "到）和服务器的 SYN-ACK 定时器（它的 SYN-ACK 一直没被确认）。服务器的定时器比客户端的晚启动一个"
        "链路时延，而客户端重传的 SYN 恰好需要一个链路时延才能到达，所以两者都落在 t = 1.11 秒：定时器"
        "重发 SYN-ACK，而重传的 SYN 与半连接条目匹配（同一地址、端口和 ISN x），也立即换来一个 SYN-ACK，"
        "Linux 也是这样做的（tcp_check_req：收到重传的 SYN 说明我们的 SYN-ACK 丢了）。两个 SYN-ACK 完全"
        "相同（seq=y ack=x+1）。第一个让客户端进入 ESTABLISHED，它的 ACK 让服务器端完成握手；第二个是"
        "重复的，客户端回一个重复的 ACK。第二次运行中前 2 秒的 SYN-ACK 都丢了：服务器的定时器先等 1 秒，"
        "再等 2 秒（指数退避：Linux 的 tcp_synack_retries = 5 时为 1、2、4、8、16 秒），客户端的 SYN "
        "定时器也同步加倍。半连接条目一直保留；一旦有一个 SYN-ACK 到达，连接就正常完成并离开半连接队列。"),
    build=build,
)
