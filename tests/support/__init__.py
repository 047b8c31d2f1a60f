"""Helpers shared by the test suite: the exact-segment harness, simulator fakes,
stream checks, random transfers, the TUN helpers and the trace projection."""
