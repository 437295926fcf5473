"""WebSocket tests: handshake, framing, close paths, compression and flow control."""
