"""RFC 9293: close() while SYN-SENT sends nothing; the late SYN-ACK is answered with RST."""

from __future__ import annotations

from synack.core.config import ms, seconds
from synack.core.connection import Connection
from synack.core.seq import MASK
from synack.sim import Delay, flags_are

from .apps import events_of
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)
#: The application gives up before any answer came (a user pressing "cancel").
CLOSE_AT = seconds(0.3)
#: How much later than the link's 10 ms the first SYN-ACK arrives.
SYNACK_DELAY = ms(500)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        "SYN-ACK held up 500 ms; the client closes at 300 ms",
        "SYN-ACK 多耽搁 500 毫秒；客户端在 300 毫秒时关闭"))
    net.add_fault(Delay(flags_are("SA"), by=SYNACK_DELAY))
    listener = server.listen(80)
    client_events = events_of(client)
    conns: list[Connection] = []
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    # The half-open entry's rcv_nxt (irs + 1), seen just before the RST arrives.
    half_rcv_nxt: list[int] = []

    def peek() -> None:
        half_rcv_nxt.extend((h.irs + 1) & MASK for h in listener.syn_queue.values())

    net.at(CLOSE_AT, peek)
    net.run(until=seconds(5))
    sent_after_close = [s for s in run.sent("client") if CONNECT_AT < s[0] < seconds(0.6)]
    closed_at = [t for t, name in client_events if name == "Closed"]
    run.facts.append(Text(
        f"client: close() in SYN-SENT deleted the TCB at once (CLOSED at {closed_at[0] / 1000:.0f} ms) "
        f"and sent {len(sent_after_close)} segments: there is nothing to tell a peer that has not "
        "answered yet" if closed_at else "client: close() did not reach CLOSED",
        f"客户端：在 SYN-SENT 中 close() 立即删除 TCB（{closed_at[0] / 1000:.0f} 毫秒时 CLOSED），"
        f"发出 {len(sent_after_close)} 个报文：对方还没回答，没有什么要告诉它的"
        if closed_at else "客户端：close() 没有到达 CLOSED"))
    rsts = [s for s in run.sent("client") if s[2] == "R"]
    removed = [r for r in run.state_times("server") if r[1:] == ("SYN-RECEIVED", "CLOSED")]
    if rsts and removed and half_rcv_nxt:
        run.facts.append(Text(
            f"client: the late SYN-ACK met no connection and was answered with RST seq={rsts[0][3]} "
            "(= the SYN-ACK's ACK number)",
            f"客户端：迟到的 SYN-ACK 找不到连接，回复 RST seq={rsts[0][3]}（= SYN-ACK 的确认号）"))
        run.facts.append(Text(
            f"server: the RST's seq equals the half-open entry's RCV.NXT ({half_rcv_nxt[0]}), so it "
            f"removed the entry at {removed[0][0] / 1000:.0f} ms (SYN queue back to "
            f"{listener.syn_queue_len}); no SYN-ACK retransmission was needed",
            f"服务器：RST 的 seq 等于半连接条目的 RCV.NXT（{half_rcv_nxt[0]}），于是在 "
            f"{removed[0][0] / 1000:.0f} 毫秒删除了该条目（半连接队列回到 {listener.syn_queue_len}）；"
            "不再需要重传 SYN-ACK"))
    stats = server.endpoint.stats
    run.metrics["client_segments_after_close"] = float(len(sent_after_close))
    run.metrics["client_resets_sent"] = float(client.endpoint.stats.resets_sent)
    run.metrics["server_resets_received"] = float(stats.resets_received)
    run.metrics["server_synack_retransmits"] = float(stats.synack_retransmits)
    run.metrics["server_syn_queue_end"] = float(listener.syn_queue_len)
    return [run]


SCENARIO = Scenario(
    name="close-in-syn-sent",
    title=Text("Closing while SYN-SENT", "在 SYN-SENT 状态关闭"),
    section="RFC 9293",
    explanation=Text(
        "The client sends SYN seq=x and waits in SYN-SENT; the server answers SYN,ACK seq=y "
        "ack=x+1 and keeps a half-open entry in its SYN queue, but the SYN-ACK is held up in the "
        "network. Before it arrives the application gives up and calls close(). RFC 9293 "
        "(§3.10.4) says CLOSE in SYN-SENT simply deletes the TCB: the peer has not acknowledged "
        "anything, our SYN may never have arrived, so there is nothing to shut down and no FIN or "
        "RST is sent. The client is CLOSED at once. When the SYN-ACK finally arrives it matches "
        "no connection; a host in CLOSED answers any segment (except a RST) with a RST, and since "
        "the SYN-ACK carries an ACK the RST is <SEQ=SEG.ACK><CTL=RST>, i.e. seq=x+1, exactly the "
        "sequence number the server expects next (its RCV.NXT). That makes the RST acceptable "
        "even under RFC 5961's strict rule (seq must equal RCV.NXT), so the server deletes its "
        "half-open entry instead of retransmitting the SYN-ACK five more times over a minute. "
        "This is the same mechanism that protects a server from an old duplicate SYN: the side "
        "that knows of no such connection resets it.",
        "客户端发送 SYN seq=x，在 SYN-SENT 等待；服务器回复 SYN,ACK seq=y ack=x+1，并在半连接队列里"
        "保存一个条目，但这个 SYN-ACK 在网络里耽搁了。它到达之前，应用放弃并调用 close()。RFC 9293"
        "（§3.10.4）规定在 SYN-SENT 中 CLOSE 只是删除 TCB：对方什么都还没确认，我们的 SYN 也许根本没"
        "到，没有可关闭的东西，所以既不发 FIN 也不发 RST，客户端立刻回到 CLOSED。SYN-ACK 终于到达时，"
        "它找不到任何连接；处于 CLOSED 的主机对任何报文（RST 除外）都回 RST，而 SYN-ACK 带有 ACK，"
        "所以 RST 是 <SEQ=SEG.ACK><CTL=RST>，即 seq=x+1，正是服务器期望的下一个序列号（RCV.NXT）。"
        "因此即使按照 RFC 5961 的严格规则（seq 必须等于 RCV.NXT）这个 RST 也是可接受的，服务器删掉"
        "半连接条目，而不是在一分钟里再重传五次 SYN-ACK。这和服务器防御历史重复 SYN 的机制相同："
        "不知道这个连接的一方把它重置掉。"),
    build=build,
)
