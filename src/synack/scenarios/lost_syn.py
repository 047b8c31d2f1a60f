"""真实握手: the first SYN is lost; the client retransmits it after the initial RTO."""

from __future__ import annotations

from synack.core.config import seconds
from synack.core.connection import Connection
from synack.sim import Drop, flags_are, from_host

from .apps import accept_all, events_of
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        "the client's first SYN is lost; Linux defaults (initial RTO 1 s)",
        "客户端的第一个 SYN 丢失；Linux 默认值（初始 RTO 1 秒）"))
    # Only the first SYN the client sends: the retransmission gets through.
    net.add_fault(Drop(flags_are("S") & from_host(client)))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    client_events = events_of(client)
    conns: list[Connection] = []
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.run(until=seconds(3))

    syns = [s for s in run.sent("client") if s[2] == "S"]
    connected = [t for t, name in client_events if name == "Connected"]
    if len(syns) == 2 and connected and accepted:
        (t1, *_, x1, _a1, _l1), (t2, *_, x2, _a2, _l2) = syns
        gap, took = (t2 - t1) / 1e6, (connected[0] - CONNECT_AT) / 1000
        same = "the same SYN again, still seq=x" if x1 == x2 else "a different SYN"
        same_zh = "同一个 SYN，序列号仍是 x" if x1 == x2 else "一个不同的 SYN"
        run.facts.append(Text(
            f"client: its SYN (seq=x) was lost in the network; nothing came back, so after the "
            f"initial RTO ({gap:g} s) it sent {same}",
            f"客户端：它的 SYN（seq=x）在网络中丢失；没有任何回应，初始 RTO（{gap:g} 秒）后它又发送了"
            f"{same_zh}"))
        run.facts.append(Text(
            f"client: connect() returned after {took:.0f} ms instead of one round trip (20 ms); "
            "the server saw only the retransmitted SYN and never knew a SYN was lost",
            f"客户端：connect() 在 {took:.0f} 毫秒后才返回，而不是一个往返（20 毫秒）；服务器只看到了"
            "重传的 SYN，根本不知道有 SYN 丢过"))
        run.metrics["connect_ms"] = took
    if conns:
        rto = conns[0].rto
        run.facts.append(Text(
            f"client: the RTT of a retransmitted SYN cannot be measured (Karn), so the first data "
            f"will use an RTO of {rto / 1e6:g} s (RFC 6298 5.7; Linux TCP_TIMEOUT_FALLBACK)",
            f"客户端：重传过的 SYN 无法测量 RTT（Karn 算法），所以第一批数据使用 {rto / 1e6:g} 秒的 RTO"
            "（RFC 6298 5.7；Linux TCP_TIMEOUT_FALLBACK）"))
        run.metrics["client_rto_after_handshake_ms"] = rto / 1000
    run.metrics["syn_retransmits"] = float(client.endpoint.stats.syn_retransmits)
    return [run]


SCENARIO = Scenario(
    name="lost-syn",
    title=Text("A lost SYN is retransmitted after 1 s", "丢失的 SYN 在 1 秒后重传"),
    section="真实握手",
    explanation=Text(
        "If the client's SYN is lost, nothing at all comes back, and the client cannot tell why: "
        "a lost SYN-ACK looks exactly the same to it (lost-synack). The difference is on the "
        "server's side: it never learns of a lost SYN, since it holds no state for it, whereas it "
        "knows when its SYN-ACK goes unanswered and retransmits it itself. So the client keeps "
        "its own retransmission timer from the moment the SYN leaves. Before any round trip has been "
        "measured the timer is the initial RTO, 1 s (RFC 6298 §2.1; Linux TCP_TIMEOUT_INIT). In "
        "this run a targeted fault drops the client's first SYN; at t = 1.1 s the timer fires and "
        "the client sends the very same SYN again, with the same sequence number x (its ISN does "
        "not change: it is still the same connection attempt). The server only ever sees the "
        "retransmission and answers SYN,ACK ack=x+1 as in the normal handshake, and the "
        "connection is ESTABLISHED one second later than it would have been. Had the "
        "retransmission been lost too, the client would wait 2 s, then 4, 8, 16, 32 s: Linux "
        "sends up to tcp_syn_retries = 6 retransmissions and gives up after about 127 s. "
        "Because a retransmitted SYN's answer cannot be timed (which SYN does the SYN,ACK "
        "answer? Karn's rule), the client has no RTT estimate yet, and RFC 6298 §5.7 makes it "
        "start the data transfer with a 3 s RTO.",
        "客户端的 SYN 丢了，就什么也不会回来，而客户端无法知道原因：SYN-ACK 丢失在它看来完全一样（见 "
        "lost-synack）。区别在服务器一侧：SYN 丢了它永远不会知道，因为它没有为这个 SYN 保存任何状态；而它的 "
        "SYN-ACK 得不到确认时它是知道的，会自己重传。所以客户端从"
        "发出 SYN 的那一刻起就启动自己的重传定时器。还没有测量到任何往返时间时，定时器取初始 RTO，1 "
        "秒（RFC 6298 §2.1；Linux 的 TCP_TIMEOUT_INIT）。本次运行中一个定向故障丢掉了客户端的第一个 "
        "SYN；t = 1.1 秒时定时器到期，客户端再次发送完全相同的 SYN，序列号仍是 x（ISN 不变：这还是同"
        "一次连接尝试）。服务器只看到重传的那个，像正常握手一样回复 SYN,ACK ack=x+1，连接比正常情况晚"
        "一秒进入 ESTABLISHED。如果重传也丢了，客户端会再等 2 秒，然后 4、8、16、32 秒：Linux 最多重传 "
        "tcp_syn_retries = 6 次，约 127 秒后放弃。由于无法判断 SYN,ACK 回答的是哪一个 SYN（Karn 规则），"
        "重传过的 SYN 不能用来测量 RTT，客户端还没有 RTT 估计，RFC 6298 §5.7 要求它以 3 秒的 RTO 开始"
        "传输数据。"),
    build=build,
)
