"""Quiz mode: before each segment, what does the client or the server send next?"""

from __future__ import annotations

import pytest

from synack.core.trace import SegmentRecord
from synack.core.wire import ACK, FIN, PSH, RST, SYN, flags_names
from synack.scenarios import TOUR, get
from synack.views.quiz import Choice, quiz


def test_the_handshake_quiz_exactly() -> None:
    qs = quiz(get("handshake").run(1)[0].records)
    assert [(q.step, q.t_us, q.sender, q.state) for q in qs] == [
        (1, 100_000, "client", "CLOSED"), (2, 110_000, "server", "LISTEN"),
        (3, 120_000, "client", "SYN-SENT")]
    assert [[c.label() for c in q.choices] for q in qs] == [
        ["nothing (it waits)", "SYN seq=0", "SYN,ACK seq=0 ack=1", "ACK seq=0 ack=1"],
        ["SYN seq=0", "nothing (it waits)", "SYN,ACK seq=0 ack=1", "SYN,ACK seq=0 ack=0"],
        ["ACK seq=1 ack=2", "ACK seq=1 ack=0", "nothing (it waits)", "ACK seq=1 ack=1"],
    ]
    assert [q.answer for q in qs] == [1, 2, 3]
    assert [q.correct for q in qs] == [Choice("SYN", 0, None), Choice("SYN,ACK", 0, 1), Choice("ACK", 1, 1)]
    assert qs[0].prompt.en == ("The client, in CLOSED: its application calls connect(192.0.2.2:80). "
                               "What does it send next?")
    assert qs[1].prompt.zh == "服务器处于 LISTEN：它刚收到 SYN seq=0。它接下来发送什么？"
    assert qs[2].prompt.en == ("The client, in SYN-SENT: it has just received SYN,ACK seq=0 ack=1. "
                               "What does it send next?")
    assert qs[1].why.en == ("It answers the SYN with its own SYN and an ACK of the peer's: ack is the peer's "
                            "ISN + 1, because a SYN takes one sequence number.")
    assert qs[2].why.zh == "它确认收到的数据：ack 是它期望的下一个序列号；单纯的 ACK 自己不占序列号。"
    assert qs[0].choices[0].label("zh") == "什么也不发（等待）"


@pytest.mark.parametrize("name", TOUR)
def test_every_question_has_three_or_four_distinct_choices_and_the_real_answer(name: str) -> None:
    for run in get(name).run(1):
        qs = quiz(run.records, run.left, run.right)
        sent = [r for r in run.records if isinstance(r, SegmentRecord) and r.event == "send"
                and r.host in (run.left, run.right) and r.seg is not None]
        assert len(qs) == len(sent)
        for q, rec in zip(qs, sent, strict=True):
            assert 3 <= len(q.choices) <= 4
            assert len({c.label() for c in q.choices}) == len(q.choices)
            assert rec.seg is not None
            assert (q.t_us, q.correct.length) == (rec.t_us, len(rec.seg.payload))
            assert q.correct.flags == flags_names(rec.seg.flags & (SYN | ACK | FIN | RST | PSH))
            assert sum(1 for c in q.choices if c.nothing) == 1 and not q.correct.nothing
            assert q.prompt.en and q.prompt.zh and q.why.en and q.why.zh
