"""Helpers of the chat tests (imported as ``chattools``): loads examples/chat/chatapp.py.

The real redis-server helpers come from tests/hub/hubtools.py.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHAT_DIR = ROOT / "examples" / "chat"
if str(CHAT_DIR) not in sys.path:
    sys.path.insert(0, str(CHAT_DIR))

HUB_TESTS = ROOT / "tests" / "hub"
if str(HUB_TESTS) not in sys.path:
    sys.path.insert(0, str(HUB_TESTS))

import chatapp  # noqa: E402
from hubtools import RedisServer, unused_port  # noqa: E402

__all__ = [
    "CHAT_DIR",
    "ROOT",
    "ChatServer",
    "RedisServer",
    "chatapp",
    "load_chat_server",
    "unused_port",
]


@dataclass
class ChatServer:
    """The chat app served by the ``serve`` fixture."""

    app: chatapp.ChatApp
    running: Any  # the serve fixture's RunningServer

    @property
    def url(self) -> str:
        return str(self.running.url("/"))

    @property
    def ws_url(self) -> str:
        return str(self.running.ws_url("/ws"))


def load_chat_server() -> ModuleType:
    """examples/chat/server.py as a module named ``chat_server`` (loaded once)."""
    module = sys.modules.get("chat_server")
    if module is None:
        spec = importlib.util.spec_from_file_location("chat_server", CHAT_DIR / "server.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["chat_server"] = module
        spec.loader.exec_module(module)
    return module
