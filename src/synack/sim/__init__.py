"""synack.sim: a discrete-event simulator for synack endpoints.

Virtual time in integer microseconds, one master seed for every random stream,
hosts that each own an endpoint, links with delay, jitter, bandwidth, loss,
duplication, reordering and corruption, targeted faults, filters in front of hosts
and attackers.
"""

from synack.core.config import ms, seconds

from .attackers import DelayedDuplicate, SynFlood, inject
from .faults import (
    Delay,
    Drop,
    Duplicate,
    Fault,
    Hold,
    Match,
    any_segment,
    flags_are,
    from_addr,
    from_host,
    from_port,
    has_flags,
    has_payload,
    to_addr,
    to_host,
    to_port,
    where,
)
from .filters import Filter, SynRateLimit
from .host import EndpointLike, Host
from .link import Link, Path, PathParams, PathStats, wire_size
from .network import Network
from .rng import derive_seed, make_rng
from .scheduler import EventLimitExceeded, Handle, Scheduler

__all__ = [
    "Delay",
    "DelayedDuplicate",
    "Drop",
    "Duplicate",
    "EndpointLike",
    "EventLimitExceeded",
    "Fault",
    "Filter",
    "Handle",
    "Hold",
    "Host",
    "Link",
    "Match",
    "Network",
    "Path",
    "PathParams",
    "PathStats",
    "Scheduler",
    "SynFlood",
    "SynRateLimit",
    "any_segment",
    "derive_seed",
    "flags_are",
    "from_addr",
    "from_host",
    "from_port",
    "has_flags",
    "has_payload",
    "inject",
    "make_rng",
    "ms",
    "seconds",
    "to_addr",
    "to_host",
    "to_port",
    "where",
    "wire_size",
]
