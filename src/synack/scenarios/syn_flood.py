"""SYN攻击: spoofed SYNs fill the SYN queue; the seed's four defenses, one run each.

Every run is the same attack: 2,000 spoofed SYNs per second for 10 s at port 80 of a
server whose SYN queue holds 128 half-open entries, while one legitimate client makes
20 connection attempts spread over the attack.  Only the defense changes, and each
run reports the legitimate success rate (``run.metrics["legit_success_rate"]``).

The filtering gateway is not part of any TCP stack: it is the simulator's filter
:class:`~synack.sim.filters.SynRateLimit` (a per-source and per-/24 token-bucket
limit on SYNs, like an iptables ``hashlimit`` rule) in front of the server, so it
sees everything that reaches the server, the injected flood included, before its
TCP does.

The trace keeps every record of the flood (every spoofed SYN, every SYN-ACK lost for
want of a route, every half-open entry's timers); only the pictures summarise it (the
ladder model draws the first two spoofed sources, :data:`synack.views.ladder.model.OUTSIDE_KEPT`,
and counts the rest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from synack.core.config import Config, ms, seconds
from synack.core.connection import Connection
from synack.core.errors import DropReason
from synack.core.events import Connected, ConnectionTimedOut, Event
from synack.core.listener import PRUNED_RETRIES
from synack.sim import SynFlood, SynRateLimit
from synack.sim.filters import prefix_of

from .apps import accept_all
from .base import CLIENT_ADDR, SERVER_ADDR, Context, Run, Scenario, Text

PORT: Final = 80
FLOOD_RATE: Final = 2000          # spoofed SYNs per second
FLOOD_START: Final = seconds(1)
FLOOD_DURATION: Final = seconds(10)
FLOOD_END: Final = FLOOD_START + FLOOD_DURATION
#: The legitimate client's attempts: one every 0.5 s from 1.25 s, all during the flood.
ATTEMPTS: Final = 20
FIRST_ATTEMPT: Final = seconds(1.25)
ATTEMPT_EVERY: Final = ms(500)
#: Each attempt gives up after its SYN and two retransmissions (1 s, 3 s; at 7 s).
CLIENT_CONFIG: Final = Config(syn_retries=2)
#: When the server's connection table is looked at, as ``netstat | grep SYN_RECV`` would.
NETSTAT_AT: Final = seconds(6)
SAMPLE_EVERY: Final = ms(100)
#: Long enough for the default SYN queue (entries live 63 s) to drain after the flood.
RUN_UNTIL: Final = seconds(70)
#: The attacker confined to its own network (BCP 38), for the filter's good case.
ATTACKER_PREFIX: Final = "203.0.113.0/24"


# -- the runs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Defense:
    key: str
    #: For the summary table.
    short: Text
    label: Text
    config: Config
    backlog: int = 128
    spoof_prefix: str | None = None
    gate: bool = False


NO_COOKIES: Final = Config(syncookies=0)
DEFENSES: Final = (
    Defense("none", Text("no defense", "不设防"),
            Text("no defense (syncookies=0, SYN queue 128, 5 SYN-ACK retries)",
                 "不设防（syncookies=0，半连接队列 128，SYN-ACK 重传 5 次）"), NO_COOKIES),
    Defense("short-timeout", Text("shorter SYN-ACK timeout", "缩短超时"),
            Text("shorter SYN-ACK timeout: synack_retries=1 (3 s instead of 63 s)",
                 "缩短超时：synack_retries=1（3 秒而不是 63 秒）"),
            Config(syncookies=0, synack_retries=1)),
    Defense("big-backlog", Text("bigger SYN queue", "增大半连接队列"),
            Text("bigger SYN queue: max_syn_backlog=1024 (8×), listen backlog 1024",
                 "增大半连接队列：max_syn_backlog=1024（8 倍），listen backlog 1024"),
            Config(syncookies=0, max_syn_backlog=1024), backlog=1024),
    Defense("filter", Text("filter, attacker in one /24", "过滤网关，攻击者限于一个 /24"),
            Text(f"filtering gateway, attacker confined to {ATTACKER_PREFIX}",
                 f"过滤网关，攻击者只能伪造 {ATTACKER_PREFIX} 内的地址"),
            NO_COOKIES, spoof_prefix=ATTACKER_PREFIX, gate=True),
    Defense("filter-random", Text("filter, any spoofed source", "过滤网关，任意伪造地址"),
            Text("filtering gateway, attacker spoofing any address",
                 "过滤网关，攻击者伪造任意地址"), NO_COOKIES, gate=True),
    Defense("cookies", Text("SYN cookies on overflow", "溢出时用 SYN cookies"),
            Text("SYN cookies when the SYN queue overflows (syncookies=1, Linux's default)",
                 "半连接队列溢出时用 SYN cookies（syncookies=1，Linux 默认）"), Config(syncookies=1)),
    Defense("cookies-always", Text("SYN cookies always", "总是用 SYN cookies"),
            Text("SYN cookies for every SYN (syncookies=2)",
                 "所有 SYN 都用 SYN cookies（syncookies=2）"), Config(syncookies=2)),
)


def _lifetime_s(cfg: Config, retries: int | None = None) -> float:
    """How long a half-open entry lives without an answer: RTO·(1 + 2 + ... + 2^retries),
    with ``synack_retries`` or, pruned, at most ``retries``."""
    n = cfg.synack_retries if retries is None else min(retries, cfg.synack_retries)
    return cfg.initial_rto * ((2 << n) - 1) / 1e6


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _run(ctx: Context, d: Defense) -> Run:
    net, run = ctx.network(d.label)
    run.max_rows = 60
    client = net.add_host("client", [CLIENT_ADDR], CLIENT_CONFIG)
    server = net.add_host("server", [SERVER_ADDR], d.config)
    gate = server.add_filter(SynRateLimit(watch=CLIENT_ADDR)) if d.gate else None
    net.connect(client, server, delay=ms(10))
    listener = server.listen(PORT, d.backlog)
    accept_all(server, listener)

    # The legitimate client: success is ESTABLISHED before its SYN retries run out.
    started: dict[Connection, int] = {}
    connected: dict[Connection, int] = {}
    timed_out: list[Connection] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, Connected):
            connected[ev.conn] = client.now
        elif isinstance(ev, ConnectionTimedOut):
            timed_out.append(ev.conn)

    client.on_event(on_event)

    def attempt() -> None:
        conn = client.connect(SERVER_ADDR, PORT)
        started[conn] = client.now

    for k in range(ATTEMPTS):
        net.at(FIRST_ATTEMPT + k * ATTEMPT_EVERY, attempt)
    flood = SynFlood(net, SERVER_ADDR, PORT, FLOOD_RATE, FLOOD_START, FLOOD_DURATION,
                     spoof_prefix=d.spoof_prefix)

    samples: list[tuple[int, int]] = []

    def sample() -> None:
        samples.append((net.now, listener.syn_queue_len))
        if net.now + SAMPLE_EVERY < RUN_UNTIL:
            net.after(SAMPLE_EVERY, sample)

    net.at(0, sample)
    syn_recv: list[str] = []
    net.at(NETSTAT_AT, lambda: syn_recv.extend(r.remote for r in server.snapshot() if r.state == "SYN-RECV"))
    net.run(until=RUN_UNTIL)

    # -- what happened ------------------------------------------------------------------
    cfg = d.config
    limit = cfg.max_syn_backlog
    ok = len(connected)
    rate = ok / ATTEMPTS
    stats = server.endpoint.stats
    full = [t for t, n in samples if n >= limit]
    peak = max(n for _, n in samples)
    at_end = next(n for t, n in samples if t >= FLOOD_END)
    m = run.metrics
    m["legit_success_rate"] = rate
    m["legit_connected"] = float(ok)
    m["legit_timed_out"] = float(len(timed_out))
    m["legit_attempts"] = float(ATTEMPTS)
    m["flood_syns"] = float(flood.sent)
    m["syn_queue_limit"] = float(limit)
    m["syn_queue_peak"] = float(peak)
    m["syn_queue_at_flood_end"] = float(at_end)
    m["syn_queue_full_from_s"] = full[0] / 1e6 if full else -1.0
    m["syn_queue_full_until_s"] = full[-1] / 1e6 if full else -1.0
    m["syn_recv_at_netstat"] = float(len(syn_recv))
    m["syn_queue_full_drops"] = float(stats.dropped[DropReason.SYN_QUEUE_FULL])
    m["synacks_lost"] = float(net.no_route)
    m["syncookies_sent"] = float(stats.syncookies_sent)
    m["syncookies_accepted"] = float(stats.syncookies_accepted)
    m["half_open_created"] = float(stats.passive_opens)
    m["queue_absorbs_per_s"] = limit / _lifetime_s(cfg)

    run.facts.append(Text(
        f"legitimate client: {ok} of {ATTEMPTS} attempts connected ({_pct(rate)}); "
        f"{len(timed_out)} gave up after 3 SYNs",
        f"合法客户端：{ATTEMPTS} 次尝试中 {ok} 次建立连接（{_pct(rate)}）；"
        f"{len(timed_out)} 次发了 3 个 SYN 后放弃"))
    if 0 < ok <= 5:
        which = sorted((started[c], t) for c, t in connected.items())
        run.facts.append(Text(
            "the ones that got through: " + ", ".join(
                f"started {a / 1e6:.2f} s, connected {b / 1e6:.2f} s" for a, b in which),
            "连上的几次：" + "，".join(f"{a / 1e6:.2f} 秒开始、{b / 1e6:.2f} 秒建立" for a, b in which)))
    if full:
        dropped = stats.dropped[DropReason.SYN_QUEUE_FULL]
        then = (Text(f"the {stats.syncookies_sent} SYNs beyond it got a SYN cookie instead of being dropped",
                     f"超出的 {stats.syncookies_sent} 个 SYN 得到 SYN cookie，而不是被丢弃")
                if cfg.syncookies else
                Text(f"{dropped} SYNs dropped because it was full", f"因队列满丢弃了 {dropped} 个 SYN"))
        run.facts.append(Text(
            f"SYN queue: full ({peak}/{limit}) from {full[0] / 1e6:.1f} s to {full[-1] / 1e6:.1f} s "
            f"(the flood ran {FLOOD_START / 1e6:.0f}-{FLOOD_END / 1e6:.0f} s); {then.en}",
            f"半连接队列：从 {full[0] / 1e6:.1f} 秒到 {full[-1] / 1e6:.1f} 秒一直是满的（{peak}/{limit}）"
            f"（攻击持续 {FLOOD_START / 1e6:.0f}-{FLOOD_END / 1e6:.0f} 秒）；{then.zh}"))
    else:
        run.facts.append(Text(f"SYN queue: never full (peak {peak}/{limit})",
                              f"半连接队列：从未满过（峰值 {peak}/{limit}）"))
    if syn_recv:
        hosts = sorted({r.rsplit(":", 1)[0] for r in syn_recv})
        nets = {prefix_of(h, 24) for h in hosts}
        run.facts.append(Text(
            f"netstat at {NETSTAT_AT / 1e6:.0f} s: {len(syn_recv)} SYN-RECV from {len(hosts)} addresses in "
            f"{len(nets)} /24 networks, e.g. {', '.join(syn_recv[:3])}",
            f"{NETSTAT_AT / 1e6:.0f} 秒时的 netstat：{len(syn_recv)} 个 SYN-RECV，"
            f"来自 {len(nets)} 个 /24 网段的 {len(hosts)} 个地址，例如 {', '.join(syn_recv[:3])}"))
    else:
        run.facts.append(Text(f"netstat at {NETSTAT_AT / 1e6:.0f} s: no SYN-RECV at all",
                              f"{NETSTAT_AT / 1e6:.0f} 秒时的 netstat：没有任何 SYN-RECV"))
    run.facts.append(Text(
        f"server: {net.no_route} SYN-ACKs went to spoofed addresses and were lost; "
        f"{stats.syncookies_sent} SYN cookies sent, {stats.syncookies_accepted} came back as valid ACKs",
        f"服务器：{net.no_route} 个 SYN-ACK 发往伪造地址后丢失；发出 {stats.syncookies_sent} 个 SYN cookie，"
        f"{stats.syncookies_accepted} 个以有效 ACK 的形式回来"))
    if cfg.syncookies != 2:
        life, pruned = _lifetime_s(cfg), _lifetime_s(cfg, PRUNED_RETRIES)
        if pruned < life:
            en = (f"a queue of {limit} entries each held {life:.0f} s absorbs {limit / life:.0f} SYN/s, "
                  f"{limit / pruned:.0f} at most when pruned entries leave after {pruned:.0f} s")
            zh = (f"{limit} 个条目、每个保留 {life:.0f} 秒的队列每秒容纳 {limit / life:.0f} 个 SYN，"
                  f"被修剪的条目 {pruned:.0f} 秒后离开时最多 {limit / pruned:.0f} 个")
        else:
            en = f"a queue of {limit} entries each held {life:.0f} s absorbs at most {limit / life:.0f} SYN/s"
            zh = f"{limit} 个条目、每个保留 {life:.0f} 秒的队列每秒最多容纳 {limit / life:.0f} 个 SYN"
        run.facts.append(Text(f"{en}; the flood sends {FLOOD_RATE}/s", f"{zh}；攻击每秒发送 {FLOOD_RATE} 个"))
    if gate is not None:
        total = gate.dropped
        m["filtered"] = float(total)
        m["filtered_source"] = float(gate.dropped_source)
        m["filtered_prefix"] = float(gate.dropped_prefix)
        m["filtered_legit"] = float(gate.dropped_watched)
        m["filter_passed"] = float(gate.passed)
        run.facts.append(Text(
            f"gateway: dropped {total} SYNs ({gate.dropped_source} over {gate.rate_source}/s per address, "
            f"{gate.dropped_prefix} over {gate.rate_prefix}/s per /24), let {gate.passed} through; "
            f"{gate.dropped_watched} of the dropped were the legitimate client's",
            f"网关：丢弃 {total} 个 SYN（{gate.dropped_source} 个超过每地址 {gate.rate_source}/秒，"
            f"{gate.dropped_prefix} 个超过每 /24 {gate.rate_prefix}/秒），放行 {gate.passed} 个；"
            f"被丢弃的里有 {gate.dropped_watched} 个是合法客户端的"))
    return run


def build(ctx: Context) -> list[Run]:
    runs = [_run(ctx, d) for d in DEFENSES]
    rows_en = [f"{d.short.en:<28} {_pct(r.metrics['legit_success_rate']):>5}   SYN queue peak "
               f"{r.metrics['syn_queue_peak']:.0f}/{r.metrics['syn_queue_limit']:.0f}"
               for d, r in zip(DEFENSES, runs, strict=True)]
    rows_zh = [f"{d.short.zh}：{_pct(r.metrics['legit_success_rate'])}，"
               f"半连接队列峰值 {r.metrics['syn_queue_peak']:.0f}/{r.metrics['syn_queue_limit']:.0f}"
               for d, r in zip(DEFENSES, runs, strict=True)]
    runs[-1].facts.append(Text("legitimate success rate, all runs:\n" + "\n".join(rows_en),
                               "各次运行的合法连接成功率：\n" + "\n".join(rows_zh)))
    return runs


SCENARIO = Scenario(
    name="syn-flood",
    title=Text("SYN flood, and the seed's four defenses", "SYN 攻击与四种防御"),
    section="SYN攻击",
    explanation=Text(
        "A client commits memory before its SYN even leaves (a connection in SYN-SENT with its "
        "retransmission timer), not only at the third step as the seed says; but it does so only "
        "for a connection it chose to open. A server commits memory for anyone: a SYN from any "
        "source, which it cannot verify, gets a half-open entry in the listener's SYN queue, from "
        "the SYN until the final ACK. An attacker exploits that asymmetry: it sends SYNs with "
        "forged source addresses that nobody "
        "owns (a live host would answer the unexpected SYN-ACK with RST and free the entry, so floods"
        " use unused addresses). The server answers each with a SYN-ACK that goes nowhere, keeps the "
        "entry, and retransmits the SYN-ACK (Linux: 5 times, after 1, 2, 4, 8, 16 s, giving up 32 s "
        "later: 63 s in all; while the queue is more than half full, its older entries get only 2 "
        "retransmissions and leave after 7 s, Linux's reqsk_timer_handler). A queue of 128 entries "
        "held 63 s each absorbs only 2 SYNs per second, and at 7 s each still only 18; "
        "the flood here sends 2,000 per second for 10 s, so the queue is full within 64 ms and every "
        "later SYN, the legitimate client's included, is dropped; the netstat view shows the queue "
        "full of SYN-RECV entries from random addresses, which is how the attack is recognised. The "
        "legitimate client makes 20 attempts during the flood, each giving up after its SYN and two "
        "retransmissions. Each defense of the seed is then one run, against the same flood. Shorter "
        "timeout (tcp_synack_retries=1, entries die after 3 s) and a bigger queue (1,024 entries) "
        "only raise the rate the queue can absorb (size / lifetime: 43 SYNs/s, and 16 to 146), far below the "
        "flood's; during the flood they help next to nothing (the shorter timeout does empty the "
        "queue within 3 s of the flood's end, where the default keeps it full about 4 s longer and "
        "half full for up to a minute). "
        "That is why RFC 4987 finds both wanting and names SYN caches and SYN cookies as the viable "
        "end-host defenses. A filtering gateway limits SYNs per source address and per /24 network; "
        "per address is useless against spoofing (each forged address sends only a few SYNs), per "
        "network works only if the forged sources are concentrated. We assume the attacker's provider"
        " applies ingress filtering (BCP 38), so it can forge only addresses of its own /24: the "
        "gateway then cuts it to a trickle and the client gets through. Against an attacker forging "
        "any address the same filter lets almost everything pass, as the next run shows; it would "
        "also hurt legitimate users sharing the attacker's network. SYN cookies remove the problem at"
        " its root: the server keeps no state at all, encoding what it must remember (a hash of the "
        "4-tuple and a time counter, and the MSS) in its ISN y, and rebuilds the connection from the "
        "ACK (ack-1 = y) when a real client completes the handshake. With tcp_syncookies=1 (Linux's "
        "default) cookies are used only when the queue overflows, with 2 always, and the SYN queue "
        "stays empty. The price: without timestamps a cookie keeps only the MSS (no window scaling, "
        "no SACK), and data on the SYN cannot be kept.",
        "客户端在它的 SYN 发出之前就已分配资源（一个处于 SYN-SENT 的连接和它的重传定时器），并不是像种子"
        "文档说的那样到第三步才分配；但它只为自己决定发起的连接分配。服务器却为任何人分配资源：来自任何源"
        "地址的 SYN（服务器无法核实这个地址）都会在监听套接字的半连接队列里占一个条目，从 SYN 到达直到最后的 "
        "ACK。攻击者利用的正是这种不对称：用不存在的伪造源地址发送 SYN（如果伪造"
        "的地址属于一台在线的主机，它会用 RST 回答这个意外的 SYN-ACK，从而释放条目，所以攻击"
        "用的是没人使用的地址）。服务器对每个 SYN 回复 SYN-ACK，这些 SYN-ACK 无处可"
        "去，服务器保留条目并重传 SYN-ACK（Linux：5 次，间隔 1、2、4、8、16 秒，再"
        "等 32 秒放弃，总共 63 秒；队列超过半满时，较老的条目只重传 2 次，7 秒后就被删除，"
        "这是 Linux 的 reqsk_timer_handler）。128 个条目、每个占 63 秒的队列每秒只能容纳 2 个 "
        "SYN，每个占 7 秒也只有 18 个；"
        "这里的攻击每秒发送 2000 个、持续 10 秒，队列在 64 毫秒内被填满，此后所有 "
        "SYN（包括合法客户端的）都被丢弃；netstat 视图里是满满的、来自随机地址的 SYN-RE"
        "CV，这正是识别 SYN 攻击的方法。合法客户端在攻击期间尝试 20 次，每次发一个 SYN、重"
        "传两次后放弃。然后种子文档中的每种防御各运行一次，面对同样的攻击。缩短超时（tcp_synack"
        "_retries=1，条目 3 秒后删除）和增大队列（1024 个条目）只是提高队列能容纳的速率"
        "（容量/寿命：每秒 43 个 SYN，以及 16 到 146 个），远低于攻击速率；攻击期间几乎没有帮助（缩短超时"
        "的好处是攻击停止后 3 秒内队列就清空，而默认设置会让它再满约 4 秒，"
        "之后半满将近一分钟）。所以 RFC 4987"
        " 认为这两种方法不够，主机上可行的防御是 SYN cache 和 SYN cookies。过滤网"
        "关按源地址和按 /24 网段限制 SYN 速率；按地址限速对伪造地址无效（每个伪造地址只发几个 "
        "SYN），按网段限速只有在伪造的源地址集中时才有效。我们假设攻击者的运营商做了入口过滤（BCP "
        "38），它只能伪造自己 /24 网段内的地址：这时网关把攻击削减到涓涓细流，客户端能连上。面对伪"
        "造任意地址的攻击者，同样的过滤器几乎全部放行，下一次运行就展示这一点；它还会误伤与攻击者同网段的"
        "合法用户。SYN cookies 从根本上解决问题：服务器完全不保存状态，把需要记住的东西（四元"
        "组和时间计数器的哈希、MSS）编码进自己的初始序列号 y，真正的客户端完成握手时，再从 ACK（"
        "ack-1 = y）重建连接。tcp_syncookies=1（Linux 默认）只在队列溢出时"
        "使用 cookie，=2 时总是使用，半连接队列始终为空。代价是：没有时间戳时 cookie 只"
        "能保存 MSS（没有窗口扩大和 SACK），SYN 上携带的数据也无法保留。"),
    build=build,
)
