"""The seed's questions as cards: a short answer, the run that proves it, and the
counterfactual beside it where there is one.

Each answer is at most three sentences, in English and Chinese, checked against RFC
9293 and Linux; each names scenario runs (``synack scenario run NAME``, run numbers
from 1) whose trace shows the claim (the tests assert it on the records).  Pure data:
no rich, no matplotlib, so the browser page can draw the cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .words import Text

__all__ = ["CARDS", "Card", "Evidence", "card"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """A run of a scenario, and what to look at in it."""

    scenario: str
    #: Which run of the scenario, from 1.
    run: int
    shows: Text


@dataclass(frozen=True, slots=True)
class Card:
    key: str
    #: The seed's section (its Chinese heading).
    section: str
    question: Text
    #: At most three sentences.
    answer: Text
    #: The runs that prove the answer.
    proof: tuple[Evidence, ...]
    #: What happens without the rule (the naive two-way server, TIME-WAIT 0...).
    counterfactual: tuple[Evidence, ...] = ()


CARDS: Final[tuple[Card, ...]] = (
    Card(
        "why-not-two", "为什么不是两次",
        Text("Why three segments and not two?", "为什么是三次握手，而不是两次？"),
        Text("A SYN proves only that the client could send: an old duplicate SYN, delayed in the network, "
             "looks exactly like a new one. The third segment acknowledges the server's new ISN (ack=y+1), "
             "so only it proves that the client can receive and wants this connection now; to an old SYN's "
             "SYN,ACK the client answers RST instead, and the server drops its half-open entry. A server "
             "that trusted two segments would hold a connection for every old SYN, waiting for data that "
             "never comes.",
             "一个 SYN 只能证明客户端曾经能发送：在网络中滞留的旧的重复 SYN 和新的一模一样。第三个报文确认"
             "了服务器新的 ISN（ack=y+1），只有它能证明客户端能接收、并且现在就想要这个连接；对旧 SYN 换来"
             "的 SYN,ACK，客户端会回 RST，服务器随即删除半连接条目。只信两个报文的服务器会为每个旧 SYN 占着"
             "一个连接，等待永远不会来的数据。"),
        (Evidence("why-three", 1, Text("the ACK (segment 3) is the one that proves the client can receive",
                                       "ACK（第 3 个报文）才证明客户端能接收")),
         Evidence("old-duplicate-syn", 1, Text("the old SYN gets a SYN,ACK, the client's RST ends the entry",
                                               "旧 SYN 得到 SYN,ACK，客户端的 RST 删除了半连接条目"))),
        (Evidence("old-duplicate-syn", 2, Text("a naive two-way server keeps the phantom connection",
                                               "天真的两次握手服务器一直占着幽灵连接")),
         Evidence("why-three", 2, Text("the old SYN and a new SYN leave the two-way server in the same row",
                                       "旧 SYN 和新 SYN 让两次握手服务器处于同一行"))),
    ),
    Card(
        "why-not-four", "为什么不是四次",
        Text("Why not four segments?", "为什么不是四次？"),
        Text("The server has two things to say, 'I got your SYN' (ACK) and 'here is mine' (SYN), and they "
             "can ride in one segment, the SYN,ACK. Sent apart, as SYN, ACK, SYN, ACK, they prove exactly "
             "what three segments prove: the separate SYN tells the client nothing the ACK had not. Four "
             "would work, and so would a hundred, but three is the fewest that prove each side can send and "
             "receive.",
             "服务器要说两件事：“收到你的 SYN 了”（ACK）和“这是我的”（SYN），它们可以放在一个报文里，就是 "
             "SYN,ACK。分开发送，即 SYN、ACK、SYN、ACK，证明的恰好和三个报文一样多：单独的 SYN 没有告诉客户"
             "端任何 ACK 没说过的事。四次可以，100 次也可以，但三次是能证明双方都能发送、都能接收的最少次"
             "数。"),
        (Evidence("why-three", 3, Text("segment 3, the server's SYN on its own, proves nothing new",
                                       "第 3 个报文，单独发出的服务器 SYN，没有证明任何新东西")),
         Evidence("why-three", 1, Text("three segments end with the same proofs", "三个报文得到同样的证明"))),
    ),
    Card(
        "handshake-data", "三次握手过程中可以携带数据么",
        Text("Can the handshake carry data?", "三次握手过程中可以携带数据吗？"),
        Text("The third segment can: the client is ESTABLISHED when it sends it, and the server takes the "
             "data as that segment completes its side of the handshake. A SYN may carry data under RFC "
             "9293, but it may not be delivered before the connection is ESTABLISHED, so without TCP Fast "
             "Open Linux and synack keep none of it: only the SYN is acknowledged (ack=x+1) and the client "
             "sends the data again.",
             "第三个报文可以：客户端发送它时已经是 ESTABLISHED，服务器在这个报文完成它那一侧的握手时接收数"
             "据。RFC 9293 允许 SYN 携带数据，但在连接 ESTABLISHED 之前不能交付，所以没有 TCP Fast Open "
             "时，Linux 和 synack 一点也不保留：只确认 SYN（ack=x+1），客户端再把数据发一遍。"),
        (Evidence("data-on-third-ack", 1, Text("ACK seq=x+1 carries the request", "ACK seq=x+1 携带了请求")),
         Evidence("data-on-syn", 1, Text("the SYN's data trimmed, sent again after the handshake",
                                         "SYN 上的数据被丢弃，握手后重发"))),
    ),
    Card(
        "half-open-queue", "什么是半连接队列",
        Text("What is the half-open (SYN) queue?", "什么是半连接队列？"),
        Text("When a SYN arrives the listener keeps a small entry in SYN-RECEIVED, in its SYN queue (半连接"
             "队列), until the handshake's ACK moves the connection to the accept queue (全连接队列), where "
             "accept() takes it. While no ACK comes the server retransmits its SYN-ACK, 1, 2, 4, 8 and 16 s "
             "apart with Linux's 5 retries, and removes the entry 63 s after the SYN. A full SYN queue "
             "drops new SYNs, unless SYN cookies answer them without keeping an entry.",
             "SYN 到达时，监听套接字在半连接队列里保存一个处于 SYN-RECEIVED 的小条目，直到握手的 ACK 把连接"
             "移入全连接队列，由 accept() 取走。收不到 ACK 时服务器重传 SYN-ACK，按 Linux 的 5 次重传，间隔"
             " 1、2、4、8、16 秒，并在 SYN 到达 63 秒后删除条目。半连接队列满了就丢弃新的 SYN，除非用 SYN "
             "cookies 回答它们而不保存条目。"),
        (Evidence("synack-retries-exhausted", 1, Text("SYN-ACKs at 1, 3, 7, 15, 31 s; the entry gone at 63 s",
                                                      "SYN-ACK 在 1、3、7、15、31 秒重传；条目在 63 秒删除")),
         Evidence("lost-synack", 1, Text("the entry waits, the SYN-ACK is sent again, the handshake ends",
                                         "条目等待，SYN-ACK 重发，握手完成")),
         Evidence("queues", 3, Text("a full SYN queue drops the client's SYNs",
                                    "半连接队列满时丢弃客户端的 SYN"))),
        (Evidence("queues", 4, Text("SYN cookies: answered, nothing stored",
                                    "SYN cookies：回答了，什么也不保存")),),
    ),
    Card(
        "syn-flood", "SYN攻击",
        Text("What is a SYN flood, and what defends against it?", "什么是 SYN 攻击，怎样防御？"),
        Text("An attacker sends SYNs from forged addresses: each holds a SYN-queue entry for up to a minute "
             "of SYN-ACK retransmissions, a few hundred fill the queue, and real clients' SYNs are dropped "
             "(netstat shows many SYN-RECV from random addresses). Fewer retries and a bigger queue only "
             "raise the rate the queue can absorb, and a filter by source helps only when the forged "
             "sources are concentrated. SYN cookies remove the state itself: the server encodes it in its "
             "ISN and rebuilds the connection from the returning ACK (Linux's default: cookies when the "
             "queue overflows).",
             "攻击者用伪造的源地址发送 SYN：每个 SYN 都占住一个半连接条目，SYN-ACK 重传长达一分钟，几百个就"
             "能填满队列，真正客户端的 SYN 被丢弃（netstat 里是大量来自随机地址的 SYN-RECV）。减少重传次数"
             "和增大队列只是提高队列能容纳的速率，按源地址过滤只在伪造地址集中时有用。SYN cookies 从根本上"
             "去掉了状态：服务器把它编码进自己的 ISN，再从返回的 ACK 重建连接（Linux 默认在队列溢出时使用 "
             "cookies）。"),
        (Evidence("syn-flood", 1, Text("no defense: the SYN queue stays full, the client mostly fails",
                                       "不设防：半连接队列一直满，客户端几乎都失败")),
         Evidence("syn-flood", 6, Text("SYN cookies on overflow: every attempt connects",
                                       "溢出时用 SYN cookies：每次尝试都能连上"))),
    ),
    Card(
        "four-way-close", "为什么是四次挥手而不是三次",
        Text("Why does closing take four segments?", "为什么挥手是四次？"),
        Text("Each direction closes on its own: a FIN says 'I have nothing more to send' and, like a SYN, "
             "takes a sequence number and must be acknowledged. The server's TCP acknowledges the client's "
             "FIN at once, but only its application knows when it has finished, so its own FIN usually "
             "follows later, from CLOSE-WAIT. When the application closes at once, the ACK and the FIN ride "
             "together and the close takes three segments.",
             "两个方向各自关闭：FIN 表示“我没有数据要发了”，它和 SYN 一样占一个序列号，必须被确认。服务器的"
             " TCP 立即确认客户端的 FIN，但只有它的应用程序知道自己什么时候做完，所以它自己的 FIN 通常稍后"
             "才从 CLOSE-WAIT 发出。如果应用程序马上关闭，ACK 和 FIN 合在一个报文里，挥手就只有三个报文。"),
        (Evidence("close", 1, Text("FIN, ACK, then 1 s later FIN, ACK", "FIN、ACK，1 秒后 FIN、ACK")),
         Evidence("close-fin-ack-combined", 1, Text("the application closes at once: FIN,ACK together, three",
                                                    "应用程序马上关闭：FIN,ACK 合在一起，三个报文"))),
    ),
    Card(
        "why-2msl", "等待2MSL的意义",
        Text("Why wait 2MSL in TIME-WAIT? (two reasons)", "为什么要等待 2MSL？（两个理由）"),
        Text("First, the last ACK may be lost: the peer retransmits its FIN, and only a side still in "
             "TIME-WAIT can answer it with an ACK rather than a RST (one MSL for the ACK to go, one for the "
             "FIN to come back). Second, every segment of the old connection must have died out before the "
             "same addresses and ports are used again, or an old segment can land inside the new "
             "connection. RFC 9293's MSL is 2 minutes, Linux waits a fixed 60 s.",
             "第一，最后的 ACK 可能丢失：对方会重传 FIN，只有仍在 TIME-WAIT 的一方能用 ACK 而不是 RST 回答"
             "它（一个 MSL 给 ACK 过去，一个 MSL 给 FIN 回来）。第二，旧连接的每个报文都必须从网络中消失，"
             "同样的地址和端口才能再用，否则旧报文可能落进新连接。RFC 9293 的 MSL 是 2 分钟，Linux 固定等待"
             " 60 秒。"),
        (Evidence("time-wait-lost-ack", 1, Text("the FIN comes again, TIME-WAIT answers it with an ACK",
                                                "FIN 再次到来，TIME-WAIT 用 ACK 回答")),
         Evidence("time-wait-old-segment", 1, Text("the 4-tuple is reused only after TIME-WAIT",
                                                   "四元组在 TIME-WAIT 之后才重用"))),
        (Evidence("time-wait-lost-ack", 2, Text("TIME-WAIT 0: the FIN meets a RST, the server is reset",
                                                "TIME-WAIT 为 0：FIN 遇到 RST，服务器被重置")),
         Evidence("time-wait-old-segment", 3, Text("TIME-WAIT 0: the new connection accepts the old segment",
                                                   "TIME-WAIT 为 0：旧报文被新连接接收"))),
    ),
    Card(
        "simultaneous", "同时打开会怎样 / 同时关闭会怎样",
        Text("What if both sides open, or close, at once?", "双方同时打开、同时关闭会怎样？"),
        Text("Simultaneous open: both send SYN and enter SYN-SENT; each SYN arrives without an ACK of the "
             "other's, so each side enters SYN-RECEIVED and answers SYN,ACK, and each SYN,ACK makes its "
             "receiver ESTABLISHED, four segments in all (RFC 9293 Figure 7). Simultaneous close: both send "
             "FIN from FIN-WAIT-1; a FIN that does not acknowledge ours moves us to CLOSING, the ACKs "
             "cross, and both sides end in TIME-WAIT.",
             "同时打开：双方都发送 SYN，进入 SYN-SENT；每个 SYN 到达时都没有确认对方的 SYN，于是双方都进入 "
             "SYN-RECEIVED 并回复 SYN,ACK，每个 SYN,ACK 让接收方进入 ESTABLISHED，一共四个报文（RFC 9293 图"
             " 7）。同时关闭：双方都从 FIN-WAIT-1 发送 FIN；收到一个没有确认自己 FIN 的 FIN 就进入 "
             "CLOSING，两个 ACK 交错而过，双方都以 TIME-WAIT 结束。"),
        (Evidence("simultaneous-open", 1, Text("SYN-SENT → SYN-RECEIVED → ESTABLISHED on both sides",
                                               "双方都是 SYN-SENT → SYN-RECEIVED → ESTABLISHED")),
         Evidence("simultaneous-close", 1, Text("FIN-WAIT-1 → CLOSING → TIME-WAIT on both sides",
                                                "双方都是 FIN-WAIT-1 → CLOSING → TIME-WAIT"))),
    ),
)


def card(key: str) -> Card:
    """The card called ``key``; KeyError otherwise."""
    for c in CARDS:
        if c.key == key:
            return c
    raise KeyError(f"no card {key!r}; known: {', '.join(c.key for c in CARDS)}")

