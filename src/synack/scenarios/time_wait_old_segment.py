"""等待2MSL的意义 (理由二): a delayed segment of an old connection, arriving after its
4-tuple is used again.  TIME-WAIT keeps the 4-tuple out of use until such segments are gone."""

from __future__ import annotations

from synack.core.config import Config, seconds
from synack.core.connection import Connection
from synack.core.errors import AddressInUse
from synack.core.events import Closed, Event, Readable
from synack.core.isn import FixedIsn
from synack.core.seq import seq_sub
from synack.sim import Delay, from_host, has_payload

from .apps import accept_all, on_peer_closed
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text

#: The client binds the same local port both times: the same 4-tuple.
CLIENT_PORT = 40000
CONNECT_AT = seconds(0.1)
DATA_AT = seconds(0.2)
CLOSE_AT = seconds(0.5)
RECONNECT_AT = seconds(1.0)
#: After (re)connecting, the client sends its request this much later, and closes later still.
SEND_AFTER = seconds(0.2)
CLOSE_AFTER = seconds(0.5)
OLD_DATA = b"SET x=1\n"
NEW_DATA = b"SET x=2\n"
#: The network holds the first data segment this long (far less than an MSL): it arrives
#: at 0.21 s + 0.89 s = 1.1 s, after the client has reconnected (when it could).
HELD_FOR = seconds(0.89)
OLD_ARRIVES = DATA_AT + seconds(0.01) + HELD_FOR


def _one_run(ctx: Context, label: Text, time_wait: int | None, same_isns: bool) -> Run:
    net, run = ctx.network(label)
    cfg = Config() if time_wait is None else Config(time_wait=time_wait)
    client = net.add_host("client", [CLIENT_ADDR], cfg, isn=FixedIsn(1_000) if same_isns else None)
    server = net.add_host("server", [SERVER_ADDR], isn=FixedIsn(5_000) if same_isns else None)
    net.connect(client, server, delay=seconds(0.01))
    # The client's first data segment is held in the network; the client retransmits it
    # after its RTO and the first connection completes without it.
    net.add_fault(Delay(from_host(client) & has_payload(), by=HELD_FOR))

    listener = server.listen(80)
    accepted = accept_all(server, listener)
    got: dict[Connection, bytearray] = {}

    def server_reads(ev: Event) -> None:
        if isinstance(ev, Readable):
            got.setdefault(ev.conn, bytearray()).extend(server.read(ev.conn))

    server.on_event(server_reads)
    on_peer_closed(server, server.close)

    conns: list[Connection] = []
    refused: list[tuple[int, str]] = []
    reconnected: list[int] = []

    def connect() -> None:
        conn = client.connect(SERVER_ADDR, 80, local_port=CLIENT_PORT)
        conns.append(conn)
        if len(conns) == 2:
            reconnected.append(net.now)
            net.after(SEND_AFTER, client.send, conn, NEW_DATA)
            net.after(CLOSE_AFTER, client.close, conn)

    def reconnect() -> None:
        try:
            connect()
        except AddressInUse as exc:
            refused.append((net.now, str(exc)))

    def retry_when_free(ev: Event) -> None:
        # A refused application tries again as soon as the old connection is gone.
        if isinstance(ev, Closed) and refused and len(conns) == 1 and ev.conn is conns[0]:
            net.after(0, connect)

    client.on_event(retry_when_free)
    net.at(CONNECT_AT, connect)
    net.at(DATA_AT, lambda: client.send(conns[0], OLD_DATA))
    net.at(CLOSE_AT, lambda: client.close(conns[0]))
    net.at(RECONNECT_AT, reconnect)
    net.run_until_idle()

    _facts(run, conns, accepted, got, refused, reconnected)
    return run


def _facts(run: Run, conns: list[Connection], accepted: list[Connection], got: dict[Connection, bytearray],
           refused: list[tuple[int, str]], reconnected: list[int]) -> None:
    if refused:
        t, msg = refused[0]
        run.facts.append(Text(
            f"client: reconnecting from port {CLIENT_PORT} at {t / 1e6:g} s was refused by its own stack "
            f"({msg}): the old connection holds the 4-tuple in TIME-WAIT",
            f"客户端：{t / 1e6:g} 秒时从端口 {CLIENT_PORT} 重新连接被自己的协议栈拒绝（{msg}）：旧连接在 "
            "TIME-WAIT 中占着这个四元组"))
    if reconnected:
        run.facts.append(Text(
            f"client: reconnected from port {CLIENT_PORT} at {reconnected[0] / 1e6:g} s",
            f"客户端：{reconnected[0] / 1e6:g} 秒时从端口 {CLIENT_PORT} 重新连接"))
        run.metrics["reconnect_s"] = reconnected[0] / 1e6
    old = [(t, seq) for t, _h, f, seq, _a, n in run.received("server") if t == OLD_ARRIVES and n]
    why = {t: r for t, _h, _f, _v, r in run.verdicts("server")}.get(OLD_ARRIVES)
    if old and len(conns) == 2:
        new_iss = conns[1].iss
        shift = seq_sub(new_iss, conns[0].iss)
        when = (f"the old segment (seq = old ISN + 1, {len(OLD_DATA)} bytes) arrived at "
                f"{OLD_ARRIVES / 1e6:g} s")
        when_zh = f"旧报文（seq = 旧 ISN + 1，{len(OLD_DATA)} 字节）于 {OLD_ARRIVES / 1e6:g} 秒到达"
        if old[0][0] < (reconnected[0] if reconnected else 0):
            rst = [r for _t, h, f, r in run.drops("client") if f == "R"]
            fate = f"the TIME-WAIT dropped that RST ({rst[0]})" if rst else "that RST ended the TIME-WAIT"
            fate_zh = f"TIME-WAIT 丢弃了这个 RST（{rst[0]}）" if rst else "这个 RST 结束了 TIME-WAIT"
            run.facts.append(Text(
                f"{when}, while the client was still in TIME-WAIT and no new connection existed: "
                f"the server answered it with RST (dropped: {why}); {fate}",
                f"{when_zh}，此时客户端仍处于 TIME-WAIT，新连接还不存在：服务器回以 RST（丢弃原因：{why}）；"
                f"{fate_zh}"))
        elif why is not None:
            run.facts.append(Text(
                f"{when}, in the new connection, whose ISN is {shift:,} higher (the ISN clock ran on): "
                f"below the receive window, so refused (dropped: {why}) and answered with an ACK",
                f"{when_zh}，落入新连接，而新连接的 ISN 高出 {shift:,}（ISN 时钟一直在走）："
                f"它在接收窗口之下，因此被拒绝（丢弃原因：{why}），并回以一个 ACK"))
        else:
            run.facts.append(Text(
                f"{when}, in the new connection, whose ISNs are the same ({shift} apart): its sequence "
                "number was exactly RCV.NXT, so it was accepted as the new connection's first bytes",
                f"{when_zh}，落入新连接，而新连接的 ISN 相同（相差 {shift}）：它的序列号恰好等于 RCV.NXT，"
                "于是被当作新连接的头几个字节接收了"))
    if len(accepted) == 2:
        first = bytes(got.get(accepted[0], b""))
        second = bytes(got.get(accepted[1], b""))
        ok = second == NEW_DATA
        run.facts.append(Text(
            f"server application read {first!r} on the old connection and {second!r} on the new one: "
            + ("intact" if ok else f"the client sent {NEW_DATA!r}, the stream is corrupted, silently"),
            f"服务器应用在旧连接上读到 {first!r}，在新连接上读到 {second!r}："
            + ("完好无损" if ok else f"客户端发送的是 {NEW_DATA!r}，数据流被悄悄破坏了")))
        run.metrics["new_connection_intact"] = 1.0 if ok else 0.0
    loop = [s for s in run.sent() if OLD_ARRIVES <= s[0] <= RECONNECT_AT + SEND_AFTER and s[2] == "A"]
    if len(loop) > 2:
        t0, t1 = loop[0][0] / 1e6, loop[-1][0] / 1e6
        run.facts.append(Text(
            f"the two ends were out of step: {len(loop)} bare ACKs went back and forth from {t0:g} s "
            f"to {t1:g} s (the server acknowledged bytes the client had not sent; the client answered "
            "that ACK of unsent data with an ACK, the server answered its old sequence number with an "
            "ACK), then the 500 ms limit on such ACKs silenced both; the client's real request looked "
            "old to the server, which dropped it and acknowledged it at once (data is always answered), "
            "so the client believes it was delivered",
            f"两端失去了同步：从 {t0:g} 秒到 {t1:g} 秒，{len(loop)} 个纯 ACK 在它们之间来回"
            "（服务器确认了客户端没发送过的字节；客户端对这个确认了未发送数据的 ACK 回以 ACK，服务器又对它"
            "的旧序列号回以 ACK），随后对这类 ACK 的 500 毫秒限制让双方都沉默了；客户端真正的请求在服务器"
            "看来是旧的，被丢弃并立即得到确认（带数据的报文总会得到回应），所以客户端以为它已经送达"))
        run.metrics["ack_loop_segments"] = float(len(loop))


def build(ctx: Context) -> list[Run]:
    return [
        _one_run(ctx, Text("TIME-WAIT 60 s (Linux): the 4-tuple is reused only after it",
                           "TIME-WAIT 60 秒（Linux）：四元组在它结束之后才被重新使用"), None, False),
        _one_run(ctx, Text("TIME-WAIT 0 and immediate reuse; ISNs from RFC 6528's clock",
                           "TIME-WAIT 为 0 并立即重用；ISN 来自 RFC 6528 的时钟"), 0, False),
        _one_run(ctx, Text("TIME-WAIT 0 and immediate reuse; the new connection repeats the old ISNs",
                           "TIME-WAIT 为 0 并立即重用；新连接重复了旧的 ISN"), 0, True),
    ]


SCENARIO = Scenario(
    name="time-wait-old-segment",
    title=Text("TIME-WAIT lets old segments die before the 4-tuple is reused",
               "TIME-WAIT 让旧报文在四元组被重用之前消失"),
    section="等待2MSL的意义 (理由二)",
    explanation=Text(
        "A connection is named by its 4-tuple (addresses and ports). Close it and open a new one with the s"
        "ame 4-tuple, and the network cannot tell their segments apart; only the sequence numbers can. The "
        "seed's second reason for 2MSL: after the last ACK, waiting 2MSL lets every segment of the old conn"
        "ection disappear from the network, so none can show up in the next one. In all three runs the clie"
        "nt connects from port 40000, sends \"SET x=1\", and the network holds that segment for 0.89 s (an "
        "MSL may be minutes); the client retransmits it after its 200 ms RTO, the server reads it, and the "
        "connection closes, the client going through TIME-WAIT. At 1 s the client wants a new connection fr"
        "om the same port to send \"SET x=2\", and at 1.1 s the held segment is finally delivered. Run 1 ke"
        "eps Linux's 60 s TIME-WAIT: the client's own stack refuses to reuse the 4-tuple, the old segment r"
        "eaches a server that has no such connection (RST, which the TIME-WAIT ignores, being outside its w"
        "indow), and the new connection starts only at 60.52 s, long after the segment is gone. Runs 2 and "
        "3 set TIME-WAIT to 0, so the client reconnects at once and the old segment arrives inside the new "
        "connection. What happens then depends only on sequence numbers. In run 2 the ISNs come from RFC 65"
        "28's generator, a 4 µs clock plus a keyed hash of the 4-tuple: the hash is the same for the same 4"
        "-tuple, so the new ISN is 0.9 s / 4 µs = 225,000 above the old one, the old segment falls below th"
        "e receive window, and the server refuses it (drops it and sends an ACK). That protection only last"
        "s while the old connection used sequence numbers more slowly than the clock (250,000 per second); "
        "a faster connection's old segments land inside the next incarnation's window. Run 3 shows that cas"
        "e by making both hosts repeat their ISNs: the old segment's sequence number is exactly the new RCV"
        ".NXT, it is accepted, and the server application reads \"SET x=1\" as the new connection's request"
        ". The ends are now out of step: the server acknowledges 8 bytes the client never sent, the client "
        "answers that ACK of unsent data with an ACK (RFC 9293), the server answers the client's old sequen"
        "ce number with an ACK; both sides then fall silent, because each answers unacceptable segments at "
        "most every 500 ms (Linux's tcp_invalid_ratelimit; without it the two would ACK each other every rou"
        "nd trip). The client's real request looks like a duplicate to the server, which drops it and, as f"
        "or any retransmitted data, acknowledges it at once (that ACK is never rate-limited): the 8 bytes i"
        "t never received are acknowledged. The client believes \"SET x=2\" was delivered; the server exec"
        "uted \"SET x=1\". "
        "These are the hazards RFC 1337 lists for a shortened TIME-WAIT. ("
        "When it is the server that holds TIME-WAIT, RFC 9293 and Linux let a new SYN whose ISN is above th"
        "e old connection's sequence numbers reopen the 4-tuple early: the sequence-number argument of run "
        "2.)",
        "连接由它的四元组（地址和端口）命名。关闭一个连接、再用相同的四元组打开一个新连接，网络就分不清两者"
        "的报文了，只有序列号能区分。原文给出的 2MSL 的第二个理由：发送最后的 ACK 之后再等待 2MSL，旧连接的"
        "所有报文都会从网络中消失，不会出现在下一个连接中。三次运行中，客户端都从端口 40000 连接，发送“SET "
        "x=1”，网络把这个报文扣留了 0.89 秒（一个 MSL 可以长达几分钟）；客户端在 200 毫秒的 RTO 后重传它，"
        "服务器读到了，然后连接关闭，客户端经过 TIME-WAIT。1 秒时客户端想从同一个端口建立新连接，发送“SET x"
        "=2”；1.1 秒时被扣留的报文终于送达。第一次运行保留 Linux 的 60 秒 TIME-WAIT：客户端自己的协议栈拒绝"
        "重用这个四元组，旧报文到达时服务器上已没有这个连接（回以 RST，而 TIME-WAIT 因其不在窗口内而忽略它"
        "），新连接直到 60.52 秒才开始，那时旧报文早已消失。第二、三次运行把 TIME-WAIT 设为 0，客户端立即重"
        "新连接，旧报文落入新连接。接下来会怎样只取决于序列号。第二次运行中 ISN 来自 RFC 6528 的生成器：4 "
        "微秒一跳的时钟加上四元组的带密钥哈希；同一个四元组哈希相同，所以新 ISN 比旧的高 0.9 秒 / 4 微秒 = "
        "225,000，旧报文落在接收窗口之下，服务器拒绝了它（丢弃并发送一个 ACK）。这种保护只在旧连接消耗序列"
        "号比时钟慢（每秒 250,000）时才有效；更快的连接的旧报文会落入下一个连接的窗口之内。第三次运行让双方"
        "重复使用原来的 ISN 来展示这种情况：旧报文的序列号恰好等于新的 RCV.NXT，被接收了，服务器应用把“SET "
        "x=1”当作新连接的请求读了出来。此时两端失去了同步：服务器确认了客户端从未发送的 8 个字节，客户端对"
        "这个确认了未发送数据的 ACK 回以一个 ACK（RFC 9293），服务器又对客户端的旧序列号回以 ACK；之后双方"
        "都沉默了，因为对不可接受的报文每 500 毫秒最多回应一次（Linux 的 tcp_invalid_ratelimit；没有这个限"
        "制，两端会每个往返互相 ACK 一次）。客户端真正的请求在服务器看来是重复数据，被丢弃，并且像对任"
        "何重传的数据一样立即得到确认（这种 ACK 从不限速）：那 8 个从未收到的字节被确认了。"
        "客户端以为“SET x=2”已经送达；"
        "服务器执行的却是“SET x=1”。这正是 RFC 1337 列出的缩短 TIME-WAIT 带来的危险。（如果持有 TIM"
        "E-WAIT 的是服务器，RFC 9293 和 Linux 允许 ISN 高于旧连接序列号的新 SYN 提前重新打开这个四元组：依"
        "据的正是第二次运行中的序列号道理。）"),
    build=build,
)
