"""The evidence of a hit as the review app shows it: snapshots, their files, hashes, text and diffs.

Reads the archive (storage/archive.py: its folder or bucket), never writes to it. Hashes are re-checked
each time a hit is opened (the "verified" badge is a fresh check, not a stored flag), and the
database's file map is checked against the sealed manifest as `vaern verify` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import ids
from vaern.errors import ArchiveError
from vaern.storage.archive import Archive, check_snapshot
from vaern.storage.export import text_diff as export_text_diff
from vaern.storage.stamping import snapshot_stamps
from vaern.storage.tables import SnapshotRow

MAX_TEXT = 200_000  # characters of page text shown; the archive keeps all of it


@dataclass(frozen=True)
class FileCheck:
    kind: str
    path: str
    sha256: str
    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class SnapshotView:
    id: int
    ref: str
    captured_at: datetime
    reason: str
    manifest_path: str
    manifest_sha256: str
    files: list[FileCheck]
    manifest_ok: bool
    text: str | None
    diff: list[tuple[str, str]] = field(default_factory=list)  # (kind: add|del|ctx|hunk, line)
    complete: bool = True  # shows every mention the matcher reported
    incomplete_reason: str | None = None
    record_problems: list[str] = field(default_factory=list)  # the database's file map vs the manifest
    timestamps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.manifest_ok and all(f.ok for f in self.files) and not self.record_problems

    @property
    def timestamp_pending(self) -> bool:
        return any(s["status"] == "pending" for s in self.timestamps)

    @property
    def problems(self) -> list[str]:
        out = [f"{f.kind}: {f.problem}" for f in self.files if not f.ok]
        if not self.manifest_ok:
            out.insert(0, "manifest.json: does not match its recorded hash")
        return out + [p for p in self.record_problems if p not in out]

    def has(self, kind: str) -> bool:
        return any(f.kind == kind and f.ok for f in self.files)


def _check(archive: Archive, kind: str, info: Any) -> FileCheck:
    if not isinstance(info, dict) or not isinstance(info.get("path"), str):
        return FileCheck(kind, "", "", False, "no path recorded")
    rel, expected = info["path"], str(info.get("sha256") or "")
    try:
        actual = archive.sha256_of(rel)
    except ArchiveError:
        return FileCheck(kind, rel, expected, False, "path outside the archive")
    except OSError:
        return FileCheck(kind, rel, expected, False, "missing")
    if actual != expected:
        return FileCheck(kind, rel, expected, False, f"SHA-256 is {actual}, recorded {expected}")
    return FileCheck(kind, rel, expected, True)


def _read_text(archive: Archive, files: dict[str, Any]) -> str | None:
    info = files.get("text")
    if not isinstance(info, dict):
        return None
    try:
        data = archive.read(str(info.get("path", "")))
    except (OSError, ArchiveError):
        return None
    return data[: MAX_TEXT * 4].decode("utf-8", errors="replace")[:MAX_TEXT]


def text_diff(before: str, after: str) -> list[tuple[str, str]]:
    """Line differences between two page texts (the export's diff), as (kind, line) for the template."""
    out: list[tuple[str, str]] = []
    for line in export_text_diff(before, after, "before", "after"):
        if line.startswith(("---", "+++")):
            continue
        kind = "hunk" if line.startswith(("@@", "…")) else {"+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append((kind, line))
    return out


def snapshots_of(db: Session, archive: Archive, page_id: int) -> list[SnapshotView]:
    """All snapshots of a page, oldest first, each re-verified, each with the diff to the one before."""
    rows = db.scalars(
        select(SnapshotRow).where(SnapshotRow.page_id == page_id).order_by(SnapshotRow.captured_at, SnapshotRow.id)
    ).all()
    views: list[SnapshotView] = []
    previous: str | None = None
    stamps = snapshot_stamps(db, [row.id for row in rows])
    for row in rows:
        files = row.files if isinstance(row.files, dict) else {}
        # The same judgement as `vaern verify`: a file the database points at is evidence only if
        # the sealed manifest names that very file.
        judged = check_snapshot(archive, row.manifest_path, row.manifest_sha256, files)
        checks = [_check(archive, kind, info) for kind, info in sorted(files.items())]
        checks = [c if c.kind not in judged.bad_kinds or not c.ok
                  else FileCheck(c.kind, c.path, c.sha256, False, "not the file the manifest names")
                  for c in checks]
        manifest = _check(archive, "manifest", {"path": row.manifest_path, "sha256": row.manifest_sha256})
        text = _read_text(archive, files)
        diff = text_diff(previous, text) if previous is not None and text is not None else []
        views.append(
            SnapshotView(
                id=row.id,
                ref=ids.snapshot(row.id),
                captured_at=row.captured_at,
                reason=row.reason,
                manifest_path=row.manifest_path,
                manifest_sha256=row.manifest_sha256,
                files=checks,
                manifest_ok=manifest.ok,
                text=text,
                diff=diff,
                complete=bool(row.complete),
                incomplete_reason=row.incomplete_reason,
                record_problems=[p.removeprefix(f"{row.manifest_path}: ") for p in judged.problems],
                timestamps=stamps.get(row.id, []),
            )
        )
        if text is not None:
            previous = text
    return views


def snapshot_file(db: Session, archive: Archive, page_id: int, snapshot_id: int, kind: str) -> tuple[bytes, str] | None:
    """(bytes, sha256) of one file of a snapshot of this page, read through the archive, or None if
    there is none (or its path would leave the archive)."""
    row = db.get(SnapshotRow, snapshot_id)
    if row is None or row.page_id != page_id or not isinstance(row.files, dict):
        return None
    info = row.files.get(kind)
    if not isinstance(info, dict):
        return None
    try:
        data = archive.read(str(info.get("path", "")))
    except (OSError, ArchiveError):
        return None
    return data, str(info.get("sha256") or "")


def latest_with(db: Session, page_id: int, kind: str) -> int | None:
    """The newest snapshot of a page that has a file of `kind`."""
    for sid, files in db.execute(
        select(SnapshotRow.id, SnapshotRow.files)
        .where(SnapshotRow.page_id == page_id)
        .order_by(SnapshotRow.captured_at.desc(), SnapshotRow.id.desc())
    ):
        if isinstance(files, dict) and kind in files:
            return int(sid)
    return None
