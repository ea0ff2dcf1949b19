"""The archive on both stores, the folder and S3 (a moto server on 127.0.0.1), with the same test
bodies: storing, reading, append-only, path escapes, timestamps, retirement, and verify finding
every kind of tampering and loss. And the chain across machines: two processes appending under
the PostgreSQL lock never fork it."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from vaern.errors import ArchiveError, EvidenceStoreUnavailable
from vaern.storage.archive import Archive, sha256_hex
from vaern.storage.blobstore import FolderStore, S3Store
from vaern.storage.chainlock import PostgresChainLock
from vaern.testing.postgres import create_database, free_port
from vaern.testing.s3 import ACCESS_KEY, SECRET_KEY, S3StandIn
from vaern.testing.tsa import LocalTsa

from .conftest import make_capture

_buckets = itertools.count(1)


@pytest.fixture
def s3(s3_server: S3StandIn) -> S3StandIn:
    return s3_server


@dataclass
class Backend:
    """One store, and what a vandal with write access to it could do behind the archive's back."""

    name: str
    folder: Path | None = None
    s3: S3StandIn | None = None
    prefix: str = ""

    def store(self) -> FolderStore | S3Store:
        if self.folder is not None:
            return FolderStore(self.folder)
        assert self.s3 is not None
        return S3Store(bucket=self.s3.bucket, prefix=self.prefix, endpoint_url=self.s3.endpoint_url,
                       access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)

    def archive(self, **kwargs: Any) -> Archive:
        return Archive(self.store(), **kwargs)

    def overwrite(self, key: str, data: bytes) -> None:
        if self.folder is not None:
            path = self.folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                os.chmod(path, 0o644)
            path.write_bytes(data)
        else:
            assert self.s3 is not None
            self.s3.client().put_object(Bucket=self.s3.bucket, Key=self.prefix + key, Body=data)

    def remove(self, key: str) -> None:
        if self.folder is not None:
            (self.folder / key).unlink()
        else:
            assert self.s3 is not None
            self.s3.client().delete_object(Bucket=self.s3.bucket, Key=self.prefix + key)

    def chain_line_key(self, number: int) -> str:
        """Where line `number` of chain.jsonl lives (S3: one object per line)."""
        return "chain.jsonl" if self.folder is not None else f"chain.jsonl/{number:012d}"

    def drop_chain_line(self, number: int) -> None:
        if self.folder is not None:
            log = self.folder / "chain.jsonl"
            lines = log.read_text().splitlines(keepends=True)
            log.write_text("".join(line for n, line in enumerate(lines, 1) if n != number))
        else:
            self.remove(self.chain_line_key(number))

    def keys(self) -> set[str]:
        if self.folder is not None:
            return {p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                    if p.is_file() and p.name != "chain.lock"}
        assert self.s3 is not None
        return {k.removeprefix(self.prefix) for k in self.s3.keys(self.prefix)}


@pytest.fixture(params=["folder", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "folder":
        return Backend("folder", folder=tmp_path / "archive")
    s3: S3StandIn = request.getfixturevalue("s3")
    return Backend("s3", s3=s3.new_bucket(f"evidence-{next(_buckets)}"), prefix="vaern/")


def _three(backend: Backend) -> tuple[Archive, list[tuple[str, str]]]:
    archive = backend.archive()
    stored = [archive.store(make_capture(html=f"<p>version {n}</p>".encode()), n) for n in (1, 2, 3)]
    expected = [(s.manifest_path, s.manifest_sha256) for s in stored]
    assert archive.verify(expected) == []
    return archive, expected


def test_same_layout_and_contents_on_both_stores(backend: Backend) -> None:
    archive = backend.archive()
    capture = make_capture()
    first = archive.store(capture, 456)
    second = archive.store(make_capture(html=b"<p>other</p>"), 457)
    assert first.manifest_path == "snapshots/s-000456/manifest.json"
    for item in capture.files:
        path = first.files[item.kind]["path"]
        assert path == f"blobs/{item.sha256[:2]}/{item.sha256}{Path(item.name).suffix}"
        assert archive.read(path) == item.data
        assert archive.sha256_of(path) == item.sha256
    body = archive.read(first.manifest_path)
    assert sha256_hex(body) == first.manifest_sha256
    assert json.loads(archive.read(second.manifest_path))["previous"]["sha256"] == first.manifest_sha256
    assert [e["snapshot"] for e in archive.chain()] == ["s-000456", "s-000457"]
    assert archive.head() == archive.chain()[-1]
    chain_keys = {"chain.jsonl"} if backend.folder else {"chain.jsonl/000000000001", "chain.jsonl/000000000002"}
    blob_keys = {f["path"] for f in [*first.files.values(), *second.files.values()]}
    assert backend.keys() == blob_keys | {first.manifest_path, second.manifest_path} | chain_keys
    # A fresh Archive over the same store (another process, another machine) continues the chain.
    third = backend.archive().store(make_capture(html=b"<p>third</p>"), 458)
    assert third.sequence == 3
    assert backend.archive().verify([(s.manifest_path, s.manifest_sha256) for s in (first, second, third)]) == []


def test_unchanged_bytes_are_stored_once(backend: Backend) -> None:
    archive = backend.archive()
    archive.store(make_capture(), 1)
    before = backend.keys()
    archive.store(make_capture(), 2)
    added = backend.keys() - before
    assert {k for k in added if k.startswith("blobs/")} == set()


def test_nothing_is_overwritten(backend: Backend) -> None:
    store = backend.store()
    store.write_new("blobs/00/first.bin", b"one")
    with pytest.raises(ArchiveError, match="append-only"):
        store.write_new("blobs/00/first.bin", b"two")
    assert store.read("blobs/00/first.bin") == b"one"


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "blobs/../../x", ""])
def test_a_path_from_the_database_never_leaves_the_archive(backend: Backend, bad: str) -> None:
    archive = backend.archive()
    archive.store(make_capture(), 1)
    with pytest.raises(ArchiveError, match="not a path inside the archive"):
        archive.read(bad)


def test_a_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    backend = Backend("folder", folder=tmp_path / "archive")
    archive = backend.archive()
    archive.store(make_capture(), 1)
    (tmp_path / "secret.txt").write_text("not evidence")
    (tmp_path / "archive" / "blobs" / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ArchiveError, match="leads out of the archive"):
        archive.read("blobs/link.txt")


def test_a_missing_file_reads_as_missing(backend: Backend) -> None:
    archive = backend.archive()
    archive.store(make_capture(), 1)
    with pytest.raises(FileNotFoundError):
        archive.read("blobs/00/nothing.png")
    assert not archive.exists("blobs/00/nothing.png")


# -- verify finds tampering and loss, the same on both stores -------------------------------------

def test_verify_finds_a_changed_blob(backend: Backend) -> None:
    archive, expected = _three(backend)
    entry = archive.manifest("snapshots/s-000002/manifest.json")["files"]["html"]
    data = bytearray(archive.read(entry["path"]))
    data[3] ^= 0x01
    backend.overwrite(entry["path"], bytes(data))
    problems = backend.archive().verify(expected)
    assert len(problems) == 1
    assert problems[0].startswith(f"s-000002: html file {entry['path']} has changed")


def test_verify_finds_a_missing_blob(backend: Backend) -> None:
    archive, expected = _three(backend)
    entry = archive.manifest("snapshots/s-000003/manifest.json")["files"]["text"]
    backend.remove(entry["path"])
    assert backend.archive().verify(expected) == [
        f"{s}: text file {entry['path']} is missing" for s in ("s-000001", "s-000002", "s-000003")]


def test_verify_finds_an_edited_manifest(backend: Backend) -> None:
    archive, expected = _three(backend)
    manifest = archive.manifest("snapshots/s-000002/manifest.json")
    manifest["url"] = "http://127.0.0.1:1/somewhere-else"
    backend.overwrite("snapshots/s-000002/manifest.json", json.dumps(manifest).encode())
    problems = backend.archive().verify(expected)
    assert any(p.startswith("s-000002: manifest snapshots/s-000002/manifest.json was changed") for p in problems)


def test_verify_finds_a_removed_snapshot_and_chain_line(backend: Backend) -> None:
    archive, _ = _three(backend)
    for key in [k for k in backend.keys() if k.startswith("snapshots/s-000002/")]:
        backend.remove(key)
    backend.drop_chain_line(2)
    problems = backend.archive().verify()
    assert any(p.startswith("s-000003: chain entry 3 follows entry 1") for p in problems)
    assert any(p.startswith("s-000003: chain broken: its manifest names previous manifest") and "(s-000002)" in p
               for p in problems)


def test_verify_finds_a_manifest_outside_the_chain(backend: Backend) -> None:
    archive, _ = _three(backend)
    backend.overwrite("snapshots/s-000009/manifest.json", archive.read("snapshots/s-000001/manifest.json"))
    assert backend.archive().verify() == [
        "snapshots/s-000009/manifest.json: a manifest that is not in the chain (chain.jsonl)"]


def test_verify_finds_a_damaged_chain_line(backend: Backend) -> None:
    _three(backend)
    if backend.folder is not None:
        with (backend.folder / "chain.jsonl").open("a") as log:
            log.write("garbage\n")
    else:
        backend.overwrite(backend.chain_line_key(4), b"garbage\n")
    assert backend.archive().verify() == ["chain.jsonl line 4: not a chain entry: 'garbage'"]


# -- tokens and retirement ------------------------------------------------------------------------

def test_timestamps_are_kept_logged_and_verified(backend: Backend, tsa: LocalTsa) -> None:
    archive = backend.archive(tsa_urls=[tsa.url], tsa_ca_files=[tsa.ca_file])
    stored = archive.store(make_capture(), 1)
    archive.store(make_capture(html=b"<p>2</p>"), 2)
    assert len(stored.timestamps) == 1
    token = stored.timestamps[0]["path"]
    assert token.startswith("snapshots/s-000001/timestamps/manifest--1-")
    assert archive.timestamp_files(stored.manifest_path) == [token]
    assert [e["path"] for e in archive.token_log()][:1] == [token]
    report = backend.archive(tsa_ca_files=[tsa.ca_file]).check([(stored.manifest_path, stored.manifest_sha256)])
    assert report.problems == [] and report.tokens_ok == 2
    backend.overwrite(token, b"not a token")
    problems = backend.archive(tsa_ca_files=[tsa.ca_file]).check().problems
    assert problems == [f"s-000001: timestamp {token} is not a readable RFC 3161 reply"]


def test_retire_deletes_and_chains_a_tombstone(backend: Backend) -> None:
    archive = backend.archive()
    kept = archive.store(make_capture(html=b"<p>kept</p>"), 1)
    gone = archive.store(make_capture(html=b"<p>gone</p>", screenshot=b"\x89PNG only this one"), 2)
    written = archive.retire([gone.manifest_path], "retention test")
    assert [e["kind"] for e in written] == ["tombstone"]
    left = backend.keys()
    assert gone.manifest_path not in left and gone.files["screenshot"]["path"] not in left
    assert gone.files["text"]["path"] in left  # shared with the kept snapshot
    assert backend.archive().verify([(kept.manifest_path, kept.manifest_sha256)]) == []


# -- the S3 store's own guarantees -----------------------------------------------------------------

def test_s3_refuses_a_second_writer_of_the_same_chain_line(s3: S3StandIn) -> None:
    """If the chain lock were not shared (two machines without PostgreSQL), the conditional put
    turns what would be a fork into a refusal: line 2 is written once, by the first writer."""
    bucket = s3.new_bucket(f"race-{next(_buckets)}")
    backend = Backend("s3", s3=bucket)
    first, second = backend.store(), backend.store()
    first.append("chain.jsonl", b'{"line": 1}\n')
    assert second.log_last("chain.jsonl") == b'{"line": 1}'  # the second has read the log as it was...
    first.append("chain.jsonl", b'{"line": 2, "by": "first"}\n')
    # ...and would number its line 2 if it listed no more; it lists again, so it takes line 3.
    second.append("chain.jsonl", b'{"line": 3}\n')
    assert list(backend.store().log_lines("chain.jsonl"))[1] == b'{"line": 2, "by": "first"}\n'
    # A writer that raced for a number already taken is refused, not allowed to replace it.
    assert not second._put(f"chain.jsonl/{2:012d}", b'{"line": 2, "by": "second"}\n')
    with pytest.raises(ArchiveError, match="append-only"):
        second.write_new("chain.jsonl/000000000002", b"{}\n")
    assert list(backend.store().log_lines("chain.jsonl"))[1] == b'{"line": 2, "by": "first"}\n'


def test_s3_object_lock_holds_every_object(s3: S3StandIn) -> None:
    bucket = s3.new_bucket(f"worm-{next(_buckets)}", object_lock=True)
    store = S3Store(bucket=bucket.bucket, endpoint_url=bucket.endpoint_url, access_key_id=ACCESS_KEY,
                    secret_access_key=SECRET_KEY, lock_mode="compliance", retain_days=30)
    stored = Archive(store).store(make_capture(), 1)
    client = bucket.client()
    for key in [stored.manifest_path, stored.files["screenshot"]["path"], "chain.jsonl/000000000001"]:
        head = client.head_object(Bucket=bucket.bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        version = head["VersionId"]
        with pytest.raises(client.exceptions.ClientError):
            client.delete_object(Bucket=bucket.bucket, Key=key, VersionId=version)
    assert Archive(store).verify([(stored.manifest_path, stored.manifest_sha256)]) == []


def test_an_unreachable_or_wrong_store_is_named_not_taken_for_missing_evidence(s3: S3StandIn) -> None:
    closed = S3Store(bucket="vaern-evidence", endpoint_url=f"http://127.0.0.1:{free_port()}",
                     access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
    with pytest.raises(EvidenceStoreUnavailable, match=r"the evidence store s3://vaern-evidence/ cannot be reached"):
        Archive(closed).verify()
    nobucket = S3Store(bucket="no-such-bucket", endpoint_url=s3.endpoint_url, access_key_id=ACCESS_KEY,
                       secret_access_key=SECRET_KEY)
    with pytest.raises(EvidenceStoreUnavailable) as refused:
        Archive(nobucket).store(make_capture(), 1)
    assert str(refused.value).startswith("the evidence store s3://no-such-bucket/ refused ")
    assert "NoSuchBucket" in str(refused.value) and SECRET_KEY not in str(refused.value)


# -- the chain across machines ---------------------------------------------------------------------

PER_WRITER = 20


def _append_many(kind: str, where: str, endpoint: str, database: str, start: int, barrier: Any) -> None:
    if kind == "folder":
        store: FolderStore | S3Store = FolderStore(Path(where))
    else:
        store = S3Store(bucket=where, endpoint_url=endpoint, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY)
    archive = Archive(store, chain_lock=PostgresChainLock(database, store.where))
    captures = [make_capture(html=f"<p>{n}</p>".encode()) for n in range(start, start + PER_WRITER)]
    barrier.wait()  # both start appending at the same moment (without a lock, this forks the chain)
    for n, capture in enumerate(captures, start):
        archive.store(capture, n)


def test_two_appenders_on_postgres_never_fork_the_chain(backend: Backend, pg_server: str) -> None:
    """Two processes append at once; only the PostgreSQL advisory lock orders them (the folder's
    and the store's own locks are not taken when a database lock is given)."""
    database = create_database(pg_server, f"chain_{backend.name}_{next(_buckets)}")
    where = str(backend.folder) if backend.folder is not None else backend.s3.bucket  # type: ignore[union-attr]
    endpoint = backend.s3.endpoint_url if backend.s3 is not None else ""
    if backend.s3 is not None:
        backend.prefix = ""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_append_many, args=(backend.name, where, endpoint, database, start, barrier))
             for start in (1, 101)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    archive = backend.archive()
    chain = archive.chain()
    assert [e["sequence"] for e in chain] == list(range(1, 2 * PER_WRITER + 1))
    assert all(e["previous_sha256"] == before["sha256"] for before, e in itertools.pairwise(chain))
    assert {e["snapshot"] for e in chain} == {f"s-{n:06d}" for start in (1, 101)
                                              for n in range(start, start + PER_WRITER)}
    assert archive.verify() == []


# -- `vaern verify` on an archive in S3 --------------------------------------------------------------

def test_vaern_verify_reads_the_bucket_the_config_names(
    make_config: Any, s3_bucket: S3StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from vaern.app import open_services
    from vaern.cli import main
    from vaern.storage.archive import record_snapshot
    from vaern.storage.db import transaction
    from vaern.storage.stamping import archive_for
    from vaern.storage.tables import PageRow

    monkeypatch.setenv("VAERN_TEST_S3_SECRET", SECRET_KEY)
    config = make_config(evidence={"store": s3_bucket.store_config(prefix="v/", secret="${VAERN_TEST_S3_SECRET}")})
    services = open_services(config)
    with transaction(services.sessions) as db:
        seen = datetime(2026, 11, 21, 14, 3, 15)
        page = PageRow(site_id="hadeside", url="http://127.0.0.1:1/post/1", status="ok", first_fetched_at=seen,
                       last_fetched_at=seen)
        db.add(page)
        db.flush()
        row = record_snapshot(db, archive_for(config), make_capture(), page.id)
        screenshot = row.files["screenshot"]["path"]
    services.engine.dispose()

    ok = CliRunner().invoke(main, ["-c", str(config.source), "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ok: 1 snapshot(s) in the chain, 1 in the database" in ok.output
    s3_bucket.client().put_object(Bucket=s3_bucket.bucket, Key="v/" + screenshot, Body=b"forged")
    bad = CliRunner().invoke(main, ["-c", str(config.source), "verify"])
    assert bad.exit_code == 1
    assert f"s-000001: screenshot file {screenshot} has changed" in bad.output
    assert f"1 problem(s) in s3://{s3_bucket.bucket}/v/" in bad.output
