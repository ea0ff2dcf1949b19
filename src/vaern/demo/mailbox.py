"""The demo's SMTP sink: an aiosmtpd server on 127.0.0.1 that writes each e-mail as an .eml file."""

from __future__ import annotations

import itertools
import re
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


class _WriteEml:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.numbers = itertools.count(len(list(directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for recipient in envelope.rcpt_tos:
            safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
            path = self.directory / f"{next(self.numbers):03d}-{safe}.eml"
            path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class Mailbox:
    """`with Mailbox(dir) as box:` an SMTP server on `box.port` until the block ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = 0
        self._controller: Controller | None = None

    def __enter__(self) -> Mailbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._controller = Controller(_WriteEml(self.directory), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._controller is not None:
            self._controller.stop()
