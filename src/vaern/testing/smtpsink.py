"""A local SMTP server that collects what Værn sends: for tests, benchmarks and `vaern demo`.

`SmtpSink` wraps an aiosmtpd `Controller` listening on 127.0.0.1 (port 0 picks a free port;
the port is kept across `stop()`/`start()` so a test can simulate an outage and the return of
the same server). It can be told to answer every message with a temporary (4xx) or permanent
(5xx) error, to be slow (to provoke client timeouts), to require AUTH, to offer STARTTLS or
to speak TLS from the first byte (SMTPS). With `eml_dir` every accepted message is also
written there, once per recipient, as `NNNN-recipient.eml` (numbered on from the files already
there: `vaern demo` uses it as the demo's mailbox).

Nothing here is used by the service itself; it only stands in for a mail server.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """One message the sink accepted: the envelope as sent, and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None
    received_at: float

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Behaviour:
    reply: str | None = None  # e.g. "451 4.3.0 try again later"; None accepts
    delay: float = 0.0  # seconds to wait before answering DATA
    credentials: tuple[str, str] | None = None
    accepted: list[Received] = field(default_factory=list)
    rejected: list[Received] = field(default_factory=list)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        behaviour = self.sink._behaviour
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        with self.sink._lock:
            login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
            content = envelope.original_content or envelope.content or b""
            data = content if isinstance(content, bytes) else content.encode()
            item = Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=data,
                login=login,
                received_at=time.monotonic(),
            )
            if behaviour.reply is not None:
                behaviour.rejected.append(item)
                return behaviour.reply
            behaviour.accepted.append(item)
            if self.sink.eml_dir is not None:
                for recipient in item.rcpt_tos:
                    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", recipient)
                    (self.sink.eml_dir / f"{next(self.sink._eml_numbers):04d}-{safe}.eml").write_bytes(data)
            self.sink._arrived.notify_all()
        return "250 2.0.0 OK: queued"


class _Authenticator:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        expected = self.sink._behaviour.credentials
        if expected is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (auth_data.login.decode(), auth_data.password.decode()) == expected
        if not ok:
            return AuthResult(success=False, handled=False)  # aiosmtpd then answers 535
        return AuthResult(success=True, auth_data=auth_data.login)


class _Controller(Controller):
    """aiosmtpd's Controller cannot start on port 0: its readiness probe connects to the port
    it was given, not the one the OS picked (aio-libs/aiosmtpd#276, #388). Read the real port
    from the bound socket before the probe; later restarts then reuse that port."""

    def _trigger_server(self) -> None:
        server = self.server
        if self.port == 0 and isinstance(server, asyncio.Server):
            self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    """A local SMTP server collecting messages; stoppable, restartable, and able to misbehave.

    Use as a context manager or call `start()`/`stop()`. `host`/`port` are what to put in
    `smtp:` of a config.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        eml_dir: str | Path | None = None,
        credentials: tuple[str, str] | None = None,
        starttls_context: ssl.SSLContext | None = None,
        implicit_tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not host.startswith("127."):
            raise ValueError("the sink listens on 127.0.0.0/8 only")
        self.host = host
        self.port = port
        self.eml_dir = Path(eml_dir) if eml_dir is not None else None
        if self.eml_dir is not None:
            self.eml_dir.mkdir(parents=True, exist_ok=True)
        self._eml_numbers = itertools.count(len(list(self.eml_dir.glob("*.eml"))) + 1 if self.eml_dir else 1)
        self._starttls_context = starttls_context
        self._implicit_tls_context = implicit_tls_context
        self._behaviour = _Behaviour(credentials=credentials)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller: _Controller | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self._starttls_context is not None:
            kwargs["tls_context"] = self._starttls_context
        if self._behaviour.credentials is not None:
            kwargs["authenticator"] = _Authenticator(self)
            # Tests run on loopback without TLS as often as with it.
            kwargs["auth_require_tls"] = False
        controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="vaern-smtp-sink.localhost",
            ssl_context=self._implicit_tls_context,
            ready_timeout=10.0,
            **kwargs,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: new connections are refused until `start()` (same port)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour ------------------------------------------------------------------------

    def reply_with(self, reply: str | None) -> None:
        """Answer every DATA with `reply` (e.g. '451 4.3.0 busy', '550 5.7.1 rejected');
        None goes back to accepting."""
        if reply is not None and not (reply[:3].isdigit() and reply[0] in "45"):
            raise ValueError("reply must start with a 4xx or 5xx code")
        with self._lock:
            self._behaviour.reply = reply

    def delay(self, seconds: float) -> None:
        """Wait this long before answering DATA (to provoke client timeouts)."""
        with self._lock:
            self._behaviour.delay = seconds

    # --- what arrived ---------------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._behaviour.accepted)

    @property
    def rejected(self) -> list[Received]:
        """Messages answered with the `reply_with` error (not delivered)."""
        with self._lock:
            return list(self._behaviour.rejected)

    def clear(self) -> None:
        with self._lock:
            self._behaviour.accepted.clear()
            self._behaviour.rejected.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages have arrived; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._behaviour.accepted) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._behaviour.accepted)} of {count} messages arrived")
                self._arrived.wait(left)
            return list(self._behaviour.accepted)


def self_signed_tls(directory: str | Path, host: str = "127.0.0.1") -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for `host`, and the certificate's
    path (point SSL_CERT_FILE at it so clients trust it)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "smtp-sink.crt"
    key_path = directory / "smtp-sink.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def main(argv: list[str] | None = None) -> int:
    """Run a sink in its own process: prints `port N`, then serves until SIGTERM, SIGINT or EOF on stdin.

    `python -m vaern.testing.smtpsink --eml-dir DIR` keeps every accepted message in DIR as .eml files.
    """
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(prog="python -m vaern.testing.smtpsink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--eml-dir", type=Path)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    def until_eof() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_eof, daemon=True).start()
    with SmtpSink(args.host, args.port, eml_dir=args.eml_dir) as sink:
        print(f"port {sink.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
