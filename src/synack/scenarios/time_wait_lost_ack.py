"""等待2MSL的意义 (理由一): TIME-WAIT keeps the connection so that a lost last ACK can be
sent again when the server retransmits its FIN."""

from __future__ import annotations

from synack.core.config import Config
from synack.core.timers import Timer
from synack.core.trace import TimerAction, TimerRecord
from synack.sim import Drop, flags_are, from_host

from .apps import events_of, ping_pong_then_close
from .base import SERVER_ADDR, Context, Run, Scenario, Text


def _one_run(ctx: Context, label: Text, client_config: Config) -> Run:
    net, run, client, server = ctx.two_hosts(label, client_config=client_config)
    # The client's bare ACKs: #1 ends the handshake, #2 acknowledges the reply, #3 is the
    # last ACK of the close.  The network loses that one.
    net.add_fault(Drop(from_host(client) & flags_are("A"), nth=3))
    server_events = events_of(server)
    ping_pong_then_close(net, client, server, SERVER_ADDR)
    net.run_until_idle()

    sent = run.sent()
    fins = [t for t, h, f, *_ in sent if h == "server" and "F" in f]
    lost = [t for t, h, f, _r in run.drops() if h == "client" and f == "A"]
    if len(fins) >= 2 and lost:
        run.facts.append(Text(
            f"client: its last ACK ({lost[0] / 1e6:.3f} s) was lost; the server, still in LAST-ACK, "
            f"retransmitted its FIN after its RTO ({(fins[1] - fins[0]) / 1000:g} ms) "
            f"at {fins[1] / 1e6:.3f} s",
            f"客户端：它最后的 ACK（{lost[0] / 1e6:.3f} 秒）丢失了；仍处于 LAST-ACK 的服务器在 RTO"
            f"（{(fins[1] - fins[0]) / 1000:g} 毫秒）后于 {fins[1] / 1e6:.3f} 秒重传了 FIN"))
    armed = [(r.t_us, r.deadline or 0) for r in run.records
             if isinstance(r, TimerRecord) and r.host == "client" and r.timer is Timer.TIME_WAIT
             and r.action is TimerAction.ARMED]
    if len(armed) >= 2:
        run.facts.append(Text(
            f"client (TIME-WAIT): answered the retransmitted FIN with a new ACK and restarted the 2MSL "
            f"timer: expiry moved from {armed[0][1] / 1e6:.3f} s to {armed[-1][1] / 1e6:.3f} s",
            f"客户端（TIME-WAIT）：用一个新的 ACK 回答重传的 FIN，并重新启动 2MSL 定时器：到期时间从 "
            f"{armed[0][1] / 1e6:.3f} 秒推迟到 {armed[-1][1] / 1e6:.3f} 秒"))
    rsts = [(t, seq) for t, h, f, seq, _a, _n in sent if h == "client" and "R" in f]
    if rsts:
        run.facts.append(Text(
            f"client: with no TIME-WAIT the connection was already gone; the retransmitted FIN met no "
            f"connection and was answered with RST at {rsts[0][0] / 1e6:.3f} s",
            f"客户端：没有 TIME-WAIT，连接早已不存在；重传的 FIN 找不到连接，于 {rsts[0][0] / 1e6:.3f} 秒"
            "被回以 RST"))
    ends = [name for _t, name in server_events if name in ("ConnectionReset", "Closed")]
    s_closed = next((t for t, _o, new in run.state_times("server") if new == "CLOSED"), None)
    if s_closed is not None:
        how = "a reset (ConnectionReset) instead of a clean close" if "ConnectionReset" in ends \
            else "a clean close"
        how_zh = "被重置（ConnectionReset），而不是正常关闭" if "ConnectionReset" in ends else "正常关闭"
        run.facts.append(Text(
            f"server: LAST-ACK → CLOSED at {s_closed / 1e6:.3f} s: {how}",
            f"服务器：{s_closed / 1e6:.3f} 秒 LAST-ACK → CLOSED：{how_zh}"))
        run.metrics["server_closed_s"] = s_closed / 1e6
    run.facts.append(Text(
        "server application events: " + ", ".join(name for _t, name in server_events),
        "服务器应用收到的事件：" + "，".join(name for _t, name in server_events)))
    run.metrics["server_fin_retransmits"] = float(server.endpoint.stats.retransmits)
    run.metrics["server_resets_received"] = float(server.endpoint.stats.resets_received)
    return run


def build(ctx: Context) -> list[Run]:
    return [
        _one_run(ctx, Text("the client's last ACK is lost; TIME-WAIT 60 s (Linux)",
                           "客户端最后的 ACK 丢失；TIME-WAIT 60 秒（Linux）"), Config()),
        _one_run(ctx, Text("the same loss with TIME-WAIT set to 0", "同样的丢失，TIME-WAIT 设为 0"),
                 Config(time_wait=0)),
    ]


SCENARIO = Scenario(
    name="time-wait-lost-ack",
    title=Text("TIME-WAIT re-acknowledges a retransmitted FIN", "TIME-WAIT 重新确认重传的 FIN"),
    section="等待2MSL的意义 (理由一)",
    explanation=Text(
        "The last ACK of the close is the only segment of the four that nobody acknowledges, so its sender "
        "cannot know whether it arrived. If it is lost, the server, still in LAST-ACK, does what it does wi"
        "th any unacknowledged segment: after its retransmission timeout it sends its FIN again (here after"
        " 200 ms, Linux's minimum RTO, since the request and reply gave it a round-trip measurement). In th"
        "e first run the client is still in TIME-WAIT and still knows the connection, so it recognises the "
        "FIN as a retransmission, answers it with a new ACK and restarts its 2MSL timer (RFC 9293 §3.10.7.4"
        "; Linux does the same; the trace marks the FIN a duplicate, \"out-of-window\": its number was a"
        "lready received): TIME-WAIT ends 60 s after the retransmitted FIN, not after the first one, and bo"
        "th sides close cleanly. That is the seed's first reason for waiting: the ACK needs up to one MSL t"
        "o reach the server, and a retransmitted FIN up to one MSL to come back, hence 2MSL (RFC 9293: MSL "
        "= 2 min, so 240 s; Linux simply waits 60 s). In the second run the client keeps no TIME-WAIT (time"
        "_wait = 0): it deletes the connection as soon as its last ACK has left. That ACK is lost the same "
        "way, the same FIN comes back, and now it reaches a host with no such connection, which answers any"
        " segment for a non-existent connection with RST (RFC 9293 §3.10.7.1; seq = the FIN's ack field, ex"
        "actly what the server expects). The server, waiting in LAST-ACK for an ACK, gets a reset: its clos"
        "e ends in an error (ConnectionReset; Linux reports ECONNRESET) instead of completing normally, whi"
        "ch is the seed's \"the server cannot enter CLOSED normally\".",
        "关闭过程中的最后一个 ACK 是四个报文中唯一没有人确认的，所以发送方无法知道它是否到达。如果它丢了，"
        "仍处于 LAST-ACK 的服务器就会像对待任何未被确认的报文那样：在重传超时之后再发一次 FIN（这里是 200 "
        "毫秒后，即 Linux 的最小 RTO，因为请求和应答让它测到了往返时间）。第一次运行中客户端仍处于 TIME-WAI"
        "T，仍然记得这个连接，所以它认出这是重传的 FIN，回复一个新的 ACK，并重新启动 2MSL 定时器（RFC 9293 "
        "§3.10.7.4；Linux 也是如此；跟踪记录把这个 FIN 标为重复，“out-of-window”：它的序号早已收到过）：TIM"
        "E-WAIT 在重传的 FIN 之后 60 秒才结束，而不是第一个 FIN 之后，双方都正常关闭。这就是原文说的等待的"
        "第一个理由：ACK 到达服务器最多需要一个 MSL，重传的 FIN 回来最多也需要一个 MSL，所以是 2MSL（RFC 92"
        "93：MSL = 2 分钟，即 240 秒；Linux 直接等 60 秒）。第二次运行中客户端不保留 TIME-WAIT（time_wait ="
        " 0）：最后的 ACK 一发出它就删除了连接。这个 ACK 同样丢失，同样的 FIN 又来了，这次到达的主机上已没"
        "有这个连接，而对不存在的连接的任何报文，主机都回以 RST（RFC 9293 §3.10.7.1；seq 取 FIN 的 ack 字段"
        "，正是服务器期待的值）。在 LAST-ACK 中等待 ACK 的服务器收到的却是重置：它的关闭以错误告终（Connect"
        "ionReset；Linux 报告 ECONNRESET），而不是正常完成，这就是原文说的“服务器无法正常进入 CLOSED 状态”"
        "。"),
    build=build,
)
