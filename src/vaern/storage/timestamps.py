"""RFC 3161 trusted timestamps over manifest hashes.

Controlled by `evidence.tsa_urls` (and `evidence.tsa_timeout`): for each listed timestamp
authority (TSA) the archive asks for a token over the SHA-256 of a snapshot's manifest and keeps
the reply (`.tsr`, what `openssl ts -verify -in` reads) with the certificates the TSA sent
(`.pem`). A token proves the manifest existed no later than the TSA's time, independently of our
own clock.

The request and the few fields we read back (status, message imprint, time, nonce) are plain DER,
encoded and parsed here so that capture needs no external program; the signature itself is checked
with `openssl ts -verify` where OpenSSL is installed (in `vaern verify`, and by anyone holding an
export).
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHA256_OID = "2.16.840.1.101.3.4.2.1"
TSTINFO_OID = "1.2.840.113549.1.9.16.1.4"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"


class TimestampError(Exception):
    """A TSA did not give a usable token (unreachable, refused, or a reply that does not fit)."""


@dataclass(frozen=True)
class TokenInfo:
    """What a timestamp token says: which hash it covers, when, and the nonce we sent."""

    imprint_algorithm: str
    imprint: bytes
    gen_time: datetime
    serial: int
    nonce: int | None


@dataclass(frozen=True)
class Timestamp:
    """A token from one TSA: the raw reply, what it says, and the certificates it carried (PEM)."""

    tsa_url: str
    response: bytes
    info: TokenInfo
    certificates_pem: bytes


# ---------------------------------------------------------------------------------------------
# DER, just enough of it.


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _integer(n: int) -> bytes:
    raw = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(0x02, raw)


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        out.extend(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _decode_oid(raw: bytes) -> str:
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """One TLV at `pos`: (tag, value, position after it)."""
    if pos + 2 > len(data):
        raise TimestampError("truncated DER")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise TimestampError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    end = pos + length
    if end > len(data):
        raise TimestampError("truncated DER")
    return tag, data[pos:end], end


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 0
    while pos < len(value):
        tag, inner, pos = _read(value, pos)
        out.append((tag, inner))
    return out


def build_request(digest: bytes, nonce: int) -> bytes:
    """A TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 digest, asking for the TSA's certificate."""
    algorithm = _tlv(0x30, _oid(SHA256_OID) + b"\x05\x00")
    imprint = _tlv(0x30, algorithm + _tlv(0x04, digest))
    cert_req = b"\x01\x01\xff"
    return _tlv(0x30, _integer(1) + imprint + _integer(nonce) + cert_req)


def token_from_response(response: bytes) -> bytes:
    """The TimeStampToken inside a TimeStampResp, or TimestampError with the TSA's status."""
    tag, body, _ = _read(response)
    if tag != 0x30:
        raise TimestampError("the reply is not a TimeStampResp")
    parts = _children(body)
    status_parts = _children(parts[0][1])
    status = int.from_bytes(status_parts[0][1], "big")
    if status not in (0, 1):  # granted, grantedWithMods
        raise TimestampError(f"the TSA refused the request (PKIStatus {status})")
    if len(parts) < 2:
        raise TimestampError("the reply holds no token")
    return _tlv(parts[1][0], parts[1][1])


def parse_token(token: bytes) -> TokenInfo:
    """Read the TSTInfo of a token (a CMS SignedData): imprint, time, serial and nonce."""
    _, content_info, _ = _read(token)
    ci = _children(content_info)
    if _decode_oid(ci[0][1]) != SIGNED_DATA_OID:
        raise TimestampError("the token is not CMS SignedData")
    signed_data = _children(_children(ci[1][1])[0][1])
    encap = _children(signed_data[2][1])
    if _decode_oid(encap[0][1]) != TSTINFO_OID:
        raise TimestampError("the token does not hold a TSTInfo")
    octets = _children(encap[1][1])[0][1]
    tst = _children(_read(octets)[1])
    imprint = _children(tst[2][1])
    algorithm = _decode_oid(_children(imprint[0][1])[0][1])
    serial = int.from_bytes(tst[3][1], "big")
    gen_time = _generalized_time(tst[4][1].decode("ascii"))
    nonce = None
    for tag, value in tst[5:]:
        if tag == 0x02:
            nonce = int.from_bytes(value, "big")
            break
    return TokenInfo(algorithm, imprint[1][1], gen_time, serial, nonce)


def _generalized_time(text: str) -> datetime:
    text = text.rstrip("Z")
    whole, _, fraction = text.partition(".")
    moment = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    if fraction:
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment


def certificates_pem(token: bytes) -> bytes:
    """The certificates a token carries (the TSA's, and its chain where the TSA sends it), as PEM."""
    _, content_info, _ = _read(token)
    signed_data = _children(_children(_children(content_info)[1][1])[0][1])
    out = []
    for tag, value in signed_data[3:]:
        if tag == 0xA0:  # [0] IMPLICIT SET OF CertificateChoices
            for cert_tag, cert in _children(value):
                if cert_tag == 0x30:
                    b64 = base64.encodebytes(_tlv(0x30, cert)).replace(b"\n", b"")
                    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
                    out.append(b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n")
    return b"".join(out)


# ---------------------------------------------------------------------------------------------
# Asking a TSA, and checking a token.


def request_timestamp(tsa_url: str, digest: bytes, timeout: float) -> Timestamp:
    """Ask one TSA for a token over `digest`; check that the token covers it before keeping it."""
    nonce = secrets.randbits(63)
    req = urllib.request.Request(
        tsa_url,
        data=build_request(digest, nonce),
        headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:  # noqa: S310 (operator's URL)
            response = reply.read()
    except OSError as exc:
        raise TimestampError(f"{tsa_url}: {exc}") from None
    token = token_from_response(response)
    info = parse_token(token)
    if info.imprint != digest or info.imprint_algorithm != SHA256_OID:
        raise TimestampError(f"{tsa_url}: the token does not cover the hash we sent")
    if info.nonce != nonce:
        raise TimestampError(f"{tsa_url}: the token's nonce is not ours (a replayed reply?)")
    return Timestamp(tsa_url, response, info, certificates_pem(token))


def openssl_verify(response_path: Path, digest_hex: str, chain_path: Path) -> str | None:
    """Check a token's signature with `openssl ts -verify`; None if it verifies, else why not.

    The CA file is the chain the TSA sent, so this proves the token is intact and was signed by
    that chain's key; whether that chain belongs to a TSA you trust is a separate check (compare
    the root's fingerprint with the one the TSA publishes).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return "openssl is not installed; the token's signature was not checked"
    proc = subprocess.run(
        [openssl, "ts", "-verify", "-digest", digest_hex, "-in", str(response_path),
         "-CAfile", str(chain_path), "-untrusted", str(chain_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if proc.returncode == 0 and "Verification: OK" in proc.stdout:
        return None
    return (proc.stderr or proc.stdout).strip().splitlines()[-1] if (proc.stderr or proc.stdout) else "failed"


# ---------------------------------------------------------------------------------------------
# Checking a token against trust anchors, in process (`vaern verify` checks thousands).

MESSAGE_DIGEST_OID = "1.2.840.113549.1.9.4"
CONTENT_TYPE_OID = "1.2.840.113549.1.9.3"
TIME_STAMPING_OID = "1.3.6.1.5.5.7.3.8"
_HASHES = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
           "2.16.840.1.101.3.4.2.3": "sha512", "1.3.14.3.2.26": "sha1"}


@dataclass(frozen=True)
class Verdict:
    """What a token proves: `ok` (signed, and chained to a configured root), `not_anchored` (the
    signature holds but no configured root is above the TSA's certificate), or `invalid`."""

    status: str
    reason: str = ""
    signer: str = ""
    root: str = ""  # subject of the anchor it chains to
    root_sha256: str = ""  # that anchor's fingerprint


def load_anchors(paths: list[Path]) -> list[Any]:
    """The trust anchors (X.509 certificates) in the given PEM files; unreadable files raise OSError/ValueError."""
    from cryptography import x509

    out: list[Any] = []
    for path in paths:
        out.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    return out


def _signed_parts(token: bytes) -> tuple[bytes, list[bytes], list[tuple[int, bytes]]]:
    """(eContent TSTInfo bytes, certificate DERs, the first SignerInfo's fields)."""
    _, content_info, _ = _read(token)
    signed_data = _children(_children(_children(content_info)[1][1])[0][1])
    encap = _children(signed_data[2][1])
    econtent = _children(encap[1][1])[0][1]
    certs: list[bytes] = []
    signer_infos: list[tuple[int, bytes]] = []
    for tag, value in signed_data[3:]:
        if tag == 0xA0:
            certs = [_tlv(0x30, c) for t, c in _children(value) if t == 0x30]
        elif tag == 0x31:
            signer_infos = _children(value)
    if not signer_infos:
        raise TimestampError("the token has no signer")
    return econtent, certs, _children(signer_infos[0][1])


def verify_token(response: bytes, digest: bytes, anchors: list[Any], at: datetime | None = None) -> Verdict:
    """Check a TimeStampResp: it covers `digest`, its CMS signature holds, the signer is a TSA
    certificate valid at the token's time, and its chain leads to one of `anchors`.

    The TSA's own certificates come from the token (as `-untrusted` in `openssl ts -verify`); the
    root need not be among them. Algorithms not handled here are left to `openssl ts -verify`.
    """
    return TokenVerifier(anchors).verify(response, digest, at)


class TokenVerifier:
    """`verify_token` for many tokens against the same anchors: certificates are parsed, and a
    certificate's path up to an anchor is found, once per distinct certificate set."""

    def __init__(self, anchors: list[Any]) -> None:
        from cryptography.hazmat.primitives import hashes

        self.anchors = anchors
        self.anchor_fps = {a.fingerprint(hashes.SHA256()): a for a in anchors}
        self._certs: dict[bytes, Any] = {}
        self._paths: dict[tuple[bytes, tuple[bytes, ...]], tuple[str, list[Any], Any, str]] = {}

    def _cert(self, der: bytes) -> Any:
        from cryptography import x509

        cert = self._certs.get(der)
        if cert is None:
            cert = self._certs[der] = x509.load_der_x509_certificate(der)
        return cert

    def verify(self, response: bytes, digest: bytes, at: datetime | None = None) -> Verdict:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

        try:
            token = token_from_response(response)
            info = parse_token(token)
            econtent, cert_ders, signer = _signed_parts(token)
        except (TimestampError, IndexError, ValueError) as exc:
            return Verdict("invalid", f"not a readable RFC 3161 reply ({exc})")
        if info.imprint != digest:
            return Verdict("invalid", f"it covers {info.imprint.hex()}, not {digest.hex()}")
        try:
            certs = [self._cert(d) for d in cert_ders]
            # SignerInfo: version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature
            sid_tag, sid = signer[1]
            digest_oid = _decode_oid(_children(signer[2][1])[0][1])
            attrs_tag, attrs = signer[3]
            signature = signer[-1][1] if signer[-1][0] == 0x04 else signer[-2][1]
            if attrs_tag != 0xA0:
                return Verdict("invalid", "the signer has no signed attributes")
        except (TimestampError, IndexError, ValueError) as exc:
            return Verdict("invalid", f"the signature block cannot be read ({exc})")
        name = _HASHES.get(digest_oid)
        if name is None:
            return Verdict("unsupported", f"digest algorithm {digest_oid}")
        algorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
                     "sha1": hashes.SHA1()}[name]  # noqa: S303 (only to read old tokens)
        found = {}
        for _, attr in _children(attrs):
            parts = _children(attr)
            found[_decode_oid(parts[0][1])] = _children(parts[1][1])[0][1]
        content_hash = hashes.Hash(algorithm)
        content_hash.update(econtent)
        if found.get(MESSAGE_DIGEST_OID) != content_hash.finalize():
            return Verdict("invalid", "the signed content does not match its signed digest (the token was altered)")
        if found.get(CONTENT_TYPE_OID) is not None and _decode_oid(found[CONTENT_TYPE_OID]) != TSTINFO_OID:
            return Verdict("invalid", "the signed content type is not a TSTInfo")
        signer_cert = _find_signer(certs, sid_tag, sid)
        if signer_cert is None:
            return Verdict("invalid", "the token does not carry the certificate that signed it")
        key = signer_cert.public_key()
        signed = _tlv(0x31, attrs)
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signed, padding.PKCS1v15(), algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, signed, ec.ECDSA(algorithm))
            else:
                return Verdict("unsupported", f"key type {type(key).__name__}")
        except InvalidSignature:
            return Verdict("invalid", "the signature does not match (the token was altered)")
        except ValueError as exc:
            return Verdict("unsupported", str(exc))
        subject = signer_cert.subject.rfc4514_string()
        try:
            usage = signer_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if x509.ObjectIdentifier(TIME_STAMPING_OID) not in usage:
                return Verdict("invalid", f"{subject} is not a timestamping certificate", subject)
        except x509.ExtensionNotFound:
            return Verdict("invalid", f"{subject} is not a timestamping certificate", subject)
        key_path = (signer_cert.public_bytes(_der()), tuple(sorted(cert_ders)))
        if key_path not in self._paths:
            self._paths[key_path] = self._path(signer_cert, certs)
        status, path, anchor, why = self._paths[key_path]
        moment = at or info.gen_time
        for cert in path:
            if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
                return Verdict("invalid", f"certificate {cert.subject.rfc4514_string()} was not valid at the "
                               "token's time", subject)
        if status != "ok":
            return Verdict(status, why, subject)
        return Verdict("ok", "", subject, anchor.subject.rfc4514_string(), anchor.fingerprint(hashes.SHA256()).hex())

    def _path(self, leaf: Any, pool: list[Any]) -> tuple[str, list[Any], Any, str]:
        """(status, the certificates from the TSA's up to the anchor, the anchor, why not)."""
        from cryptography.hazmat.primitives import hashes

        def issued_by(cert: Any, issuer: Any) -> bool:
            if cert.issuer != issuer.subject:
                return False
            try:
                cert.verify_directly_issued_by(issuer)
                return True
            except Exception:
                return False

        cert, path = leaf, [leaf]
        while len(path) <= 10:
            fp = cert.fingerprint(hashes.SHA256())
            if fp in self.anchor_fps:
                return "ok", path, self.anchor_fps[fp], ""
            for anchor in self.anchors:
                if issued_by(cert, anchor):
                    return "ok", [*path, anchor], anchor, ""
            parent = next((c for c in pool if c is not cert and issued_by(cert, c)), None)
            if parent is None:
                return ("not_anchored", path, None, f"no configured root above {cert.issuer.rfc4514_string()}: "
                        "add the TSA's root to evidence.tsa_ca_files")
            if parent.subject == parent.issuer and issued_by(parent, parent) and \
                    parent.fingerprint(hashes.SHA256()) not in self.anchor_fps:
                return ("not_anchored", path, None, f"the TSA's root {parent.subject.rfc4514_string()} is not "
                        "among evidence.tsa_ca_files: add the TSA's root")
            cert = parent
            path.append(cert)
        return "invalid", path, None, "the certificate chain is too long"


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _find_signer(certs: list[Any], sid_tag: int, sid: bytes) -> Any:
    from cryptography import x509

    for cert in certs:
        if sid_tag == 0x30:  # issuerAndSerialNumber
            parts = _children(sid)
            if int.from_bytes(parts[1][1], "big", signed=True) == cert.serial_number and \
                    _tlv(0x30, parts[0][1]) == cert.issuer.public_bytes():
                return cert
        elif sid_tag == 0x80:  # [0] subjectKeyIdentifier
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid:
                return cert
    return None
