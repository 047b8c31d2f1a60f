"""The seed's questions as cards: every card names runs that exist, and what each card
claims is in those runs' traces (asserted on the records, exactly)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import pytest

from synack.core.trace import NoteRecord, SegmentRecord, Verdict
from synack.scenarios import ALL, Run, get
from synack.views.cards import CARDS, Card, card
from synack.views.proofs import proof_rows


@cache
def runs(name: str) -> list[Run]:
    return get(name).run(1)


def run_of(name: str, n: int) -> Run:
    return runs(name)[n - 1]


def test_the_cards_are_the_issues_questions_in_order() -> None:
    assert [c.key for c in CARDS] == ["why-not-two", "why-not-four", "handshake-data", "half-open-queue",
                                      "syn-flood", "four-way-close", "why-2msl", "simultaneous"]
    assert card("why-2msl").counterfactual and card("why-not-two").counterfactual
    with pytest.raises(KeyError):
        card("nope")


@pytest.mark.parametrize("cd", CARDS, ids=lambda c: c.key)
def test_every_card_is_short_in_both_languages_and_names_runs_that_exist(cd: Card) -> None:
    assert card(cd.key) is cd
    for text in (cd.question, cd.answer):
        assert text.en.strip() and text.zh.strip() and text.en != text.zh
    # At most three sentences.
    assert len(re.findall(r"[.!?](?:\s|$)", cd.answer.en)) <= 3
    assert len(re.findall(r"[。！？]", cd.answer.zh)) <= 3
    for ev in cd.proof + cd.counterfactual:
        assert ev.scenario in ALL
        assert 1 <= ev.run <= len(runs(ev.scenario)), (ev.scenario, ev.run)
        assert ev.shows.en and ev.shows.zh


# -- what each card claims, in the records ------------------------------------------------
def _why_not_two() -> None:
    rows = proof_rows(run_of("why-three", 1).records)
    assert [r.server.peer_receives for r in rows] == [False, False, True]   # only the ACK proves it
    three = run_of("old-duplicate-syn", 1)
    assert [s for s in three.relative_sent() if s[0] > 60_000_000] == [
        (70_110_000, "server", "SA", 17_250_000, 1, 0), (70_120_000, "client", "R", 1, 0, 0)]
    assert three.state_times("server")[-2:] == [(70_110_000, "LISTEN", "SYN-RECEIVED"),
                                                (70_130_000, "SYN-RECEIVED", "CLOSED")]
    naive = run_of("old-duplicate-syn", 2)
    assert naive.state_times("server")[-1] == (70_110_000, "LISTEN", "ESTABLISHED")   # never left
    assert [r[2] for r in naive.received("server") if r[0] > 60_000_000] == ["S", "R"]
    two = proof_rows(run_of("why-three", 2).records)
    assert (two[0].server, two[0].server_state) == (two[3].server, two[3].server_state)


def _why_not_four() -> None:
    assert [r.learned for r in proof_rows(run_of("why-three", 3).records)] == \
        ["new-attempt", "both", "nothing", "receives"]
    three = [r.learned for r in proof_rows(run_of("why-three", 1).records)]
    assert three == ["new-attempt", "both", "receives"]


def _handshake_data() -> None:
    third = run_of("data-on-third-ack", 1)
    assert third.relative_sent()[:3] == [(100_000, "client", "S", 0, 0, 0),
                                         (110_000, "server", "SA", 0, 1, 0),
                                         (120_000, "client", "PA", 1, 1, 33)]
    assert (130_000, "SYN-RECEIVED", "ESTABLISHED") in third.state_times("server")
    got = [(r.t_us, len(r.seg.payload), r.verdict) for r in third.records
           if isinstance(r, SegmentRecord) and r.event == "recv" and r.host == "server"
           and r.seg is not None and r.seg.payload]
    assert got == [(130_000, 33, Verdict.ACCEPTED)]
    syn = run_of("data-on-syn", 1)
    assert syn.relative_sent() == [(100_000, "client", "S", 0, 0, 33), (110_000, "server", "SA", 0, 1, 0),
                                   (120_000, "client", "PA", 1, 1, 33), (130_000, "server", "A", 1, 34, 0)]
    assert syn.verdicts() == [(110_000, "server", "S", "trimmed", "data-on-syn")]


def _half_open_queue() -> None:
    gone = run_of("synack-retries-exhausted", 1)
    assert [s[0] for s in gone.sent("server") if s[2] == "SA"] == \
        [0, 1_000_000, 3_000_000, 7_000_000, 15_000_000, 31_000_000]
    assert gone.state_times("server") == [(0, "LISTEN", "SYN-RECEIVED"),
                                          (63_000_000, "SYN-RECEIVED", "CLOSED")]
    lost = run_of("lost-synack", 1)
    assert [s[:3] for s in lost.relative_sent()[:5]] == [
        (100_000, "client", "S"), (110_000, "server", "SA"), (1_100_000, "client", "S"),
        (1_110_000, "server", "SA"), (1_110_000, "server", "SA")]
    assert lost.state_times("server") == [(110_000, "LISTEN", "SYN-RECEIVED"),
                                          (1_130_000, "SYN-RECEIVED", "ESTABLISHED")]
    full = run_of("queues", 3)
    assert (110_000, "server", "S", "syn-queue-full") in full.drops("server")
    cookies = run_of("queues", 4)
    assert [r.text for r in cookies.records if isinstance(r, NoteRecord) and "cookie" in r.text] == \
        ["SYN cookie accepted: connection rebuilt from the ACK"]
    assert cookies.state_times("client") == [(100_000, "CLOSED", "SYN-SENT"),
                                             (120_000, "SYN-SENT", "ESTABLISHED")]


def _syn_flood() -> None:
    def connected(run: Run) -> int:
        return run.states("client").count(("SYN-SENT", "ESTABLISHED"))

    none, cookies = run_of("syn-flood", 1), run_of("syn-flood", 6)
    assert connected(none) == none.metrics["legit_connected"] < 5
    assert none.metrics["syn_queue_peak"] == none.metrics["syn_queue_limit"] == 128
    assert connected(cookies) == 20 == cookies.metrics["legit_connected"]


def _four_way_close() -> None:
    close = run_of("close", 1)
    assert close.relative_sent()[-4:] == [(300_000, "client", "FA", 5, 5, 0),
                                          (310_000, "server", "A", 5, 6, 0),
                                          (1_310_000, "server", "FA", 5, 6, 0),
                                          (1_320_000, "client", "A", 6, 6, 0)]
    assert ("ESTABLISHED", "CLOSE-WAIT") in close.states("server")
    combined = run_of("close-fin-ack-combined", 1)
    assert combined.relative_sent()[-3:] == [(300_000, "client", "FA", 1, 1, 0),
                                             (310_000, "server", "FA", 1, 2, 0),
                                             (320_000, "client", "A", 2, 2, 0)]


def _why_2msl() -> None:
    kept = run_of("time-wait-lost-ack", 1)
    assert kept.relative_sent()[-3:] == [(1_320_000, "client", "A", 6, 6, 0),
                                         (1_510_000, "server", "FA", 5, 6, 0),
                                         (1_520_000, "client", "A", 6, 6, 0)]
    assert kept.state_times("client")[-1] == (61_520_000, "TIME-WAIT", "CLOSED")   # restarted 60 s
    zero = run_of("time-wait-lost-ack", 2)
    assert zero.relative_sent()[-1] == (1_520_000, "client", "R", 6, 0, 0)
    assert zero.verdicts("client") == [(1_520_000, "client", "FA", "dropped", "no-connection")]
    reuse = run_of("time-wait-old-segment", 1)
    syns = [s[0] for s in reuse.sent("client") if s[2] == "S"]
    assert syns == [100_000, 60_520_000]   # the 4-tuple again only after TIME-WAIT
    old = run_of("time-wait-old-segment", 3)
    got = [r for r in old.records if isinstance(r, SegmentRecord) and r.event == "recv" and r.host == "server"
           and r.t_us == 1_100_000]
    assert [(r.seg.payload, r.verdict) for r in got if r.seg] == [(b"SET x=1\n", Verdict.ACCEPTED)]


def _simultaneous() -> None:
    opened = run_of("simultaneous-open", 1)
    for host in ("A", "B"):
        assert opened.states(host) == [("CLOSED", "SYN-SENT"), ("SYN-SENT", "SYN-RECEIVED"),
                                       ("SYN-RECEIVED", "ESTABLISHED")]
    assert [s[2] for s in opened.relative_sent()] == ["S", "S", "SA", "SA"]
    closed = run_of("simultaneous-close", 1)
    for host in ("client", "server"):
        assert closed.states(host)[-4:] == [("ESTABLISHED", "FIN-WAIT-1"), ("FIN-WAIT-1", "CLOSING"),
                                            ("CLOSING", "TIME-WAIT"), ("TIME-WAIT", "CLOSED")]


CLAIMS: dict[str, Callable[[], None]] = {
    "why-not-two": _why_not_two, "why-not-four": _why_not_four, "handshake-data": _handshake_data,
    "half-open-queue": _half_open_queue, "syn-flood": _syn_flood, "four-way-close": _four_way_close,
    "why-2msl": _why_2msl, "simultaneous": _simultaneous,
}


def test_every_card_has_its_claim_checked() -> None:
    assert set(CLAIMS) == {c.key for c in CARDS}


@pytest.mark.parametrize("key", list(CLAIMS))
def test_the_cards_claim_is_in_its_runs_trace(key: str) -> None:
    CLAIMS[key]()
