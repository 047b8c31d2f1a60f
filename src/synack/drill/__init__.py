"""drill: packetdrill-syntax scripts run against synack (virtual time) or Linux (TUN).

:mod:`.script` (the values), :mod:`.parser` (text to values), :mod:`.runner` (the target
interface, time, matching and building packets), :mod:`.synack_target`, :mod:`.linux`.
"""
