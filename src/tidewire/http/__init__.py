"""The HTTP/1.1 side of tidewire. Public names are re-exported by :mod:`tidewire.web`."""
