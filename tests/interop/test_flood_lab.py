"""The SYN-flood lab (bench/flood_bench.py), small and fast.

The packet builder and the flooder's refusals need nothing; the lab itself needs
root and /dev/net/tun (conftest.py's ``tun_ok``: skipped without them, a failure
under CI).  A 2.5 s flood of 1,000 SYN/s against synack and a kernel listener, both
with SYN cookies on overflow (and synack again with busy polling, pinned to one CPU,
and on a CPU of its own): the SYN queues fill, cookies take over, the legitimate
client gets through, and the namespace and its devices are gone after.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from synack.core.ip import parse_packet
from synack.core.wire import SYN

BENCH = Path(__file__).resolve().parents[2] / "bench"


def flood_bench() -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("flood_bench")


def test_the_flooders_syns_have_both_checksums_right() -> None:
    fb = flood_bench()
    scapy = pytest.importorskip("scapy.all")
    dst = socket.inet_aton("198.18.0.2")
    for i in range(200):
        src = (int(fb.SPOOF_NET.network_address) + 1 + i * 97).to_bytes(4, "big")
        raw = fb.build_syn(src, dst, 1024 + i * 311, 7000, (i * 2654435761) & 0xFFFFFFFF, i)
        p = parse_packet(raw, verify_checksum=True)  # IPv4 header and TCP checksums checked
        assert ipaddress.ip_address(p.src) in fb.SPOOF_NET and p.dst == "198.18.0.2"
        assert p.seg.flags == SYN and p.seg.options.mss == 1460 and not p.seg.payload
        # scapy recomputes both checksums the same.
        pkt = scapy.IP(raw)
        again = scapy.IP(raw)
        del again.chksum, again[scapy.TCP].chksum
        assert bytes(again) == raw == bytes(pkt)


def test_a_plan_stays_within_the_labs_ceilings() -> None:
    fb = flood_bench()
    assert fb.FloodPlan().cap == 50_000
    with pytest.raises(ValueError):
        fb.FloodPlan(rate=fb.MAX_RATE + 1)
    with pytest.raises(ValueError):
        fb.FloodPlan(rate=fb.MAX_RATE, seconds=fb.MAX_SECONDS)  # more than MAX_PACKETS
    with pytest.raises(ValueError):
        fb.FloodPlan(seconds=2.0, timeout=2.0)  # no time left for the client


def test_rounds_are_pooled_per_target_and_mode() -> None:
    """results.json's figures: success over all the rounds' attempts, the median over
    all their successful connects, synack's CPU over all their flood SYNs."""
    fb = flood_bench()
    plan = fb.FloodPlan()

    def outcome(target: str, round_: int, latencies: list[float | None], cpu_s: float = 0.0) -> Any:
        o = fb.Outcome(target, 1, plan, round_)
        o.flood = [[0.0, ms is not None, ms if ms is not None else 900.0, "" if ms else "timeout"]
                   for ms in latencies]
        o.flood_report = {"sent": 1000.0, "errors": 0.0, "t0": 0.0, "t_end": 10.0, "utime": 0.0, "stime": 0.0}
        o.cpu_s = cpu_s
        return o

    runs = [outcome("synack", 0, [0.3, 0.5, None], 0.05), outcome("kernel", 0, [0.2, 0.2, 0.2]),
            outcome("synack", 1, [0.1, 0.4, 0.6, None], 0.03)]
    results, details = fb.results_of(runs)
    assert results["flood_legit_ok_synack_cookies1"] == round(100 * 5 / 7, 1)
    assert results["flood_connect_ms_synack_cookies1"] == 0.4  # median of 0.1 0.3 0.4 0.5 0.6
    assert results["flood_cpu_us_per_syn_synack_cookies1"] == 40.0  # 0.08 s over 2,000 SYNs
    assert results["flood_legit_ok_kernel_cookies1"] == 100.0
    assert results["flood_connect_ms_kernel_cookies1"] == 0.2
    assert "flood_cpu_us_per_syn_kernel_cookies1" not in results
    assert details["flood_legit_ok_synack_cookies1"]["ok_per_round"] == [2, 3]
    assert details["flood_connect_ms_synack_cookies1"]["median_per_round_ms"] == [0.4, 0.4]
    none_ok = fb.results_of([outcome("synack", 0, [None, None])])[0]
    assert none_ok["flood_legit_ok_synack_cookies1"] == 0.0
    assert none_ok["flood_connect_ms_synack_cookies1"] == plan.timeout * 1000


@pytest.mark.usefixtures("tun_ok")
def test_the_flooder_refuses_to_run_outside_the_labs_namespace_or_range() -> None:
    """Run in a namespace of its own with no route but loopback's, so that even a
    flooder that failed to refuse could send nothing anywhere (one packet at most)."""
    from synack.drivers.netns import Namespace

    fb = flood_bench()
    ns = Namespace.create(f"skfltest{os.getpid()}")
    try:
        inode = str(os.stat(ns.path).st_ino)
        # dst, port, rate, seconds, cap, seed; then spoofed range, lab range, own, namespace
        base = [*ns.command(sys.executable, "-c", fb.flooder_code()), "198.18.0.2", "7000", "1", "0.01", "1",
                "1"]
        own = "198.18.0.1,198.18.0.2"
        for args, why in (
                ([str(fb.SPOOF_NET), str(fb.LAB_NET), own, "0"], "not in the lab's network namespace"),
                (["10.0.0.0/8", str(fb.LAB_NET), own, inode], "outside the lab's range"),
                (["198.18.0.0/24", str(fb.LAB_NET), own, inode], "outside the lab's range")):
            got = subprocess.run([*base, *args], capture_output=True, text=True, timeout=30)
            assert got.returncode != 0 and why in got.stderr, got.stderr
            assert "flooding" not in got.stdout
    finally:
        ns.close()


@pytest.mark.usefixtures("tun_ok")
def test_a_small_flood_fills_both_syn_queues_and_cookies_let_the_client_through() -> None:
    fb = flood_bench()
    plan = fb.FloodPlan(rate=1000, seconds=2.5, backlog=16, timeout=1.0, warmup=0.5, idle=0.2)
    cpus = os.sched_getaffinity(0)
    outcomes = fb.run_lab(plan, modes=(1,))
    assert [(o.target, o.mode) for o in outcomes] == [("synack", 1), ("kernel", 1), ("synack_busypoll", 1),
                                                      ("synack_pinned", 1), ("synack_isolated", 1)]
    for o in outcomes:
        d = o.detail()
        assert 0.9 * plan.cap <= d["flood_sent"] <= plan.cap, d
        assert d["outside_flood"] == 0 and d["attempts"] >= 20, d
        assert o.ok_percent >= 80, d  # cookies answer the client while the queue is full
    synack, kernel, busy, pinned, isolated = outcomes
    # synack: the SYN queue full (backlog 16: 17 entries, as Linux's), cookies for the
    # rest; its SYN-ACKs to spoofed sources die silently in the namespace's kernel (no
    # RST, no route out).  With busy polling, pinned or isolated, the same.
    for o in (synack, busy, pinned, isolated):
        assert max(o.queue) == 17
        assert o.stats["syncookies_sent"] > 0.8 * plan.cap
        assert o.stats["syncookies_accepted"] > 0
        assert o.counters.get("Ip.InAddrErrors", 0) > 0.8 * plan.cap
        assert o.counters.get("Tcp.OutRsts", 0) == 0
    # The kernel: its SYN queue full too (Linux admits backlog + 1), cookies, and its
    # SYN-ACKs to spoofed sources dropped in the sink.
    assert max(kernel.queue) >= 16
    assert kernel.counters["TcpExt.SyncookiesSent"] > 0.8 * plan.cap
    assert kernel.counters["sksink0.tx_dropped"] > 0.8 * plan.cap
    assert not os.path.exists(f"/run/netns/skflood{os.getpid()}"), "the lab's namespace is removed"
    # Pinned and isolated: synack's event loop (this thread) on one CPU under the
    # flood, then all back; isolated, the flooder on the others (unless there are none).
    assert pinned.cpus == isolated.cpus == [max(cpus)] and synack.cpus == busy.cpus == sorted(cpus)
    assert synack.flooder_cpus == kernel.flooder_cpus == pinned.flooder_cpus == sorted(cpus)
    assert isolated.flooder_cpus == (sorted(cpus - {max(cpus)}) or sorted(cpus))
    assert os.sched_getaffinity(0) == cpus, "the pinned target gives its CPUs back"


def test_the_lab_programs_start_on_the_cpus_they_are_given() -> None:
    """The client, the flooder and the kernel listener start on the CPUs they are given
    (taskset), whatever this process's own; isolated, on those synack does not use;
    bad choices are one-line errors."""
    fb = flood_bench()
    cpus = frozenset(os.sched_getaffinity(0))
    assert fb.pinned_cpu(cpus) == max(cpus)
    assert fb.program_cpus("synack_isolated", frozenset({0, 1, 2})) == {0, 1}
    assert fb.program_cpus("synack_isolated", frozenset({5})) == {5}  # nothing to isolate on
    assert fb.program_cpus("synack_pinned", frozenset({0, 1})) == fb.program_cpus("kernel", frozenset({0, 1}))
    assert fb.KernelProgram("ns", "pass", 1, cpus=frozenset({3, 0})).argv[:3] == ["taskset", "-c", "0,3"]
    assert fb.KernelProgram("ns", "pass").argv[:4] == ["ip", "netns", "exec", "ns"]
    with pytest.raises(ValueError, match="unknown target synack_fast"):
        fb.check_choice([1], ["synack", "synack_fast"])
    with pytest.raises(ValueError, match="syncookies mode 3"):
        fb.check_choice([0, 3], ["kernel"])
