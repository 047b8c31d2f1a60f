"""Pluggable congestion control: a registry of controllers keyed by
``Config.congestion`` (as aioquic's register_congestion_control, Linux's
net.ipv4.tcp_congestion_control)."""

from __future__ import annotations

from typing import Final

from .base import INITIAL_SSTHRESH, CongestionControl, Factory
from .cubic import Cubic
from .newreno import NewReno

#: Name -> factory.  "cubic" is Linux's default.
CONGESTION_CONTROLS: Final[dict[str, Factory]] = {"cubic": Cubic, "newreno": NewReno}


def register_congestion_control(name: str, factory: Factory) -> None:
    """Make ``factory`` available as ``Config(congestion=name)``."""
    CONGESTION_CONTROLS[name] = factory


def new_congestion_control(name: str, mss: int, cwnd: int) -> CongestionControl:
    return CONGESTION_CONTROLS[name](mss, cwnd)


__all__ = ["CONGESTION_CONTROLS", "INITIAL_SSTHRESH", "CongestionControl", "Cubic", "Factory", "NewReno",
           "new_congestion_control", "register_congestion_control"]
