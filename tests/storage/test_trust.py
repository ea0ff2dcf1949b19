"""Timestamps a third party can rely on: trust anchors, tokens as part of the record, and what
verify says it cannot prove. Three local TSAs: root omitted from replies, root included, down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

from vaern.storage import timestamps as tsp
from vaern.storage.archive import Archive
from vaern.testing.tsa import LocalTsa, local_tsa

from .conftest import make_capture


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


def test_a_tsa_that_omits_its_root_verifies_against_the_configured_root(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url], tsa_ca_files=[tsa.ca_file])
    stored = archive.store(make_capture(), 1)
    [stamp] = stored.timestamps
    sent = (tmp_path / stamp["certificates"]).read_bytes()
    assert tsa.ca_file.read_bytes() not in sent  # the reply did not carry the root
    report = archive.check([(stored.manifest_path, stored.manifest_sha256)])
    assert report.problems == [] and report.tokens_ok == 1 and report.tokens_not_anchored == 0
    assert not any("not anchored" in line or "no trust anchors" in line for line in report.unproven)
    # What a third party runs with only the token, the certificates sent and the TSA's root.
    proc = subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / stored.manifest_path),
                           "-in", str(tmp_path / stamp["path"]), "-CAfile", str(tsa.ca_file),
                           "-untrusted", str(tmp_path / stamp["certificates"])], capture_output=True, text=True)
    assert "Verification: OK" in proc.stdout, proc.stderr
    verdict = tsp.verify_token((tmp_path / stamp["path"]).read_bytes(), bytes.fromhex(stored.manifest_sha256),
                               tsp.load_anchors([tsa.ca_file]))
    assert verdict.status == "ok" and verdict.root == "CN=Test Root CA" and verdict.signer == "CN=Test TSA"


def test_a_tsa_that_sends_its_root_is_not_trusted_for_sending_it(tmp_path: Path, tsa_with_root: LocalTsa,
                                                                 tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa_with_root.url])
    stored = archive.store(make_capture(), 1)
    assert tsa_with_root.ca_file.read_bytes() in (tmp_path / stored.timestamps[0]["certificates"]).read_bytes()
    report = archive.check()
    # Not tampering: the signature holds. But the root it sent is no anchor of ours.
    assert report.problems == [] and report.tokens_not_anchored == 1 and report.tokens_ok == 0
    assert any(f"tokens from {tsa_with_root.url} are not anchored: add the TSA's root" in line
               for line in report.unproven), report.unproven
    assert any("no trust anchors (evidence.tsa_ca_files)" in line for line in report.unproven)
    # With its root configured it is anchored; with another TSA's root it is not.
    anchored = Archive(tmp_path, tsa_ca_files=[tsa_with_root.ca_file]).check()
    assert anchored.problems == [] and anchored.tokens_ok == 1
    other = Archive(tmp_path, tsa_ca_files=[tsa.ca_file]).check()
    assert other.problems == [] and other.tokens_not_anchored == 1
    assert any("not anchored: add the TSA's root" in line for line in other.unproven)


def test_verify_says_plainly_what_it_cannot_prove_without_timestamps(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    archive.store(make_capture(), 1)
    report = archive.check()
    assert report.problems == []
    assert any(line.startswith("no trusted timestamps") for line in report.unproven)
    assert any("1 of 1 chain entry is newer than the last timestamped chain head" in line for line in report.unproven)


def test_tokens_are_part_of_the_record(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url], tsa_ca_files=[tsa.ca_file])
    one = archive.store(make_capture(), 1)
    two = archive.store(make_capture(html=b"<p>2</p>"), 2)
    # The next manifest names the previous snapshot's token: the chain covers it.
    named = archive.manifest(two.manifest_path)["tokens"]["entries"]
    assert [(t["path"], t["sha256"], t["digest"]) for t in named] == [
        (one.timestamps[0]["path"], one.timestamps[0]["sha256"], one.manifest_sha256)]
    logged = [json.loads(line) for line in (tmp_path / "tokens.jsonl").read_text().splitlines()]
    assert [e["path"] for e in logged] == [one.timestamps[0]["path"], two.timestamps[0]["path"]]
    assert archive.check().problems == []


def test_verify_names_a_missing_an_altered_and_an_extra_token(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = Archive(tmp_path, tsa_urls=[tsa.url], tsa_ca_files=[tsa.ca_file])
    one = archive.store(make_capture(), 1)
    two = archive.store(make_capture(html=b"<p>2</p>"), 2)
    three = archive.store(make_capture(html=b"<p>3</p>"), 3)
    t1, t2, t3 = (tmp_path / s.timestamps[0]["path"] for s in (one, two, three))

    # Missing: one token deleted.
    os.chmod(t1.parent, 0o755)
    saved = t1.read_bytes()
    t1.unlink()
    assert archive.check().problems == [f"s-000001: timestamp {one.timestamps[0]['path']} is missing (deleted?)"]
    t1.write_bytes(saved)

    # Altered: a genuine token for the same manifest, but not the one recorded.
    again, _ = Archive(tmp_path / "elsewhere", tsa_urls=[tsa.url]).stamp(
        "manifest", two.manifest_path, two.manifest_sha256, PurePosixPath("x"), "y", [tsa.url])
    replaced = (tmp_path / "elsewhere" / again[0]["path"]).read_bytes()
    original = t2.read_bytes()
    _tamper(t2, replaced)
    assert archive.check().problems == [
        f"s-000002: timestamp {two.timestamps[0]['path']} was replaced after it was recorded "
        f"(SHA-256 {tsp_sha(replaced)}, recorded {two.timestamps[0]['sha256']})"]
    _tamper(t2, original)

    # Extra: a token file recorded nowhere.
    extra = t3.with_name("manifest--9-extra.tsr")
    shutil.copy(t3, extra)
    assert archive.check().problems == [
        "timestamp snapshots/s-000003/timestamps/manifest--9-extra.tsr: a token file recorded nowhere "
        "(added after the fact?)"]
    extra.unlink()
    assert archive.check().problems == []

    # All deleted, with the token log: the manifests still name them.
    for token in (t1, t2, t3):
        token.unlink()
    (tmp_path / "tokens.jsonl").unlink()
    problems = archive.check().problems
    assert f"s-000001: timestamp {one.timestamps[0]['path']} is missing (deleted?)" in problems
    assert f"s-000002: timestamp {two.timestamps[0]['path']} is missing (deleted?)" in problems
    assert f"timestamp {one.timestamps[0]['path']}: named in the chain but gone from tokens.jsonl" in problems
    # The newest token is named only by the database (the next manifest would name it).
    db = [(three.timestamps[0]["path"], three.timestamps[0]["sha256"])]
    assert f"s-000003: timestamp {three.timestamps[0]['path']} is missing (deleted?)" in \
        archive.check(db_tokens=db).problems


def tsp_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_down_tsa_leaves_the_snapshot_stored_and_the_token_owed(tmp_path: Path) -> None:
    with local_tsa() as down:
        down.down = True
        archive = Archive(tmp_path, tsa_urls=[down.url], tsa_ca_files=[down.ca_file])
        stored = archive.store(make_capture(), 1)
        assert stored.timestamps == [] and stored.failed_tsas and stored.failed_tsas[0][0] == down.url
        assert "503" in stored.failed_tsas[0][1]
        assert archive.check().problems == []


# -- the chain's head, anchored ------------------------------------------------------------------

def _reseal_after_editing(root: Path, edited: str, new_screenshot: bytes) -> None:
    """What an insider with write access does: replace a snapshot's screenshot, then re-seal its
    manifest and every later one (their `previous` links), and rewrite chain.jsonl to match."""
    import hashlib

    blob_sha = hashlib.sha256(new_screenshot).hexdigest()
    blob = root / "blobs" / blob_sha[:2] / f"{blob_sha}.png"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(new_screenshot)
    lines = [json.loads(line) for line in (root / "chain.jsonl").read_text().splitlines()]
    previous: str | None = None
    started = False
    for line in lines:
        path = root / line["manifest"]
        manifest = json.loads(path.read_bytes())
        if line["snapshot"] == edited:
            started = True
            manifest["files"]["screenshot"].update(path=str(blob.relative_to(root)), sha256=blob_sha,
                                                   size=len(new_screenshot))
        if started:
            manifest["previous"] = None if previous is None else {**manifest["previous"], "sha256": previous}
            body = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
            _tamper(path, body)
            line["sha256"] = hashlib.sha256(body).hexdigest()
            line["previous_sha256"] = previous
        previous = line["sha256"]
    _tamper(root / "chain.jsonl", "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines).encode())


def _five(root: Path, tsa: LocalTsa, anchor_after: int) -> Archive:
    """Five snapshots without per-snapshot tokens; the chain's head stamped after `anchor_after`."""
    archive = Archive(root, tsa_urls=[tsa.url], tsa_ca_files=[tsa.ca_file])
    plain = Archive(root)
    for n in range(1, 6):
        stored = plain.store(make_capture(screenshot=b"\x89PNG %d" % n), n)
        if n == anchor_after:
            stamps, failed = archive.stamp_head(stored.manifest_path, stored.manifest_sha256, [tsa.url])
            assert stamps and not failed
    return archive


def test_a_stamped_head_proves_the_chain_up_to_it(tmp_path: Path, tsa: LocalTsa) -> None:
    archive = _five(tmp_path, tsa, anchor_after=3)
    report = archive.check()
    assert report.problems == [] and report.anchored_through == 3 and report.anchored_at
    assert any(line.startswith("2 of 5 chain entries are newer than the last timestamped chain head")
               for line in report.unproven), report.unproven
    # The head token is itself recorded: the next manifest names it.
    named = archive.manifest("snapshots/s-000004/manifest.json")["tokens"]["entries"]
    assert [t["subject"] for t in named] == ["head"] and named[0]["target"] == "snapshots/s-000003/manifest.json"


def test_an_insider_rewrite_is_caught_once_a_stamped_head_covers_it(tmp_path: Path, tsa: LocalTsa) -> None:
    # Without an anchored head, a complete re-seal is not detectable: verify says so.
    bare = Archive(tmp_path / "bare")
    for n in range(1, 6):
        bare.store(make_capture(screenshot=b"\x89PNG %d" % n), n)
    _reseal_after_editing(tmp_path / "bare", "s-000002", b"\x89PNG forged")
    report = bare.check()
    assert report.problems == []
    assert any("could still rewrite the whole chain undetected" in line for line in report.unproven)

    # The head stamped after entry 3 covers an edit of entry 2.
    archive = _five(tmp_path / "anchored", tsa, anchor_after=3)
    _reseal_after_editing(tmp_path / "anchored", "s-000002", b"\x89PNG forged")
    problems = archive.check().problems
    assert len(problems) == 1, problems
    assert problems[0].startswith("chain head entry 3 (snapshots/s-000003/manifest.json) was stamped at ")
    assert "a snapshot at or before entry 3 was changed and the chain re-sealed after that time" in problems[0]

    # An edit newer than the stamped head is not covered: verify passes, and says how much is not.
    newer = _five(tmp_path / "newer", tsa, anchor_after=3)
    _reseal_after_editing(tmp_path / "newer", "s-000004", b"\x89PNG forged")
    report = newer.check()
    assert report.problems == [] and report.anchored_through == 3
    assert any(line.startswith("2 of 5 chain entries are newer") for line in report.unproven)
