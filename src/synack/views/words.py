"""The words a view shows, in English and Chinese: :class:`Text` (any pair of them),
and the ladder's notes, timers, fates and drop reasons.

Segment labels themselves (``SYN,ACK seq=0 ack=1 win=65535 <mss 1460>``) are TCP's
own field names and stay as they are in both languages, as Wireshark shows them; state
names are RFC 9293's.  Everything else a ladder says is here.  Pure: no rich, no
drawing, so any view (the terminal's, the browser's) can use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from synack.core.errors import DropReason
from synack.core.timers import Timer
from synack.core.trace import Loss

__all__ = ["LANGS", "Lang", "Text", "drop_reason", "host_label", "loss_text", "note_text", "timer_name",
           "word"]

Lang = Literal["en", "zh"]
LANGS: Final[tuple[Lang, ...]] = ("en", "zh")


@dataclass(frozen=True)
class Text:
    """The same words in English and in Chinese (everything a user reads is both)."""

    en: str
    zh: str

    def __call__(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en

#: Fixed words, by key: (English, Chinese).  ``{}`` marks where a value goes.
_WORDS: Final[dict[str, tuple[str, str]]] = {
    "lost": ("✗ lost", "✗ 丢失"),
    "lost-left": ("lost ✗", "丢失 ✗"),
    "dropped": ("✗ dropped", "✗ 丢弃"),
    "dropped:": ("✗ dropped: {}", "✗ 丢弃：{}"),
    "trimmed": ("trimmed", "部分接收"),
    "trimmed:": ("trimmed: {}", "部分接收：{}"),
    "duplicate": ("duplicate", "重复"),
    "duplicate:": ("duplicate: {}", "重复：{}"),
    "to": ("to {}", "发往 {}"),
    "from": ("from {}", "来自 {}"),
    "arrives": ("arrives {}", "{} 到达"),
    "sent": ("sent {}", "{} 发出"),
    "copy-sent": ("copy, sent {}", "副本，{} 发出"),
    "rows": ("… {} rows …", "… 省略 {} 行 …"),
    "malformed": ("malformed segment", "格式错误的报文"),
    "timer-gave-up": ("⏲ {} fired (gave up)", "⏲ {} 到期（放弃）"),
    "timer-expired": ("⏲ {} expired", "⏲ {} 到期"),
    "timer-fired": ("⏲ {} fired", "⏲ {} 触发"),
    "timer-armed-for": ("⏲ {} {} armed", "⏲ {} 启动，{}"),
    "timer-armed": ("⏲ {} armed", "⏲ {} 启动"),
}


def word(key: str, lang: Lang, *values: str) -> str:
    """The fixed word ``key`` in ``lang``, with ``values`` in its places."""
    en, zh = _WORDS[key]
    return (zh if lang == "zh" else en).format(*values)


_HOSTS_ZH: Final = {"client": "客户端", "server": "服务器", "attacker": "攻击者"}


def host_label(name: str, lang: Lang) -> str:
    """A drawn host's name over its column: the scenario's ``"client"`` is 客户端 in
    Chinese; other names (``"A"``, ``"B"``) stay."""
    return _HOSTS_ZH.get(name, name) if lang == "zh" else name


_TIMERS: Final[dict[Timer, tuple[str, str]]] = {
    Timer.RETRANSMIT: ("RTO", "重传定时器"),
    Timer.SYNACK: ("SYN-ACK RTO", "SYN-ACK 重传定时器"),
    Timer.TIME_WAIT: ("TIME-WAIT", "TIME-WAIT 定时器"),
    Timer.FIN_WAIT_2: ("FIN-WAIT-2", "FIN-WAIT-2 定时器"),
    Timer.DELAYED_ACK: ("delayed ACK", "延迟 ACK 定时器"),
    Timer.PERSIST: ("persist", "坚持定时器"),
    Timer.KEEPALIVE: ("keepalive", "保活定时器"),
    Timer.USER_TIMEOUT: ("user timeout", "用户超时定时器"),
}


def timer_name(timer: Timer, lang: Lang) -> str:
    en, zh = _TIMERS[timer]
    return zh if lang == "zh" else en


_DROP_ZH: Final[dict[DropReason, str]] = {
    DropReason.TRUNCATED: "报文被截断",
    DropReason.BAD_IP_HEADER: "IP 头部错误",
    DropReason.BAD_IP_CHECKSUM: "IP 校验和错误",
    DropReason.NOT_TCP: "不是 TCP",
    DropReason.BAD_DATA_OFFSET: "数据偏移错误",
    DropReason.BAD_OPTION: "选项错误",
    DropReason.BAD_CHECKSUM: "校验和错误",
    DropReason.BAD_PORT: "端口错误",
    DropReason.BAD_FLAGS: "标志位组合非法",
    DropReason.BAD_ADDRESS: "地址非法",
    DropReason.NOT_OUR_ADDRESS: "不是本机地址",
    DropReason.NO_CONNECTION: "没有这个连接",
    DropReason.LISTEN_RST: "发给监听套接字的 RST",
    DropReason.LISTEN_ACK: "发给监听套接字的 ACK",
    DropReason.LISTEN_NO_SYN: "发给监听套接字的非 SYN 报文",
    DropReason.SYN_QUEUE_FULL: "半连接队列已满",
    DropReason.ACCEPT_QUEUE_FULL: "全连接队列已满",
    DropReason.BAD_COOKIE: "SYN cookie 无效",
    DropReason.SYN_DATA: "SYN 上的数据",
    DropReason.SYN_SENT_BAD_ACK: "SYN-SENT 中不可接受的 ACK",
    DropReason.SYN_SENT_NO_SYN: "SYN-SENT 中没有 SYN",
    DropReason.OUT_OF_WINDOW: "在窗口之外",
    DropReason.PAWS: "PAWS（时间戳过旧）",
    DropReason.RST_OUT_OF_WINDOW: "窗口外的 RST",
    DropReason.RST_CHALLENGED: "RST 被质询",
    DropReason.RST_IN_TIME_WAIT: "TIME-WAIT 中的 RST",
    DropReason.SYN_CHALLENGED: "SYN 被质询",
    DropReason.CHALLENGE_ACK_LIMIT: "质询 ACK 限速",
    DropReason.OOW_ACK_LIMIT: "窗口外 ACK 限速",
    DropReason.HALF_OPEN_SYN: "半开连接窗口内的 SYN",
    DropReason.NO_ACK_FLAG: "没有 ACK 标志",
    DropReason.BAD_ACK: "不可接受的 ACK",
    DropReason.ACK_OF_UNSENT: "确认了未发送的数据",
    DropReason.OOO_BUDGET: "乱序缓存已满",
    DropReason.DATA_AFTER_FIN: "FIN 之后的数据",
    DropReason.DATA_AFTER_CLOSE: "关闭之后的数据",
    DropReason.RCV_BUFFER_FULL: "接收缓冲区已满",
}


def drop_reason(reason: DropReason, lang: Lang) -> str:
    """``reason`` as the ladder says it: its trace name in English, words in Chinese."""
    if lang == "zh":
        return _DROP_ZH.get(reason, reason.value)
    return reason.value


_LOSS_ZH: Final[dict[str, str]] = {
    Loss.LINK.value: "链路丢包",
    Loss.MTU.value: "超过 MTU",
    Loss.QUEUE_FULL.value: "链路队列已满",
    Loss.NO_ROUTE.value: "无路由",
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _app(call: str) -> str:
    call = re.sub(r"(\d+) bytes", r"\1 字节", call)
    return "应用：" + call.replace(", urgent)", "，紧急)")


#: Chinese for the notes the stack, the simulator and the scenarios write, in order.
_NOTES_ZH: Final[tuple[_Rule, ...]] = (
    (re.compile(r"app: (.*)"), lambda m: _app(m[1])),
    (re.compile(r"SYN queue (\d+)/(\d+)"), lambda m: f"半连接队列 {m[1]}/{m[2]}"),
    (re.compile(r"SYN cookie accepted: connection rebuilt from the ACK"),
     lambda m: "SYN cookie 有效：从 ACK 重建了连接"),
    (re.compile(r"TIME-WAIT 4-tuple reused by a new SYN"), lambda m: "新的 SYN 重用了 TIME-WAIT 中的四元组"),
    (re.compile(r"inject (.*)"), lambda m: f"注入 {m[1]}"),
    (re.compile(r"captured (.*)"), lambda m: f"截获 {m[1]}"),
    (re.compile(r"fault: drop (.*)"), lambda m: f"故障：丢弃 {m[1]}"),
    (re.compile(r"fault: delay (.*) by (\d+) µs"), lambda m: f"故障：延迟 {m[1]}，{m[2]} 微秒"),
    (re.compile(r"fault: hold (.*) for (\d+) µs"), lambda m: f"故障：扣留 {m[1]}，{m[2]} 微秒"),
    (re.compile(r"fault: duplicate (.*)"), lambda m: f"故障：复制 {m[1]}"),
    (re.compile(r"fault: (.*)"), lambda m: f"故障：{m[1]}"),
    (re.compile(r"filtered: (.*)"), lambda m: f"被过滤：{m[1]}"),
    (re.compile(r"link: corrupted bit (\d+) of the TCP part of (.*)"),
     lambda m: f"链路：翻转了 {m[2]} 的 TCP 部分的第 {m[1]} 位"),
    (re.compile(r"syn-flood: (\d+) spoofed SYNs at (\S+)/s to (\S+)"),
     lambda m: f"SYN 洪泛：以每秒 {m[2]} 个向 {m[3]} 发送 {m[1]} 个伪造 SYN"),
    (re.compile(r"\+(\d+) spoofed SYNs not drawn"), lambda m: f"另有 {m[1]} 个伪造 SYN 未画出"),
    (re.compile(r"two-way server: ESTABLISHED as its SYN,ACK leaves; app: (.*)"),
     lambda m: f"两次握手服务器：SYN,ACK 一发出就 ESTABLISHED；应用：{m[1]}"),
    (re.compile(r"two-way server: RST ignored, the connection stays ESTABLISHED"),
     lambda m: "两次握手服务器：忽略 RST，连接仍是 ESTABLISHED"),
    (re.compile(r"two-way server: (.*)"), lambda m: f"两次握手服务器：{m[1]}"),
)


def note_text(text: str, lang: Lang) -> str:
    """A note (an application call, a fault, a queue change) in ``lang``; a note no
    rule knows stays as it is."""
    if lang != "zh":
        return text
    for pattern, make in _NOTES_ZH:
        m = pattern.fullmatch(text)
        if m is not None:
            return make(m)
    return text


def loss_text(text: str, lang: Lang) -> str:
    """Why the network lost a segment (``"link-loss"``, ``"fault: drop #1 ..."``)."""
    if lang != "zh":
        return text
    return _LOSS_ZH.get(text) or note_text(text, lang)
