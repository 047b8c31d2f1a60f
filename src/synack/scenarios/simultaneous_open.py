"""同时打开会怎样: both ends send SYN at once; each answers the other's SYN with SYN,ACK
and both go SYN-SENT → SYN-RECEIVED → ESTABLISHED, with no listener anywhere."""

from __future__ import annotations

from synack.core.config import ms
from synack.core.connection import Connection

from .apps import events_of
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text

A_ADDR, A_PORT = CLIENT_ADDR, 40000
B_ADDR, B_PORT = SERVER_ADDR, 50000
A_CONNECTS = ms(100)
DELAY = ms(10)


def _one_run(ctx: Context, label: Text, b_late: int) -> Run:
    """A connects to B at 100 ms; B connects to A ``b_late`` µs later.  Fixed ports on
    both sides, so both connections are the same 4-tuple; nobody listens."""
    net, run = ctx.network(label, left="A", right="B")
    a = net.add_host("A", [A_ADDR])
    b = net.add_host("B", [B_ADDR])
    net.connect(a, b, delay=DELAY)
    a_events, b_events = events_of(a), events_of(b)
    conns: dict[str, Connection] = {}
    net.at(A_CONNECTS, lambda: conns.setdefault("A", a.connect(B_ADDR, B_PORT, local_port=A_PORT)))
    net.at(A_CONNECTS + b_late, lambda: conns.setdefault("B", b.connect(A_ADDR, A_PORT, local_port=B_PORT)))
    net.run(until=ms(1000))

    outcome = {name: [n for _t, n in events if n in ("Connected", "ConnectionRefused")]
               for name, events in (("A", a_events), ("B", b_events))}
    run.metrics["segments"] = float(len(run.sent()))
    run.metrics["connected"] = float(sum(1 for o in outcome.values() if o == ["Connected"]))
    run.metrics["refused"] = float(sum(1 for o in outcome.values() if o == ["ConnectionRefused"]))
    if b_late < DELAY:
        states = " → ".join(new for _t, _old, new in run.state_times("A"))
        run.facts.append(Text(
            f"B's SYN left {b_late / 1000:g} ms after A's, before A's SYN could reach B ({DELAY / 1000:g} ms "
            f"link): the SYNs crossed; each side, in SYN-SENT, got a SYN without ACK and answered it with "
            f"SYN,ACK; both went CLOSED → {states} ({len(run.sent())} segments, no final ACK needed)",
            f"B 的 SYN 比 A 的晚 {b_late / 1000:g} 毫秒发出，此时 A 的 SYN 还没到 B（链路 {DELAY / 1000:g} "
            "毫秒）：两个 SYN 在路上交错；双方都在 SYN-SENT 收到一个不带 ACK 的 SYN，并以 SYN,ACK 回答；"
            f"两边都经历 CLOSED → {states}（共 {len(run.sent())} 个报文，不需要最后的 ACK）"))
    else:
        run.facts.append(Text(
            f"B's SYN left {b_late / 1000:g} ms after A's, after A's SYN had already reached B: B had no "
            "connection then and refused it with RST; A gave up (connection refused), so B's own SYN "
            "found nothing at A and was refused in turn: no connection at all",
            f"B 的 SYN 比 A 的晚 {b_late / 1000:g} 毫秒发出，此时 A 的 SYN 已经到了 B："
            "B 当时没有连接，用 RST 拒绝了它；A 放弃（连接被拒绝），于是 B 自己的 SYN 在 A 那里也找不到任何"
            "连接，同样被拒绝：一个连接也没有建立"))
    return run


def build(ctx: Context) -> list[Run]:
    return [
        _one_run(ctx, Text("A and B connect to each other at the same instant",
                           "A 和 B 在同一时刻互相连接"), 0),
        _one_run(ctx, Text("B connects 5 ms later: the SYNs still cross in flight",
                           "B 晚 5 毫秒连接：两个 SYN 仍在路上交错"), ms(5)),
        _one_run(ctx, Text("B connects 15 ms later: too late, both are refused",
                           "B 晚 15 毫秒连接：太晚了，双方都被拒绝"), ms(15)),
    ]


SCENARIO = Scenario(
    name="simultaneous-open",
    title=Text("Simultaneous open", "同时打开"),
    section="同时打开会怎样",
    explanation=Text(
        "Two applications, A and B, each call connect() to the other at the same time, from the "
        "fixed port the other one targets (A 192.0.2.1:40000 ↔ B 192.0.2.2:50000), so both "
        "describe the same connection and neither listens. Each sends SYN and enters SYN-SENT. "
        "When the other's SYN arrives it carries no ACK of our own SYN, so RFC 9293 (§3.10.7.3) "
        "sends the connection to SYN-RECEIVED and answers with SYN,ACK from our own ISN: A sends "
        "SYN,ACK seq=x ack=y+1 and B sends SYN,ACK seq=y ack=x+1. Each SYN,ACK then acknowledges "
        "the receiver's SYN, and both sides enter ESTABLISHED. Four segments in all, SYN, SYN, "
        "SYN,ACK, SYN,ACK, with no third ACK: each SYN,ACK already is the acknowledgment the other "
        "needs (RFC 9293 Figure 7; RFC 793's Figure 8). Every SYN has still been acknowledged "
        "and both ISNs learned, "
        "so the guarantee of the three-way handshake holds. It works only while the SYNs cross in "
        "flight: in the second run B is 5 ms late, less than the 10 ms link delay, and the "
        "result is the same. In the third run B is 15 ms late: A's SYN reaches B before B has any "
        "connection, B answers RST (as for any port nobody listens on), A's connect fails with "
        "\"connection refused\", and B's SYN then meets the same fate at A. That is why "
        "simultaneous open is rare in practice, though TCP has supported it since RFC 793 (it "
        "is used, e.g., for NAT traversal).",
        "两个应用 A 和 B 同时调用 connect() 连接对方，而且都使用对方要连接的那个固定端口（A 192.0.2.1:40000"
        " ↔ B 192.0.2.2:50000），所以双方描述的是同一个连接，谁也没有监听。双方各自发送 SYN，进入 SYN-SENT"
        "。对方的 SYN 到达时，它不带对我们自己的 SYN 的确认，于是按 RFC 9293（§3.10.7.3）连接进入 SYN-RECEI"
        "VED，并用自己的 ISN 回复 SYN,ACK：A 发送 SYN,ACK seq=x ack=y+1，B 发送 SYN,ACK seq=y ack=x+1。每个"
        " SYN,ACK 都确认了接收方的 SYN，于是双方都进入 ESTABLISHED。一共四个报文：SYN、SYN、SYN,ACK、SYN,AC"
        "K，不需要第三个 ACK：每个 SYN,ACK 本身就是对方需要的确认（RFC 9293 图 7；RFC 793 的图 8）。"
        "每个 SYN 仍然得到了确认"
        "，双方的 ISN 也都已知，所以三次握手的保证依然成立。只有当两个 SYN 在路上交错时才会这样：第二次运行"
        "中 B 晚了 5 毫秒，少于 10 毫秒的链路时延，结果相同。第三次运行中 B 晚了 15 毫秒：A 的 SYN 在 B 还"
        "没有任何连接时就到了，B 回以 RST（就像对任何没人监听的端口那样），A 的 connect 以“connection refus"
        "ed”失败，随后 B 的 SYN 在 A 那里也遭遇同样的结局。所以同时打开在实践中很少见，尽管 TCP 从 RFC 793 "
        "起就支持它（例如用于 NAT 穿透）。"),
    build=build,
)
