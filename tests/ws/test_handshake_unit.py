"""tidewire.ws.handshake as pure functions: no sockets."""

from __future__ import annotations

import base64
import hashlib

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from tidewire.ws.handshake import (
    HandshakeError,
    accept_token,
    check_upgrade_request,
    select_subprotocol,
)

from .rawclient import RFC_ACCEPT, RFC_KEY

GOOD = (
    ("Host", "example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", RFC_KEY),
    ("Sec-WebSocket-Version", "13"),
)


def headers(*pairs: tuple[str, str], drop: tuple[str, ...] = ()) -> CIMultiDictProxy[str]:
    lowered = {name.lower() for name in drop}
    items = [(n, v) for n, v in GOOD if n.lower() not in lowered]
    return CIMultiDictProxy(CIMultiDict([*items, *pairs]))


def status_of(method: str, hdrs: CIMultiDictProxy[str], **kwargs: object) -> int:
    with pytest.raises(HandshakeError) as info:
        check_upgrade_request(method, (1, 1), hdrs, **kwargs)  # type: ignore[arg-type]
    return info.value.status


def test_accept_token_matches_the_rfc_example() -> None:
    assert accept_token(RFC_KEY) == RFC_ACCEPT


def test_accept_token_of_another_key() -> None:
    # Computed independently: base64(sha1(key + GUID)).

    key = base64.b64encode(bytes(range(16))).decode()
    expected = base64.b64encode(
        hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    ).decode()
    assert accept_token(key) == expected


def test_valid_request_returns_the_key() -> None:
    assert check_upgrade_request("GET", (1, 1), headers()) == RFC_KEY


def test_tokens_are_case_insensitive_and_lists_are_split() -> None:
    base = headers(drop=("Upgrade", "Connection"))
    hdrs = CIMultiDictProxy(
        CIMultiDict(
            [*base.items(), ("upgrade", "WebSocket"), ("connection", "keep-alive, UPGRADE")]
        )
    )
    assert check_upgrade_request("GET", (1, 1), hdrs) == RFC_KEY


def test_connection_tokens_may_be_spread_over_several_lines() -> None:
    hdrs = CIMultiDictProxy(
        CIMultiDict(
            [
                *headers(drop=("Connection",)).items(),
                ("Connection", "keep-alive"),
                ("Connection", "Upgrade"),
            ]
        )
    )
    assert check_upgrade_request("GET", (1, 1), hdrs) == RFC_KEY


@pytest.mark.parametrize("method", ["POST", "PUT", "HEAD", "get"])
def test_only_get_is_accepted(method: str) -> None:
    assert status_of(method, headers()) == 400


def test_http_1_0_is_refused() -> None:
    with pytest.raises(HandshakeError) as info:
        check_upgrade_request("GET", (1, 0), headers())
    assert info.value.status == 400


def test_missing_upgrade_header() -> None:
    assert status_of("GET", headers(drop=("Upgrade",))) == 400


def test_upgrade_to_another_protocol() -> None:
    assert status_of("GET", headers(("Upgrade", "h2c"), drop=("Upgrade",))) == 400


def test_missing_connection_upgrade_token() -> None:
    assert status_of("GET", headers(drop=("Connection",))) == 400
    assert status_of("GET", headers(("Connection", "keep-alive"), drop=("Connection",))) == 400


@pytest.mark.parametrize(
    "key",
    [
        None,  # missing
        "",  # empty
        "not base64!!",
        base64.b64encode(b"x" * 15).decode(),  # decodes to 15 bytes
        base64.b64encode(b"x" * 17).decode(),  # decodes to 17 bytes
        "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
    ],
)
def test_missing_or_invalid_key(key: str | None) -> None:
    extra = () if key is None else (("Sec-WebSocket-Key", key),)
    assert status_of("GET", headers(*extra, drop=("Sec-WebSocket-Key",))) == 400


def test_two_keys_are_refused() -> None:
    assert status_of("GET", headers(("Sec-WebSocket-Key", RFC_KEY))) == 400


@pytest.mark.parametrize("version", ["13", "8", "7", " 8 "])
def test_versions_13_8_and_7_are_accepted_as_aiohttp_does(version: str) -> None:
    hdrs = headers(("Sec-WebSocket-Version", version), drop=("Sec-WebSocket-Version",))
    assert check_upgrade_request("GET", (1, 1), hdrs) == RFC_KEY


@pytest.mark.parametrize("version", ["6", "12", "14", "13, 8", "abc"])
def test_other_versions_get_426_with_version_13(version: str) -> None:
    hdrs = headers(("Sec-WebSocket-Version", version), drop=("Sec-WebSocket-Version",))
    with pytest.raises(HandshakeError) as info:
        check_upgrade_request("GET", (1, 1), hdrs)
    assert info.value.status == 426
    assert ("Sec-WebSocket-Version", "13") in info.value.headers


def test_missing_version_gets_426() -> None:
    hdrs = headers(drop=("Sec-WebSocket-Version",))
    with pytest.raises(HandshakeError) as info:
        check_upgrade_request("GET", (1, 1), hdrs)
    assert info.value.status == 426
    assert ("Sec-WebSocket-Version", "13") in info.value.headers


def test_a_body_is_refused() -> None:
    assert status_of("GET", headers(("Content-Length", "5"))) == 400
    assert status_of("GET", headers(("Transfer-Encoding", "chunked"))) == 400


def test_content_length_zero_is_fine() -> None:
    assert check_upgrade_request("GET", (1, 1), headers(("Content-Length", "0"))) == RFC_KEY


def test_origin_allow_list() -> None:
    good = ["http://good"]
    assert (
        check_upgrade_request("GET", (1, 1), headers(("Origin", "http://good")), origins=good)
        == RFC_KEY
    )
    assert status_of("GET", headers(("Origin", "http://evil")), origins=good) == 403
    assert status_of("GET", headers(), origins=good) == 403  # no Origin at all
    # Without an allow-list any origin passes.
    assert check_upgrade_request("GET", (1, 1), headers(("Origin", "http://evil"))) == RFC_KEY


def test_origin_comparison_ignores_case() -> None:
    hdrs = headers(("Origin", "HTTP://GOOD"))
    assert check_upgrade_request("GET", (1, 1), hdrs, origins=["http://good"]) == RFC_KEY


def test_handshake_error_str() -> None:
    error = HandshakeError(400, "nope")
    assert str(error) == "400: nope"


def sub_headers(*values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict([("Sec-WebSocket-Protocol", v) for v in values]))


def test_select_subprotocol_follows_our_preference() -> None:
    assert select_subprotocol(sub_headers("superchat"), ("chat", "superchat")) == "superchat"
    assert select_subprotocol(sub_headers("superchat, chat"), ("chat", "superchat")) == "chat"
    assert select_subprotocol(sub_headers("superchat", "chat"), ("chat", "superchat")) == "chat"


def test_select_subprotocol_none_in_common() -> None:
    assert select_subprotocol(sub_headers("mqtt"), ("chat", "superchat")) is None
    assert select_subprotocol(sub_headers(), ("chat",)) is None
    assert select_subprotocol(sub_headers("chat"), ()) is None


def test_select_subprotocol_tolerates_spaces() -> None:
    assert select_subprotocol(sub_headers("  a ,chat  "), ("chat",)) == "chat"
