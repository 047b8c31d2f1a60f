"""Checks the byte-stream scenario tests share."""

from __future__ import annotations

from synack.scenarios import Run


def assert_clean_close(run: Run) -> None:
    """The client closed first (TIME-WAIT, then CLOSED), the server from LAST-ACK, and
    no segment was a RST."""
    client, server = run.states("client"), run.states("server")
    assert client[:2] == [("CLOSED", "SYN-SENT"), ("SYN-SENT", "ESTABLISHED")], client
    assert ("FIN-WAIT-2", "TIME-WAIT") in client or ("CLOSING", "TIME-WAIT") in client, client
    assert client[-1] == ("TIME-WAIT", "CLOSED"), client
    assert server[-2:] == [("CLOSE-WAIT", "LAST-ACK"), ("LAST-ACK", "CLOSED")], server
    assert not [s for s in run.sent() if "R" in s[2]]
