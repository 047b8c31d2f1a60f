"""synack.playground: what the page asks of the real stack, checked in CPython (the
browser tests, tests/web/, check the same through Pyodide)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from synack import playground
from synack.cli import main
from synack.core.state import TRANSITIONS
from synack.playground import Pick, Settings, SettingsError
from synack.scenarios import ALL, STREAM, TOUR, get
from synack.scenarios.why_three import tables
from synack.views.cards import CARDS
from synack.views.jsonl import record_to_dict
from synack.views.proofs import proof_table
from synack.views.quiz import quiz


def cli_json(tmp_path: Path, name: str, seed: int = 1) -> list[dict[str, object]]:
    out = tmp_path / f"{name}.jsonl"
    assert main(["scenario", "run", name, "--seed", str(seed), "--json", str(out)]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", ["handshake", "queues", "old-duplicate-syn", "close"])
def test_the_seeds_run_is_the_clis(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    doc = playground.run(name, 1)
    capsys.readouterr()
    assert doc["records"] == cli_json(tmp_path, name)
    # Each run's slice, and its records' "run" key when there are several.
    for run in doc["runs"]:
        for rec in doc["records"][run["start"]:run["end"]]:
            assert rec.get("run", 1) == run["n"]
    assert doc["runs"][-1]["end"] == len(doc["records"])
    assert all(run["stopped_us"] is None for run in doc["runs"])


def test_the_json_text_is_the_runs() -> None:
    doc = json.loads(playground.run_json("handshake", 3).decode("utf-8"))
    assert doc["records"] == playground.run("handshake", 3)["records"]
    assert doc["seed"] == 3


@pytest.mark.parametrize("name", [n for n in ALL if n != "syn-flood"] + ["syn-flood"])
def test_each_records_line_is_the_clis_text(name: str) -> None:
    """The page's records are written by a faster writer than the CLI's: the same text,
    record by record (syn-flood's 330,000 included), with and without what-ifs."""
    for params in ({}, {"drop": "1:client:S:1", "time_wait": "1"}):
        doc = playground.document(name, 1, params)
        last = playground._need_last()
        several = len(last.runs) > 1
        expected = []
        for n, one in enumerate(last.runs, 1):
            for rec in one.records:
                row = record_to_dict(rec)
                if several:
                    row["run"] = n
                expected.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
        assert doc.endswith(',"records":[' + ",".join(expected) + "]}")
        if name == "syn-flood":
            break  # (what-ifs there take long; the writer is the same)


def sends(doc: dict[str, object], host: str, flags: str) -> list[dict[str, object]]:
    return [r for r in doc["records"] if r["event"] == "send" and r["host"] == host  # type: ignore[attr-defined]
            and r["flags"] == flags]


def test_a_dropped_syn_is_retransmitted_after_the_initial_rto() -> None:
    seed = playground.run("handshake", 1)
    # The page names the client's SYN "client:S:1" (record index -> name).
    index = next(i for i, r in enumerate(seed["records"]) if r["event"] == "send" and r["flags"] == "S")
    assert seed["picks"][str(index)] == "client:S:1"
    doc = playground.run("handshake", 1, {"drop": "1:client:S:1"})
    syns = sends(doc, "client", "S")
    assert [s["t_us"] for s in syns] == [100_000, 1_100_000]
    assert syns[0]["seq"] == syns[1]["seq"]
    drops = [r for r in doc["records"] if r["event"] == "drop"]
    assert [d["reason"] for d in drops] == ["fault: drop #1 (flags_are('S') & from_host('client'))"]
    # The handshake completes after the retransmission: the run went on past the
    # scenario's end (1 s) to show it.
    assert doc["runs"][0]["stopped_us"] == 1_000_000
    assert any(r["event"] == "state" and r["host"] == "server" and r["to"] == "ESTABLISHED"
               for r in doc["records"])


def test_picks_count_every_segment_whatever_the_others_do() -> None:
    # The second pick names the retransmission as the run with the first pick showed
    # it (the 2nd SYN): it is dropped too, whichever order the picks come in.
    for drop in ("1:client:S:1,1:client:S:2", "1:client:S:2,1:client:S:1"):
        doc = playground.run("handshake", 1, {"drop": drop})
        assert [s["t_us"] for s in sends(doc, "client", "S")] == [100_000, 1_100_000, 3_100_000]


def test_delay_and_duplicate_picks() -> None:
    doc = playground.run("handshake", 1, {"delay": "1:server:SA:1:500"})
    arrival = next(r for r in doc["records"] if r["event"] == "recv" and r["flags"] == "SA")
    assert arrival["t_us"] == 110_000 + 10_000 + 500_000
    doc = playground.run("handshake", 1, {"dup": "1:client:A:1:5"})
    acks = [r for r in doc["records"] if r["event"] == "recv" and r["host"] == "server" and r["flags"] == "A"]
    assert [a["t_us"] for a in acks] == [130_000, 135_000]
    assert acks[0]["flight"] == acks[1]["flight"]


def test_picks_in_the_second_run_only() -> None:
    seed = playground.run("close-fin-ack-combined", 1)
    assert len(seed["runs"]) == 2
    doc = playground.run("close-fin-ack-combined", 1, {"drop": "2:client:S:1"})
    first, second = doc["runs"]
    one = doc["records"][first["start"]:first["end"]]
    two = doc["records"][second["start"]:second["end"]]
    assert not any(r["event"] == "drop" for r in one)
    assert next(r["reason"] for r in two if r["event"] == "drop").startswith("fault: drop #1")


def test_link_delay_and_loss() -> None:
    doc = playground.run("handshake", 1, {"link_delay": "50"})
    syn = next(r for r in doc["records"] if r["event"] == "recv" and r["flags"] == "S")
    assert syn["t_us"] == 150_000
    doc = playground.run("handshake", 1, {"loss": "100%"})
    assert not any(r["event"] == "recv" for r in doc["records"])
    assert {r["reason"] for r in doc["records"] if r["event"] == "drop"} == {"link-loss"}


def test_backlog_cookies_retries_and_time_wait() -> None:
    doc = playground.run("queues", 1, {"backlog": "1", "syncookies": "0", "synack_retries": "2"})
    notes = [r["text"] for r in doc["records"]
             if r["event"] == "note" and r["text"].startswith("app: listen")]
    assert notes and all("backlog=1)" in n for n in notes)
    listeners = [lst for run in doc["runs"] for lst in run["listeners"]]
    assert listeners and all(lst["backlog"] == 1 and lst["syncookies"] == 0 for lst in listeners)
    doc = playground.run("close", 1, {"time_wait": "2"})
    armed = [r for r in doc["records"] if r["event"] == "timer" and r["timer"] == "time-wait"
             and r["action"] == "armed"]
    assert armed and armed[0]["deadline_us"] == armed[0]["t_us"] + 2_000_000
    fired = [r for r in doc["records"] if r["event"] == "timer" and r["timer"] == "time-wait"
             and r["action"] == "fired"]
    assert fired and fired[0]["t_us"] == armed[0]["deadline_us"]


def test_settings_read_and_written_back() -> None:
    params = {"link_delay": "25", "loss": "5%", "backlog": "4", "syncookies": "2", "synack_retries": "1",
              "time_wait": "0", "close": "both", "close_at": "450", "close_then": "0",
              "drop": "1:client:S:1,2:server:SA:3", "delay": "1:server:A:1:250",
              "dup": "1:client:FA:1:0", "lang": "zh", "other": "ignored"}
    s = Settings.parse(params)
    assert s.loss == 0.05 and s.backlog == 4 and s.time_wait == 0
    assert s.picks[1] == Pick("drop", 2, "server", "SA", 3)
    assert Settings.parse(s.as_params()) == s
    assert Settings.parse({}) == Settings() and not Settings().changed
    assert Settings.parse({"loss": "", "drop": " "}) == Settings()


@pytest.mark.parametrize("params", [
    {"loss": "2"}, {"loss": "x"}, {"backlog": "0"}, {"backlog": "1.5"}, {"syncookies": "3"},
    {"drop": "1:client:S"}, {"drop": "0:client:S:1"}, {"drop": "1:client:Q:1"}, {"delay": "1:client:S:1"},
    {"dup": "1:client:S:1:-5"}, {"time_wait": "nan"}, {"close": "nobody"}, {"close_at": "500"},
    {"close": "client", "close_then": "-1"},
])
def test_settings_that_cannot_run(params: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.parse(params)
    assert "error" in json.loads(playground.run_json("handshake", 1, json.dumps(params)))


def test_unknown_scenario() -> None:
    assert "unknown scenario" in json.loads(playground.run_json("no-such", 1))["error"]


def test_catalogue_in_the_tours_order_with_english_headings() -> None:
    cat = playground.catalogue()
    names = [s["name"] for g in cat["groups"] for s in g["scenarios"]]
    assert names == list(TOUR) + list(STREAM)
    assert sorted(names) == sorted(ALL)
    assert all(g["en"] for g in cat["groups"]), "every section has its English heading"
    assert cat["groups"][-1]["stream"] and cat["groups"][0]["section"] == get(TOUR[0]).section
    for g in cat["groups"]:
        for s in g["scenarios"]:
            assert s["title"]["en"] and s["title"]["zh"] and s["explanation"]["zh"]


def test_the_diagram_is_the_cores_table_in_both_languages() -> None:
    assert set(playground.TRANSITIONS_ZH) == set(TRANSITIONS)
    d = playground.diagram()
    assert len(d["edges"]) == len(TRANSITIONS) and len(d["states"]) == 11
    assert all(e["en"] and e["zh"] for e in d["edges"])


def test_svg_pcap_and_bytes_of_the_last_run() -> None:
    doc = playground.run("handshake", 1)
    svg = playground.svg(1, "zh")
    if svg is not None:  # (synack.views.svg)
        assert svg.startswith("<svg") and 'data-event="3"' in svg
    pcap = playground.pcap(1)
    assert pcap[:4] == bytes.fromhex("d4c3b2a1") and len(pcap) > 24 + 3 * 16
    index = next(i for i, r in enumerate(doc["records"]) if r["event"] == "send")
    b = playground.packet_hex(index)
    assert b is not None and b["ip"] == 20 and b["tcp"] == 20 and b["options"] == 12 and b["payload"] == 0
    assert len(b["hex"]) == 2 * (20 + 20 + 12)
    assert playground.packet_hex(0) is None  # a note


def fins(doc: dict[str, Any], run: int = 1) -> list[tuple[int, str]]:
    return [(r["t_us"], r["host"]) for r in doc["records"]
            if r["event"] == "send" and "F" in r["flags"] and r.get("run", 1) == run]


@pytest.mark.parametrize("name", playground.CLOSE_SCENARIOS)
def test_who_closes_first_and_when(name: str) -> None:
    for first in ("client", "server"):
        other = "server" if first == "client" else "client"
        doc = playground.run(name, 1, {"close": first, "close_at": "700", "close_then": "250"})
        assert doc["script_error"] is None
        for n in range(1, len(doc["runs"]) + 1):
            got = fins(doc, n)
            assert got[0] == (700_000, first)
            theirs = [t for t, host in got if host == other]
            # The other side closes 250 ms after its application reads the FIN.
            fin_in = next(r["t_us"] for r in doc["records"] if r["event"] == "recv" and r["host"] == other
                          and "F" in r["flags"] and r.get("run", 1) == n)
            assert theirs and theirs[0] == fin_in + 250_000
        # The scenario's own commentary is replaced by what the trace shows.
        facts = [f["en"] for f in doc["runs"][0]["facts"]]
        assert facts[1] == f"the first FIN: the {first}'s, at 0.7 s"
        # The first closer goes through TIME-WAIT (restarted when a FIN comes again).
        assert "TIME-WAIT → CLOSED (TIME-WAIT 60" in facts[-2 if first == "client" else -1]
        notes = [r for r in doc["records"] if r["event"] == "note" and r["text"].startswith("what-if:")]
        assert notes, "the trace says the applications' own close() calls were not made"
    both = playground.run(name, 1, {"close": "both"})
    assert fins(both)[:2] == [(300_000, "client"), (300_000, "server")]
    states = {(r["host"], r["to"]) for r in both["records"] if r["event"] == "state" and r.get("run", 1) == 1}
    assert {("client", "CLOSING"), ("server", "CLOSING")} <= states
    assert both["runs"][0]["facts"][1]["zh"] == "双方在 0.3 秒同时发出 FIN：同时关闭"


def test_who_closes_first_only_where_the_scenario_closes() -> None:
    error = json.loads(playground.run_json("handshake", 1, '{"close": "server"}'))["error"]
    assert error.startswith("close: who closes first is a setting of close, ")


def test_who_closes_first_before_the_handshake_ends() -> None:
    doc = playground.run("close", 1, {"close": "client", "close_at": "50"})
    assert fins(doc) == []
    assert any(r["event"] == "note" and "no ESTABLISHED or CLOSE-WAIT connection" in r["text"]
               for r in doc["records"])


def test_the_seeds_cards_quiz_and_proofs_for_the_page() -> None:
    cards = playground.cards()
    assert [c["key"] for c in cards] == [c.key for c in CARDS]
    assert all(c["question"]["zh"] and c["answer"]["zh"] and c["proof"] for c in cards)
    assert all(e["scenario"] in ALL for c in cards for e in c["proof"] + c["counterfactual"])
    doc = playground.run("why-three", 1)
    runs = get("why-three").run(1)
    for n, (_label, rows) in enumerate(tables(1), 1):
        x = json.loads(playground.extras_json(n))
        assert x["proofs"]["rows"]["zh"] == [list(r) for r in proof_table(rows, "zh")]
        for index in x["proofs"]["index"]:
            assert doc["records"][index]["event"] == "recv"
        questions = quiz(runs[n - 1].records, runs[n - 1].left, runs[n - 1].right)
        assert [q["choices"]["zh"] for q in x["quiz"]] == \
            [[c.label("zh") for c in q.choices] for q in questions]
        assert [q["answer"] for q in x["quiz"]] == [q.answer for q in questions]
        for q in x["quiz"]:
            sent = doc["records"][q["index"]]
            assert sent["event"] == "send" and sent["run"] == n
    doc = playground.run("handshake", 1)
    x = playground.extras(1)
    assert x["proofs"] is None and len(x["quiz"]) == 3


# -- the running timers, observed on the stack -------------------------------------------------
C, S, LISTENER = "192.0.2.1:48995", "192.0.2.2:80", "*"


def timer_changes(name: str, run: int = 1, params: dict[str, str] | None = None,
                  ) -> tuple[list[dict[str, Any]], list[tuple[int, str, str, str, str, int | None]]]:
    doc = playground.run(name, 1, params)
    one = doc["runs"][run - 1]
    return doc["records"], [tuple(c) for c in one["timers"]]


def what(rec: dict[str, Any]) -> tuple[str, str, object, int]:
    return (rec["host"], rec["event"], rec.get("flags") or rec.get("to") or rec.get("timer"), rec["t_us"])


def test_lost_syn_the_clients_retransmission_timer_runs() -> None:
    records, changes = timer_changes("lost-syn")
    assert changes == [
        (3, "client", C, S, "retransmit", 1_100_000),   # the SYN leaves at 0.1 s: RTO 1 s
        (5, "client", C, S, "retransmit", None),        # it fires at 1.1 s
        (6, "client", C, S, "retransmit", 3_100_000),   # the SYN again: RTO backed off to 2 s
        (7, "server", S, LISTENER, "synack", 2_110_000),
        (10, "client", C, S, "retransmit", None),       # the SYN-ACK acknowledges the SYN
        (14, "server", S, LISTENER, "synack", None),    # the ACK completes the entry
    ]
    assert what(records[3]) == ("client", "send", "S", 100_000)
    assert records[4]["event"] == "drop"
    assert what(records[5]) == ("client", "timer", "retransmit", 1_100_000)
    assert records[5]["action"] == "fired"
    assert what(records[6]) == ("client", "send", "S", 1_100_000)
    assert what(records[7]) == ("server", "recv", "S", 1_110_000)
    assert what(records[10]) == ("client", "recv", "SA", 1_120_000)
    assert what(records[14]) == ("server", "recv", "A", 1_130_000)


def test_lost_synack_the_listeners_synack_timer_runs() -> None:
    records, changes = timer_changes("lost-synack")
    server = [c for c in changes if c[1] == "server"]
    assert server == [
        (4, "server", S, LISTENER, "synack", 1_110_000),  # the SYN arrives at 0.11 s
        (11, "server", S, LISTENER, "synack", 3_110_000),  # fired: the SYN-ACK again, 2 s
        (20, "server", S, LISTENER, "synack", None),       # the ACK arrives
    ]
    assert what(records[4]) == ("server", "recv", "S", 110_000)
    assert what(records[10]) == ("server", "timer", "synack", 1_110_000) and records[10]["action"] == "fired"
    assert what(records[11]) == ("server", "send", "SA", 1_110_000)
    assert what(records[20]) == ("server", "recv", "A", 1_130_000)


def test_a_delayed_ack_runs_until_the_fin_carries_the_ack() -> None:
    records, changes = timer_changes("close-fin-ack-combined")
    delayed = [c for c in changes if c[4] == "delayed-ack"]
    assert delayed == [(19, "server", S, C, "delayed-ack", 350_000),
                       (23, "server", S, C, "delayed-ack", None)]
    assert what(records[19]) == ("server", "recv", "FA", 310_000)  # 40 ms to wait
    assert what(records[24]) == ("server", "send", "FA", 310_000)  # the server closes at once: its FIN acks
    assert (23, "server", S, C, "retransmit", 510_000) in changes
    # TIME-WAIT, observed as the trace records it when armed (60 s) and fired.
    tw = [c for c in changes if c[4] == "time-wait"]
    assert tw == [(25, "client", C, S, "time-wait", 60_320_000), (32, "client", C, S, "time-wait", None)]
    armed = next(r for r in records if r["event"] == "timer" and r["action"] == "armed")
    assert records[25]["event"] == "recv" and armed["t_us"] == 320_000 and armed["deadline_us"] == 60_320_000
    assert what(records[32]) == ("client", "timer", "time-wait", 60_320_000)


@pytest.mark.parametrize("name", [n for n in ALL if n != "syn-flood"])
def test_the_observed_timers_agree_with_the_trace(name: str) -> None:
    """Wherever the trace speaks of a timer, the observation agrees: a timer armed runs
    from that record with that deadline; one that fires was running until then with
    the fire's time as its deadline.  Every change is kept (none repeats the last)."""
    doc = playground.run(name, 1)
    for one in doc["runs"]:
        running: dict[tuple[str, str, str, str], int] = {}
        changes: dict[int, list[Any]] = {i: [] for i in range(one["start"], one["end"])}
        for c in one["timers"]:
            changes[c[0]].append(c)
        for i in range(one["start"], one["end"]):
            rec = doc["records"][i]
            if rec["event"] == "timer" and rec["action"] != "armed" and rec["timer"] != "synack":
                key = (rec["host"], rec["conn"]["local"], rec["conn"]["remote"], rec["timer"])
                assert running.get(key) == rec["t_us"], (name, i, rec)
            for _, host, local, remote, timer, deadline in changes[i]:
                key = (host, local, remote, timer)
                assert running.get(key) != deadline, (name, i, key)
                if deadline is None:
                    del running[key]
                else:
                    running[key] = deadline
            if rec["event"] == "timer" and rec["action"] == "armed":
                key = (rec["host"], rec["conn"]["local"], rec["conn"]["remote"], rec["timer"])
                assert running.get(key) == rec["deadline_us"], (name, i, rec)


def test_watching_the_timers_changes_no_run() -> None:
    """The same records, watched or not (the CLI's run has no watch)."""
    runs, _ = playground._execute("lost-synack", 1, Settings(), watch={})
    plain, _ = playground._execute("lost-synack", 1, Settings())
    assert [r.records for r, _ in runs] == [r.records for r, _ in plain]
