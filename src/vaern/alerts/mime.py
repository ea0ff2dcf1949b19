"""Writing an alert e-mail as MIME bytes: plain text and HTML alternatives, inline images.

Python's `email` package spends most of an alert's sending time parsing the headers it was
just given (about 10 ms a message, four times what handing it to a local SMTP server takes);
the structure of an alert is fixed and small, so it is written directly:

    multipart/alternative
    ├── text/plain; charset=utf-8      (quoted-printable)
    └── multipart/related              (only when there are images; else text/html directly)
        ├── text/html; charset=utf-8   (quoted-printable)
        └── image/jpeg …               (base64, Content-ID for cid: links)

Header values must already be single lines (compose.header_safe removes CR/LF and other
control characters); non-ASCII text is encoded as RFC 2047 words, long lines are folded.
Bodies are quoted-printable, so no line exceeds 76 characters and a boundary (which holds
"==", never produced by quoted-printable) cannot occur in a body.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header

CRLF = b"\r\n"


@dataclass(frozen=True)
class InlineImage:
    cid: str  # without the angle brackets
    data: bytes
    filename: str
    subtype: str = "jpeg"


def _check(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value may not hold a line break")
    return value


def encoded_words(value: str, budget: int = 42) -> str:
    """RFC 2047 "B" encoded words of at most `budget` UTF-8 bytes each (68 characters encoded),
    never splitting a character, joined by folding whitespace."""
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    for char in value:
        n = len(char.encode("utf-8"))
        if size + n > budget and chunk:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def text_header(name: str, value: str) -> bytes:
    """`Name: value`, RFC 2047-encoded where not ASCII, folded to fit 78 columns."""
    _check(value)
    if value.isascii() and len(name) + len(value) + 2 <= 78:
        return f"{name}: {value}".encode("ascii")
    if value.isascii():
        encoded = Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    else:
        encoded = encoded_words(value)
    return f"{name}: {encoded}".encode("ascii")


_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")


def address_header(name: str, display: str, address: str) -> bytes:
    """`To: Name <address>` with the display name encoded as needed (the address is ASCII)."""
    _check(display)
    _check(address)
    if not address.isascii() or any(c in address for c in '<>" ,;'):
        raise ValueError(f"{address!r} is not a plain ASCII address")
    display = display.strip()
    if not display:
        return f"{name}: {address}".encode("ascii")
    if _ATOM.match(display):
        shown = display
    elif display.isascii():
        shown = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        shown = encoded_words(display)
    return f"{name}: {shown} <{address}>".encode("ascii")


def raw_header(name: str, value: str) -> bytes:
    """An ASCII header written as given (Message-ID, Date, X-…)."""
    _check(value)
    return f"{name}: {value}".encode("ascii")


def _qp(text: str) -> bytes:
    text = text.replace("\r\n", "\n")
    if "\r" in text:  # a lone CR: b2a_qp treats it specially; encode the whole text as before
        return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", CRLF)
    lines = text.split("\n")
    last = lines.pop()
    out = [_qp_line(line) for line in lines]
    out.append(binascii.b2a_qp(last.encode("utf-8"), istext=True).replace(b"\n", CRLF))
    return CRLF.join(out)


# Quoted-printable works line by line, and most lines of an alert (the template's markup, the
# labels, the steps) are the same in every e-mail: each line is encoded once and remembered.
@functools.lru_cache(maxsize=20_000)
def _qp_line(line: str) -> bytes:
    # With its newline, so that trailing white space and the line length are judged as they are
    # in the whole text.
    return binascii.b2a_qp(line.encode("utf-8") + b"\n", istext=True)[:-1].replace(b"\n", CRLF)


def _text_part(subtype: str, text: str) -> bytes:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    ).encode("ascii") + _qp(text)


# A thumbnail is often sent many times in one pass (a hit goes to the leader and the notify
# list; a page names several people): its base64 form is made once.
@functools.lru_cache(maxsize=256)
def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _image_part(image: InlineImage) -> bytes:
    body = _base64(image.data)
    return (
        f"Content-Type: image/{image.subtype}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-ID: <{_check(image.cid)}>\r\n"
        f'Content-Disposition: inline; filename="{_check(image.filename)}"\r\n\r\n'
    ).encode("ascii") + body


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    boundary = f"==vaern-{secrets.token_hex(12)}=="
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode("ascii"))
        out.append(part if part.endswith(CRLF) else part + CRLF)
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def build(headers: Sequence[bytes], text: str, html: str, images: Sequence[InlineImage] = ()) -> bytes:
    """The whole message: `headers` (from the functions above), then the MIME body."""
    html_part = _text_part("html", html)
    if images:
        html_part = _multipart("related", [html_part, *(_image_part(i) for i in images)])
    body = _multipart("alternative", [_text_part("plain", text), html_part])
    return CRLF.join([*headers, b"MIME-Version: 1.0"]) + CRLF + body
