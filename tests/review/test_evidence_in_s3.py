"""Evidence kept in S3 (a moto server on 127.0.0.1) reaches every reader through the archive:
the review app shows the screenshot and the archived page, the e-mail carries its thumbnail, the
export bundles it; and a blob changed in the bucket is caught by each of them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from tests.review.conftest import LiveServer, sign_in
from tests.review.seeding import World, build_world
from vaern import ids
from vaern.alerts.compose import Composer, load_evidence
from vaern.alerts.dispatch import hits_of
from vaern.errors import ArchiveError
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, session_factory
from vaern.storage.export import export_bundle
from vaern.storage.stamping import archive_for
from vaern.storage.tables import AlertHitRow, AlertRow, HitRow, SnapshotRow
from vaern.testing.s3 import S3StandIn


@pytest.fixture
def world(tmp_path: Path, s3_bucket: S3StandIn) -> World:
    store = s3_bucket.store_config(prefix="kommune/")
    world = build_world(tmp_path, evidence={"store": store})
    assert not (tmp_path / "archive").exists()  # nothing went to the local folder
    return world


@pytest.fixture
def live(world: World) -> Iterator[LiveServer]:
    with LiveServer(create_app(world.config)) as server:
        yield server


def _snapshots(world: World, hit: str) -> list[SnapshotRow]:
    sessions = session_factory(make_engine(world.config.database))
    with sessions() as db:
        row = db.get(HitRow, world.hits[hit])
        assert row is not None
        return list(db.scalars(select(SnapshotRow).where(SnapshotRow.page_id == row.page_id).order_by(SnapshotRow.id)))


def test_review_app_shows_the_screenshot_and_page_from_s3(
    world: World, live: LiveServer, s3_bucket: S3StandIn
) -> None:
    snaps = _snapshots(world, "a_threat")
    shot = snaps[0].files["screenshot"]
    stored = s3_bucket.client().get_object(Bucket=s3_bucket.bucket, Key="kommune/" + shot["path"])["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == shot["sha256"]

    analyst = sign_in(live.url, "analytiker")
    ref, sid = ids.hit(world.hits["a_threat"]), ids.snapshot(snaps[0].id)
    detail = analyst.get(f"/hits/{ref}")
    assert detail.status_code == 200
    assert "Skandale" in detail.text  # the page text, read from the bucket
    screenshot = analyst.get(f"/hits/{ref}/snapshots/{sid}/screenshot.png")
    assert screenshot.status_code == 200 and screenshot.headers["content-type"] == "image/png"
    assert screenshot.content == stored
    html = analyst.get(f"/hits/{ref}/snapshots/{sid}/archived.html")
    assert html.status_code == 200 and "<h1>Skandale</h1>" in html.text
    thumb = analyst.get(f"/hits/{ref}/thumbnail.jpg")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).format == "JPEG"
    # A leader of another unit still gets nothing, from S3 as from a folder.
    assert sign_in(live.url, "jens").get(f"/hits/{ref}/snapshots/{sid}/screenshot.png").status_code == 404


def test_a_blob_changed_in_the_bucket_is_not_shown_as_verified(
    world: World, live: LiveServer, s3_bucket: S3StandIn
) -> None:
    snaps = _snapshots(world, "b_secret")
    text = snaps[0].files["text"]
    s3_bucket.client().put_object(Bucket=s3_bucket.bucket, Key="kommune/" + text["path"], Body=b"forged")
    detail = sign_in(live.url, "admin").get(f"/hits/{ids.hit(world.hits['b_secret'])}")
    assert detail.status_code == 200
    assert f"SHA-256 is {hashlib.sha256(b'forged').hexdigest()}, recorded {text['sha256']}" in detail.text


def test_alert_email_carries_the_thumbnail_of_a_screenshot_in_s3(world: World) -> None:
    sessions = session_factory(make_engine(world.config.database))
    with sessions() as db:
        alert_id = db.query(AlertHitRow.alert_id).filter(AlertHitRow.hit_id == world.hits["a_threat"]).scalar()
        hits = hits_of(db, [alert_id])[alert_id]
        evidence = load_evidence(db, world.config, hits)
        alert = db.get(AlertRow, alert_id)
        assert alert is not None
        message = Composer(world.config).compose(alert, hits, evidence, hits[0].first_seen)
    [image] = [p for p in message.walk() if p.get_content_type() == "image/jpeg"]
    thumb = Image.open(io.BytesIO(image.get_content()))
    assert thumb.format == "JPEG" and thumb.width == 480
    # The newest snapshot's screenshot has a purple band (#8e44ad) at the top; blurred, still purple.
    red, green, blue = thumb.getpixel((10, 5))[:3]
    assert red > 100 and blue > 140 and green < 110


def test_export_bundles_the_evidence_from_s3(world: World, tmp_path: Path, s3_bucket: S3StandIn) -> None:
    sessions = session_factory(make_engine(world.config.database))
    out = tmp_path / "bundle.zip"
    with sessions() as db:
        export_bundle(world.config, db, world.hits["a_threat"], out, record_audit=False)
    snaps = _snapshots(world, "a_threat")
    with zipfile.ZipFile(out) as bundle:
        names = bundle.namelist()
        for snap in snaps:
            sid = ids.snapshot(snap.id)
            assert hashlib.sha256(bundle.read(f"snapshots/{sid}/manifest.json")).hexdigest() == snap.manifest_sha256
            assert hashlib.sha256(bundle.read(f"snapshots/{sid}/screenshot.png")).hexdigest() == \
                snap.files["screenshot"]["sha256"]
        sums = bundle.read("SHA256SUMS").decode()
        for line in sums.splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(bundle.read(name)).hexdigest() == digest
        assert "report.html" in names and any(n.startswith("chain/") for n in names)
    # A blob changed in the bucket: nothing is exported, and why is said.
    shot = snaps[0].files["screenshot"]
    s3_bucket.client().put_object(Bucket=s3_bucket.bucket, Key="kommune/" + shot["path"], Body=b"forged")
    with sessions() as db, pytest.raises(ArchiveError, match="screenshot file .* has changed"):
        export_bundle(world.config, db, world.hits["a_threat"], tmp_path / "again.zip", record_audit=False)


def test_verify_of_the_s3_archive_matches_the_database(world: World, s3_bucket: S3StandIn) -> None:
    from vaern.storage.archive import expected_manifests, snapshot_file_maps

    sessions = session_factory(make_engine(world.config.database))
    with sessions() as db:
        expected, maps = expected_manifests(db), snapshot_file_maps(db)
    archive = archive_for(world.config)
    assert archive.where == f"s3://{s3_bucket.bucket}/kommune/"
    assert archive.check(expected, file_maps=maps).problems == []
    assert len(expected) == 4 and len(archive.chain()) == 4
    s3_bucket.client().delete_object(Bucket=s3_bucket.bucket, Key="kommune/" + expected[1][0])
    problems = archive_for(world.config).check(expected, file_maps=maps).problems
    assert any(p.startswith(f"{expected[1][0].split('/')[1]}: manifest {expected[1][0]} is missing") for p in problems)


