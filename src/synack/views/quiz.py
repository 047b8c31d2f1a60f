"""Quiz mode: before each segment of a run, "what does the client (server) send next?"

For every segment one of the two drawn hosts sends, in the order of the trace, a
question with three or four choices (flags and the fields that matter: seq, ack, len,
numbered from each side's ISN as the ladder shows them), the real answer among them,
and why, in English and Chinese.  The wrong choices are the classic mistakes: the
wrong flags, an ACK number off by one (forgetting that a SYN or a FIN takes a
sequence number, or counting one that a bare ACK does not take), and sending nothing.
Read from the trace only; pure (no rich, no matplotlib), for the browser page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from synack.core.seq import seq_sub
from synack.core.trace import (
    NoteRecord,
    SegmentRecord,
    StateRecord,
    TimerAction,
    TimerRecord,
    TraceRecord,
    endpoint_str,
)
from synack.core.wire import ACK, FIN, PSH, RST, SYN, flags_names

from .words import Text

__all__ = ["Choice", "Question", "quiz"]


@dataclass(frozen=True, slots=True)
class Choice:
    """A segment (or nothing) a host might send."""

    #: The flag names, ``"SYN,ACK"``; empty for "nothing".
    flags: str
    seq: int | None = None
    ack: int | None = None
    length: int = 0

    @property
    def nothing(self) -> bool:
        return not self.flags

    def label(self, lang: str = "en") -> str:
        """``"SYN,ACK seq=0 ack=1"``, ``"PSH,ACK seq=1 ack=1 len=33"``, or "nothing"."""
        if self.nothing:
            return "什么也不发（等待）" if lang == "zh" else "nothing (it waits)"
        parts = [self.flags, f"seq={self.seq}"]
        if self.ack is not None:
            parts.append(f"ack={self.ack}")
        if self.length:
            parts.append(f"len={self.length}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Question:
    #: 1, 2, ... in the order the segments were sent.
    step: int
    t_us: int
    #: ``"client"`` or ``"server"`` (the run's left or right host).
    sender: str
    #: The sender's state when what made it send happened (before it changed anything).
    state: str
    prompt: Text
    choices: tuple[Choice, ...]
    #: Index of the real segment in ``choices``.
    answer: int
    why: Text
    #: What made it send: "it has just received SYN seq=0", "its application calls connect(...)".
    trigger: Text

    @property
    def correct(self) -> Choice:
        return self.choices[self.answer]


_WHO: Final = {"client": ("client", "客户端"), "server": ("server", "服务器")}


def _why(flags: int, length: int) -> Text:
    if flags & RST:
        return Text("It has no connection this segment could belong to (or it aborts): RST.",
                    "它没有这个报文所属的连接（或者它要中止连接）：RST。")
    if flags & SYN and flags & ACK:
        return Text("It answers the SYN with its own SYN and an ACK of the peer's: ack is the peer's ISN + "
                    "1, because a SYN takes one sequence number.",
                    "它用自己的 SYN 回答对方的 SYN，并确认对方的 SYN：ack 是对方的 ISN + 1，因为 SYN 占一个"
                    "序列号。")
    if flags & SYN:
        return Text("It opens the connection: a SYN carrying its initial sequence number (seq=0 here, "
                    "relative to its ISN) and no ACK.",
                    "它发起连接：一个带着自己初始序列号（这里相对 ISN 记为 seq=0）、不带 ACK 的 SYN。")
    if flags & FIN:
        return Text("It has nothing more to send: FIN, which takes one sequence number, with an ACK of what "
                    "it received.",
                    "它没有数据要发了：FIN，占一个序列号，同时确认已收到的数据。")
    if length:
        return Text(f"It sends {length} bytes of data from seq, acknowledging what it received.",
                    f"它从 seq 开始发送 {length} 字节数据，同时确认已收到的数据。")
    return Text("It acknowledges what it received: ack is the next sequence number it expects; a bare ACK "
                "takes no sequence number of its own.",
                "它确认收到的数据：ack 是它期望的下一个序列号；单纯的 ACK 自己不占序列号。")


def _distractors(real: Choice, flags: int) -> list[Choice]:
    """The classic mistakes for ``real``, most telling first."""
    seq, ack, n = real.seq or 0, real.ack, real.length
    out: list[Choice] = []
    if flags & SYN and not flags & ACK:
        out += [Choice("SYN,ACK", seq, 1), Choice("ACK", seq, 1)]
    elif flags & SYN:
        out += [Choice("SYN,ACK", seq, (ack or 1) - 1), Choice("SYN", seq), Choice("ACK", seq, ack)]
    elif flags & RST:
        acked = ack if ack is not None else 0
        out += [Choice("ACK", seq, acked), Choice("FIN,ACK", seq, acked)]
    elif flags & FIN:
        out += [Choice("ACK", seq, ack), Choice("FIN,ACK", seq + 1, ack)]
    elif n:
        out += [Choice("ACK", seq, ack), Choice("FIN,ACK", seq, ack)]
    else:
        # A bare ACK: off by one (counting a sequence number it does not take, or
        # forgetting the one a SYN or FIN took), or a FIN it has no reason to send.
        out += [Choice("ACK", seq, (ack or 0) + 1), Choice("ACK", seq, (ack or 1) - 1),
                Choice("FIN,ACK", seq, ack)]
    return out


def _relative(rec: SegmentRecord, isn: dict[tuple[str, str], int]) -> Choice:
    """The segment of ``rec`` as a choice, numbered from each side's ISN (a SYN sets its
    side's); an ACK number with no known ISN stays raw."""
    seg = rec.seg
    assert seg is not None
    src, dst = endpoint_str(rec.src, seg.src_port), endpoint_str(rec.dst, seg.dst_port)
    if seg.flags & SYN and rec.event == "send":
        isn[(src, dst)] = seg.seq
    rel_seq = seq_sub(seg.seq, isn.get((src, dst), seg.seq))
    rel_ack: int | None = None
    if seg.flags & ACK:
        rel_ack = seq_sub(seg.ack, isn[(dst, src)]) if (dst, src) in isn else seg.ack
    shown = seg.flags & (SYN | ACK | FIN | RST | PSH)   # the flags the ladder names
    return Choice(flags_names(shown), rel_seq, rel_ack, len(seg.payload))


def quiz(records: Sequence[TraceRecord], left: str = "client", right: str = "server") -> list[Question]:
    """Before each segment ``left`` or ``right`` sends: what does it send next?"""
    isn: dict[tuple[str, str], int] = {}
    state: dict[str, str] = {left: "CLOSED", right: "LISTEN"}
    # What last happened to each host, and its state then.
    trigger: dict[str, tuple[Text, str]] = {}
    questions: list[Question] = []
    for rec in records:
        host = rec.host
        if host not in state:
            continue
        if isinstance(rec, StateRecord):
            state[host] = rec.new.value
            continue
        if isinstance(rec, NoteRecord) and rec.text.startswith("app: "):
            call = rec.text[5:]
            trigger[host] = (Text(f"its application calls {call}", f"它的应用程序调用 {call}"), state[host])
            continue
        if isinstance(rec, TimerRecord) and rec.action is TimerAction.FIRED:
            name = rec.timer.value
            trigger[host] = (Text(f"its {name} timer fires", f"它的 {name} 定时器到期"), state[host])
            continue
        if not isinstance(rec, SegmentRecord) or rec.seg is None or rec.event == "drop":
            continue
        real = _relative(rec, isn)
        if rec.event == "recv":
            got = Text(f"it has just received {real.label()}", f"它刚收到 {real.label()}")
            trigger[host] = (got, state[host])
            continue
        seg = rec.seg
        wrong: list[Choice] = []
        for c in _distractors(real, seg.flags):
            if c != real and c not in wrong and c.label() != real.label():
                wrong.append(c)
        choices = [real, *wrong[:2], Choice("")]
        step = len(questions) + 1
        # The real answer moves around: rotate by the step.
        k = step % len(choices)
        choices = choices[-k:] + choices[:-k] if k else choices
        who = "client" if host == left else "server"
        en, zh = _WHO[who]
        what, before = trigger.get(host, (Text("it starts", "它开始"), state[host]))
        questions.append(Question(
            step, rec.t_us, who, before,
            Text(f"The {en}, in {before}: {what.en}. What does it send next?",
                 f"{zh}处于 {before}：{what.zh}。它接下来发送什么？"),
            tuple(choices), choices.index(real), _why(seg.flags, len(seg.payload)), what))
        # A second segment from the same cause: what it has just sent is the news.
        trigger[host] = (Text(f"it has just sent {real.label()}", f"它刚发出 {real.label()}"), state[host])
    return questions
