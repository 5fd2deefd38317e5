"""Text messages to borrowers (the portal's one-time codes).

`SmsSender` is the interface a real gateway implements. The default `LogSender` sends
nothing: it writes each message to the `doorstep.sms` log and, only when asked to (the
`portal_dev_codes` setting, for development and demos), keeps the last few in memory for
the portal's dev page. It never stores a message anywhere else.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger("doorstep.sms")


@dataclass(frozen=True, slots=True)
class SentMessage:
    to: str  # masked number: the log and the dev page never show the whole of it
    text: str
    at: datetime


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None:
        """Send `text` to the mobile number `to`; raises on failure."""
        ...


def mask_mobile(number: str) -> str:
    return number[:3] + "****" + number[-4:] if len(number) >= 7 else "****"


class LogSender:
    """Writes messages to the log; keeps the last `keep` in memory when `keep` > 0."""

    def __init__(self, keep: int = 0) -> None:
        self._recent: deque[SentMessage] = deque(maxlen=max(keep, 1))
        self._keep = keep > 0
        self._lock = threading.Lock()

    def send(self, to: str, text: str) -> None:
        message = SentMessage(mask_mobile(to), text, datetime.now(UTC))
        log.info("sms to %s: %s", message.to, message.text)
        if self._keep:
            with self._lock:
                self._recent.append(message)

    def recent(self) -> list[SentMessage]:
        """The messages kept, newest first (empty unless keeping was asked for)."""
        if not self._keep:
            return []
        with self._lock:
            return list(reversed(self._recent))
