"""tidewire.ws.client_handshake without sockets: the request we build, the answers we refuse."""

from __future__ import annotations

import pytest

from tidewire.ws.client_errors import (
    WSClientError,
    WSHandshakeRejected,
    WSInvalidUpgrade,
    WSRedirect,
)
from tidewire.ws.client_handshake import ClientHandshake, WSTarget, parse_ws_url
from tidewire.ws.deflate import DeflateParams

from .rawclient import RFC_ACCEPT, RFC_KEY

TARGET = parse_ws_url("ws://example.com/chat?room=1")


def handshake(**options: object) -> ClientHandshake:
    return ClientHandshake(TARGET, key=RFC_KEY, **options)  # type: ignore[arg-type]


def answer(*headers: str, status: str = "101 Switching Protocols", tail: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + tail


UPGRADE = ("Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {RFC_ACCEPT}")


# the URL (RFC 6455 section 3) ---------------------------------------------------------


def test_parse_ws_url() -> None:
    assert parse_ws_url("ws://example.com/chat?room=1") == WSTarget(
        False, "example.com", 80, "/chat?room=1", "example.com", None
    )
    assert parse_ws_url("wss://example.com") == WSTarget(
        True, "example.com", 443, "/", "example.com", None
    )
    assert parse_ws_url("ws://127.0.0.1:8080/").host_header == "127.0.0.1:8080"
    assert parse_ws_url("ws://[::1]:9000/x").host_header == "[::1]:9000"
    assert parse_ws_url("ws://u:p@h/").userinfo == "u:p"


@pytest.mark.parametrize("url", ["http://h/", "ws:///path", "ws://h/#frag", "h:80"])
def test_parse_ws_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ws_url(url)


# the request (RFC 6455 section 4.1; RFC 7692 section 7.1) -------------------------------


def test_request_has_every_handshake_header() -> None:
    request = handshake(
        protocols=["chat", "superchat"], origin="https://example.com", headers={"X-A": "1"}
    ).request
    assert request.startswith(b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n")
    assert request.endswith(b"\r\n\r\n")
    lines = request.split(b"\r\n")
    for line in (
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + RFC_KEY.encode(),
        b"Sec-WebSocket-Version: 13",
        b"Sec-WebSocket-Protocol: chat, superchat",
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        b"Origin: https://example.com",
        b"X-A: 1",
    ):
        assert line in lines


def test_request_window_bits_and_no_compression() -> None:
    assert b"client_max_window_bits=10\r\n" in handshake(compress=10).request
    assert b"Sec-WebSocket-Extensions" not in handshake(compress=False).request
    with pytest.raises(ValueError):
        handshake(compress=8)


def test_random_keys_differ_and_are_16_bytes() -> None:
    import base64

    one, two = ClientHandshake(TARGET), ClientHandshake(TARGET)
    assert one.key != two.key
    assert len(base64.b64decode(one.key)) == 16


def test_basic_auth_from_the_url() -> None:
    request = ClientHandshake(parse_ws_url("ws://user:pw@h/"), key=RFC_KEY).request
    assert b"Authorization: Basic dXNlcjpwdw==\r\n" in request


def test_header_injection_refused() -> None:
    with pytest.raises(ValueError):
        handshake(headers={"X-A": "1\r\nX-B: 2"})


# the response ---------------------------------------------------------------------------


def test_accepted_response_byte_at_a_time_keeps_the_frames_after_it() -> None:
    frame = b"\x81\x02hi"
    data = answer(*UPGRADE, "Sec-WebSocket-Protocol: chat", tail=frame)
    shake = handshake(protocols=["chat"], compress=False)
    results = [shake.receive_data(data[i : i + 1]) for i in range(len(data) - len(frame) - 1)]
    assert results == [None] * len(results)
    result = shake.receive_data(data[len(data) - len(frame) - 1 :])
    assert result is not None
    assert (result.subprotocol, result.deflate, result.leftover) == ("chat", None, frame)


def test_no_subprotocol_chosen_is_fine() -> None:
    result = handshake(protocols=["chat"]).receive_data(answer(*UPGRADE))
    assert result is not None and result.subprotocol is None


@pytest.mark.parametrize(
    "headers",
    [
        ("Upgrade: websocket", "Connection: Upgrade"),  # no accept
        ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: xxxx"),
        (*UPGRADE, f"Sec-WebSocket-Accept: {RFC_ACCEPT}"),  # two accept values
        ("Upgrade: h2c", "Connection: Upgrade", f"Sec-WebSocket-Accept: {RFC_ACCEPT}"),
        ("Upgrade: websocket", f"Sec-WebSocket-Accept: {RFC_ACCEPT}"),  # no Connection
        (*UPGRADE, "Sec-WebSocket-Protocol: other"),  # not offered
        (*UPGRADE, "Sec-WebSocket-Protocol: chat, other"),  # two
        (*UPGRADE, "Sec-WebSocket-Extensions: x-webkit-deflate-frame"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; foo"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8"),
        (*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=1"),
        (
            *UPGRADE,
            "Sec-WebSocket-Extensions: permessage-deflate; "
            "client_no_context_takeover; client_no_context_takeover",
        ),
    ],
)
def test_invalid_upgrades(headers: tuple[str, ...]) -> None:
    with pytest.raises(WSInvalidUpgrade):
        handshake(protocols=["chat"]).receive_data(answer(*headers))


def test_extension_not_offered_is_refused() -> None:
    with pytest.raises(WSInvalidUpgrade, match="did not offer"):
        handshake(compress=False).receive_data(
            answer(*UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate")
        )


def test_client_window_above_our_offer_is_refused() -> None:
    with pytest.raises(WSInvalidUpgrade, match="above"):
        handshake(compress=10).receive_data(
            answer(
                *UPGRADE, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12"
            )
        )


@pytest.mark.parametrize(
    ("extension", "params"),
    [
        ("permessage-deflate", DeflateParams(False, False, 15, 15)),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            DeflateParams(True, True, 15, 15),
        ),
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
            DeflateParams(False, False, 10, 12),
        ),
        # our inflater may use a larger window than the server's 256 bytes
        ("permessage-deflate; server_max_window_bits=8", DeflateParams(False, False, 9, 15)),
        ('permessage-deflate; client_max_window_bits="9"', DeflateParams(False, False, 15, 9)),
    ],
)
def test_deflate_agreement(extension: str, params: DeflateParams) -> None:
    result = handshake().receive_data(answer(*UPGRADE, f"Sec-WebSocket-Extensions: {extension}"))
    assert result is not None and result.deflate == params


def test_rejected_with_status_and_headers() -> None:
    shake = handshake()
    with pytest.raises(WSHandshakeRejected) as info:
        shake.receive_data(answer("Retry-After: 5", "Content-Length: 0", status="403 Forbidden"))
    assert (info.value.status, info.value.reason) == (403, "Forbidden")
    assert info.value.headers["Retry-After"] == "5"
    assert isinstance(info.value, WSClientError)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_refused_with_its_location(status: int) -> None:
    with pytest.raises(WSRedirect, match="wss://elsewhere/") as info:
        handshake().receive_data(answer("Location: wss://elsewhere/", status=f"{status} Moved"))
    assert (info.value.status, info.value.location) == (status, "wss://elsewhere/")


def test_oversized_or_malformed_head_is_an_invalid_upgrade() -> None:
    with pytest.raises(WSInvalidUpgrade, match="too large"):
        handshake().receive_data(answer(*UPGRADE, "X-Big: " + "a" * 9000))
    with pytest.raises(WSInvalidUpgrade, match="malformed"):
        handshake().receive_data(b"SSH-2.0-OpenSSH\r\n\r\n")
    shake = handshake()
    with pytest.raises(WSInvalidUpgrade, match="too large"):
        for _ in range(100):
            shake.receive_data(b"HTTP/1.1 101 OK\r\nX: " + b"a" * 1000)
    with pytest.raises(WSInvalidUpgrade, match="closed"):
        handshake().receive_eof()
