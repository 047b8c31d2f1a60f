"""同时关闭会怎样: both FINs cross; both sides go FIN-WAIT-1 → CLOSING → TIME-WAIT."""

from __future__ import annotations

from synack.core.config import seconds
from synack.core.connection import Connection

from .apps import accept_all
from .base import SERVER_ADDR, Context, Run, Scenario, Text

CONNECT_AT = seconds(0.1)
#: Both applications call close() at this instant.
CLOSE_AT = seconds(0.3)


def build(ctx: Context) -> list[Run]:
    net, run, client, server = ctx.two_hosts(Text(
        "client and server call close() at the same moment", "客户端和服务器在同一时刻调用 close()"))
    listener = server.listen(80)
    accepted = accept_all(server, listener)
    conns: list[Connection] = []
    net.at(CONNECT_AT, lambda: conns.append(client.connect(SERVER_ADDR, 80)))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    net.at(CLOSE_AT, lambda: server.close(accepted[0]))
    net.run_until_idle()

    for host, zh in (("client", "客户端"), ("server", "服务器")):
        states = [new for _old, new in run.states(host)]
        path = states[states.index("FIN-WAIT-1"):] if "FIN-WAIT-1" in states else states
        times = dict((new, t) for t, _old, new in run.state_times(host))
        wait = ""
        wait_zh = ""
        if "TIME-WAIT" in times and path[-1] == "CLOSED":
            secs = (times["CLOSED"] - times["TIME-WAIT"]) / 1e6
            wait, wait_zh = f" (TIME-WAIT {secs:g} s)", f"（TIME-WAIT {secs:g} 秒）"
        run.facts.append(Text(f"{host}: " + " → ".join(path) + wait, f"{zh}：" + " → ".join(path) + wait_zh))
    close_segs = [s for s in run.sent() if s[0] >= CLOSE_AT]
    run.facts.append(Text(
        f"{len(close_segs)} segments: both FINs crossed in the network, then both ACKs",
        f"{len(close_segs)} 个报文：两个 FIN 在网络中交错而过，然后是两个 ACK"))
    run.metrics["close_segments"] = float(len(close_segs))
    return [run]


SCENARIO = Scenario(
    name="simultaneous-close",
    title=Text("Simultaneous close: both sides in CLOSING, then both in TIME-WAIT",
               "同时关闭：双方都经过 CLOSING，然后都进入 TIME-WAIT"),
    section="同时关闭会怎样",
    explanation=Text(
        "Nothing in TCP requires one side to close first. Here both applications call close() at the "
        "same instant: each side sends FIN and enters FIN-WAIT-1, and the two FINs cross in the "
        "network. Each side now receives a FIN that does not acknowledge its own FIN (the peer sent it "
        "before our FIN arrived: its ack field is our FIN's own sequence number, not FIN + 1). RFC 9293 "
        "§3.10.7.4: a FIN arriving in FIN-WAIT-1 while our FIN is not yet acknowledged moves to CLOSING, "
        "and it is acknowledged at once. So both sides enter CLOSING and both send an ACK; those ACKs "
        "cross too, and when each side's FIN is acknowledged it moves from CLOSING to TIME-WAIT. The "
        "close takes four segments, as the four-way close does, but they travel as two crossing pairs, "
        "taking one round trip instead of two. Because both sides closed actively, both keep TIME-WAIT "
        "for 2MSL (60 s on Linux) before they are CLOSED: in a simultaneous close nobody is the passive "
        "closer who gets to forget the connection at once.",
        "TCP 并不要求必须有一方先关闭。这里双方的应用在同一时刻调用 close()：各自发送 FIN 并进入 "
        "FIN-WAIT-1，两个 FIN 在网络中交错而过。于是每一方收到的 FIN 都没有确认自己的 FIN（对方是在我们的 "
        "FIN 到达之前发出的：它的 ack 字段是我们 FIN 本身的序列号，而不是 FIN + 1）。RFC 9293 §3.10.7.4 规"
        "定：在 FIN-WAIT-1 中收到 FIN、而自己的 FIN 尚未被确认时，进入 CLOSING，并立即确认这个 FIN。所以双"
        "方都进入 CLOSING，都发出一个 ACK；这两个 ACK 也交错而过，每一方的 FIN 被确认时，就从 CLOSING 进入 "
        "TIME-WAIT。关闭同样用了四个报文，但它们是两对交错的报文，只用一个往返而不是两个。由于双方都是主动"
        "关闭，双方都要在 TIME-WAIT 中等待 2MSL（Linux 为 60 秒）才进入 CLOSED：同时关闭时没有哪一方是可以立"
        "即忘掉连接的被动关闭方。"),
    build=build,
)
