"""The evidence archive: content-addressed blobs, one manifest per snapshot, a hash chain.

Controlled by `archive` (the folder) and `evidence.tsa_urls` in the config. Layout, all paths
relative to the archive folder:

    blobs/ab/<sha256>.<ext>             every captured file, named by its SHA-256, written once
    snapshots/s-000456/manifest.json    each file's kind, name, media type, size and SHA-256;
                                        the page, times, status; the previous manifest's SHA-256
    snapshots/s-000456/timestamps/      RFC 3161 replies over the manifest hash (+ TSA certificates)
    chain.jsonl                         one line per manifest, in the order they were stored

Append-only: nothing is overwritten; a second capture of an unchanged file stores no new bytes.
The one deletion is `retire` (retention of dismissed hits, `retention.dismissed_days`): it deletes
a snapshot's manifest, timestamps and the blobs no other snapshot uses, and appends a tombstone
to the chain (`snapshots/s-000456/tombstone.json`, chain entry `"kind": "tombstone"`) saying what
was deleted, with its hashes, when and why. `verify()` then checks the retired snapshot's place in
the chain by its recorded hash, and reports it as retired, not missing.

Hashes are computed at capture (crawler/capture.py) and checked again before anything is
written. The chain is global across the archive, so removing or editing any snapshot breaks the
link from the one stored after it; `verify()` walks it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import clock, ids
from vaern.domain import Capture
from vaern.errors import ArchiveError
from vaern.storage import timestamps as tsp
from vaern.storage.tables import SnapshotRow

MANIFEST_FORMAT = "vaern-snapshot-manifest/1"
TOMBSTONE_FORMAT = "vaern-tombstone/1"
CHAIN = "chain.jsonl"


def snapshot_name(snapshot_id: int | str) -> str:
    """The public id of a snapshot: the database row id as `s-000456`."""
    if isinstance(snapshot_id, int):
        return ids.snapshot(snapshot_id)
    if not ids.is_snapshot(snapshot_id):
        raise ArchiveError(f"{snapshot_id!r} is not a snapshot id like s-000456")
    return snapshot_id


def inside(root: Path, relative: str) -> Path | None:
    """The file a path recorded in the database names under the archive folder `root`; None for
    one that would leave it (`..`, an absolute path, a link out). Paths come from the database:
    nothing outside the archive is ever read through them."""
    root = root.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """The bytes a manifest is hashed and stored as: sorted keys, UTF-8, one final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class StoredSnapshot:
    """Where a capture went: what the pipeline writes into the snapshot's database row."""

    id: str
    manifest_path: str
    manifest_sha256: str
    files: dict[str, dict[str, str]]  # kind -> {"path", "sha256"}
    sequence: int
    timestamps: list[dict[str, str]] = field(default_factory=list)  # tsa, path, certificates, time
    timestamp_errors: list[str] = field(default_factory=list)


class Archive:
    """One archive folder. Safe to use from several processes at once (the chain is locked)."""

    def __init__(self, root: Path, *, tsa_urls: Iterable[str] = (), tsa_timeout: float = 10.0) -> None:
        self.root = Path(root)
        self.tsa_urls = tuple(tsa_urls)
        self.tsa_timeout = tsa_timeout

    # -- reading -------------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        """The absolute path of an archive-relative path; refuses anything that leaves the folder."""
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise ArchiveError(f"{relative!r} is not a path inside the archive")
        return self.root.joinpath(*pure.parts)

    def read(self, relative: str) -> bytes:
        return self.path(relative).read_bytes()

    def manifest(self, relative: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.read(relative))
        return data

    def chain(self) -> list[dict[str, Any]]:
        """The chain log's entries, oldest first (lines that do not parse are skipped here)."""
        return [entry for _, entry, _ in self._chain_lines() if entry is not None]

    # -- writing -------------------------------------------------------------------------------

    def store(self, capture: Capture, snapshot_id: int | str) -> StoredSnapshot:
        """Store a capture as snapshot `snapshot_id`: blobs, manifest, chain link, timestamps."""
        sid = snapshot_name(snapshot_id)
        self.root.mkdir(parents=True, exist_ok=True)
        entries: dict[str, dict[str, Any]] = {}
        for item in capture.files:
            if sha256_hex(item.data) != item.sha256:
                raise ArchiveError(f"{sid}: {item.kind} changed between capture and storage")
            if item.kind in entries:
                raise ArchiveError(f"{sid}: two files of kind {item.kind!r}")
            entries[item.kind] = {
                "name": item.name,
                "media_type": item.media_type,
                "path": self._put_blob(item.data, item.sha256, _extension(item.name)),
                "sha256": item.sha256,
                "size": len(item.data),
            }

        with self._chain_lock():
            head = self._head()
            manifest_path = self._free_manifest_path(sid)
            sequence = (head["sequence"] + 1) if head else 1
            manifest = {
                "format": MANIFEST_FORMAT,
                "snapshot": sid,
                "sequence": sequence,
                "previous": (
                    {"snapshot": head["snapshot"], "manifest": head["manifest"], "sha256": head["sha256"]}
                    if head else None
                ),
                "hash_algorithm": "sha256",
                "url": capture.url,
                "final_url": capture.final_url,
                "http_status": capture.status,
                "site": capture.site_id,
                "reason": capture.reason,
                "title": capture.title,
                "detected_at": clock.iso(capture.detected_at),
                "capture_started_at": clock.iso(capture.started_at),
                "capture_finished_at": clock.iso(capture.finished_at),
                "stored_at": clock.iso(clock.now()),
                "files": entries,
                "notes": list(capture.notes),
            }
            body = canonical_json(manifest)
            digest = sha256_hex(body)
            _write_new(self.path(manifest_path), body)
            line = {"sequence": sequence, "snapshot": sid, "manifest": manifest_path, "sha256": digest,
                    "previous_sha256": head["sha256"] if head else None}
            with (self.root / CHAIN).open("ab") as log:
                log.write(json.dumps(line, sort_keys=True).encode() + b"\n")
                log.flush()
                os.fsync(log.fileno())

        stamps, errors = self.add_timestamps(manifest_path, digest) if self.tsa_urls else ([], [])
        return StoredSnapshot(
            id=sid,
            manifest_path=manifest_path,
            manifest_sha256=digest,
            files={kind: {"path": e["path"], "sha256": e["sha256"]} for kind, e in entries.items()},
            sequence=sequence,
            timestamps=stamps,
            timestamp_errors=errors,
        )

    def retired(self) -> dict[str, dict[str, Any]]:
        """Retired manifests: path -> the chain entry of the tombstone that retired it."""
        return {e["retires"]: e for e in self.chain() if e.get("kind") == "tombstone" and e.get("retires")}

    def retire(self, manifest_paths: Iterable[str], reason: str) -> list[dict[str, Any]]:
        """Delete snapshots' evidence (manifest, timestamps, blobs no live snapshot shares) and
        chain a tombstone for each, naming what was deleted (paths and SHA-256) and `reason`.
        Paths already retired are skipped; returns the tombstone chain entries written."""
        written: list[dict[str, Any]] = []
        with self._chain_lock():
            entries = {e["manifest"]: e for e in self.chain() if e.get("kind") != "tombstone"}
            retired = self.retired()
            wanted = [p for p in dict.fromkeys(manifest_paths) if p not in retired]
            for path in wanted:
                if path not in entries:
                    raise ArchiveError(f"{path} is not a snapshot in the chain; nothing retired")
            files_of: dict[str, dict[str, Any]] = {}
            for path in entries:
                if path not in retired:
                    try:
                        files_of[path] = self.manifest(path).get("files") or {}
                    except (OSError, ValueError, ArchiveError):
                        files_of[path] = {}
            leaving = set(wanted)
            kept_blobs = {f.get("path") for path, files in files_of.items() if path not in leaving
                          for f in files.values()}
            for path in wanted:
                target = entries[path]
                head = self._head()
                assert head is not None
                sid = target["snapshot"]
                tomb_path = self._free_manifest_path(sid, "tombstone")
                deleted = {kind: {"path": f.get("path"), "sha256": f.get("sha256"), "size": f.get("size")}
                           for kind, f in sorted(files_of.get(path, {}).items())}
                tomb = {
                    "format": TOMBSTONE_FORMAT,
                    "snapshot": sid,
                    "sequence": head["sequence"] + 1,
                    "previous": {"snapshot": head["snapshot"], "manifest": head["manifest"], "sha256": head["sha256"]},
                    "hash_algorithm": "sha256",
                    "retires": {"snapshot": sid, "manifest": path, "sha256": target["sha256"]},
                    "deleted_files": deleted,
                    "reason": reason,
                    "deleted_at": clock.iso(clock.now()),
                }
                body = canonical_json(tomb)
                digest = sha256_hex(body)
                _write_new(self.path(tomb_path), body)
                line = {"sequence": tomb["sequence"], "snapshot": sid, "manifest": tomb_path, "sha256": digest,
                        "previous_sha256": head["sha256"], "kind": "tombstone", "retires": path}
                with (self.root / CHAIN).open("ab") as log:
                    log.write(json.dumps(line, sort_keys=True).encode() + b"\n")
                    log.flush()
                    os.fsync(log.fileno())
                written.append(line)
                # Only now, with the tombstone chained, are the files deleted.
                for item in deleted.values():
                    if item["path"] and item["path"] not in kept_blobs:
                        self.path(item["path"]).unlink(missing_ok=True)
                self.path(path).unlink(missing_ok=True)
                stem = PurePosixPath(path).stem
                for stamp in (self.path(path).parent / "timestamps").glob(f"{stem}--*"):
                    stamp.unlink()
        return written

    def add_timestamps(self, manifest_path: str, manifest_sha256: str) -> tuple[list[dict[str, str]], list[str]]:
        """Ask every configured TSA for a token over the manifest hash; keep each reply beside it.

        A TSA that fails is reported, not fatal: the snapshot is stored and chained either way.
        """
        folder = PurePosixPath(manifest_path).parent / "timestamps"
        stamps: list[dict[str, str]] = []
        errors: list[str] = []
        for n, url in enumerate(self.tsa_urls, start=1):
            try:
                stamp = tsp.request_timestamp(url, bytes.fromhex(manifest_sha256), self.tsa_timeout)
            except tsp.TimestampError as exc:
                errors.append(str(exc))
                continue
            stem = f"{PurePosixPath(manifest_path).stem}--{n}-{_slug(urlsplit(url).hostname or 'tsa')}"
            tsr, pem = str(folder / f"{stem}.tsr"), str(folder / f"{stem}.pem")
            self.path(tsr).parent.mkdir(parents=True, exist_ok=True)
            _write_new(self.path(tsr), stamp.response)
            _write_new(self.path(pem), stamp.certificates_pem)
            stamps.append({"tsa": url, "path": tsr, "certificates": pem, "sha256": sha256_hex(stamp.response),
                           "time": clock.iso(stamp.info.gen_time)})
        return stamps, errors

    def _put_blob(self, data: bytes, digest: str, ext: str) -> str:
        relative = f"blobs/{digest[:2]}/{digest}{ext}"
        target = self.path(relative)
        if target.exists():
            return relative  # same bytes already stored: nothing new is written
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_new(target, data, exist_ok=True)
        return relative

    def _free_manifest_path(self, sid: str, stem: str = "manifest") -> str:
        # A manifest already under this id belongs to a capture whose database transaction was
        # rolled back (SQLite hands the id out again). It stays, chained; this one goes beside it.
        n = 1
        while True:
            name = f"{stem}.json" if n == 1 else f"{stem}.{n}.json"
            relative = f"snapshots/{sid}/{name}"
            if not self.path(relative).exists():
                return relative
            n += 1

    @contextmanager
    def _chain_lock(self) -> Iterator[None]:
        with (self.root / "chain.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _head(self) -> dict[str, Any] | None:
        """The last chain entry, read from the end of the log (it grows with every snapshot)."""
        log = self.root / CHAIN
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
                        try:
                            entry: dict[str, Any] = json.loads(raw)
                            return entry
                        except ValueError:
                            raise ArchiveError(f"{CHAIN} ends in a damaged line; run `vaern verify`") from None
                if start == 0:
                    return None
                chunk *= 4

    def _chain_lines(self) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        log = self.root / CHAIN
        if not log.exists():
            return
        for number, raw in enumerate(log.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict) or not {"sequence", "snapshot", "manifest", "sha256"} <= entry.keys():
                    raise ValueError
            except ValueError:
                yield number, None, raw
                continue
            yield number, entry, raw

    # -- verifying -----------------------------------------------------------------------------

    def verify(self, expected: Iterable[tuple[str, str]] | None = None) -> list[str]:
        """Re-hash every file and manifest and walk the chain; return each problem found.

        `expected` are (manifest_path, manifest_sha256) pairs from the database: each must be in
        the chain with that hash. An empty list means the archive is intact.
        """
        problems: list[str] = []
        hashed: dict[str, str | None] = {}
        seen_manifests: set[str] = set()
        chain_hash: dict[str, str] = {}
        previous: dict[str, Any] | None = None
        retired = self.retired()
        for number, entry, raw in self._chain_lines():
            if entry is None:
                problems.append(f"{CHAIN} line {number}: not a chain entry: {raw[:80]!r}")
                continue
            if entry.get("kind") == "tombstone":
                problems.extend(self._verify_tombstone(entry, chain_hash))
            sid, path, digest = entry["snapshot"], entry["manifest"], entry["sha256"]
            want_seq = previous["sequence"] + 1 if previous else 1
            if entry["sequence"] != want_seq:
                problems.append(
                    f"{sid}: chain entry {entry['sequence']} follows entry {want_seq - 1}; "
                    f"{entry['sequence'] - want_seq} entr{'y is' if entry['sequence'] - want_seq == 1 else 'ies are'}"
                    f" missing from {CHAIN}"
                )
            seen_manifests.add(path)
            chain_hash[path] = digest
            if path in retired:  # deleted by retention: its place in the chain is its recorded hash
                link = self._recorded_hash(retired[path])
                if link is None:
                    problems.append(f"{sid}: retired, but its tombstone {retired[path]['manifest']} cannot be read")
                elif link != digest:
                    problems.append(f"{sid}: the chain's hash {digest} of the retired manifest is not its tombstone's "
                                    f"({link})")
            else:
                problems.extend(self._verify_manifest(sid, path, digest, previous, hashed))
            previous = entry

        on_disk = {p.relative_to(self.root).as_posix() for p in (self.root / "snapshots").glob("*/manifest*.json")}
        for path in sorted(on_disk - seen_manifests):
            problems.append(f"{path}: a manifest that is not in the chain ({CHAIN})")

        for path, digest in expected or ():
            if path not in chain_hash:
                where = "is missing from the archive" if not self.path(path).exists() else "is not in the chain"
                problems.append(f"{path}: recorded in the database but {where}")
            elif chain_hash[path] != digest:
                problems.append(
                    f"{path}: the database records SHA-256 {digest}, the chain {chain_hash[path]}"
                )
        return problems

    def _recorded_hash(self, tomb: dict[str, Any]) -> str | None:
        """The SHA-256 a tombstone (its chain entry) recorded for the manifest it retired."""
        try:
            recorded = json.loads(self.read(tomb["manifest"])).get("retires") or {}
        except (OSError, ValueError, ArchiveError):
            return None
        return str(recorded.get("sha256")) if recorded.get("sha256") else None

    def _verify_tombstone(self, entry: dict[str, Any], chain_hash: dict[str, str]) -> list[str]:
        """A tombstone must name a snapshot stored before it, with the hash the chain has for it."""
        retires = entry.get("retires")
        if retires not in chain_hash:
            return [f"{entry['snapshot']}: tombstone {entry['manifest']} retires {retires}, "
                    "which is not earlier in the chain"]
        return []

    def _verify_manifest(
        self, sid: str, path: str, digest: str, previous: dict[str, Any] | None, hashed: dict[str, str | None]
    ) -> list[str]:
        problems: list[str] = []
        try:
            body = self.read(path)
        except (OSError, ArchiveError):
            between = f" between {previous['snapshot']} and the next snapshot" if previous else ""
            return [f"{sid}: manifest {path} is missing (snapshot removed?); the chain is broken{between}"]
        actual = sha256_hex(body)
        if actual != digest:
            problems.append(f"{sid}: manifest {path} was changed after it was stored "
                            f"(SHA-256 {actual}, chain says {digest})")
        try:
            manifest = json.loads(body)
        except ValueError:
            return [*problems, f"{sid}: manifest {path} is not valid JSON"]
        link = manifest.get("previous") or {}
        want = previous["sha256"] if previous else None
        if link.get("sha256") != want:
            before = previous["snapshot"] if previous else "nothing"
            problems.append(
                f"{sid}: chain broken: its manifest names previous manifest SHA-256 {link.get('sha256')} "
                f"({link.get('snapshot')}), but the snapshot stored before it is {before} ({want})"
            )
        for kind, item in sorted((manifest.get("files") or {}).items()):
            blob = item.get("path", "")
            if blob not in hashed:
                try:
                    hashed[blob] = file_sha256(self.path(blob))
                except (OSError, ArchiveError):
                    hashed[blob] = None
            if hashed[blob] is None:
                problems.append(f"{sid}: {kind} file {blob} is missing")
            elif hashed[blob] != item.get("sha256"):
                problems.append(f"{sid}: {kind} file {blob} has changed (SHA-256 {hashed[blob]}, "
                                f"manifest says {item.get('sha256')})")
        problems.extend(self._verify_timestamps(sid, path, digest))
        return problems

    def _verify_timestamps(self, sid: str, path: str, digest: str) -> list[str]:
        problems: list[str] = []
        folder = self.path(path).parent / "timestamps"
        stem = PurePosixPath(path).stem
        for tsr in sorted(folder.glob(f"{stem}--*.tsr")):
            shown = tsr.relative_to(self.root).as_posix()
            try:
                info = tsp.parse_token(tsp.token_from_response(tsr.read_bytes()))
            except (tsp.TimestampError, IndexError, ValueError):
                problems.append(f"{sid}: timestamp {shown} is not a readable RFC 3161 reply")
                continue
            if info.imprint.hex() != digest:
                problems.append(f"{sid}: timestamp {shown} covers {info.imprint.hex()}, not the manifest {digest}")
                continue
            pem = tsr.with_suffix(".pem")
            why = tsp.openssl_verify(tsr, digest, pem) if pem.exists() and pem.stat().st_size else None
            if why and "not installed" not in why:
                problems.append(f"{sid}: timestamp {shown} does not verify: {why}")
        return problems


def _extension(name: str) -> str:
    suffixes = PurePosixPath(name).suffixes
    ext = "".join(suffixes[-2:]) if suffixes[-2:-1] == [".warc"] else (suffixes[-1] if suffixes else "")
    return ext if re.fullmatch(r"(\.[A-Za-z0-9]{1,8}){0,2}", ext) else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")[:60] or "tsa"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_new(target: Path, data: bytes, exist_ok: bool = False) -> None:
    """Write a file whole or not at all (temp file, fsync, link into place), read-only after."""
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


def expected_manifests(session: Session) -> list[tuple[str, str]]:
    """(manifest_path, manifest_sha256) of every snapshot the database knows, for `verify()`."""
    rows = session.execute(select(SnapshotRow.manifest_path, SnapshotRow.manifest_sha256).order_by(SnapshotRow.id))
    return [(path, digest) for path, digest in rows]


def record_snapshot(session: Session, archive: Archive, capture: Capture, page_id: int) -> SnapshotRow:
    """File a capture: insert its row (for the id), store it under that id, fill the row in.

    Call inside the transaction that also records the hit's change, so that the row and the
    hit commit together. If that transaction rolls back after this, the archive keeps the stored
    manifest (append-only) and a later snapshot that gets the same id is stored beside it.
    """
    row = SnapshotRow(page_id=page_id, captured_at=_naive_utc(capture.started_at), reason=capture.reason,
                      manifest_path="", manifest_sha256="", files={})
    session.add(row)
    session.flush()
    stored = archive.store(capture, row.id)
    row.manifest_path, row.manifest_sha256, row.files = stored.manifest_path, stored.manifest_sha256, stored.files
    session.flush()
    return row


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
