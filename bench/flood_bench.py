"""The SYN-flood lab: synack and the kernel under the same spoofed SYN flood (root needed).

    python bench/flood_bench.py [--quick] [--rate R] [--seconds T] [--backlog B] [--modes 0,1,2]

Everything happens in one private network namespace made for the run and removed
afterwards (``skflood<pid>``); nothing is routed out of it:

- synack serves on its TUN address (198.18.0.2, port 7000 + 10·M + 100·round) with
  ``Config(syncookies=M)``; then, as three more targets, with busy polling
  ("synack_busypoll", port 7002 + ...), with its process pinned to one CPU while the
  lab's other programs may use every CPU ("synack_pinned", 7003 + ...), and on a
  CPU of its own, the lab's other programs on the others ("synack_isolated",
  7004 + ...);
- a kernel listener (a Python accept-and-close loop, port 7001 + ...) listens on the
  namespace's kernel address 198.18.0.1, with the same backlog, under
  ``net.ipv4.tcp_syncookies=M`` set inside the namespace (the sysctl is per
  namespace: the host's value is checked unchanged at the end);
- a flooder on the kernel side sends spoofed SYNs through a raw socket
  (``IPPROTO_RAW``, the IPv4 and TCP headers built here, checksums right) at ``rate``
  per second for ``seconds``, never more than ``rate × seconds`` packets, from random
  sources in 198.18.128.0/17 (inside 198.18.0.0/15, away from the namespace's own
  198.18.0.0/24), to one target at a time; it stops by itself;
- a legitimate kernel client starts a non-blocking ``connect()`` every 20 ms with a
  timeout shorter than its first SYN retransmission, records success and latency,
  and closes.

Where the SYN-ACKs to spoofed sources go, so the two targets are alike: the spoofed
range is routed to ``sksink0``, a TUN device with no reader (no carrier), where every
packet is dropped as it is sent, as SYN-ACKs to spoofed sources vanish on the Internet.
The kernel needs that route: without one (or with a ``blackhole`` route) its SYN-ACK
cannot be routed, and ``tcp_conn_request`` frees the request at once
(``IpOutNoRoutes``, ``TcpExtListenDrops``), so its SYN queue never fills.  synack's
SYN-ACKs enter the namespace's kernel through the TUN addressed to a non-local
address; with forwarding off it drops them silently (``IpInAddrErrors``, no RST, no
ICMP).  Neither side's SYN-ACKs meet a RST.

Each run measures, per mode and target, the client without flood (the path's own
cost), then under flood (the client's attempts all start after a warm-up that fills
the SYN queue, and end, timeout included, before the flood stops), with the
evidence: synack's ``endpoint.stats`` and SYN-queue samples, the kernel's SNMP
counters and ``SYN_RECV`` count, the devices' drop counts, the flooder's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import ipaddress
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from tun_bench import KernelProgram

from synack.drivers.netns import KERNEL_V4, SYNACK_V4, Namespace, privilege_problem
from synack.drivers.streams import start_server
from synack.drivers.tun import TunSettings, TunStack, open_tun, tun_config

#: The benchmarking range of the namespace; spoofed sources never leave it.
LAB_NET: Final = ipaddress.IPv4Network("198.18.0.0/15")
#: Spoofed sources: the upper half of 198.18.0.0/16, away from the TUN's /24.
SPOOF_NET: Final = ipaddress.IPv4Network("198.18.128.0/17")
#: The no-carrier TUN the spoofed range is routed to (every packet sent there is dropped).
SINK: Final = "sksink0"
#: The busy poll of the "synack_busypoll" target, µs: longer than the flood's gaps
#: between bursts (the flooder sends every 0.5 ms or so), so the SYN of a client
#: finds synack polling rather than asleep.
BUSY_POLL_US: Final = 500


@dataclass(frozen=True)
class Target:
    """How one target of the lab runs."""

    #: Its listener's port in mode 0, round 1 (+ 10·mode + 100·round).
    port: int
    #: synack's listener (else the kernel's).
    synack: bool = True
    #: synack's busy polling, µs.
    busy_poll_us: int = 0
    #: synack's process (the thread running its event loop) on :func:`pinned_cpu`.
    pinned: bool = False
    #: The lab's other programs on the other CPUs (:func:`program_cpus`).
    isolated: bool = False


#: The targets: synack as it comes, the kernel, synack with busy polling, synack with
#: its process pinned to one CPU (the lab's other programs keep every CPU), and synack
#: on a CPU of its own (pinned there, the lab's other programs on the other CPUs: a
#: dedicated core, as userspace stacks are run).
TARGET: Final = {
    "synack": Target(7000),
    "kernel": Target(7001, synack=False),
    "synack_busypoll": Target(7002, busy_poll_us=BUSY_POLL_US),
    "synack_pinned": Target(7003, pinned=True),
    "synack_isolated": Target(7004, pinned=True, isolated=True),
}
TARGETS: Final = tuple(TARGET)
#: Ceilings no plan may pass (the flooder checks them again).
MAX_RATE: Final = 20_000
MAX_PACKETS: Final = 250_000
MAX_SECONDS: Final = 60.0

assert SPOOF_NET.subnet_of(LAB_NET)
assert all(ipaddress.ip_address(a) not in SPOOF_NET for a in (KERNEL_V4, SYNACK_V4))


@dataclass(frozen=True)
class FloodPlan:
    """One lab run's knobs.  Defaults: 5,000 SYN/s for 10 s (50,000 SYNs at most),
    backlog 64, the client every 20 ms with a 0.9 s timeout: each attempt is one SYN,
    never retransmitted (the kernel's first retransmission comes at 1 s).

    Why no retransmissions: the client's SYN retransmission timer runs on the same
    timer wheel as the kernel listener's SYN-queue entries, so with syncookies 0 its
    retransmitted SYNs go out in the very tick in which the listener prunes entries
    (the timer softirq runs before the receive softirq) and take the freed places
    before any flood SYN.  That measures the client sitting on the listener's kernel,
    which no remote client does and synack cannot share; first SYNs measure the
    listeners alike (docs/FLOOD-LAB.md)."""

    rate: int = 5000
    seconds: float = 10.0
    backlog: int = 64
    #: synack's Config.max_syn_backlog and the namespace's tcp_max_syn_backlog (the
    #: namespace's default here).  Well above the backlog, so on both sides the backlog
    #: alone bounds the SYN queue: Linux keeps the last quarter of tcp_max_syn_backlog
    #: for peers it has seen before (syncookies 0), which synack does not do.
    max_syn_backlog: int = 2048
    interval: float = 0.02
    timeout: float = 0.9
    #: Flood time before the client's first attempt (the SYN queue fills).
    warmup: float = 1.0
    #: The client alone before the flood (the path's own latency).
    idle: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.rate <= MAX_RATE:
            raise ValueError(f"rate {self.rate} outside 1..{MAX_RATE} SYN/s")
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds {self.seconds} outside (0, {MAX_SECONDS}]")
        if self.cap > MAX_PACKETS:
            raise ValueError(f"{self.cap} packets: more than {MAX_PACKETS}")
        if self.window <= self.interval:
            raise ValueError("no time left for the client: seconds must exceed warmup + timeout")

    @property
    def cap(self) -> int:
        """The hard cap on the flood's packets."""
        return math.ceil(self.rate * self.seconds)

    @property
    def window(self) -> float:
        """How long the client starts attempts under flood."""
        return self.seconds - self.warmup - self.timeout - STARTUP_ALLOWANCE


#: Time for the client's process to start (``ip netns exec`` + Python).
STARTUP_ALLOWANCE: Final = 0.3
QUICK: Final = FloodPlan(rate=2000, seconds=4.0, backlog=16, timeout=0.9, warmup=0.5, idle=0.5)


# ----------------------------------------------------------------------------- kernel-side programs

def build_syn(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ident: int) -> bytes:
    """An IPv4 packet (DF, TTL 64) carrying a TCP SYN with an MSS option of 1460, window
    64240, both checksums right.  (Run as is by the flooder: it imports only struct.)"""
    import struct

    tcp = struct.pack("!HHIIBBHHHBBH", sport, dport, seq, 0, 6 << 4, 0x02, 64240, 0, 0, 2, 4, 1460)
    # Ones' complement sums of 16-bit words, as a remainder mod 0xFFFF (even lengths).
    r = int.from_bytes(src + dst + struct.pack("!HH", 6, len(tcp)) + tcp, "big") % 0xFFFF
    tcp = tcp[:16] + struct.pack("!H", 0xFFFF - (r or 0xFFFF)) + tcp[18:]
    head = struct.pack("!BBHHHBB2s4s4s", 0x45, 0, 20 + len(tcp), ident, 0x4000, 64, 6, b"\0\0", src, dst)
    r = int.from_bytes(head, "big") % 0xFFFF
    return head[:10] + struct.pack("!H", 0xFFFF - (r or 0xFFFF)) + head[12:] + tcp


_FLOOD_MAIN = """
def main():
    import ipaddress, os, random, resource, socket, sys, time
    dst, dport, rate, seconds, cap, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \\
        float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    spoof, lab = ipaddress.ip_network(sys.argv[7]), ipaddress.ip_network(sys.argv[8])
    own = [ipaddress.ip_address(a) for a in sys.argv[9].split(",")]
    # Refuse anything but a bounded flood from the lab's namespace, inside the lab's range.
    if os.stat("/proc/self/ns/net").st_ino != int(sys.argv[10]):
        raise SystemExit("flood: not in the lab's network namespace")
    if not (spoof.subnet_of(lab) and ipaddress.ip_address(dst) in lab and not any(a in spoof for a in own)):
        raise SystemExit("flood: addresses outside the lab's range")
    if not (0 < rate <= %(max_rate)d and 0 < seconds <= %(max_seconds)r and 0 < cap <= %(max_packets)d):
        raise SystemExit("flood: rate, duration or count beyond the lab's ceilings")
    rng = random.Random(seed)
    base, size = int(spoof.network_address), spoof.num_addresses
    dst_b = socket.inet_aton(dst)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL implied
    sent = errors = 0
    t0 = time.monotonic()
    end = t0 + seconds
    print("flooding", t0, flush=True)
    try:
        while sent < cap:
            now = time.monotonic()
            if now >= end:
                break
            due = min(cap, int((now - t0) * rate) + 1)
            while sent < due:
                a = base + rng.randrange(1, size - 1)
                if a & 0xFF in (0, 255):
                    continue
                src = a.to_bytes(4, "big")
                pkt = build_syn(src, dst_b, rng.randrange(1024, 65536), dport, rng.getrandbits(32),
                                rng.getrandbits(16))
                try:
                    s.sendto(pkt, (dst, 0))
                except OSError:
                    errors += 1
                sent += 1
            time.sleep(0.0005)
    finally:
        s.close()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print(sent, errors, t0, time.monotonic(), ru.ru_utime, ru.ru_stime,
              ",".join(map(str, sorted(os.sched_getaffinity(0)))), flush=True)
main()
"""


#: :func:`build_syn`'s source, read as this module is imported: a run that reads it
#: later would read whatever the file holds by then (an edit made meanwhile).
_BUILD_SYN_SOURCE: Final = inspect.getsource(build_syn)


def flooder_code() -> str:
    """The flooder's program: :func:`build_syn` and the paced loop."""
    return "import struct\n" + _BUILD_SYN_SOURCE + _FLOOD_MAIN % {
        "max_rate": MAX_RATE, "max_seconds": MAX_SECONDS, "max_packets": MAX_PACKETS}


_CLIENT = """
import errno, json, selectors, socket, sys, time
addr, port, interval, window, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \\
    float(sys.argv[4]), float(sys.argv[5])
sel = selectors.DefaultSelector()
out = []  # [start (monotonic), ok, ms, error]
t0 = time.monotonic()
next_at, stop = t0, t0 + window
def done(s, start, ok, err):
    out.append([start, ok, (time.monotonic() - start) * 1000, err])
    s.close()
while True:
    now = time.monotonic()
    while next_at <= now and next_at < stop:
        s = socket.socket()
        s.setblocking(False)
        start = time.monotonic()
        err = s.connect_ex((addr, port))
        if err == errno.EINPROGRESS:
            sel.register(s, selectors.EVENT_WRITE, start)
        else:
            done(s, start, err == 0, errno.errorcode.get(err, str(err)) if err else "")
        next_at += interval
    for key in list(sel.get_map().values()):
        if now - key.data >= timeout:
            sel.unregister(key.fileobj)
            done(key.fileobj, key.data, False, "timeout")
    pending = sel.get_map()
    if next_at >= stop and not pending:
        break
    wait = [next_at - now] if next_at < stop else []
    wait += [k.data + timeout - now for k in pending.values()]
    for key, _ in sel.select(max(0.0, min(wait))):
        s = key.fileobj
        sel.unregister(s)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        done(s, key.data, err == 0, errno.errorcode.get(err, str(err)) if err else "")
print(json.dumps(out), flush=True)
"""

_KERNEL_LISTENER = """
import os, socket, sys, threading
# Gone with the lab: when the parent's end of stdin closes (even if it was killed).
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(int(sys.argv[3]))
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.close()
"""


# ----------------------------------------------------------------------------- the namespace

def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _host_sysctl(key: str) -> str:
    with open("/proc/sys/" + key.replace(".", "/"), encoding="ascii") as f:
        return f.read().strip()


#: SNMP counters kept as evidence (name as in /proc/net/{snmp,netstat}: Group.Field).
COUNTERS: Final = (
    "Ip.InAddrErrors", "Ip.InNoRoutes", "Ip.OutNoRoutes", "Tcp.PassiveOpens", "Tcp.ActiveOpens",
    "Tcp.AttemptFails", "Tcp.OutRsts", "Tcp.RetransSegs", "TcpExt.ListenDrops", "TcpExt.ListenOverflows",
    "TcpExt.TCPReqQFullDrop", "TcpExt.TCPReqQFullDoCookies", "TcpExt.SyncookiesSent",
    "TcpExt.SyncookiesRecv", "TcpExt.SyncookiesFailed", "TcpExt.TCPTimeouts",
)


def _read_counters() -> dict[str, int]:
    """Inside the namespace (on a thread there): SNMP counters and devices' drops."""
    out: dict[str, int] = {}
    for name in ("snmp", "netstat"):
        with open(f"/proc/thread-self/net/{name}", encoding="ascii") as f:
            lines = f.read().splitlines()
        for head, values in zip(lines[::2], lines[1::2], strict=True):
            group, _, keys = head.partition(":")
            for k, v in zip(keys.split(), values.split(":")[1].split(), strict=True):
                if f"{group}.{k}" in COUNTERS:
                    out[f"{group}.{k}"] = int(v)
    with open("/proc/thread-self/net/dev", encoding="ascii") as f:
        for line in f.read().splitlines()[2:]:
            dev, _, nums = line.partition(":")
            fields = nums.split()
            out[f"{dev.strip()}.tx_packets"] = int(fields[9])
            out[f"{dev.strip()}.tx_dropped"] = int(fields[11])
    return out


def _syn_recv(port: int) -> int:
    """Inside the namespace: the kernel's SYN_RECV entries for local ``port``."""
    with open("/proc/thread-self/net/tcp", encoding="ascii") as f:
        rows = [line.split() for line in f.read().splitlines()[1:]]
    return sum(1 for r in rows if r[3] == "03" and int(r[1].split(":")[1], 16) == port)


class Lab:
    """The namespace, its sink for the spoofed range, and its sysctls."""

    def __init__(self, plan: FloodPlan) -> None:
        self.plan = plan
        self.name = f"skflood{os.getpid()}"
        #: The CPUs this process may use as the lab starts: the client, the flooder and
        #: the kernel listener start on all of them, even while synack is pinned
        #: (:func:`program_cpus`).
        self.cpus = frozenset(os.sched_getaffinity(0))
        self.ns: Namespace | None = None
        self.host_syncookies = _host_sysctl("net.ipv4.tcp_syncookies")

    def __enter__(self) -> Lab:
        self.ns = Namespace.create(self.name)
        try:
            _ip("-n", self.name, "tuntap", "add", "dev", SINK, "mode", "tun")
            _ip("-n", self.name, "link", "set", SINK, "up")
            _ip("-n", self.name, "route", "add", str(SPOOF_NET), "dev", SINK)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.ns is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _ip("-n", self.name, "link", "del", SINK)
        self.ns.close()
        self.ns = None
        if _host_sysctl("net.ipv4.tcp_syncookies") != self.host_syncookies:
            raise RuntimeError("the host's net.ipv4.tcp_syncookies changed: the sysctl is not per namespace")

    def sysctl(self, key: str, value: int) -> None:
        """``ip netns exec NAME sysctl -w key=value``, read back."""
        argv = ["ip", "netns", "exec", self.name, "sysctl"]
        subprocess.run([*argv, "-qw", f"{key}={value}"], check=True, capture_output=True, timeout=30)
        got = subprocess.run([*argv, "-n", key], check=True, capture_output=True, text=True, timeout=30)
        if got.stdout.strip() != str(value):
            raise RuntimeError(f"{key} reads {got.stdout.strip()} in {self.name}, not {value}")

    @property
    def inode(self) -> int:
        """The namespace's identity (the flooder checks it is in it)."""
        assert self.ns is not None
        return os.stat(self.ns.path).st_ino

    def counters(self) -> dict[str, int]:
        assert self.ns is not None
        return self.ns.run(_read_counters)

    def syn_recv(self, port: int) -> int:
        assert self.ns is not None
        return self.ns.run(lambda: _syn_recv(port))


# ----------------------------------------------------------------------------- one target under flood

def pinned_cpu(cpus: Collection[int]) -> int:
    """The CPU the "synack_pinned" and "synack_isolated" targets run synack's process
    on: the last of those it may use (the first usually takes more of the machine's
    interrupts)."""
    return max(cpus)


def program_cpus(target: str, cpus: frozenset[int]) -> frozenset[int]:
    """Where the lab's programs (client, flooder, kernel listener) run for ``target``:
    every CPU, but for an isolated one those other than synack's (all of them on a
    machine of one CPU, where nothing can be isolated)."""
    if TARGET[target].isolated:
        return cpus - {pinned_cpu(cpus)} or cpus
    return cpus


def median_or_timeout(latencies: list[float], plan: FloodPlan) -> float:
    """The median of successful connects' latencies (ms); the timeout when there are none."""
    return statistics.median(latencies) if latencies else plan.timeout * 1000


def p90(latencies: list[float]) -> float | None:
    """The 90th percentile (ms), from ten successes on; else None."""
    return round(statistics.quantiles(latencies, n=10)[-1], 3) if len(latencies) >= 10 else None


@dataclass
class Outcome:
    """One target in one mode: the client alone, then under flood, and the evidence."""

    target: str
    mode: int
    plan: FloodPlan
    round: int = 0
    idle: list[list[Any]] = field(default_factory=list)
    flood: list[list[Any]] = field(default_factory=list)
    flood_report: dict[str, float] = field(default_factory=dict)
    queue: list[int] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    #: The machine's 1-minute load average before and after the flood (a shared machine).
    load: tuple[float, float] = (0.0, 0.0)
    #: The CPUs synack's process could run on under the flood.
    cpus: list[int] = field(default_factory=list)
    #: The CPUs the flooder could run on (it says so as it ends).
    flooder_cpus: list[int] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return len(self.flood)

    @property
    def ok_percent(self) -> float:
        return 100 * sum(1 for a in self.flood if a[1]) / len(self.flood) if self.flood else 0.0

    @property
    def median_ms(self) -> float:
        """Median connect latency of the successful attempts under flood; the timeout
        when none succeeded."""
        return median_or_timeout([a[2] for a in self.flood if a[1]], self.plan)

    @property
    def idle_ms(self) -> float:
        ok = [a[2] for a in self.idle if a[1]]
        return statistics.median(ok) if ok else math.nan

    def outside_flood(self) -> int:
        """Attempts under flood that did not lie, timeout included, between the
        warm-up's end and the flood's (0 when the run went as planned)."""
        if not self.flood_report:
            return len(self.flood)
        lo = self.flood_report["t0"] + self.plan.warmup
        hi = self.flood_report["t_end"]
        return sum(1 for a in self.flood if not lo <= a[0] <= a[0] + a[2] / 1000 <= hi)

    def detail(self) -> dict[str, Any]:
        ok = [a[2] for a in self.flood if a[1]]
        sent = self.flood_report.get("sent", 0)
        errors: dict[str, int] = {}
        for a in self.flood:
            if not a[1]:
                errors[a[3]] = errors.get(a[3], 0) + 1
        return {
            "attempts": self.attempts,
            "ok": len(ok),
            "failed": errors,
            "p90_ms": p90(ok),
            "idle_median_ms": round(self.idle_ms, 3),
            "idle_ok": sum(1 for a in self.idle if a[1]),
            "idle_attempts": len(self.idle),
            "outside_flood": self.outside_flood(),
            "flood_sent": int(self.flood_report.get("sent", 0)),
            "flood_errors": int(self.flood_report.get("errors", 0)),
            "flood_s": round(self.flood_report.get("t_end", 0) - self.flood_report.get("t0", 0), 2),
            "flooder_cpu_s": round(self.flood_report.get("utime", 0) + self.flood_report.get("stime", 0), 2),
            # (the kernel's work on a SYN it receives is done in the sender's system time)
            "flooder_sys_s": round(self.flood_report.get("stime", 0), 2),
            "syn_queue": [min(self.queue), max(self.queue)] if self.queue else None,
            **({"synack_cpu_s": round(self.cpu_s, 2),
                "synack_cpu_us_per_flood_syn": round(self.cpu_s * 1e6 / max(1, sent), 1),
                "synack_cpus": self.cpus}
               if TARGET[self.target].synack else {}),
            **({"flooder_cpus": self.flooder_cpus} if self.flooder_cpus else {}),
            "loadavg": [round(x, 2) for x in self.load],
            "kernel_counters": {k: v for k, v in self.counters.items() if v},
            **({"synack_stats": {k: v for k, v in self.stats.items() if v}} if self.stats else {}),
        }


async def _client(lab: Lab, addr: str, port: int, window: float, cpus: frozenset[int]) -> list[list[Any]]:
    plan = lab.plan
    async with KernelProgram(lab.name, _CLIENT, addr, port, plan.interval, window, plan.timeout,
                             cpus=cpus) as client:
        result: list[list[Any]] = json.loads(await client.line(timeout=window + plan.timeout + 30))
        return result


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def run_target(lab: Lab, stack: TunStack, target: str, mode: int, round_: int = 0) -> Outcome:
    """The client alone, then under the flood, against ``target`` (one of :data:`TARGETS`)."""
    plan = lab.plan
    out = Outcome(target, mode, plan, round_)
    # A port of its own per mode and round: a listener's SYN_RECV entries outlive it
    # until their timers fire, and would be counted.
    offset = 10 * mode + 100 * round_
    netns = lab.name
    how = TARGET[target]
    port = how.port + offset
    programs = program_cpus(target, lab.cpus)
    sample: Callable[[], int]
    async with contextlib.AsyncExitStack() as stack_exit:
        if how.synack:
            addr = SYNACK_V4
            server = await start_server(_hang_up, None, port, stack=stack, backlog=plan.backlog)
            stack_exit.callback(server.close)
            if how.busy_poll_us:
                stack.busy_poll_us = how.busy_poll_us
                stack_exit.callback(setattr, stack, "busy_poll_us", 0)
            if how.pinned:
                # This thread runs the event loop, and so synack (taskset -c N would
                # do the same for ``synack serve``).
                os.sched_setaffinity(0, {pinned_cpu(lab.cpus)})
                stack_exit.callback(os.sched_setaffinity, 0, lab.cpus)
            listener = server.listener

            def sample() -> int:
                return listener.syn_queue_len
        else:
            addr = KERNEL_V4
            kernel = await stack_exit.enter_async_context(
                KernelProgram(netns, _KERNEL_LISTENER, addr, port, plan.backlog, cpus=programs))
            if await kernel.line(timeout=30) != "ready":
                raise RuntimeError("kernel listener did not start")

            def sample() -> int:
                return lab.syn_recv(port)
        out.idle = await _client(lab, addr, port, plan.idle, programs)
        load0 = os.getloadavg()[0]
        out.cpus = sorted(os.sched_getaffinity(0))
        before = lab.counters()
        stats0 = {**stack.endpoint.stats.as_dict(), "tun_write_errors": stack.write_errors}
        cpu0 = time.process_time()
        seed = int.from_bytes(os.urandom(4), "big")
        async with KernelProgram(netns, flooder_code(), addr, port, plan.rate, plan.seconds, plan.cap, seed,
                         SPOOF_NET, LAB_NET, f"{KERNEL_V4},{SYNACK_V4}", lab.inode,
                         cpus=programs) as flood:
            first = await flood.line(timeout=30)
            if not first.startswith("flooding"):
                raise RuntimeError(f"flooder: {first}")
            t0 = float(first.split()[1])
            await asyncio.sleep(max(0.0, t0 + plan.warmup - time.monotonic()))
            stop = asyncio.Event()

            async def sampler() -> None:
                while not stop.is_set():
                    out.queue.append(sample())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.1)
            task = asyncio.create_task(sampler())
            try:
                # Every attempt, timeout included, ends before the flood does.
                window = t0 + plan.seconds - plan.timeout - STARTUP_ALLOWANCE - time.monotonic()
                out.flood = await _client(lab, addr, port, window, programs)
            finally:
                stop.set()
                await task
            *fields, cpus = (await flood.line(timeout=plan.seconds + 30)).split()
            out.flood_report = dict(zip(("sent", "errors", "t0", "t_end", "utime", "stime"),
                                        map(float, fields), strict=True))
            out.flooder_cpus = [int(c) for c in cpus.split(",")]
        out.cpu_s = time.process_time() - cpu0
        out.load = (load0, os.getloadavg()[0])
        out.counters = _delta(lab.counters(), before)
        out.stats = _delta({**stack.endpoint.stats.as_dict(), "tun_write_errors": stack.write_errors}, stats0)
    return out


# ----------------------------------------------------------------------------- the lab

def check_choice(modes: Iterable[int], targets: Iterable[str]) -> None:
    """ValueError unless every mode is a ``tcp_syncookies`` value and every target one
    of :data:`TARGETS`."""
    if bad := sorted(set(modes) - {0, 1, 2}):
        raise ValueError(f"syncookies mode {bad[0]}: 0, 1 or 2")
    if unknown := sorted(set(targets) - set(TARGETS)):
        raise ValueError(f"unknown target {', '.join(unknown)}: of {', '.join(TARGETS)}")


def run_lab(plan: FloodPlan = FloodPlan(), modes: Iterable[int] = (0, 1, 2),
            targets: tuple[str, ...] = TARGETS, rounds: int = 1) -> list[Outcome]:
    """Every target in every mode, ``rounds`` times, in one namespace; the targets'
    order alternates from round to round and mode to mode.  Raises SystemExit (one
    line) without root, /dev/net/tun or taskset."""
    problem = privilege_problem()
    if problem is not None:
        raise SystemExit(f"flood_bench: {problem}")
    if shutil.which("taskset") is None:
        raise SystemExit("flood_bench: needs taskset (util-linux) to place the lab's programs on CPUs")
    if not 1 <= rounds <= 10:
        raise ValueError(f"rounds {rounds} outside 1..10")
    check_choice(modes, targets)

    async def main() -> list[Outcome]:
        outcomes: list[Outcome] = []
        with Lab(plan) as lab:
            for i, mode in enumerate(modes):
                lab.sysctl("net.ipv4.tcp_syncookies", mode)
                lab.sysctl("net.ipv4.tcp_max_syn_backlog", plan.max_syn_backlog)
                config = tun_config(syncookies=mode, max_syn_backlog=plan.max_syn_backlog)
                async with open_tun(TunSettings(netns=lab.name), config=config) as stack:
                    for r in range(rounds):
                        for target in targets if (i + r) % 2 == 0 else targets[::-1]:
                            outcomes.append(await asyncio.wait_for(run_target(lab, stack, target, mode, r),
                                                                   plan.seconds + plan.idle + 120))
        return outcomes
    return asyncio.run(main())


def results_of(outcomes: list[Outcome], full: bool = False,
               ) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """The results.json keys and each one's detail (the main figures, or ``full``).
    A target's rounds in a mode are pooled: its success rate over all their attempts,
    its median over all their successful connects."""
    results: dict[str, float] = {}
    details: dict[str, dict[str, Any]] = {}
    groups: dict[tuple[str, int], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.target, o.mode), []).append(o)
    for (target, mode), runs in groups.items():
        ok_key = f"flood_legit_ok_{target}_cookies{mode}"
        ms_key = f"flood_connect_ms_{target}_cookies{mode}"
        attempts = sum(o.attempts for o in runs)
        ok = [a[2] for o in runs for a in o.flood if a[1]]
        results[ok_key] = round(100 * len(ok) / attempts if attempts else 0.0, 1)
        results[ms_key] = round(median_or_timeout(ok, runs[0].plan), 3)
        each = [o.detail() for o in runs]
        queues = [q for d in each if (q := d["syn_queue"]) is not None]
        details[ok_key] = {
            "attempts": attempts, "ok": len(ok), "rounds": len(runs),
            "ok_per_round": [d["ok"] for d in each],
            "syn_queue": [min(q[0] for q in queues), max(q[1] for q in queues)] if queues else None,
            "flood_sent": sum(d["flood_sent"] for d in each),
            "loadavg": [d["loadavg"] for d in each],
            **({"each": each} if full else {}),
        }
        details[ms_key] = {"median_per_round_ms": [round(o.median_ms, 3) for o in runs],
                           "p90_ms": p90(ok),
                           "idle_median_ms": [d["idle_median_ms"] for d in each],
                           **({"no_success": True} if not ok else {})}
        if TARGET[target].synack:
            cpu_key = f"flood_cpu_us_per_syn_{target}_cookies{mode}"
            cpu_s = sum(o.cpu_s for o in runs)
            sent = sum(o.flood_report.get("sent", 0) for o in runs)
            results[cpu_key] = round(cpu_s * 1e6 / max(1, sent), 1)
            details[cpu_key] = {"synack_cpu_s": round(cpu_s, 2), "flood_sent": int(sent)}
    return results, details


#: Rounds of the lab in ``make bench``: one round's medians swing by a quarter on a
#: shared machine, the kernel's as much as synack's.
BENCH_ROUNDS: Final = 3


def measure_all(quick: bool = False) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """Every target in the three modes (bench/run.py's rows): :data:`BENCH_ROUNDS`
    rounds taken in turn, pooled (one with ``quick``)."""
    return results_of(run_lab(QUICK if quick else FloodPlan(), rounds=1 if quick else BENCH_ROUNDS))


def table(outcomes: list[Outcome]) -> str:
    rows = [("mode", "round", "target", "legit ok", "median ms", "p90 ms", "idle ms", "SYN queue",
             "flood sent")]
    for o in outcomes:
        d = o.detail()
        q = d["syn_queue"]
        rows.append((f"cookies={o.mode}", str(o.round + 1), o.target, f"{o.ok_percent:.1f} % of {o.attempts}",
                     f"{o.median_ms:.3f}" + ("" if d["ok"] else " (none ok)"),
                     "-" if d["p90_ms"] is None else f"{d['p90_ms']:.3f}", f"{o.idle_ms:.3f}",
                     "-" if q is None else f"{q[0]}..{q[1]}", f"{d['flood_sent']:,}"))
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 SYN/s for 4 s, backlog 16")
    parser.add_argument("--rate", type=int, help="SYN/s")
    parser.add_argument("--seconds", type=float, help="flood duration")
    parser.add_argument("--backlog", type=int, help="listen backlog (and SYN-queue bound)")
    parser.add_argument("--max-syn-backlog", type=int, help="tcp_max_syn_backlog / Config.max_syn_backlog")
    parser.add_argument("--timeout", type=float, help="the client's connect timeout, s")
    parser.add_argument("--modes", default="0,1,2", help="syncookies modes, e.g. 0,1,2")
    parser.add_argument("--targets", default=",".join(TARGETS), help="of " + ", ".join(TARGETS))
    parser.add_argument("--rounds", type=int, default=1, help="every target this many times per mode, "
                        f"in turn (make bench: {BENCH_ROUNDS}); results.json's figures pool them")
    parser.add_argument("--json", metavar="FILE", help="write every outcome's figures and detail")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: processes killed by pid, the namespace removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    plan = QUICK if args.quick else FloodPlan()
    changes = {k: v for k, v in (("rate", args.rate), ("seconds", args.seconds), ("backlog", args.backlog),
                                 ("max_syn_backlog", args.max_syn_backlog), ("timeout", args.timeout))
               if v is not None}
    try:
        plan = replace(plan, **changes)
        if not all(m.strip().isdigit() for m in args.modes.split(",")):
            raise ValueError(f"--modes {args.modes!r}: syncookies modes 0, 1, 2, comma-separated")
        modes = [int(m) for m in args.modes.split(",")]
        targets = tuple(args.targets.split(","))
        check_choice(modes, targets)
        if not 1 <= args.rounds <= 10:
            raise ValueError(f"--rounds {args.rounds} outside 1..10")
    except ValueError as e:
        raise SystemExit(f"flood_bench: {e}") from None
    print(f"plan: {plan.rate:,} SYN/s for {plan.seconds:g} s (cap {plan.cap:,}), backlog {plan.backlog}, "
          f"tcp_max_syn_backlog {plan.max_syn_backlog}, client every {plan.interval * 1000:g} ms, "
          f"timeout {plan.timeout:g} s", flush=True)
    if any(TARGET[t].pinned for t in targets):
        cpus = frozenset(os.sched_getaffinity(0))
        others = sorted(program_cpus("synack_isolated", cpus))
        print(f"pinned and isolated: synack's process on CPU {pinned_cpu(cpus)} of {sorted(cpus)}; "
              f"isolated, the lab's programs on {others}", flush=True)
    outcomes = run_lab(plan, modes, targets, args.rounds)
    print(table(outcomes))
    results, details = results_of(outcomes, full=True)
    for o in outcomes:
        print(f"{o.target} cookies={o.mode} round {o.round + 1}: {json.dumps(o.detail())}")
    print(json.dumps(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"plan": plan.__dict__, "results": results, "details": details}, f, indent=2)


if __name__ == "__main__":
    main()
