"""picows (Cython WebSocket library) as an echo server, on its documented listener API.

picows serves WebSocket only (no HTTP routes, no permessage-deflate), so HTTP and
deflate cells say n/a for it. It hands over frames, not messages: the echo sends
each data frame back with the same type and FIN bit, which echoes fragmented
messages too. Pings are answered by picows itself (``enable_auto_pong``).
Unlike the other servers, picows does not check that text frames are valid UTF-8.
"""

from __future__ import annotations

from typing import Any

from _common import (
    HOST,
    ServerOptions,
    announce_ready,
    import_failed,
    parse_options,
    report,
    run,
    wait_for_stop_signal,
)


def make_listener_factory(picows: Any) -> Any:
    """A factory of echo listeners (one per connection) for ``ws_create_server``."""
    data_types = {picows.WSMsgType.TEXT, picows.WSMsgType.BINARY, picows.WSMsgType.CONTINUATION}
    close_type = picows.WSMsgType.CLOSE

    class EchoListener(picows.WSListener):  # type: ignore[misc, name-defined]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            msg_type = frame.msg_type
            if msg_type in data_types:
                transport.send(msg_type, frame.get_payload_as_memoryview(), frame.fin)
            elif msg_type == close_type:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    def factory(request: Any) -> Any:
        return EchoListener()

    return factory


async def serve(opts: ServerOptions, picows: Any, version: str) -> None:
    """Listen on 127.0.0.1 with a 4 MiB frame limit (as the other servers' message limit)."""
    server = await picows.ws_create_server(
        make_listener_factory(picows), HOST, opts.port, max_frame_size=4 * 1024 * 1024
    )
    announce_ready("picows", version, opts)
    try:
        await wait_for_stop_signal()
    finally:
        server.close()
        await server.wait_closed()


def main() -> None:
    """Parse options, import picows and serve until SIGTERM."""
    opts = parse_options(__doc__ or "")
    try:
        import picows
        from picows.version import __version__ as version
    except Exception as exc:
        import_failed("picows", exc)
    if opts.check:
        report("CHECK", {"server": "picows", "version": version})
        return
    if opts.ws_deflate:
        raise SystemExit("picows has no permessage-deflate")
    run(serve(opts, picows, version), opts.uvloop)


if __name__ == "__main__":
    main()
