"""The WebSocket side of tidewire (RFC 6455, RFC 7692), on wsproto.

Public names are re-exported by :mod:`tidewire.web`.
"""
