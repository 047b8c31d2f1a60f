"""Failures the fuzzer has found in the core and that are not fixed yet.

Each kind names an invariant of :mod:`synfuzz.check`; each has a strict ``xfail``
test in ``tests/test_fuzz_findings.py`` with its minimal reproduction.  A run
tolerates these by default (counts them, goes on; ``--strict`` does not): a *new*
failure still fails it.  When the core is fixed, the xfail test passes, pytest fails
it (strict), and the entry here goes with the ``xfail`` mark.
"""

from __future__ import annotations

from typing import Final

KNOWN: Final[dict[str, str]] = {
    # test_fuzz_findings.py::test_data_segments_leave_room_for_their_options
    "segment-above-mss": "data segments carry a full MSS of data plus their options (timestamps, "
                         "SACK blocks): RFC 9293 §3.7.1 takes the options out of the data's share",
    "packet-too-long": "the same with MSS 65495: the TCP segment no longer fits an IPv4 packet",
    # test_fuzz_findings.py::test_nothing_is_held_beyond_the_peers_fin
    "reassembly-after-fin": "data held out of order beyond the peer's FIN stays held (and SACKed) "
                            "after the FIN is taken",
    # test_fuzz_findings.py::test_a_packet_for_another_address_is_not_answered
    "foreign-source": "receive_packet takes packets for any destination address; a listener on all "
                      "addresses answers them from that address (multicast and broadcast included)",
    # test_fuzz_findings.py::test_the_windows_right_edge_never_moves_back
    "window-shrunk": "the advertised window's right edge moves back by less than 2**wscale when the "
                     "free space is rounded down to the scale (RFC 9293 SHLD-14; Linux rounds up)",
    # test_fuzz_findings.py::test_a_refused_final_ack_leaves_no_connection_without_a_timer
    "stuck-syn-received": "a handshake's final ACK that the new connection refuses (PAWS) leaves it in "
                          "SYN-RECEIVED, out of both queues, without a timer: it never goes",
    # test_fuzz_findings.py::test_the_accept_queue_never_holds_more_than_the_backlog
    "accept-queue-bound": "... and a later ACK puts it in the accept queue beyond the backlog",
}
