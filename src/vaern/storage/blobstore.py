"""Where the archive's bytes live: a local folder (the default) or an S3-compatible bucket.

Controlled by `archive` (the folder) and `evidence.store` (`kind: local | s3`, and for S3 the
endpoint, bucket, prefix, credentials and optional Object Lock retention). Only storage/archive.py
uses a store; everything else reads evidence through the Archive.

Both stores hold the same keys, archive-relative POSIX paths like `blobs/ab/<sha256>.png`, with
the same meaning, so a manifest, the database's paths and `vaern verify` do not care which one
holds the evidence. A key can never leave the store: `check_key` refuses absolute keys and `..`,
and the folder store also refuses a path that a symbolic link leads out of the folder.

The two logs (chain.jsonl, tokens.jsonl) are append-only lines. A folder appends to a file. S3
has no append, and rewriting one object per line would make every snapshot cost the whole log
and let two writers overwrite each other's line unseen. So on S3 each line is one object,
`chain.jsonl/000000000001`, `chain.jsonl/000000000002`, …, written with a conditional put
(`If-None-Match: *`): a line once written is never replaced, and if two writers ever raced for
the same line number (a chain lock not shared between machines), the second is refused instead
of forking the chain. Read in key order, the objects are byte for byte the file a folder holds.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from vaern.errors import ArchiveError, EvidenceStoreUnavailable

if TYPE_CHECKING:
    from vaern.config.schema import EvidenceStore

LINE_DIGITS = 12  # S3 log lines: room for a trillion, and key order is number order


def check_key(relative: str) -> PurePosixPath:
    """An archive-relative path as a key; refuses anything that could leave the store."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in relative:
        raise ArchiveError(f"{relative!r} is not a path inside the archive")
    return pure


class BlobStore(Protocol):
    """What the archive needs of a place to keep bytes. Missing keys raise FileNotFoundError."""

    where: str  # for messages: the folder, or s3://bucket/prefix

    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def sha256(self, key: str) -> str: ...
    def write_new(self, key: str, data: bytes, *, exist_ok: bool = False) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys(self, folder: str) -> Iterator[str]: ...
    def log_exists(self, name: str) -> bool: ...
    def log_lines(self, name: str) -> Iterator[bytes]: ...
    def log_last(self, name: str) -> bytes | None: ...
    def log_from(self, name: str, offset: int) -> bytes: ...
    def append(self, name: str, line: bytes) -> None: ...
    def lock(self) -> Any: ...  # a context manager: the chain lock among processes of this machine


class FolderStore:
    """The archive folder, as it has always been laid out."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.where = str(self.root)

    def path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).parts)

    def _existing(self, key: str) -> Path:
        # A path from the database is read only if it stays in the folder once links are followed.
        path = self.path(key)
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ArchiveError(f"{key!r} leads out of the archive")
        return path

    def read(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self._existing(key).is_file()
        except ArchiveError:
            return False

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self._existing(key).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def write_new(self, key: str, data: bytes, *, exist_ok: bool = False) -> None:
        """Write a file whole or not at all (temp file, fsync, link into place), read-only after."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, target)  # fails if the target exists: nothing is ever overwritten
            except FileExistsError:
                if not exist_ok:
                    raise ArchiveError(f"{target} exists already; the archive is append-only") from None
        finally:
            os.unlink(tmp)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self, folder: str) -> Iterator[str]:
        base = self.path(folder)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()

    def log_exists(self, name: str) -> bool:
        return self.path(name).exists()

    def log_lines(self, name: str) -> Iterator[bytes]:
        log = self.path(name)
        if not log.exists():
            return
        with log.open("rb") as lines:  # streamed: the log grows without bound
            yield from lines

    def log_last(self, name: str) -> bytes | None:
        """The last non-empty line, read from the end of the file."""
        log = self.path(name)
        if not log.exists():
            return None
        with log.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            chunk = 1 << 16
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                lines = handle.read(size - start).splitlines()
                complete = lines if start == 0 else lines[1:]  # the first may be cut
                for raw in reversed(complete):
                    if raw.strip():
                        return raw
                if start == 0:
                    return None
                chunk *= 4

    def log_from(self, name: str, offset: int) -> bytes:
        log = self.path(name)
        if not log.exists():
            return b""
        with log.open("rb") as handle:
            handle.seek(offset)
            return handle.read()

    def append(self, name: str, line: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.path(name).open("ab") as log:
            log.write(line)
            log.flush()
            os.fsync(log.fileno())

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with _flock(self.root / "chain.lock"):
            yield


class S3Store:
    """An S3-compatible bucket (MinIO, Ceph, AWS), under `prefix`. With `object_lock`, every object
    is written with a retention (mode and days) the bucket's Object Lock then enforces (WORM)."""

    def __init__(self, *, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, lock_mode: str | None = None,
                 retain_days: int | None = None) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.where = f"s3://{bucket}/{self.prefix}"
        self.lock_mode = lock_mode.upper() if lock_mode else None
        self.retain_days = retain_days
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10,
                              read_timeout=60, s3={"addressing_style": "path"}),
        )
        # Log lines are immutable once written: their bytes are kept to count offsets without
        # fetching the whole log for every snapshot (verify reads them afresh).
        self._lines: dict[str, list[tuple[str, bytes]]] = {}
        self._lock_file = Path(tempfile.gettempdir()) / (
            "vaern-chain-" + hashlib.sha256(f"{endpoint_url}|{self.where}".encode()).hexdigest()[:16] + ".lock")

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key).as_posix()

    @contextmanager
    def _speaking(self, what: str) -> Iterator[None]:
        """S3's answers as the archive's: a missing key is FileNotFoundError, a key already taken
        (a conditional put refused) _Taken, anything else (no network, no bucket, wrong keys)
        EvidenceStoreUnavailable, naming the store and never the credentials."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"{self.where}{what}") from None
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise _Taken(what) from None
            raise EvidenceStoreUnavailable(
                f"the evidence store {self.where} refused {what}: {code} {error.get('Message', '')}".rstrip()
            ) from None
        except BotoCoreError as exc:
            raise EvidenceStoreUnavailable(f"the evidence store {self.where} cannot be reached: {exc}") from None

    def read(self, key: str) -> bytes:
        with self._speaking(key):
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            with self._speaking(key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            return False
        return True

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self._speaking(key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def _put(self, key: str, data: bytes) -> bool:
        """Put an object unless one is there already (conditional put); False if one was."""
        extra: dict[str, Any] = {}
        if self.lock_mode and self.retain_days:
            extra["ObjectLockMode"] = self.lock_mode
            extra["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.retain_days)
        # The service checks the bytes it received against their SHA-256 (Object Lock requires a
        # checksum, and evidence should not be stored damaged in transit anyway).
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        try:
            with self._speaking(key.removeprefix(self.prefix)):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*",
                                       ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, **extra)
        except _Taken:
            return False
        return True

    def _landed(self, full_key: str, data: bytes) -> bool:
        # boto3 retries a put whose answer was lost; if the first attempt landed, the retry finds
        # the key taken by our own bytes. That is a write done, not a second writer.
        return self._get(full_key) == data

    def write_new(self, key: str, data: bytes, *, exist_ok: bool = False) -> None:
        full = self._key(key)
        if not self._put(full, data) and not exist_ok and not self._landed(full, data):
            raise ArchiveError(f"{self.where}{key} exists already; the archive is append-only")

    def delete(self, key: str) -> None:
        with self._speaking(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def _get(self, full_key: str) -> bytes:
        with self._speaking(full_key.removeprefix(self.prefix)):
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=full_key)["Body"].read()
        return body

    def _list(self, prefix: str, after: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        args = {"Bucket": self.bucket, "Prefix": prefix}
        if after:
            args["StartAfter"] = after
        with self._speaking(f"the list of {prefix.removeprefix(self.prefix) or '/'}"):
            pages = list(paginator.paginate(**args))
        for page in pages:
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def keys(self, folder: str) -> Iterator[str]:
        for key in self._list(self._key(folder).rstrip("/") + "/"):
            yield key[len(self.prefix):]

    def _line_prefix(self, name: str) -> str:
        return self._key(name) + "/"

    def _fresh_lines(self, name: str) -> list[tuple[str, bytes]]:
        """The log's lines, those already read from memory, newer ones fetched."""
        known = self._lines.setdefault(name, [])
        for key in self._list(self._line_prefix(name), known[-1][0] if known else ""):
            known.append((key, self._get(key)))
        return known

    def log_exists(self, name: str) -> bool:
        return next(self._list(self._line_prefix(name)), None) is not None

    def log_lines(self, name: str) -> Iterator[bytes]:
        # Read afresh: verify must see what the bucket holds now, not what this process read before.
        for key in self._list(self._line_prefix(name)):
            yield self._get(key)

    def log_last(self, name: str) -> bytes | None:
        lines = self._fresh_lines(name)
        return next((raw.rstrip(b"\n") for _, raw in reversed(lines) if raw.strip()), None)

    def log_from(self, name: str, offset: int) -> bytes:
        data = b"".join(raw for _, raw in self._fresh_lines(name))
        return data[offset:]

    def append(self, name: str, line: bytes) -> None:
        lines = self._fresh_lines(name)
        number = len(lines) + 1
        key = f"{self._line_prefix(name)}{number:0{LINE_DIGITS}d}"
        if not self._put(key, line) and not self._landed(key, line):
            raise ArchiveError(
                f"{self.where}{name}: line {number} was written by another writer at the same moment; the chain "
                "lock is not shared between the machines (use a PostgreSQL database for them all)")
        lines.append((key, line))

    @contextmanager
    def lock(self) -> Iterator[None]:
        # Among processes of this machine; across machines the PostgreSQL chain lock (chainlock.py).
        with _flock(self._lock_file):
            yield


class _Taken(Exception):
    """A conditional put found the key taken."""


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_store(settings: EvidenceStore, archive: Path) -> BlobStore:
    """The store `evidence.store` names; the `archive` folder for `kind: local`."""
    if settings.kind == "local":
        return FolderStore(archive)
    assert settings.bucket is not None  # the schema requires it for kind: s3
    return S3Store(
        bucket=settings.bucket, prefix=settings.prefix, endpoint_url=settings.endpoint_url, region=settings.region,
        access_key_id=settings.access_key_id,
        secret_access_key=settings.secret_access_key.get_secret_value() if settings.secret_access_key else None,
        lock_mode=settings.object_lock.mode if settings.object_lock else None,
        retain_days=settings.object_lock.retain_days if settings.object_lock else None,
    )
