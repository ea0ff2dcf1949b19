"""Sending over SMTP, and telling a failure worth retrying from one that is not.

Controlled by `smtp:` in the config: host, port, `starttls` (upgrade a plain connection) or
`ssl` (TLS from the first byte, port 465), `username`/`password` (AUTH), `sender`, `timeout`.
One `SmtpTransport` keeps one connection open for a dispatch pass and reconnects once if the
server dropped it between messages.

Failures (Alertmanager's notify/ split): a 4xx reply, a refused connection, a timeout or a
dropped connection are temporary (retry later); a 5xx reply is permanent (give up after
`alerts.max_attempts`). The password is never put in a log line or an error message.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from email.utils import parseaddr

from vaern.config import Smtp

_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class SendFailure(Exception):
    """Why a message was not accepted; `temporary` says whether to try again later;
    `connection` that the server could not be reached at all (so nothing else will go either)."""

    def __init__(self, reason: str, temporary: bool, connection: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.connection = connection

    def __str__(self) -> str:
        return self.reason


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:500]


def classify(exc: BaseException, where: str) -> SendFailure:
    """Map an smtplib/socket error to a SendFailure (never including credentials)."""
    if isinstance(exc, SendFailure):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = list(exc.recipients.values())
        code, message = codes[0] if codes else (550, b"recipient refused")
        return SendFailure(f"recipient refused: {_reply(code, message)}", temporary=400 <= code < 500)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # The server's words only: the username and password are not in the exception.
        return SendFailure(f"login refused: {_reply(exc.smtp_code, exc.smtp_error)}", temporary=exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendFailure(_reply(exc.smtp_code, exc.smtp_error), temporary=exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        detail = "timed out" if "timed out" in str(exc) else "connection closed by the server"
        return SendFailure(f"{where}: {detail}", temporary=True, connection=True)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendFailure(f"{where}: {exc}", temporary=False, connection=True)
    if isinstance(exc, ConnectionRefusedError):
        return SendFailure(f"cannot connect to {where}: connection refused", temporary=True, connection=True)
    if isinstance(exc, TimeoutError | socket.timeout):
        return SendFailure(f"{where}: timed out", temporary=True, connection=True)
    if isinstance(exc, ssl.SSLError):
        return SendFailure(f"{where}: TLS failed: {exc.reason or type(exc).__name__}", temporary=True, connection=True)
    if isinstance(exc, OSError):
        return SendFailure(
            f"cannot connect to {where}: {exc.strerror or type(exc).__name__}",
            temporary=True,
            connection=True,
        )
    if isinstance(exc, smtplib.SMTPException):
        return SendFailure(f"{where}: {type(exc).__name__}", temporary=True, connection=True)
    raise exc


class SmtpTransport:
    """One SMTP session for a batch of messages; use as a context manager."""

    def __init__(self, settings: Smtp) -> None:
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self.envelope_from = parseaddr(settings.sender)[1]
        self._client: smtplib.SMTP | None = None
        self._awaiting = False  # a message was handed over and its reply not read yet

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            client: smtplib.SMTP
            if s.ssl:
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            try:
                client.ehlo_or_helo_if_needed()
                if s.starttls and not s.ssl:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if s.username:
                    password = s.password.get_secret_value() if s.password is not None else ""
                    client.login(s.username, password)
            except BaseException:
                client.close()
                raise
        except Exception as exc:
            failure = classify(exc, self.where)
            # Anything that went wrong while connecting holds up every message alike.
            raise SendFailure(failure.reason, failure.temporary, connection=True) from None
        return client

    def send(self, recipient: str, data: bytes) -> None:
        """Hand one message to the server; raise SendFailure if it is not accepted."""
        self.begin(recipient, data)
        self.end()

    def begin(self, recipient: str, data: bytes) -> None:
        """Hand over one message without waiting for the server's verdict: `end` reads it.

        Between the two the caller can do other work (compose the next e-mail) while the
        server takes the message in. The transaction is spelled out (MAIL, RCPT, DATA) so that
        a connection the server closed while idle is reopened only when nothing of this
        message was sent yet: once DATA has gone out, a dropped connection may still mean the
        message was accepted.
        """
        try:
            client = self._mail_from()
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            client.putcmd("data")
            code, reply = client.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            # What smtplib's data() sends: dot-stuffed, ending in CRLF . CRLF.
            body = _LEADING_DOT.sub(b"..", data)
            client.send(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
        except Exception as exc:
            raise self._failure(exc) from None
        self._awaiting = True

    def end(self) -> None:
        """The server's reply to the message `begin` handed over; SendFailure unless accepted."""
        if not self._awaiting or self._client is None:
            raise RuntimeError("end() without a message handed over by begin()")
        self._awaiting = False
        try:
            code, reply = self._client.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except Exception as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> SendFailure:
        if isinstance(exc, SendFailure):
            return exc
        failure = classify(exc, self.where)
        self._awaiting = False
        if failure.connection:
            self._drop()
        else:
            self._reset()
        return failure

    def _mail_from(self) -> smtplib.SMTP:
        for attempt in (1, 2):
            if self._client is None:
                self._client = self._connect()
            try:
                code, reply = self._client.mail(self.envelope_from)
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if attempt == 2:
                    raise
                continue  # closed while idle: reconnect once
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, self.envelope_from)
            return self._client
        raise AssertionError("unreachable")

    def _reset(self) -> None:
        try:
            if self._client is not None:
                self._client.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()
