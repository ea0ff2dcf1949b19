"""`retention.dismissed_days`: the evidence of a page whose hits were all dismissed that long ago
is deleted, a tombstone in the chain says what and why, `vaern verify` still passes and lists it,
and the audit log records it. Evidence of a page with a hit still open is kept."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import select

from tests.review.seeding import World, build_world
from vaern.app import open_services
from vaern.cli import main
from vaern.clock import utcnow
from vaern.retention import apply_retention
from vaern.storage.archive import Archive
from vaern.storage.db import transaction
from vaern.storage.tables import AuditRow, DecisionRow, HitRow, SnapshotRow


def _dismiss(world: World, name: str, days_ago: float) -> None:
    services = open_services(world.config)
    with transaction(services.sessions) as db:
        hit = db.get(HitRow, world.hits[name])
        assert hit is not None
        hit.status = "dismissed"
        db.add(DecisionRow(hit_id=hit.id, at=utcnow() - timedelta(days=days_ago), username="analytiker",
                           status="dismissed", reason="lawful", comment=""))
    services.engine.dispose()


def _verify(world: World, root: Path) -> tuple[int, str]:
    path = root / "vaern.yaml"
    path.write_text(yaml.safe_dump(world.config.model_dump(mode="json", exclude={"source"}), allow_unicode=True),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["-c", str(path), "verify"])
    return result.exit_code, result.output


def test_dismissed_evidence_is_deleted_with_a_tombstone_that_verify_accepts(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    config = world.config
    services = open_services(config)
    with services.sessions() as db:
        snaps = {s.page_id: s for s in db.scalars(select(SnapshotRow))}
        threat_page = db.get(HitRow, world.hits["a_threat"]).page_id  # type: ignore[union-attr]
        old = [s for s in db.scalars(select(SnapshotRow).where(SnapshotRow.page_id == threat_page))]
    assert len(old) == 2
    old_files = {f["path"] for s in old for f in s.files.values()}
    _dismiss(world, "a_threat", days_ago=config.retention.dismissed_days + 1)  # long enough ago
    _dismiss(world, "a_xss", days_ago=config.retention.dismissed_days - 1)  # not yet

    counts = apply_retention(config, services.sessions)
    assert counts["snapshots_deleted"] == 2

    archive = Archive(config.archive)
    for path in old_files:  # the evidence is gone from the disk
        assert not archive.path(path).exists(), path
    for s in old:
        assert not archive.path(s.manifest_path).exists()
    with services.sessions() as db:
        left = {s.page_id for s in db.scalars(select(SnapshotRow))}
        assert threat_page not in left and left == set(snaps) - {threat_page}
        for s in db.scalars(select(SnapshotRow)):  # the rest is untouched
            assert all(archive.path(f["path"]).exists() for f in s.files.values())
        [audited] = db.scalars(select(AuditRow).where(AuditRow.action == "evidence_deleted")).all()
        assert audited.hit_id == world.hits["a_threat"] and audited.username == "retention"
        assert "dismissed more than 90 days ago" in audited.detail["reason"]
    services.engine.dispose()

    retired = archive.retired()
    assert set(retired) == {s.manifest_path for s in old}
    tomb = json.loads(archive.read(next(iter(retired.values()))["manifest"]))
    assert tomb["format"] == "vaern-tombstone/1" and "retention.dismissed_days" in tomb["reason"]
    assert set(tomb["deleted_files"]) == {"screenshot", "html", "text", "warc", "provenance"}

    code, out = _verify(world, tmp_path)
    assert code == 0, out
    assert "2 deleted, each with its tombstone in the chain:" in out
    assert out.count("  deleted s-") == 2 and "(retention.dismissed_days)" in out

    # A second run deletes nothing more; the chain still verifies.
    services = open_services(config)
    assert apply_retention(config, services.sessions)["snapshots_deleted"] == 0
    services.engine.dispose()
    assert _verify(world, tmp_path)[0] == 0

    # The tombstone is evidence too: editing it is named.
    path = archive.path(next(iter(retired.values()))["manifest"])
    path.write_bytes(path.read_bytes().replace(b"retention", b"somebody"))
    code, out = _verify(world, tmp_path)
    assert code == 1 and "was changed after it was stored" in out
