"""why-three: what each segment of a real run proves, for three, two and four segments."""

from __future__ import annotations

import subprocess
import sys

from synack.scenarios import TOUR, get, why_three
from synack.views.proofs import TABLE_HEADERS, Knowledge, ProofRow, learned_text, proof_rows, proof_table

NONE, SENDS, BOTH = Knowledge(), Knowledge(True, False), Knowledge(True, True)


def relative(n: int) -> list[tuple[int, str, str, int, int]]:
    """(t_us, host, flags, seq, ack) sent, seq and ack relative to the latest SYN each way
    (ack raw without ACK): runs with more than one connection, or with no SYN,ACK."""
    isn: dict[str, int] = {}
    out = []
    for t, host, flags, seq, ack, _n in get("why-three").run(1)[n].sent():
        if "S" in flags:
            isn[host] = seq
        peer = "server" if host == "client" else "client"
        rel_ack = (ack - isn[peer]) % 2**32 if "A" in flags else ack
        out.append((t, host, flags, (seq - isn.get(host, seq)) % 2**32, rel_ack))
    return out


def rows_of(n: int) -> list[tuple[object, ...]]:
    run = get("why-three").run(1)[n]
    return [(r.step, r.t_us, r.sender, r.flags, r.seq, r.ack, r.client, r.server, r.client_state,
             r.server_state, r.learned) for r in proof_rows(run.records)]


def test_why_three_opens_the_tour() -> None:
    assert TOUR[0] == "why-three" and TOUR[1] == "handshake"


def test_three_way_each_segment_proves_what_the_seed_says() -> None:
    run = get("why-three").run(1)[0]
    assert run.relative_sent() == [(100_000, "client", "S", 0, 0, 0), (110_000, "server", "SA", 0, 1, 0),
                                   (120_000, "client", "A", 1, 1, 0)]
    assert rows_of(0) == [
        (1, 110_000, "client", "S", 0, 0, NONE, SENDS, "SYN-SENT", "SYN-RECEIVED", "new-attempt"),
        (2, 120_000, "server", "SA", 0, 1, BOTH, SENDS, "ESTABLISHED", "SYN-RECEIVED", "both"),
        (3, 130_000, "client", "A", 1, 1, BOTH, BOTH, "ESTABLISHED", "ESTABLISHED", "receives"),
    ]
    assert run.metrics == {"segments": 3.0, "both_proven_after": 3.0}


def test_two_way_server_cannot_tell_an_old_syn_from_a_new_one() -> None:
    run = get("why-three").run(1)[1]
    assert relative(1) == [(100_000, "client", "S", 0, 0), (2_110_000, "server", "SA", 0, 1),
                           (2_120_000, "client", "R", 1, 0), (3_000_000, "client", "S", 0, 0),
                           (3_010_000, "server", "SA", 0, 1), (3_020_000, "client", "A", 1, 1)]
    # The old SYN and the new SYN come from two ports: two connections at the server.
    assert [(c.remote[1], c.state.value) for c in run.host("server").endpoint.accepted] == \
        [(48995, "ESTABLISHED"), (48996, "ESTABLISHED")]
    rows = rows_of(1)
    assert rows == [
        # the old SYN (its attempt given up at 0.5 s): the naive server is ESTABLISHED at once
        (1, 2_110_000, "client", "S", 0, 0, NONE, SENDS, "CLOSED", "ESTABLISHED", "new-attempt"),
        (2, 2_120_000, "server", "SA", 0, 1, NONE, SENDS, "CLOSED", "ESTABLISHED", "no-connection"),
        (3, 2_130_000, "client", "R", 1, 0, NONE, SENDS, "CLOSED", "ESTABLISHED", "rst"),
        # the new SYN: the same row for the server
        (4, 3_010_000, "client", "S", 0, 0, NONE, SENDS, "SYN-SENT", "ESTABLISHED", "new-attempt"),
        (5, 3_020_000, "server", "SA", 0, 1, BOTH, SENDS, "ESTABLISHED", "ESTABLISHED", "both"),
        (6, 3_030_000, "client", "A", 1, 1, BOTH, BOTH, "ESTABLISHED", "ESTABLISHED", "receives"),
    ]
    server_side = [(r[3], r[7], r[9], r[10]) for r in rows]   # flags, proofs, state, learned
    assert server_side[0] == server_side[3] == ("S", SENDS, "ESTABLISHED", "new-attempt")
    assert run.metrics == {"server_connections": 2.0, "phantoms": 1.0, "client_connected": 1.0,
                           "old_and_new_syn_alike": 1.0}
    assert any("segments 1 and 4" in f.en and "cannot tell them apart" in f.en for f in run.facts)


def test_four_way_the_separate_syn_proves_nothing_new() -> None:
    run = get("why-three").run(1)[2]
    assert relative(2) == [(100_000, "client", "S", 0, 0), (110_000, "server", "A", 0, 1),
                           (110_000, "server", "S", 0, 0), (120_000, "client", "A", 1, 1)]
    assert rows_of(2) == [
        (1, 110_000, "client", "S", 0, 0, NONE, SENDS, "SYN-SENT", "SYN-RECEIVED", "new-attempt"),
        (2, 120_000, "server", "A", 0, 1, BOTH, SENDS, "SYN-SENT", "SYN-RECEIVED", "both"),
        (3, 120_000, "server", "S", 0, 0, BOTH, SENDS, "ESTABLISHED", "SYN-RECEIVED", "nothing"),
        (4, 130_000, "client", "A", 1, 1, BOTH, BOTH, "ESTABLISHED", "ESTABLISHED", "receives"),
    ]
    # Four segments end where three did.
    three = proof_rows(get("why-three").run(1)[0].records)[-1]
    four = proof_rows(run.records)[-1]
    assert (four.client, four.server) == (three.client, three.server) == (BOTH, BOTH)


def test_the_table_in_words_both_languages() -> None:
    rows = proof_rows(get("why-three").run(1)[0].records)
    assert proof_table(rows, "en") == [
        ("1", "SYN seq=0 →", "-", "send", "SYN-SENT / SYN-RECEIVED",
         "server: a SYN: the client can send (or could: an old SYN looks the same)"),
        ("2", "← SYN,ACK seq=0 ack=1", "send, receive", "send", "ESTABLISHED / SYN-RECEIVED",
         "client: its SYN acknowledged: the server can send and receive"),
        ("3", "ACK seq=1 ack=1 →", "send, receive", "send, receive", "ESTABLISHED / ESTABLISHED",
         "server: its SYN acknowledged: the client can receive"),
    ]
    assert [r[2:4] for r in proof_table(rows, "zh")] == [("-", "发送"), ("发送、接收", "发送"),
                                                         ("发送、接收", "发送、接收")]
    assert learned_text(rows[2], "zh") == "服务器：自己的 SYN 被确认：客户端能接收"
    assert len(TABLE_HEADERS["en"]) == len(TABLE_HEADERS["zh"]) == 6


def test_a_row_knows_its_label() -> None:
    row = ProofRow(2, 0, "server", "client", "SA", "SYN,ACK", 0, 1, 80, BOTH, SENDS, "ESTABLISHED",
                   "SYN-RECEIVED", "both")
    assert row.label == "SYN,ACK seq=0 ack=1" and row.knowledge("server") == SENDS


def test_the_pure_views_import_neither_rich_nor_matplotlib_nor_scenarios() -> None:
    """What the browser page imports: the words, the proof table, the cards, the quiz.
    Views import no scenarios (docs/ARCHITECTURE.md)."""
    code = ("import sys; import synack.views.proofs, synack.views.words, synack.views.cards, "
            "synack.views.quiz; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'matplotlib'}), "
            "'synack.scenarios' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] False"

def test_why_three_tables_is_the_structured_data_the_page_draws() -> None:
    tables = why_three.tables(1)
    assert [label.en.split(":")[0] for label, _rows in tables] == ["three-way", "two-way", "four-way"]
    assert [len(rows) for _label, rows in tables] == [3, 6, 4]
    assert tables[0][1] == proof_rows(get("why-three").run(1)[0].records)
