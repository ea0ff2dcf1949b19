"""The evidence archive: content-addressed blobs, one manifest per snapshot, a hash chain.

Controlled by `archive` (the folder), `evidence.store` (that folder, or an S3-compatible bucket:
storage/blobstore.py) and `evidence.tsa_urls` in the config. The archive is the only reader and
writer of evidence: the review app, the e-mails, the export and verify all go through it. Layout,
all paths relative to the archive folder or the bucket's prefix:

    blobs/ab/<sha256>.<ext>             every captured file, named by its SHA-256, written once
    snapshots/s-000456/manifest.json    each file's kind, name, media type, size and SHA-256;
                                        the page, times, status; the previous manifest's SHA-256
    snapshots/s-000456/timestamps/      RFC 3161 replies over the manifest hash (+ TSA certificates)
    anchors/                            RFC 3161 replies over the chain's head (storage/anchoring.py)
    chain.jsonl                         one line per manifest, in the order they were stored
    tokens.jsonl                        one line per token obtained: what it covers, its SHA-256

Tokens are part of the record: each manifest names every token logged since the manifest before
it (`tokens`), so the chain covers them, and the database keeps them too (storage/stamping.py).
`evidence.tsa_ca_files` are the roots a token must chain up to; verify says what it cannot prove
without them.

Append-only: nothing is overwritten; a second capture of an unchanged file stores no new bytes.
The one deletion is `retire` (retention of dismissed hits, `retention.dismissed_days`): it deletes
a snapshot's manifest, timestamps and the blobs no other snapshot uses, and appends a tombstone
to the chain (`snapshots/s-000456/tombstone.json`, chain entry `"kind": "tombstone"`) saying what
was deleted, with its hashes, when and why. `verify()` then checks the retired snapshot's place in
the chain by its recorded hash, and reports it as retired, not missing.

Hashes are computed at capture (crawler/capture.py) and checked again before anything is
written. The chain is global across the archive, so removing or editing any snapshot breaks the
link from the one stored after it; `verify()` walks it.

Appending to the chain is serialised, so that no two writers chain to the same head: where the
database is PostgreSQL (workers on several machines), by an advisory lock in it
(storage/chainlock.py, passed in as `chain_lock`); else by a file lock among the processes of one
machine. On S3 a conditional put backs this up: a line is never written twice (blobstore.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import clock, ids
from vaern.domain import Capture
from vaern.errors import ArchiveError
from vaern.storage import timestamps as tsp
from vaern.storage.blobstore import BlobStore, FolderStore, check_key
from vaern.storage.tables import SnapshotRow, TimestampRow

MANIFEST_FORMAT = "vaern-snapshot-manifest/1"
TOMBSTONE_FORMAT = "vaern-tombstone/1"
CHAIN = "chain.jsonl"
TOKENS = "tokens.jsonl"
_log = logging.getLogger(__name__)


def snapshot_name(snapshot_id: int | str) -> str:
    """The public id of a snapshot: the database row id as `s-000456`."""
    if isinstance(snapshot_id, int):
        return ids.snapshot(snapshot_id)
    if not ids.is_snapshot(snapshot_id):
        raise ArchiveError(f"{snapshot_id!r} is not a snapshot id like s-000456")
    return snapshot_id


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
    timestamps: list[dict[str, str]] = field(default_factory=list)  # tsa, path, certificates, sha256, time
    timestamp_errors: list[str] = field(default_factory=list)
    failed_tsas: list[tuple[str, str]] = field(default_factory=list)  # (tsa url, why): owed, to retry


@dataclass(frozen=True)
class ArchivedFile:
    """One evidence file named by the database, read through its archive when asked."""

    archive: Archive
    path: str
    sha256: str

    @classmethod
    def of(cls, archive: Archive, entry: object) -> ArchivedFile | None:
        """The file a snapshot's file-map entry ({"path", "sha256"}) names, or None for no entry."""
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return None
        return cls(archive, entry["path"], str(entry.get("sha256") or ""))

    def read(self) -> bytes:
        return self.archive.read(self.path)


@dataclass
class VerifyReport:
    """What `verify` found: problems (tampering or loss: exit 1) and what it cannot prove."""

    problems: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)
    chain_length: int = 0
    tokens_ok: int = 0
    tokens_not_anchored: int = 0
    anchored_through: int = 0  # the highest chain sequence a valid head stamp covers
    anchored_at: str | None = None

class Archive:
    """One archive, in a folder or a bucket (`root` is a folder or a BlobStore). Safe to use from
    several processes at once (the chain is locked: by `chain_lock` where given, else by the store)."""

    def __init__(self, root: Path | str | BlobStore, *, tsa_urls: Iterable[str] = (), tsa_timeout: float = 10.0,
                 tsa_ca_files: Iterable[Path] = (),
                 chain_lock: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        self.blobs: BlobStore = FolderStore(Path(root)) if isinstance(root, (str, os.PathLike)) else root
        self.tsa_urls = tuple(tsa_urls)
        self.tsa_timeout = tsa_timeout
        self.tsa_ca_files = tuple(Path(p) for p in tsa_ca_files)
        self.chain_lock = chain_lock

    @property
    def where(self) -> str:
        return self.blobs.where

    @property
    def root(self) -> Path:
        """The archive folder (only an archive kept in a folder has one)."""
        if not isinstance(self.blobs, FolderStore):
            raise ArchiveError(f"the archive is in {self.blobs.where}, not in a folder")
        return self.blobs.root

    # -- reading -------------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        """The absolute path of an archive-relative path in a folder archive; refuses anything that
        leaves the folder."""
        check_key(relative)
        return self.root.joinpath(*PurePosixPath(relative).parts)

    def read(self, relative: str) -> bytes:
        """An evidence file's bytes. A path from the database that would leave the archive is
        refused (ArchiveError); a missing file raises FileNotFoundError."""
        return self.blobs.read(relative)

    def exists(self, relative: str) -> bool:
        check_key(relative)
        return self.blobs.exists(relative)

    def sha256_of(self, relative: str) -> str:
        """The SHA-256 of an evidence file as stored now, read in blocks."""
        return self.blobs.sha256(relative)

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
            tokens_from = int(head.get("tokens_offset", 0)) if head else 0
            tokens_to, new_tokens = self._tokens_since(tokens_from)
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
                # Every token obtained since the manifest before this one (for it, for older
                # snapshots whose TSA answered late, for the chain's head): sealed into the chain.
                "tokens": {"log": TOKENS, "from_offset": tokens_from, "to_offset": tokens_to,
                           "entries": new_tokens},
            }
            body = canonical_json(manifest)
            digest = sha256_hex(body)
            self.blobs.write_new(manifest_path, body)
            line = {"sequence": sequence, "snapshot": sid, "manifest": manifest_path, "sha256": digest,
                    "previous_sha256": head["sha256"] if head else None, "tokens_offset": tokens_to}
            self.blobs.append(CHAIN, json.dumps(line, sort_keys=True).encode() + b"\n")

        stamps, failed = self.add_timestamps(manifest_path, digest) if self.tsa_urls else ([], [])
        return StoredSnapshot(
            id=sid,
            manifest_path=manifest_path,
            manifest_sha256=digest,
            files={kind: {"path": e["path"], "sha256": e["sha256"]} for kind, e in entries.items()},
            sequence=sequence,
            timestamps=stamps,
            timestamp_errors=[why for _, why in failed],
            failed_tsas=failed,
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
                self.blobs.write_new(tomb_path, body)
                # The token log is sealed by manifests only: the next one takes up where the last left it.
                line = {"sequence": tomb["sequence"], "snapshot": sid, "manifest": tomb_path, "sha256": digest,
                        "previous_sha256": head["sha256"], "kind": "tombstone", "retires": path,
                        "tokens_offset": int(head.get("tokens_offset", 0))}
                self.blobs.append(CHAIN, json.dumps(line, sort_keys=True).encode() + b"\n")
                written.append(line)
                # Only now, with the tombstone chained, are the files deleted.
                for item in deleted.values():
                    if item["path"] and item["path"] not in kept_blobs:
                        self.blobs.delete(item["path"])
                self.blobs.delete(path)
                stem = PurePosixPath(path).stem
                for stamp in list(self.blobs.keys(str(PurePosixPath(path).parent / "timestamps"))):
                    if PurePosixPath(stamp).name.startswith(f"{stem}--"):
                        self.blobs.delete(stamp)
        return written

    def add_timestamps(
        self, manifest_path: str, manifest_sha256: str, tsa_urls: Iterable[str] | None = None
    ) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
        """Ask every configured TSA (or those given) for a token over the manifest hash; keep each
        reply beside it and log it. A TSA that fails is returned with why, not fatal: the snapshot
        is stored and chained either way, and the token is owed (storage/stamping.py retries it)."""
        folder = PurePosixPath(manifest_path).parent / "timestamps"
        stem = PurePosixPath(manifest_path).stem
        sid = PurePosixPath(manifest_path).parent.name
        return self.stamp("manifest", manifest_path, manifest_sha256, folder, stem,
                          self.tsa_urls if tsa_urls is None else tuple(tsa_urls), snapshot=sid)

    def stamp(
        self, subject: str, target: str, digest: str, folder: PurePosixPath, stem: str, tsa_urls: Iterable[str],
        **extra: Any,
    ) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
        """Tokens over `digest` from each TSA, written under `folder` and logged in tokens.jsonl."""
        stamps: list[dict[str, str]] = []
        failed: list[tuple[str, str]] = []
        for url in tsa_urls:
            try:
                stamp = tsp.request_timestamp(url, bytes.fromhex(digest), self.tsa_timeout)
            except tsp.TimestampError as exc:
                failed.append((url, str(exc)))
                continue
            host = _slug(urlsplit(url).hostname or "tsa")
            with self._chain_lock():
                n = 1
                while self.blobs.exists(str(folder / f"{stem}--{n}-{host}.tsr")):
                    n += 1
                tsr, pem = str(folder / f"{stem}--{n}-{host}.tsr"), str(folder / f"{stem}--{n}-{host}.pem")
                self.blobs.write_new(tsr, stamp.response)
                self.blobs.write_new(pem, stamp.certificates_pem)
                entry = {"subject": subject, "target": target, "digest": digest, "tsa": url, "path": tsr,
                         "sha256": sha256_hex(stamp.response), "certificates": pem,
                         "certificates_sha256": sha256_hex(stamp.certificates_pem),
                         "time": clock.iso(stamp.info.gen_time), **extra}
                self.blobs.append(TOKENS, json.dumps(entry, sort_keys=True).encode() + b"\n")
            stamps.append(entry)
        return stamps, failed

    def _tokens_since(self, offset: int) -> tuple[int, list[dict[str, Any]]]:
        """(end offset, entries) of the token log after `offset` (called under the chain lock)."""
        data = self.blobs.log_from(TOKENS, offset)
        if not data:
            return offset if self.blobs.log_exists(TOKENS) else 0, []
        # Only whole lines: a line being written right now belongs to the next manifest.
        whole = data[: data.rfind(b"\n") + 1] if b"\n" in data else b""
        entries = []
        for raw in whole.splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                raise ArchiveError(f"{TOKENS} holds a damaged line; run `vaern verify`") from None
            entries.append({k: entry[k] for k in ("subject", "target", "digest", "tsa", "path", "sha256",
                                                  "certificates", "certificates_sha256", "time", "sequence")
                            if k in entry})
        return offset + len(whole), entries

    def token_log(self) -> list[dict[str, Any]]:
        """Every token logged, oldest first (damaged lines are reported by verify, skipped here)."""
        out = []
        for raw in b"".join(self.blobs.log_lines(TOKENS)).splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def _put_blob(self, data: bytes, digest: str, ext: str) -> str:
        relative = f"blobs/{digest[:2]}/{digest}{ext}"
        if self.blobs.exists(relative):
            return relative  # same bytes already stored: nothing new is written
        self.blobs.write_new(relative, data, exist_ok=True)
        return relative

    def _free_manifest_path(self, sid: str, stem: str = "manifest") -> str:
        # A manifest already under this id belongs to a capture whose database transaction was
        # rolled back (SQLite hands the id out again). It stays, chained; this one goes beside it.
        n = 1
        while True:
            name = f"{stem}.json" if n == 1 else f"{stem}.{n}.json"
            relative = f"snapshots/{sid}/{name}"
            if not self.blobs.exists(relative):
                return relative
            n += 1

    @contextmanager
    def _chain_lock(self) -> Iterator[None]:
        # The database's lock where there is one (it spans machines, so it serialises this
        # machine's processes too); else the store's file lock, for the processes of one machine.
        with self.chain_lock() if self.chain_lock is not None else self.blobs.lock():
            yield

    def head(self) -> dict[str, Any] | None:
        """The newest chain entry (sequence, snapshot, manifest, sha256), or None for an empty archive."""
        return self._head()

    def stamp_head(self, manifest_path: str, digest: str, tsa_urls: Iterable[str]
                   ) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
        """Tokens over a chain entry's manifest hash (the head when it was asked for), under anchors/."""
        sequence = next((int(e["sequence"]) for e in self.chain() if e["manifest"] == manifest_path), 0)
        return self.stamp("head", manifest_path, digest, PurePosixPath("anchors"), f"head-{sequence:06d}",
                          tsa_urls, sequence=sequence)

    def _head(self) -> dict[str, Any] | None:
        """The last chain entry, read from the end of the log (it grows with every snapshot)."""
        raw = self.blobs.log_last(CHAIN)
        if raw is None:
            return None
        try:
            entry: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise ArchiveError(f"{CHAIN} ends in a damaged line; run `vaern verify`") from None
        return entry

    def _chain_lines(self) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        lines = (raw.decode("utf-8", errors="replace") for raw in self.blobs.log_lines(CHAIN))
        yield from self._parse_chain_lines(lines)  # streamed: the log grows without bound

    @staticmethod
    def _parse_chain_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        for number, raw in enumerate(lines, start=1):
            raw = raw.rstrip("\n")
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
        return self.check(expected).problems

    def check(
        self, expected: Iterable[tuple[str, str]] | None = None, *,
        file_maps: dict[str, dict[str, Any]] | None = None,
        db_tokens: Iterable[tuple[str, str]] | None = None,
    ) -> VerifyReport:
        """Everything verify proves, and what it cannot: files, manifests, the chain, the tokens
        (recorded, present, unaltered, covering what they name, signed, anchored), the head stamps,
        and what the database says: `expected` (manifest_path, manifest_sha256), `file_maps`
        (manifest_path -> the database's file map) and `db_tokens` ((path, sha256) of tokens)."""
        report = VerifyReport()
        problems = report.problems
        hashed: dict[str, str | None] = {}
        seen_manifests: set[str] = set()
        chain_hash: dict[str, str] = {}
        actual_hash: dict[int, tuple[str, str]] = {}  # sequence -> (manifest path, its SHA-256 now)
        map_problems: list[str] = []  # the database's file maps, compared as the walk reads each manifest
        chained_tokens: dict[str, str] = {}  # token path -> SHA-256, as the manifests name them
        # Retention deletes a dismissed snapshot on purpose and chains a tombstone for it (`retire`):
        # what the walk checks of it is the hash its tombstone recorded; its tokens went with it.
        retired_by = self.retired()
        retired = set(retired_by)
        previous: dict[str, Any] | None = None
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
            if path in retired_by:  # deleted by retention: its place in the chain is its recorded hash
                link = self._recorded_hash(retired_by[path])
                if link is None:
                    problems.append(f"{sid}: retired, but its tombstone {retired_by[path]['manifest']} cannot be read")
                elif link != digest:
                    problems.append(f"{sid}: the chain's hash {digest} of the retired manifest is not its tombstone's "
                                    f"({link})")
                else:
                    actual_hash[int(entry["sequence"])] = (path, link)
                previous = entry
                continue
            found, manifest, now = self._verify_manifest(sid, path, digest, previous, hashed)
            problems.extend(found)
            if now is not None:
                actual_hash[int(entry["sequence"])] = (path, now)
            if manifest is not None:
                if file_maps is not None and path in file_maps:
                    map_problems.extend(file_map_problems(path, file_maps[path], _dict(manifest.get("files"))))
                for token in _list(_dict(manifest.get("tokens")).get("entries")):
                    if isinstance(token, dict) and isinstance(token.get("path"), str):
                        chained_tokens[token["path"]] = str(token.get("sha256"))
            previous = entry
        report.chain_length = len(chain_hash)

        on_disk = {key for key in self.blobs.keys("snapshots")
                   if re.fullmatch(r"snapshots/[^/]+/manifest[^/]*\.json", key)}
        for path in sorted(on_disk - seen_manifests):
            problems.append(f"{path}: a manifest that is not in the chain ({CHAIN})")

        for path, digest in expected or ():
            if path not in chain_hash:
                where = "is missing from the archive" if not self._exists(path) else "is not in the chain"
                problems.append(f"{path}: recorded in the database but {where}")
            elif chain_hash[path] != digest:
                problems.append(
                    f"{path}: the database records SHA-256 {digest}, the chain {chain_hash[path]}"
                )
        problems.extend(map_problems)

        self._check_tokens(report, chain_hash, actual_hash, chained_tokens, db_tokens, retired)
        return report

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
    ) -> tuple[list[str], dict[str, Any] | None, str | None]:
        problems: list[str] = []
        try:
            body = self.read(path)
        except (OSError, ArchiveError):
            between = f" between {previous['snapshot']} and the next snapshot" if previous else ""
            return [f"{sid}: manifest {path} is missing (snapshot removed?); the chain is broken{between}"], None, None
        actual = sha256_hex(body)
        if actual != digest:
            problems.append(f"{sid}: manifest {path} was changed after it was stored "
                            f"(SHA-256 {actual}, chain says {digest})")
        try:
            manifest = json.loads(body)
            if not isinstance(manifest, dict):
                raise ValueError
        except ValueError:
            return [*problems, f"{sid}: manifest {path} is not valid JSON"], None, actual
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
                    hashed[blob] = self.blobs.sha256(blob)
                except (OSError, ArchiveError):
                    hashed[blob] = None
            if hashed[blob] is None:
                problems.append(f"{sid}: {kind} file {blob} is missing")
            elif hashed[blob] != item.get("sha256"):
                problems.append(f"{sid}: {kind} file {blob} has changed (SHA-256 {hashed[blob]}, "
                                f"manifest says {item.get('sha256')})")
        return problems, manifest, actual

    def anchors(self) -> list[Any]:
        return tsp.load_anchors(list(self.tsa_ca_files)) if self.tsa_ca_files else []

    def _check_tokens(
        self, report: VerifyReport, chain_hash: dict[str, str], actual_hash: dict[int, tuple[str, str]],
        chained: dict[str, str], db_tokens: Iterable[tuple[str, str]] | None, retired: set[str] | None = None,
    ) -> None:
        """Every token: recorded (log, chain, database agree), present, unaltered, covering the
        manifest it names, signed, and anchored to a configured root. Head stamps: how far the
        chain is anchored, and whether anything they cover has changed since."""
        problems, unproven = report.problems, report.unproven
        try:
            anchors = self.anchors()
        except (OSError, ValueError) as exc:
            anchors = []
            problems.append(f"evidence.tsa_ca_files cannot be read: {exc}")
        verifier = tsp.TokenVerifier(anchors)
        logged: dict[str, dict[str, Any]] = {}
        for entry in self.token_log():
            if isinstance(entry.get("path"), str):
                logged[entry["path"]] = entry
        recorded: dict[str, str] = {p: str(e.get("sha256")) for p, e in logged.items()}
        for path, digest in chained.items():
            if path not in logged:
                problems.append(f"timestamp {path}: named in the chain but gone from {TOKENS}")
            recorded.setdefault(path, digest)
        db = dict(db_tokens or ())
        for path, digest in sorted(db.items()):
            if path not in recorded:
                problems.append(f"timestamp {path}: recorded in the database but not in the archive's record")
            recorded.setdefault(path, digest)
        by_manifest_path = {path: seq for seq, (path, _) in actual_hash.items()}
        sealed_hash = {path: digest for path, digest in chain_hash.items()}
        legacy = self._legacy_tokens(set(recorded))
        not_anchored: set[str] = set()
        for path, want in sorted({**recorded, **legacy}.items()):
            entry = logged.get(path, {})
            sid = PurePosixPath(path).parent.parent.name if path.startswith("snapshots/") else "chain head"
            target = entry.get("target") or _manifest_of_token(path)
            try:
                data = self.read(path)
            except (OSError, ArchiveError):
                if str(target) not in (retired or set()):  # retention deletes a retired snapshot's tokens with it
                    problems.append(f"{sid}: timestamp {path} is missing (deleted?)")
                continue
            subject = entry.get("subject") or "manifest"
            seq = by_manifest_path.get(str(target))
            now = actual_hash[seq][1] if seq is not None and seq in actual_hash else None
            digest_named = entry.get("digest") or sealed_hash.get(str(target))
            try:
                info = tsp.parse_token(tsp.token_from_response(data))
            except (tsp.TimestampError, IndexError, ValueError):
                problems.append(f"{sid}: timestamp {path} is not a readable RFC 3161 reply")
                continue
            imprint = info.imprint.hex()
            if subject == "manifest" and imprint != (now or digest_named):
                problems.append(f"{sid}: timestamp {path} covers {imprint}, not the manifest {now or digest_named}")
                continue
            verdict = verifier.verify(data, info.imprint)
            if verdict.status == "unsupported":
                why = self._openssl_verify(path, imprint, str(entry.get("certificates") or _pem_of(path)))
                verdict = tsp.Verdict("not_anchored" if why is None or "not installed" in why else "invalid",
                                      why or "")
            if verdict.status == "invalid":
                problems.append(f"{sid}: timestamp {path} does not verify: {verdict.reason}")
                continue
            if path in legacy:
                unproven.append(f"{sid}: timestamp {path} is recorded nowhere (stored before tokens were "
                                "recorded); a deleted token of that age would not be noticed")
            elif sha256_hex(data) != want:
                problems.append(f"{sid}: timestamp {path} was replaced after it was recorded "
                                f"(SHA-256 {sha256_hex(data)}, recorded {want})")
                continue
            if verdict.status == "not_anchored":
                not_anchored.add(str(entry.get("tsa") or verdict.signer))
                report.tokens_not_anchored += 1
            else:
                report.tokens_ok += 1
            if subject == "head" and seq is not None:
                if now is not None and imprint != now:
                    problems.append(
                        f"chain head entry {seq} ({target}) was stamped at {clock.iso(info.gen_time)} with "
                        f"SHA-256 {imprint}; it is now {now}: a snapshot at or before entry {seq} was "
                        "changed and the chain re-sealed after that time")
                elif verdict.status == "ok" and seq > report.anchored_through:
                    report.anchored_through, report.anchored_at = seq, clock.iso(info.gen_time)
        for path in self._token_files() - set(recorded) - set(legacy):
            problems.append(f"timestamp {path}: a token file recorded nowhere (added after the fact?)")
        for tsa in sorted(not_anchored):
            unproven.append(f"tokens from {tsa} are not anchored: add the TSA's root to evidence.tsa_ca_files "
                            "(their signatures hold, but whose key signed them is not proven)")
        if not recorded and not legacy:
            unproven.append("no trusted timestamps: nothing proves when the snapshots existed, only our own clock "
                            "(set evidence.tsa_urls)")
        elif not anchors:
            unproven.append("no trust anchors (evidence.tsa_ca_files): the tokens' signatures are checked "
                            "against the certificates the TSA sent, which does not prove who signed them")
        unanchored = report.chain_length - report.anchored_through
        if report.chain_length and unanchored:
            unproven.append(
                f"{unanchored} of {report.chain_length} chain entr{'y is' if unanchored == 1 else 'ies are'} newer "
                "than the last timestamped chain head: an insider with write access could still rewrite "
                + ("them" if report.anchored_through else "the whole chain")
                + " undetected")

    def _exists(self, path: str) -> bool:
        try:
            return self.exists(path)
        except ArchiveError:
            return False

    def _openssl_verify(self, token: str, imprint: str, certificates: str) -> str | None:
        """`openssl ts -verify` needs files: the token and its certificates, copied out of the store."""
        with tempfile.TemporaryDirectory(prefix="vaern-token-") as tmp:
            tsr, pem = Path(tmp) / "token.tsr", Path(tmp) / "chain.pem"
            tsr.write_bytes(self.read(token))
            try:
                pem.write_bytes(self.read(certificates))
            except (OSError, ArchiveError):
                pem.write_bytes(b"")
            return tsp.openssl_verify(tsr, imprint, pem)

    def timestamp_files(self, manifest_path: str) -> list[str]:
        """The token files (.tsr) kept beside a manifest, in name order."""
        folder = PurePosixPath(manifest_path).parent / "timestamps"
        stem = PurePosixPath(manifest_path).stem
        return sorted(key for key in self.blobs.keys(str(folder))
                      if PurePosixPath(key).name.startswith(f"{stem}--") and key.endswith(".tsr"))

    def _token_files(self) -> set[str]:
        found = {key for key in self.blobs.keys("snapshots")
                 if re.fullmatch(r"snapshots/[^/]+/timestamps/[^/]+\.tsr", key)}
        found |= {key for key in self.blobs.keys("anchors") if re.fullmatch(r"anchors/[^/]+\.tsr", key)}
        return found

    def _legacy_tokens(self, recorded: set[str]) -> dict[str, str]:
        """Tokens of manifests sealed before tokens were recorded (no `tokens` in any manifest yet)."""
        if self.blobs.log_exists(TOKENS) or recorded:
            return {}
        return {p: "" for p in self._token_files() if p.startswith("snapshots/")}


def file_map_problems(manifest_path: str, db_files: Any, manifest_files: dict[str, Any] | None) -> list[str]:
    """Where the database's file map of a snapshot (`snapshots.files`, what the app shows) differs
    from its manifest (what was sealed)."""
    if manifest_files is None:
        return []  # the manifest itself is reported missing or unreadable
    db = db_files if isinstance(db_files, dict) else {}
    out = []
    for kind in sorted(set(db) | set(manifest_files)):
        mine, sealed = _dict(db.get(kind)), _dict(manifest_files.get(kind))
        if not sealed:
            out.append(f"{manifest_path}: the database lists a {kind} file the manifest does not have")
        elif not mine:
            out.append(f"{manifest_path}: the database's file map lacks the manifest's {kind} file")
        elif mine.get("path") != sealed.get("path") or mine.get("sha256") != sealed.get("sha256"):
            out.append(f"{manifest_path}: the database points its {kind} at {mine.get('path')} "
                       f"(SHA-256 {mine.get('sha256')}), the manifest at {sealed.get('path')} "
                       f"(SHA-256 {sealed.get('sha256')})")
    return out


@dataclass(frozen=True)
class SnapshotCheck:
    """One snapshot as `vaern verify` judges it against the database's row: what the review app's
    "verified" badge shows. `bad_kinds` are the files that must not be shown as evidence."""

    problems: list[str]
    bad_kinds: set[str]


def check_snapshot(archive: Archive, manifest_path: str, manifest_sha256: str, db_files: Any) -> SnapshotCheck:
    """The manifest matches the database's hash; the database's file map matches the manifest
    (file_map_problems, as verify); every file matches its SHA-256."""
    try:
        body = archive.read(manifest_path)
    except (OSError, ArchiveError):
        return SnapshotCheck([f"manifest {manifest_path} is missing"], set(_dict(db_files)))
    problems: list[str] = []
    if sha256_hex(body) != manifest_sha256:
        problems.append(f"manifest {manifest_path} does not match the SHA-256 the database records")
    try:
        manifest = json.loads(body)
    except ValueError:
        return SnapshotCheck([*problems, f"manifest {manifest_path} is not valid JSON"], set(_dict(db_files)))
    sealed = _dict(_dict(manifest).get("files"))
    mismatched = file_map_problems(manifest_path, db_files, sealed)
    bad = {kind for kind in set(_dict(db_files)) | set(sealed)
           if _dict(_dict(db_files).get(kind)).get("path") != _dict(sealed.get(kind)).get("path")
           or _dict(_dict(db_files).get(kind)).get("sha256") != _dict(sealed.get(kind)).get("sha256")}
    problems += mismatched
    for kind, item in sorted(sealed.items()):
        try:
            actual = archive.sha256_of(str(_dict(item).get("path", "")))
        except (OSError, ArchiveError):
            problems.append(f"{kind} file {_dict(item).get('path')} is missing")
            bad.add(kind)
            continue
        if actual != _dict(item).get("sha256"):
            problems.append(f"{kind} file {_dict(item).get('path')} has changed")
            bad.add(kind)
    return SnapshotCheck(problems, bad)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _manifest_of_token(path: str) -> str:
    """snapshots/s-1/timestamps/manifest--1-host.tsr -> snapshots/s-1/manifest.json"""
    pure = PurePosixPath(path)
    return str(pure.parent.parent / (pure.name.split("--")[0] + ".json"))


def _pem_of(path: str) -> str:
    return str(PurePosixPath(path).with_suffix(".pem"))


def _extension(name: str) -> str:
    suffixes = PurePosixPath(name).suffixes
    ext = "".join(suffixes[-2:]) if suffixes[-2:-1] == [".warc"] else (suffixes[-1] if suffixes else "")
    return ext if re.fullmatch(r"(\.[A-Za-z0-9]{1,8}){0,2}", ext) else ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")[:60] or "tsa"


def expected_manifests(session: Session) -> list[tuple[str, str]]:
    """(manifest_path, manifest_sha256) of every snapshot the database knows, for `verify()`."""
    rows = session.execute(select(SnapshotRow.manifest_path, SnapshotRow.manifest_sha256).order_by(SnapshotRow.id))
    return [(path, digest) for path, digest in rows]


def snapshot_file_maps(session: Session) -> dict[str, dict[str, Any]]:
    """manifest_path -> the database's file map of that snapshot (what the review app shows)."""
    rows = session.execute(select(SnapshotRow.manifest_path, SnapshotRow.files))
    return {path: files if isinstance(files, dict) else {} for path, files in rows if path}


def record_snapshot(
    session: Session, archive: Archive, capture: Capture, page_id: int, retry_after: timedelta = timedelta(minutes=1)
) -> SnapshotRow:
    """File a capture: insert its row (for the id), store it under that id, fill the row in.

    Call inside the transaction that also records the hit's change, so that the row and the
    hit commit together. If that transaction rolls back after this, the archive keeps the stored
    manifest (append-only) and a later snapshot that gets the same id is stored beside it.
    """
    row = SnapshotRow(page_id=page_id, captured_at=_naive_utc(capture.started_at), reason=capture.reason,
                      manifest_path="", manifest_sha256="", files={}, complete=capture.complete,
                      incomplete_reason=capture.incomplete_reason)
    session.add(row)
    session.flush()
    stored = archive.store(capture, row.id)
    row.manifest_path, row.manifest_sha256, row.files = stored.manifest_path, stored.manifest_sha256, stored.files
    record_stamps(session, stored, row.id, retry_after)
    session.flush()
    return row


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def record_stamps(session: Session, stored: StoredSnapshot, snapshot_id: int, retry: timedelta) -> None:
    """The tokens of a freshly stored snapshot, and those still owed, as rows (same transaction)."""
    now = _naive_utc(clock.now())
    for stamp in stored.timestamps:
        session.add(token_row("manifest", stamp, snapshot_id, now))
    for url, why in stored.failed_tsas:
        _log.warning("timestamp for %s from %s failed: %s; queued for retry", stored.id, url, why)
        session.add(TimestampRow(subject="manifest", snapshot_id=snapshot_id, target=stored.manifest_path,
                                 digest=stored.manifest_sha256, tsa_url=url, status="pending", attempts=1,
                                 created_at=now, next_attempt_at=now + retry, last_error=why))


def token_row(subject: str, stamp: dict[str, str], snapshot_id: int | None, now: datetime) -> TimestampRow:
    """The database's record of a token the archive wrote (`stamp` as `Archive.stamp` returns it)."""
    gen_time = _naive_utc(datetime.fromisoformat(stamp["time"].replace("Z", "+00:00"))) if stamp.get("time") else None
    return TimestampRow(subject=subject, snapshot_id=snapshot_id, target=stamp["target"], digest=stamp["digest"],
                        tsa_url=stamp["tsa"], status="ok", token_path=stamp["path"], token_sha256=stamp["sha256"],
                        gen_time=gen_time, attempts=1, created_at=now)
