"""Helpers of the chat tests (imported as ``chattools``): loads examples/chat/chatapp.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHAT_DIR = ROOT / "examples" / "chat"
if str(CHAT_DIR) not in sys.path:
    sys.path.insert(0, str(CHAT_DIR))

import chatapp  # noqa: E402

__all__ = ["CHAT_DIR", "ROOT", "ChatServer", "chatapp"]


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
