"""Evidence bundles for police, Datatilsynet or a lawyer: `vaern export HIT_ID`.

Controlled by `archive` and `evidence.store` (everything is read through the archive), `timezone`,
`organisation` and `language` (the report is in Danish or English: vaern.words). The zip holds,
for every snapshot of the hit's page: its files under their plain names, its `manifest.json` and
its timestamp tokens; a `SHA256SUMS` that `sha256sum -c` accepts; a self-contained `report.html`
(it loads nothing from other hosts: styles inline, images by relative path) and `report.pdf`
printed from it by Chromium (the printer is handed in by `app.evidence_bundle`: storage never
drives a browser). The report says who was named, where, who wrote it where the page marked up its
author (also in `export.json`), shows the screenshots and excerpts, gives every time in UTC and in
local time, every hash, how to check it all without Værn, and what the hashes do not prove. A
snapshot from an older or failed capture may lack its provenance, TLS details, times, screenshot or
timestamps; the report then says so where they would be.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import os
import socket
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import clock, ids
from vaern.config import Config
from vaern.errors import ArchiveError, VaernError
from vaern.storage.archive import Archive, snapshot_name
from vaern.storage.tables import AuditRow, HitRow, PersonRow, SiteRow, SnapshotRow, UnitRow
from vaern.words import Words

MAX_DIFF_LINES = 400
DIFF_CUT = "report.diff_cut"  # the words that mark where a long difference is cut


class HitNotFound(VaernError):
    """No hit with that id."""


@dataclass(frozen=True)
class Moment:
    """A time shown twice: UTC and local (the config's time zone, Danish by default)."""

    utc: str
    local: str


def parse_hit_id(hit_id: str | int) -> int:
    """A hit's number from its public id ('h-000123' or '123'); HitNotFound if it is none."""
    number = hit_id if isinstance(hit_id, int) else ids.parse_hit(hit_id)
    if number is None:
        raise HitNotFound(f"{hit_id!r} is not a hit id like h-000123")
    return number


def text_diff(old: str, new: str, old_label: str, new_label: str, cut: str | None = None) -> list[str]:
    """The text difference between two snapshots, as unified-diff lines (bounded; `cut` marks the cut,
    in English unless given)."""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, lineterm="", n=2))
    if len(lines) <= MAX_DIFF_LINES:
        return lines
    return [*lines[:MAX_DIFF_LINES], cut if cut is not None else Words("en")(DIFF_CUT)]


def export_bundle(
    config: Config,
    session: Session,
    hit_id: str | int,
    out_path: Path,
    print_pdf: Callable[[Path, Path], None] | None = None,
    *,
    exported_by: str | None = None,
    via: str = "vaern export",
    record_audit: bool = True,
) -> Path:
    """Write the evidence bundle of one hit to `out_path` (a .zip); return its path.

    `print_pdf(html, pdf)` prints the report (`app.evidence_bundle` passes Chromium's printer,
    crawler/pdf.py); without it the bundle has no `report.pdf`.

    `exported_by` is who asked (the review app's user, or the OS user for the CLI): it is written
    into the bundle (`export.json`, the report) and into the audit log. With a TSA configured the
    chain's head is stamped first, and the bundle's SHA256SUMS is stamped last. The caller commits.
    """
    number = parse_hit_id(hit_id)
    hit = session.get(HitRow, number)
    if hit is None:
        raise HitNotFound(f"no hit {ids.hit(number)}")
    exported_by = exported_by or _os_user()
    from vaern.storage.stamping import anchor_head, archive_for

    archive = archive_for(config)
    if config.evidence.tsa_urls:
        anchor_head(config, session, archive, force=True, commit=False)  # the bundle can prove the archive's state now
    try:
        anchors = archive.anchors()
    except (OSError, ValueError):
        anchors = []
    token_log = {str(e.get("path")): e for e in archive.token_log()}
    zone = ZoneInfo(config.timezone)
    words = Words(config.language)
    snaps = list(session.scalars(
        select(SnapshotRow).where(SnapshotRow.page_id == hit.page_id).order_by(SnapshotRow.captured_at, SnapshotRow.id)
    ))
    person = session.get(PersonRow, hit.person_id)
    unit = session.get(UnitRow, hit.unit_id) if hit.unit_id else None
    site = session.get(SiteRow, hit.site_id)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="vaern-export-") as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()  # a hit whose capture failed altogether has no snapshot folder to make it
        snapshots = [_copy_snapshot(archive, snap, folder, zone, words, token_log, anchors) for snap in snaps]
        _write_wacz(folder, snapshots, f"{ids.hit(hit.id)}: {hit.url}")
        chain = _copy_chain_slice(archive, snapshots, folder, zone)
        cut = words(DIFF_CUT)
        for older, newer in zip(snapshots, snapshots[1:], strict=False):
            newer["diff"] = text_diff(older["text"], newer["text"], f"{older['id']}/text.txt",
                                      f"{newer['id']}/text.txt", cut)
        recorded: list[str] = []
        for snapshot in snapshots:
            recorded += [text for text in snapshot["limitations"] if text not in recorded]
        limitations = [words.limitation(text) for text in recorded]
        generated = clock.now()
        export_info = {
            "format": "vaern-export/1", "hit": ids.hit(hit.id), "exported_by": exported_by, "via": via,
            "exported_at": _iso_naive(generated), "host": socket.gethostname(),
            "software": f"vaern/{_version()}", "organisation": config.organisation,
            "tsa_urls": list(config.evidence.tsa_urls),
            # Who wrote the post, as the page marked it up (null where it did not say).
            "author": {"name": hit.author, "source": hit.author_source} if hit.author else None,
        }
        (folder / "export.json").write_text(json.dumps(export_info, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        context = {
            "export": export_info,
            "chain": chain,
            "sums_stamped": bool(config.evidence.tsa_urls),
            "lang": words.language,
            "organisation": config.organisation,
            "generated": _moment(generated, zone),
            "timezone": config.timezone,
            "hit": {
                "id": ids.hit(hit.id), "status": words.code("", hit.status),
                "confidence": words.code("", hit.confidence), "score": words.number(round(hit.score, 1)),
                "url": hit.url, "matched_text": list(hit.matched_text), "excerpt": hit.excerpt,
                "categories": [words.code("", c) for c in hit.categories],
                "author": export_info["author"],
                "first_seen": _moment(hit.first_seen, zone), "last_seen": _moment(hit.last_seen, zone),
                "removed_at": _moment(hit.removed_at, zone) if hit.removed_at else None,
            },
            "person": {"id": hit.person_id, "name": person.name if person else hit.person_id,
                       "title": person.title if person else None},
            "unit": {"id": unit.id, "name": unit.name} if unit else None,
            "site": {"id": hit.site_id, "name": site.name if site else hit.site_id},
            "snapshots": snapshots,
            "limitations": [text for text, translated in limitations if translated],
            "quoted_limitations": [text for text, translated in limitations if not translated],
        }
        env = Environment(loader=PackageLoader("vaern.storage", "templates"), autoescape=select_autoescape(["j2"]))
        env.globals["t"] = words
        (folder / "report.html").write_text(env.get_template("report.html.j2").render(**context), encoding="utf-8")
        if print_pdf is not None:
            print_pdf(folder / "report.html", folder / "report.pdf")
        _write_sums(folder)
        _stamp_sums(config, session, folder, out_path.name)
        _zip(folder, out_path)
    if record_audit:  # the review app records its own, with the user's id and address
        session.add(AuditRow(at=clock.utcnow(), user_id=None, username=exported_by, action="export",
                             hit_id=hit.id, address=None,
                             detail={"via": via, "bundle": out_path.name, "bytes": out_path.stat().st_size}))
    session.flush()  # the caller commits: the rows belong to its transaction
    return out_path


def _os_user() -> str:
    import getpass

    try:
        return f"{getpass.getuser()} (operating-system user)"
    except (KeyError, OSError):
        return f"uid {os.getuid()} (operating-system user)"


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("vaern")
    except metadata.PackageNotFoundError:
        return "unknown"


def _stamp_sums(config: Config, session: Session, folder: Path, bundle: str) -> None:
    """A token from each TSA over SHA256SUMS (`SHA256SUMS.tsr`, its certificates `SHA256SUMS.pem`):
    what a third party checks with `openssl ts -verify -data SHA256SUMS`. Recorded in the database."""
    from vaern.storage import timestamps as tsp
    from vaern.storage.tables import TimestampRow

    digest = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).digest()
    now = clock.utcnow()
    for n, url in enumerate(config.evidence.tsa_urls, start=1):
        stem = "SHA256SUMS" if n == 1 else f"SHA256SUMS.{n}"
        try:
            stamp = tsp.request_timestamp(url, digest, config.evidence.tsa_timeout)
        except tsp.TimestampError as exc:
            (folder / f"{stem}.tsr-failed.txt").write_text(f"{url}: {exc}\n", encoding="utf-8")
            session.add(TimestampRow(subject="export", target=bundle, digest=digest.hex(), tsa_url=url,
                                     status="failed", attempts=1, created_at=now, last_error=str(exc)))
            continue
        (folder / f"{stem}.tsr").write_bytes(stamp.response)
        (folder / f"{stem}.pem").write_bytes(stamp.certificates_pem)
        session.add(TimestampRow(subject="export", target=bundle, digest=digest.hex(), tsa_url=url, status="ok",
                                 token_sha256=hashlib.sha256(stamp.response).hexdigest(),
                                 gen_time=stamp.info.gen_time.replace(tzinfo=None), attempts=1, created_at=now))


def _copy_chain_slice(archive: Archive, snapshots: list[dict[str, Any]], folder: Path,
                      zone: ZoneInfo) -> dict[str, Any] | None:
    """The chain around the snapshots: the entries from the one before the first snapshot up to
    the first stamped head that covers the last (or the neighbour after it, if that is far), their
    manifests, and the head's tokens. A third party can then follow the `previous` links from the
    head token down to each snapshot without the archive."""
    seqs = [int(s["sequence"]) for s in snapshots if isinstance(s.get("sequence"), int)]
    if not seqs:
        return None
    chain = archive.chain()
    by_seq = {int(e["sequence"]): e for e in chain}
    last = max(seqs)
    heads = sorted(((int(e["sequence"]), e) for e in archive.token_log()
                    if e.get("subject") == "head" and isinstance(e.get("sequence"), int) and e["sequence"] >= last),
                   key=lambda pair: pair[0])
    low = max(1, min(seqs) - 1)
    head_seq = heads[0][0] if heads else None
    high = head_seq if head_seq is not None and head_seq - low <= MAX_CHAIN_SLICE else min(max(seqs) + 1, len(chain))
    target = folder / "chain"
    (target / "manifests").mkdir(parents=True)
    lines = []
    for seq in range(low, high + 1):
        entry = by_seq.get(seq)
        if entry is None:
            continue
        lines.append(json.dumps(entry, sort_keys=True) + "\n")
        body = _read(archive, entry["manifest"], f"chain entry {seq}: manifest")
        (target / "manifests" / f"{seq:06d}-{entry['snapshot']}.json").write_bytes(body)
    (target / "chain.jsonl").write_text("".join(lines), encoding="utf-8")
    anchors = []
    for seq, token in heads:
        if seq != high:
            continue
        (target / "anchors").mkdir(exist_ok=True)
        for key in ("path", "certificates"):
            name = PurePosixPath(str(token[key])).name
            (target / "anchors" / name).write_bytes(archive.read(str(token[key])))
        anchors.append({"file": f"chain/anchors/{PurePosixPath(str(token['path'])).name}",
                        "certificates": f"chain/anchors/{PurePosixPath(str(token['certificates'])).name}",
                        "tsa": token.get("tsa"), "time": _moment_iso(token.get("time"), zone),
                        "manifest": f"chain/manifests/{high:06d}-{by_seq[high]['snapshot']}.json"})
    return {"from": low, "to": high, "length": len(chain), "head": high if anchors else None, "anchors": anchors}


MAX_CHAIN_SLICE = 2000


def _read(archive: Archive, relative: str, what: str) -> bytes:
    try:
        return archive.read(relative)
    except OSError as exc:
        raise ArchiveError(f"{what} {relative} cannot be read ({exc.strerror or exc}); run `vaern verify`") from exc


def _copy_snapshot(
    archive: Archive, snap: SnapshotRow, folder: Path, zone: ZoneInfo, words: Words,
    token_log: dict[str, dict[str, Any]] | None = None, anchors: list[Any] | None = None,
) -> dict[str, Any]:
    """Copy one snapshot's manifest, files and tokens into the bundle; gather what the report shows.

    The files must match their hashes (else ArchiveError: nothing is exported); what the capture
    did not record (an older or failed capture) is left out of the report, which says so.
    """
    sid = snapshot_name(snap.id)
    target = folder / "snapshots" / sid
    target.mkdir(parents=True)
    body = _read(archive, snap.manifest_path, f"{sid}: manifest")
    if hashlib.sha256(body).hexdigest() != snap.manifest_sha256:
        raise ArchiveError(f"{sid}: manifest {snap.manifest_path} does not match the database; run `vaern verify`")
    (target / "manifest.json").write_bytes(body)
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise ArchiveError(f"{sid}: manifest {snap.manifest_path} is not JSON") from exc
    if not isinstance(manifest, dict):
        raise ArchiveError(f"{sid}: manifest {snap.manifest_path} is not a JSON object")
    files = []
    for kind, item in sorted(_dict(manifest.get("files")).items(), key=lambda kv: _order(kv[0])):
        if not isinstance(item, dict) or not item.get("path") or not item.get("sha256"):
            raise ArchiveError(f"{sid}: the manifest's {kind} entry names no stored file")
        data = _read(archive, item["path"], f"{sid}: {kind} file")
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            raise ArchiveError(f"{sid}: {kind} file {item['path']} has changed; run `vaern verify`")
        name = PurePosixPath(str(item.get("name") or item["path"])).name
        (target / name).write_bytes(data)
        files.append({"kind": kind, "label": words.kind(kind), "name": name, "path": f"snapshots/{sid}/{name}",
                      "size": len(data), "sha256": item["sha256"],
                      "media_type": item.get("media_type") or "application/octet-stream"})
    stamps = []
    for key in archive.timestamp_files(snap.manifest_path):
        (target / "timestamps").mkdir(exist_ok=True)
        tsr = target / "timestamps" / PurePosixPath(key).name
        tsr.write_bytes(_read(archive, key, f"{sid}: timestamp"))
        pem = str(PurePosixPath(key).with_suffix(".pem"))
        if archive.exists(pem):
            (target / "timestamps" / PurePosixPath(pem).name).write_bytes(archive.read(pem))
        info = _stamp_info(tsr, sid, zone)
        _identify_tsa(info, tsr, (token_log or {}).get(key, {}), anchors or [], target)
        stamps.append(info)

    provenance: dict[str, Any] = {}
    state = "missing"
    prov_file = next((f for f in files if f["kind"] == "provenance"), None)
    if prov_file:
        try:
            loaded = json.loads((folder / prov_file["path"]).read_bytes())
        except ValueError:
            loaded = None
        provenance, state = (loaded, "ok") if isinstance(loaded, dict) else ({}, "unreadable")
    text_file = next((f for f in files if f["kind"] == "text"), None)
    text = (folder / text_file["path"]).read_text(encoding="utf-8", errors="replace") if text_file else ""
    images = [{**f, "data_uri": "data:image/png;base64," + base64.b64encode((folder / f["path"]).read_bytes()).decode()}
              for f in files if f["media_type"] == "image/png"]
    final_url = manifest.get("final_url")
    tls = _tls(provenance.get("tls"), zone)
    return {
        "id": sid, "reason": words.code("reason_", manifest.get("reason")), "url": manifest.get("url"),
        "final_url": final_url, "http_status": manifest.get("http_status"), "title": manifest.get("title"),
        "detected_at": _moment_iso(manifest.get("detected_at"), zone),
        "started_at": _moment_iso(manifest.get("capture_started_at"), zone),
        "finished_at": _moment_iso(manifest.get("capture_finished_at"), zone),
        "manifest_sha256": snap.manifest_sha256, "previous": _dict(manifest.get("previous")) or None,
        "captured_iso": manifest.get("capture_started_at") or _iso_naive(snap.captured_at),
        "sequence": manifest.get("sequence"), "files": files, "images": images, "timestamps": stamps,
        "notes": [words.note(str(n)) for n in _list(manifest.get("notes"))], "provenance": state,
        "text": text, "diff": None,
        "redirects": [r for r in _list(provenance.get("redirects")) if isinstance(r, dict)],
        "server": _server(provenance.get("server")),
        "tls": tls,
        "plain_http": tls is None and state == "ok" and str(final_url or manifest.get("url")).startswith("http://"),
        "matches": [m for m in _list(provenance.get("matches")) if isinstance(m, dict)],
        "actions": [words.action(a) for a in _list(provenance.get("actions")) if isinstance(a, dict)],
        "browser": _browser(provenance.get("browser")),
        "post": {k: v for k, v in _dict(provenance.get("post")).items()
                 if k in ("author", "handle", "date", "id") and isinstance(v, dict)},
        "clock_sync": _dict(provenance.get("clock_sync")) or None,
        "limitations": [str(x) for x in _list(provenance.get("limitations"))],
        "navigation_error": provenance.get("navigation_error"),
    }


def _iso_naive(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat() if moment.tzinfo is None else moment.isoformat()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _server(raw: Any) -> dict[str, Any] | None:
    server = _dict(raw)
    return {"ip": server["ipAddress"], "port": server.get("port")} if server.get("ipAddress") else None


def _tls(raw: Any, zone: ZoneInfo) -> dict[str, Any] | None:
    """Playwright's security details, its validity given as times rather than Unix seconds."""
    tls = _dict(raw)
    if not tls:
        return None

    def when(seconds: Any) -> Moment | None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return None
        try:
            return _moment(datetime.fromtimestamp(seconds, UTC), zone)
        except (OverflowError, OSError, ValueError):
            return None

    return {"protocol": tls.get("protocol"), "subject": tls.get("subjectName"), "issuer": tls.get("issuer"),
            "valid_from": when(tls.get("validFrom")), "valid_to": when(tls.get("validTo"))}


def _browser(raw: Any) -> dict[str, Any] | None:
    browser = _dict(raw)
    if not browser:
        return None
    viewport = _dict(browser.get("viewport"))
    return {"version": browser.get("version"), "width": viewport.get("width"), "height": viewport.get("height"),
            "user_agent": browser.get("user_agent")}


def _identify_tsa(info: dict[str, Any], tsr: Path, logged: dict[str, Any], anchors: list[Any], target: Path) -> None:
    """Who issued a token and where its root is: the TSA's URL, the signing certificate's subject,
    and the configured root it chains to (copied beside it, with its SHA-256 fingerprint)."""
    from cryptography.hazmat.primitives import serialization

    from vaern.storage import timestamps as tsp

    info["tsa"] = logged.get("tsa")
    info["signer"] = info["root"] = info["root_sha256"] = info["root_file"] = None
    if info.get("imprint") is None:
        return
    verdict = tsp.verify_token(tsr.read_bytes(), bytes.fromhex(str(info["imprint"])), anchors)
    info["signer"] = verdict.signer or None
    info["anchored"] = verdict.status == "ok"
    if verdict.status == "ok":
        info["root"], info["root_sha256"] = verdict.root, verdict.root_sha256
        root = _anchor_by_fp(anchors, verdict.root_sha256)
        if root is not None:
            (target / "timestamps").mkdir(exist_ok=True)
            name = f"root-{verdict.root_sha256[:16]}.pem"
            (target / "timestamps" / name).write_bytes(root.public_bytes(serialization.Encoding.PEM))
            info["root_file"] = f"{info['file'].rsplit('/', 1)[0]}/{name}"


def _anchor_by_fp(anchors: list[Any], fingerprint: str) -> Any:
    from cryptography.hazmat.primitives import hashes

    return next((a for a in anchors if a.fingerprint(hashes.SHA256()).hex() == fingerprint), None)


def _stamp_info(tsr: Path, sid: str, zone: ZoneInfo) -> dict[str, Any]:
    from vaern.storage import timestamps as tsp

    info: dict[str, Any] = {"file": f"snapshots/{sid}/timestamps/{tsr.name}",
                            "certificates": f"snapshots/{sid}/timestamps/{tsr.with_suffix('.pem').name}"}
    try:
        token = tsp.parse_token(tsp.token_from_response(tsr.read_bytes()))
        info["time"] = _moment(token.gen_time, zone)
        info["imprint"] = token.imprint.hex()
    except (tsp.TimestampError, IndexError, ValueError):
        info["time"] = None
        info["imprint"] = None
    return info


_KIND_ORDER = ("screenshot", "html", "dom", "text", "warc", "provenance", "pdf", "crawler_html")


def _order(kind: str) -> tuple[int, str]:
    return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER), kind)


def _moment(moment: datetime, zone: ZoneInfo) -> Moment:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return Moment(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                  local.strftime("%Y-%m-%d %H:%M:%S ") + f"{local.tzname()} (UTC{offset[:3]}:{offset[3:]})")


def _moment_iso(text: Any, zone: ZoneInfo) -> Moment | None:
    """A recorded ISO time; None when none was recorded, the text as it is when it does not parse."""
    if not text:
        return None
    try:
        return _moment(datetime.fromisoformat(str(text).replace("Z", "+00:00")), zone)
    except ValueError:
        return Moment(str(text), "")


def _write_wacz(folder: Path, snapshots: list[dict[str, Any]], title: str) -> None:
    """The snapshots' WARCs as one WACZ (`evidence.wacz`) that a player opens at the page."""
    from importlib import metadata

    from vaern.storage.wacz import WaczPage, write_wacz

    pages = []
    for snapshot in snapshots:
        warc = next((f for f in snapshot["files"] if f["kind"] == "warc"), None)
        if warc is None:
            continue
        captured = datetime.fromisoformat(str(snapshot["captured_iso"]).replace("Z", "+00:00"))
        pages.append(WaczPage(snapshot["id"], (folder / warc["path"]).read_bytes(),
                              str(snapshot["final_url"] or snapshot["url"]), captured, snapshot["title"]))
    if pages:
        write_wacz(folder / "evidence.wacz", pages, title, f"vaern/{metadata.version('vaern')}")


def _write_sums(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(folder).as_posix()}\n")
    (folder / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def _zip(folder: Path, out_path: Path) -> None:
    tmp = out_path.with_name(out_path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(folder).as_posix())
    tmp.replace(out_path)
