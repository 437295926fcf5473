"""``tidewire.web`` exports every public name of tidewire, from one place.

A module is public when it is one of the packages below, or when ``web`` re-exports
anything defined in it: then every name of its ``__all__`` must be in ``web.__all__``,
unless it is one of the deliberate exceptions listed (with the reason) below. A new
public name that is not exported, or an exception that is exported after all,
fails this test.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import tidewire
from tidewire import web

PACKAGES = ("tidewire", "tidewire.http", "tidewire.ws", "tidewire.hub", "tidewire.testing")

#: Names in a public module's ``__all__`` that ``web.__all__`` leaves out on purpose.
NOT_EXPORTED = {
    # package metadata: stays on ``tidewire``
    ("tidewire", "__version__"),
    # ``web.websocket_engine()`` tells the same, under a name that says what it is
    ("tidewire.ws", "ENGINE"),
    # need the optional prometheus-client: web serves them lazily, outside __all__,
    # so that ``from tidewire.web import *`` never needs it (checked below)
    ("tidewire.hub.metrics", "HubCollector"),
    ("tidewire.hub.metrics", "metrics_response"),
    # conditional-request internals; ``ETag`` is the public part
    ("tidewire.http.etag", "ETAG_ANY"),
    ("tidewire.http.etag", "format_etag"),
    ("tidewire.http.etag", "parse_etag"),
    ("tidewire.http.etag", "parse_etag_list"),
    # form parsing internals: ``post()`` turns their errors into 400/413 itself
    ("tidewire.http.forms", "FormError"),
    ("tidewire.http.forms", "TooManyFields"),
    ("tidewire.http.forms", "parse_header_params"),
    ("tidewire.http.forms", "parse_urlencoded"),
    ("tidewire.http.forms", "read_form"),
    ("tidewire.http.forms", "too_many_fields"),
    # the typing protocol of what a multipart reader reads from (an internal seam)
    ("tidewire.http.multipart", "ByteSource"),
    # the sans-I/O request parser; handlers get a ``BaseRequest``
    ("tidewire.http.parser", "BadRequest"),
    ("tidewire.http.parser", "RequestReader"),
    ("tidewire.http.parser", "RequestSink"),
    # the mixin behind StreamResponse's aiohttp extras, not a class to use alone
    ("tidewire.http.response_compat", "ResponseCompat"),
    # the shared empty body stream, an internal constant
    ("tidewire.http.streams", "EMPTY_BODY"),
    # the hub's history ring and its helpers; ``Hub.history()`` returns Publications
    ("tidewire.hub.history", "HistorySlice"),
    ("tidewire.hub.history", "MemoryHistory"),
    ("tidewire.hub.history", "check_recovery"),
    ("tidewire.hub.history", "new_epoch"),
    # the per-subscriber queue, a pure core of the hub
    ("tidewire.hub.outbox", "Outbox"),
    ("tidewire.hub.outbox", "PushResult"),
    ("tidewire.hub.outbox", "Sized"),
    # how the hub replays missed publications, an internal of ``Hub.subscribe``
    ("tidewire.hub.recovery", "Replays"),
    # ``Hub(dumps=)``'s default
    ("tidewire.hub.values", "compact_json"),
    # the negotiation of permessage-deflate; ``DeflateOptions`` is the public part
    ("tidewire.ws.deflate", "DeflateParams"),
    ("tidewire.ws.deflate", "negotiate_deflate"),
    # the type variable behind ``WebSocketResponse[Literal[False]]``: subscribe the classes
    ("tidewire.ws.endpoint", "DecodeText"),
    # the reconnect loop's retry policy; ``Backoff`` is the public part
    ("tidewire.ws.reconnect", "should_retry"),
}


def public_modules() -> set[str]:
    modules = set(PACKAGES)
    for name in web.__all__:
        obj = getattr(web, name)
        module = getattr(obj, "__module__", None) or type(obj).__module__
        if module.startswith("tidewire.") and module != "tidewire.web":
            modules.add(module)
    modules.add("tidewire.hub.metrics")
    return modules


def test_every_public_name_is_exported_by_web() -> None:
    exported = set(web.__all__)
    missing = set()
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            if name not in exported and (module_name, name) not in NOT_EXPORTED:
                missing.add((module_name, name))
    assert missing == set()


def test_the_exceptions_are_not_exported_and_still_exist() -> None:
    for module_name, name in NOT_EXPORTED:
        assert name not in web.__all__, (module_name, name)
        assert name in importlib.import_module(module_name).__all__, (module_name, name)


def test_web_all_names_exist_and_are_the_originals() -> None:
    assert len(web.__all__) == len(set(web.__all__))
    for name in web.__all__:
        assert hasattr(web, name), name
    from tidewire.hub import Position, Publication, Recovery
    from tidewire.testing import TestClient

    assert (web.Position, web.Publication, web.Recovery) == (Position, Publication, Recovery)
    assert web.TestClient is TestClient
    for name in tidewire.__all__:
        if name != "__version__":
            assert getattr(tidewire, name) is getattr(web, name)


def test_metrics_helpers_come_from_web_on_first_use() -> None:
    from tidewire.hub import metrics  # (the metrics extra is part of ``make install``)

    assert web.HubCollector is metrics.HubCollector
    assert web.metrics_response is metrics.metrics_response
    with pytest.raises(AttributeError):
        web.no_such_name  # noqa: B018


def test_star_import_does_not_load_the_optional_metrics_module() -> None:
    code = (
        "import sys\n"
        "from tidewire.web import *\n"
        "assert 'tidewire.hub.metrics' not in sys.modules\n"
        "assert 'prometheus_client' not in sys.modules\n"
        "assert Position and TestServer and WSMessageTypeError\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
