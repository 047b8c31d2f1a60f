"""synack: TCP (RFC 9293) in pure Python, built around the handshake and the close."""

__version__ = "0.1.0"
