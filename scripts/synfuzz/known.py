"""Failures the fuzzer has found in the core and that are not fixed yet.

Each kind names an invariant of :mod:`synfuzz.check`; each has a strict ``xfail``
test (reason "fuzz finding KIND: ...") with its minimal reproduction in tests/.  A run
tolerates these by default (counts them, goes on; ``--strict`` does not): a *new*
failure still fails it.  When the core is fixed, the xfail test passes, pytest fails
it (strict), and the entry here goes with the ``xfail`` mark.
"""

from __future__ import annotations

from typing import Final

KNOWN: Final[dict[str, str]] = {
    # Found and fixed (each now has a test of its own): segment-above-mss and
    # packet-too-long (tests/core/test_mss.py, tests/property/test_path_mtu.py),
    # reassembly-after-fin (tests/core/test_reassembly.py), foreign-source
    # (tests/core/test_addresses.py), stuck-syn-received and accept-queue-bound
    # (tests/core/test_half_open_paws.py).  window-shrunk was a rule too strict: the
    # scaled window is rounded down on purpose (ReceiveSpace.advertise), and the
    # invariant is now what matters, window-refused.
}
