"""The archive: content addressing, manifests, the chain, and a tamper test for every verify claim."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from vaern.errors import ArchiveError
from vaern.storage.archive import Archive, sha256_hex, snapshot_name
from vaern.testing.tsa import LocalTsa

from .conftest import make_capture


def _blobs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


def test_store_writes_blobs_manifest_and_chain(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    capture = make_capture()
    first = archive.store(capture, 456)
    assert first.id == "s-000456"
    assert first.manifest_path == "snapshots/s-000456/manifest.json"
    body = (tmp_path / first.manifest_path).read_bytes()
    assert sha256_hex(body) == first.manifest_sha256
    manifest = json.loads(body)
    assert manifest["previous"] is None and manifest["sequence"] == 1
    for item in capture.files:
        entry = manifest["files"][item.kind]
        assert entry["sha256"] == item.sha256 == first.files[item.kind]["sha256"]
        assert entry["size"] == len(item.data)
        assert (tmp_path / entry["path"]).read_bytes() == item.data
        assert entry["path"] == f"blobs/{item.sha256[:2]}/{item.sha256}{Path(item.name).suffix}"
    assert manifest["detected_at"] == "2026-11-21T14:03:11Z"

    second = archive.store(make_capture(), 457)
    link = archive.manifest(second.manifest_path)["previous"]
    assert link == {"snapshot": "s-000456", "manifest": first.manifest_path, "sha256": first.manifest_sha256}
    assert [e["snapshot"] for e in archive.chain()] == ["s-000456", "s-000457"]
    assert archive.verify([(first.manifest_path, first.manifest_sha256),
                           (second.manifest_path, second.manifest_sha256)]) == []


def test_unchanged_file_stores_no_new_bytes(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.store(make_capture(), 1)
    before = {p: p.stat().st_ino for p in _blobs(tmp_path)}
    archive.store(make_capture(), 2)  # same bytes again
    assert {p: p.stat().st_ino for p in _blobs(tmp_path)} == before
    archive.store(make_capture(screenshot=b"\x89PNG other", html=b"<p>Ren\xc3\xa9</p>"), 3)
    assert len(_blobs(tmp_path)) == len(before) + 1  # only the changed screenshot is new


def test_a_file_changed_after_capture_is_refused(tmp_path: Path) -> None:
    capture = make_capture()
    bad = capture.files[0].__class__(**{**capture.files[0].__dict__, "data": b"other bytes"})
    with pytest.raises(ArchiveError, match="changed between capture and storage"):
        Archive(tmp_path).store(capture.__class__(**{**capture.__dict__, "files": (bad,)}), 1)
    assert not (tmp_path / "chain.jsonl").exists()


def test_snapshot_ids() -> None:
    assert snapshot_name(7) == "s-000007"
    assert snapshot_name("s-001234") == "s-001234"
    with pytest.raises(ArchiveError):
        snapshot_name("../../etc")


def test_reused_id_after_rollback_keeps_both(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    orphan = archive.store(make_capture(), 5)  # its database transaction rolled back...
    again = archive.store(make_capture(), 5)  # ...and the database hands out id 5 again
    assert again.manifest_path == "snapshots/s-000005/manifest.2.json"
    assert (tmp_path / orphan.manifest_path).exists()
    assert archive.verify([(again.manifest_path, again.manifest_sha256)]) == []


def _store_many(root: str, start: int) -> None:
    archive = Archive(Path(root))
    for n in range(start, start + 8):
        archive.store(make_capture(html=f"<p>{n}</p>".encode()), n)


def test_concurrent_writers_keep_one_unbroken_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_store_many, args=(str(tmp_path), start)) for start in (1, 101)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    archive = Archive(tmp_path)
    assert [e["sequence"] for e in archive.chain()] == list(range(1, 17))
    assert archive.verify() == []


# -- tamper tests: one per claim of verify ---------------------------------------------------

@pytest.fixture
def three(tmp_path: Path) -> tuple[Archive, list[tuple[str, str]]]:
    archive = Archive(tmp_path)
    stored = [archive.store(make_capture(html=f"<p>version {n}</p>".encode()), n) for n in (1, 2, 3)]
    expected = [(s.manifest_path, s.manifest_sha256) for s in stored]
    assert archive.verify(expected) == []
    return archive, expected


def test_verify_names_a_changed_byte(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, expected = three
    entry = archive.manifest("snapshots/s-000002/manifest.json")["files"]["html"]
    blob = archive.root / entry["path"]
    data = bytearray(blob.read_bytes())
    data[3] ^= 0x01
    _tamper(blob, bytes(data))
    problems = archive.verify(expected)
    assert len(problems) == 1
    assert problems[0].startswith(f"s-000002: html file {entry['path']} has changed")


def test_verify_names_a_missing_file(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, expected = three
    entry = archive.manifest("snapshots/s-000003/manifest.json")["files"]["text"]
    (archive.root / entry["path"]).unlink()
    problems = archive.verify(expected)
    # The text blob is shared by all three snapshots (same bytes): each names it.
    assert problems == [f"{s}: text file {entry['path']} is missing" for s in ("s-000001", "s-000002", "s-000003")]


def test_verify_names_an_edited_manifest(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, expected = three
    path = archive.root / "snapshots/s-000002/manifest.json"
    manifest = json.loads(path.read_bytes())
    manifest["url"] = "http://127.0.0.1:1/somewhere-else"
    _tamper(path, json.dumps(manifest).encode())
    problems = archive.verify(expected)
    assert any(p.startswith("s-000002: manifest snapshots/s-000002/manifest.json was changed") for p in problems)
    assert any("the database records SHA-256" not in p for p in problems)


def test_verify_names_a_removed_snapshot(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, expected = three
    shutil.rmtree(archive.root / "snapshots/s-000002")
    problems = archive.verify()
    assert problems == [
        "s-000002: manifest snapshots/s-000002/manifest.json is missing (snapshot removed?); "
        "the chain is broken between s-000001 and the next snapshot"
    ]
    assert archive.verify(expected) == problems  # named once, not again for the database row


def test_verify_names_a_snapshot_removed_with_its_chain_line(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, _ = three
    shutil.rmtree(archive.root / "snapshots/s-000002")
    log = archive.root / "chain.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(line for line in lines if '"s-000002"' not in line) + "\n")
    problems = archive.verify()
    assert any(p.startswith("s-000003: chain entry 3 follows entry 1") for p in problems)
    assert any(p.startswith("s-000003: chain broken: its manifest names previous manifest") and "(s-000002)" in p
               for p in problems)


def test_verify_names_a_snapshot_removed_and_the_chain_rewritten(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    # Even a careful forger who renumbers the log cannot fix the link inside manifest 3
    # without changing manifest 3, whose hash the database (and any timestamp) holds.
    archive, expected = three
    shutil.rmtree(archive.root / "snapshots/s-000002")
    log = archive.root / "chain.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entries = [e for e in entries if e["snapshot"] != "s-000002"]
    entries[1]["sequence"] = 2
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    problems = archive.verify(expected)
    assert any("chain broken" in p and p.startswith("s-000003") for p in problems)
    assert "snapshots/s-000002/manifest.json: recorded in the database but is missing from the archive" in problems


def test_verify_names_a_database_hash_that_differs(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, expected = three
    path, _ = expected[0]
    problems = archive.verify([(path, "0" * 64), *expected[1:]])
    assert problems == [f"{path}: the database records SHA-256 {'0' * 64}, the chain {expected[0][1]}"]


def test_verify_names_a_manifest_outside_the_chain(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, _ = three
    forged = archive.root / "snapshots/s-000009/manifest.json"
    forged.parent.mkdir(parents=True)
    forged.write_bytes((archive.root / "snapshots/s-000001/manifest.json").read_bytes())
    assert archive.verify() == ["snapshots/s-000009/manifest.json: a manifest that is not in the chain (chain.jsonl)"]


def test_verify_names_a_damaged_chain_line(three: tuple[Archive, list[tuple[str, str]]]) -> None:
    archive, _ = three
    with (archive.root / "chain.jsonl").open("a") as log:
        log.write("garbage\n")
    assert archive.verify() == ["chain.jsonl line 4: not a chain entry: 'garbage'"]


# -- trusted timestamps -------------------------------------------------------------------------

def test_timestamps_from_a_local_tsa_verify_with_openssl(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url])
    stored = archive.store(make_capture(), 1)
    assert stored.timestamp_errors == []
    [stamp] = stored.timestamps
    assert stamp["tsa"] == tsa.url and stamp["path"].endswith(".tsr")
    manifest = tmp_path / stored.manifest_path
    # What anyone can run without Værn: the token covers the manifest's bytes.
    proc = subprocess.run(["openssl", "ts", "-verify", "-data", str(manifest), "-in", str(tmp_path / stamp["path"]),
                           "-CAfile", str(tsa.ca_file), "-untrusted", str(tmp_path / stamp["certificates"])],
                          capture_output=True, text=True)
    assert "Verification: OK" in proc.stdout, proc.stderr
    # The certificates kept with the token include the TSA's chain up to the root.
    assert (tmp_path / stamp["certificates"]).read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert archive.verify([(stored.manifest_path, stored.manifest_sha256)]) == []


def test_verify_names_a_timestamp_for_other_bytes(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url])
    one = archive.store(make_capture(), 1)
    two = archive.store(make_capture(html=b"<p>2</p>"), 2)
    token_one = tmp_path / one.timestamps[0]["path"]
    token_two = tmp_path / two.timestamps[0]["path"]
    _tamper(token_two, token_one.read_bytes())  # swap in a token made for another manifest
    problems = archive.verify()
    assert problems == [f"s-000002: timestamp {two.timestamps[0]['path']} covers {one.manifest_sha256}, "
                        f"not the manifest {two.manifest_sha256}"]


def test_verify_names_a_forged_timestamp_signature(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url])
    stored = archive.store(make_capture(), 1)
    token = tmp_path / stored.timestamps[0]["path"]
    data = bytearray(token.read_bytes())
    data[-5] ^= 0xFF  # inside the signature value, at the end of the SignerInfo
    _tamper(token, bytes(data))
    problems = archive.verify()
    assert len(problems) == 1 and "does not verify" in problems[0]


def test_unreachable_tsa_does_not_lose_the_snapshot(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=["http://127.0.0.1:9/tsa", tsa.url], tsa_timeout=2)
    stored = archive.store(make_capture(), 1)
    assert len(stored.timestamp_errors) == 1 and "127.0.0.1:9" in stored.timestamp_errors[0]
    assert len(stored.timestamps) == 1
    assert archive.verify() == []


def test_record_snapshot_files_a_capture_under_its_row_id(make_config: Any, tmp_path: Path) -> None:
    from vaern.app import open_services
    from vaern.storage.archive import expected_manifests, record_snapshot
    from vaern.storage.db import transaction
    from vaern.storage.queries import snapshot_json
    from vaern.storage.tables import PageRow

    config = make_config()
    services = open_services(config)
    archive = Archive(config.archive)
    with transaction(services.sessions) as session:
        page = PageRow(site_id="s", url="http://127.0.0.1:1/p", first_fetched_at=datetime(2026, 1, 1),
                       last_fetched_at=datetime(2026, 1, 1))
        session.add(page)
        session.flush()
        row = record_snapshot(session, archive, make_capture(), page.id)
        shown = snapshot_json(row)
    assert shown["id"] == "s-000001" and shown["manifest"] == "snapshots/s-000001/manifest.json"
    assert shown["captured_at"] == "2026-11-21T14:03:15Z"
    assert set(shown["files"]) == {"screenshot", "html", "text"}
    assert all(set(f) == {"path", "sha256"} for f in shown["files"].values())
    with services.sessions() as session:
        expected = expected_manifests(session)
    assert expected == [(shown["manifest"], shown["manifest_sha256"])]
    assert archive.verify(expected) == []


def test_store_refuses_to_chain_onto_a_damaged_log(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.store(make_capture(), 1)
    with (tmp_path / "chain.jsonl").open("a") as log:
        log.write('{"sequence": 2, "snapsh\n')
    with pytest.raises(ArchiveError, match="damaged line"):
        archive.store(make_capture(), 2)
    assert not (tmp_path / "snapshots/s-000002").exists()
